import ArgumentParser
import Dataset
import Distributed
import Foundation
import OutputFiles
import Training
import ZMQ

/// dptrain's exit statuses. They tell a supervisor (`dptrain launch`, systemd, Kubernetes, Slurm)
/// whether starting the same command again can help: 1 may pass on a restart, the others
/// (sysexits.h's numbers) fail the same way every time until a person changes something.
public enum ExitStatus {
    /// A failure a restart may cure: a lost peer, a socket, anything unforeseen. (Or a crash: 128 + signal.)
    public static let failure: Int32 = 1
    /// Flags that cannot work (ArgumentParser's own status for them, EX_USAGE).
    public static let usage: Int32 = 64
    /// The data, a model file or the run's numbers do not fit, or the run diverged (EX_DATAERR):
    /// the same input fails the same way.
    public static let dataError: Int32 = 65
    /// An output cannot be written: a full disk, a read-only one, permissions (EX_IOERR).
    public static let cannotWrite: Int32 = 74
    /// The other side runs another release of dptrain: another protocol version (EX_PROTOCOL).
    public static let otherRelease: Int32 = 76
    /// The configuration is refused: a checkpoint written with other flags, keys that cannot be used (EX_CONFIG).
    public static let configuration: Int32 = 78

    /// The statuses a restart cannot cure; `launch` stops at once on them.
    public static let incurable: Set<Int32> = [usage, dataError, cannotWrite, otherRelease, configuration]

    /// The status for `error`, when it is one of those a restart cannot cure; nil for the rest.
    public static func of(_ error: Error) -> Int32? {
        switch error {
        case is FileError, is ModelSaving.SaveError: return cannotWrite
        case let error as CheckpointError: return error.fileError != nil ? cannotWrite : configuration
        case is TrainingError, is DatasetError, is ModelFileError: return dataError
        case is CertificateError: return configuration
        case let error as WorkerError:
            if case .otherRelease = error { return otherRelease }
            return nil
        case let error as ParameterServerError:
            switch error {
            case .otherRelease: return otherRelease
            case .rangeDoesNotFit, .optimizerState: return configuration
            case .link: return nil
            }
        default: return nil
        }
    }
}

extension ParsableCommand {
    /// ArgumentParser's main, but a failure that a restart cannot cure exits with its own status
    /// (`ExitStatus`) rather than 1, after the same one line on standard error.
    public static func mainWithExitStatus(_ arguments: [String]? = nil) -> Never {
        var command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            // A mistyped command or a training flag given to a worker: say what was meant.
            if let hint = CommandLineHints.hint(root: Self.self, arguments: arguments ?? Array(CommandLine.arguments.dropFirst())) {
                FileHandle.standardError.write(Data("Error: \(hint)\n".utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
        do {
            try command.run()
            exit(withError: nil)
        } catch {
            guard let status = ExitStatus.of(error) else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(status)
        }
    }
}
