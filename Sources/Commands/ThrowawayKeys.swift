import Foundation
import OutputFiles
import ZMQ

/// `dptrain launch --secure` and `bench secure`: a key pair for the coordinator and one for each worker, made
/// for one run in a private temporary folder, the workers' public certificates in an
/// authorized-keys folder: the same path a run across machines takes.
struct ThrowawayKeys {
    let folder: String

    init(workers: Int) throws {
        try requireCurve("--secure cannot make keys for the run")
        folder = NSTemporaryDirectory() + "dptrain-launch-keys-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder + "/authorized", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        chmod(folder, 0o700)
        try Certificate(keyPair: try CurveKeyPair.generate()).write(name: "coordinator", directory: folder)
        for worker in 1...workers {
            let certificate = Certificate(keyPair: try CurveKeyPair.generate())
            try certificate.write(name: "worker-\(worker)", directory: folder)
            try OutputFile.write(certificate.publicText, to: "\(folder)/authorized/worker-\(worker).key", existing: .keep)
        }
    }

    var coordinatorArguments: [String] {
        ["--key", "\(folder)/coordinator.key_secret", "--authorized-keys", "\(folder)/authorized"]
    }

    func workerArguments(_ worker: Int) -> [String] {
        ["--key", "\(folder)/worker-\(worker).key_secret", "--coordinator-key", "\(folder)/coordinator.key"]
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}
