import ArgumentParser
import Foundation

/// --threads T: the threads that compute each step's chunks in this process.
public struct ThreadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Threads that compute each step's chunks (default: the cores this process may use; launch: those cores shared among its workers). The weights are the same bits for any count.",
                               valueName: "count"))
    public var threads: Int?

    public init() {}

    /// The most a process takes (what a worker's hello can say).
    static let most = 1024

    public func validate() throws {
        if let threads, !(1...Self.most).contains(threads) {
            throw ValidationError("--threads \(threads): give 1 to \(Self.most) threads (or leave it out for the \(AllowedCores.count.cores) cores this process may use)")
        }
    }

    /// The count to run with: the one asked for, else the allowed cores shared among `processes`
    /// (launch's workers), at least 1. More than the allowed cores is a warning line on standard error.
    func count(sharedAmong processes: Int = 1, warn: (String) -> Void = OutputOptions.warnOnStandardError) -> Int {
        let allowed = AllowedCores.count
        guard let threads else { return max(1, allowed.cores / max(1, processes)) }
        if threads * processes > allowed.cores {
            let asked = processes > 1 ? "\(processes) workers of \(threads) threads" : "\(threads) threads"
            warn("--threads \(threads): \(asked) on the \(allowed.cores) cores this process may use (\(allowed.source)): the threads will take turns on them")
        }
        return threads
    }
}
