import ArgumentParser
import Foundation
import ZMQ

struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Make a CURVE key pair for a coordinator or a worker host.",
        discussion: """
            Writes DIR/NAME.key (the public certificate, to hand out) and DIR/NAME.key_secret (the secret \
            one, mode 0600, that stays on its host), in ZeroMQ's certificate format (CZMQ's zcert, pyzmq's \
            zmq.auth). The coordinator takes --key NAME.key_secret and a folder of its workers' NAME.key \
            files as --authorized-keys; a worker takes --key NAME.key_secret and --coordinator-key with the \
            coordinator's NAME.key.
            """)

    @Argument(help: "The key's name: the files are NAME.key and NAME.key_secret.")
    var name: String

    @Option(help: ArgumentHelp("The folder to write them in (made if missing).", valueName: "dir"))
    var dir = "."

    func validate() throws {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            throw ValidationError("NAME '\(name)' must be a plain file name, like coordinator or worker-a")
        }
    }

    func run() throws {
        try requireCurve("it cannot make keys")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let certificate = Certificate(keyPair: try CurveKeyPair.generate(), metadata: [
            .init(name: "name", value: name), .init(name: "hostname", value: ProcessInfo.processInfo.hostName),
        ])
        let (publicPath, secretPath) = try certificate.write(name: name, directory: dir)
        print("wrote \(publicPath) (public key \(certificate.publicKey): hand it out)")
        print("wrote \(secretPath) (secret, mode 0600: keep it on this host)")
    }
}
