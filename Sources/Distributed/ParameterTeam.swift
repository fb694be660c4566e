import Foundation
import Teams

/// Threads that split one pass over the parameters into ranges, for the coordinator's reduce:
/// while it adds the answers the workers wait for its weights, so their cores are free, and one
/// thread alone is bound by how fast it can read (8 answers of 784-800-10 are 25 to 40 MB a
/// step). A pass allocates nothing. `stop()` ends the threads.
final class ParameterTeam: @unchecked Sendable {
    private let team: ThreadTeam
    /// Threads in all, this one included.
    var threads: Int { team.threads }

    /// A team of `threads` (at least 1: with 1, `run` is a plain call on this thread).
    init(threads: Int) {
        team = ThreadTeam(threads: threads, name: "dptrain-reduce")
    }

    /// As many threads as the machine has cores, up to 8: beyond that the reading does not get faster.
    static func forThisMachine() -> ParameterTeam {
        ParameterTeam(threads: min(ProcessInfo.processInfo.activeProcessorCount, 8))
    }

    /// Calls `body` once for each of `threads` ranges of 0..<count (`ThreadTeam.range`), on as
    /// many threads, and returns when all are done; or, `split` false, once for the whole on this thread.
    func run(count: Int, split: Bool = true, _ body: (Range<Int>) -> Void) {
        guard threads > 1, split else { return body(0..<count) }
        let parts = threads
        team.run(parts: parts) { body(ThreadTeam.range($0, of: parts, count: count)) }
    }

    /// Ends the threads once they finish the pass in hand.
    func stop() { team.stop() }
}
