import Foundation
import MLP
import Training
import XCTest
import ZMQ

/// Secure runs as users start them: keys made by `dptrain keygen`, a coordinator and workers
/// as processes over tcp with CURVE, an intruder, a SIGHUP, and the bytes on the wire.
final class SecurityProcessTests: ProcessTestCase {
    var keys: String { "\(folder)/keys" }
    var authorized: String { "\(folder)/authorized" }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE (libsodium)")
        try FileManager.default.createDirectory(atPath: authorized, withIntermediateDirectories: true)
    }

    /// Runs `dptrain keygen NAME --dir keys` and returns the public key it wrote.
    @discardableResult
    func keygen(_ name: String, authorize: Bool = false) throws -> String {
        let keygen = try start("keygen-\(name)", ["keygen", name, "--dir", keys])
        wait(keygen, seconds: 30)
        XCTAssertEqual(keygen.terminationStatus, 0, errors("keygen-\(name)"))
        if authorize { try FileManager.default.copyItem(atPath: "\(keys)/\(name).key", toPath: "\(authorized)/\(name).key") }
        return try Certificate.load(path: "\(keys)/\(name).key").publicKey
    }

    func secureCoordinator(_ name: String, _ endpoint: String, _ flags: [String]) throws -> Process {
        try start(name, ["coordinator", "--bind", endpoint, "--workers", "1", "--key", "\(keys)/coordinator.key_secret",
                         "--authorized-keys", authorized] + flags)
    }

    func secureWorker(_ name: String, key: String, _ endpoint: String) throws -> Process {
        try start(name, ["worker", "--connect", endpoint, "--key", "\(keys)/\(key).key_secret",
                         "--coordinator-key", "\(keys)/coordinator.key", "--give-up-after", "60"])
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    func testKeygenWritesZeroMQCertificatesWithTheirModes() throws {
        let publicKey = try keygen("alice")
        XCTAssertEqual(try mode("\(keys)/alice.key"), 0o644)
        XCTAssertEqual(try mode("\(keys)/alice.key_secret"), 0o600)
        let publicText = try String(contentsOfFile: "\(keys)/alice.key", encoding: .utf8)
        let secretText = try String(contentsOfFile: "\(keys)/alice.key_secret", encoding: .utf8)
        // zcert's layout: comment banner, a metadata section, a curve section with quoted Z85 keys.
        XCTAssertTrue(publicText.contains("#   ZeroMQ CURVE Public Certificate\n"), publicText)
        XCTAssertTrue(publicText.contains("\nmetadata\n    name = \"alice\"\n"), publicText)
        XCTAssertTrue(publicText.hasSuffix("curve\n    public-key = \"\(publicKey)\"\n"), publicText)
        XCTAssertFalse(publicText.contains("secret-key"))
        XCTAssertTrue(secretText.contains("#   ZeroMQ CURVE **Secret** Certificate\n"), secretText)
        let secret = try Certificate.loadSecret(path: "\(keys)/alice.key_secret")
        XCTAssertEqual(secret.publicKey, publicKey)
        XCTAssertEqual(secret.keyPair?.publicKey, publicKey, "the secret key is the public key's own")
        XCTAssertTrue(secretText.contains("    secret-key = \"\(secret.secretKey!)\"\n"), secretText)

        let again = try start("keygen-again", ["keygen", "alice", "--dir", keys])
        wait(again, seconds: 30)
        XCTAssertNotEqual(again.terminationStatus, 0)
        XCTAssertTrue(errors("keygen-again").contains("\(keys)/alice.key already exists"), errors("keygen-again"))
    }

    /// pyzmq's zmq.auth (another ZeroMQ tool) reads keygen's certificates, and dptrain reads pyzmq's.
    func testPyzmqAndDptrainReadEachOthersCertificates() throws {
        let python = "/usr/bin/python3"
        let hasPyzmq = Process()
        hasPyzmq.executableURL = URL(fileURLWithPath: python)
        hasPyzmq.arguments = ["-c", "import zmq.auth"]
        hasPyzmq.standardError = FileHandle.nullDevice
        if FileManager.default.isExecutableFile(atPath: python) { try hasPyzmq.run(); hasPyzmq.waitUntilExit() }
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: python) && hasPyzmq.terminationStatus == 0,
                          "Debian's python3-zmq is not installed (deploy/test.sh installs it)")
        let publicKey = try keygen("alice")
        let secret = try Certificate.loadSecret(path: "\(keys)/alice.key_secret")
        let script = """
            import sys, zmq.auth
            public, secret = zmq.auth.load_certificate(sys.argv[1] + '/alice.key_secret')
            only_public, none = zmq.auth.load_certificate(sys.argv[1] + '/alice.key')
            print(public.decode(), secret.decode(), only_public.decode(), none)
            zmq.auth.create_certificates(sys.argv[1], 'from-pyzmq')
            """
        let pyzmq = Process()
        pyzmq.executableURL = URL(fileURLWithPath: python)
        pyzmq.arguments = ["-c", script, keys]
        let output = Pipe()
        pyzmq.standardOutput = output
        try pyzmq.run()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        pyzmq.waitUntilExit()
        XCTAssertEqual(said, "\(publicKey) \(secret.secretKey!) \(publicKey) None\n")
        // pyzmq leaves its secret file as the umask makes it; dptrain wants it private.
        chmod("\(keys)/from-pyzmq.key_secret", 0o600)
        let theirs = try Certificate.loadSecret(path: "\(keys)/from-pyzmq.key_secret")
        XCTAssertEqual(try Certificate.load(path: "\(keys)/from-pyzmq.key").publicKey, theirs.keyPair?.publicKey)
    }

    func testASecretOthersCanReadIsRefusedSayingHowToFixIt() throws {
        try keygen("coordinator")
        try keygen("alice", authorize: true)
        chmod("\(keys)/alice.key_secret", 0o644)
        let worker = try secureWorker("worker", key: "alice", "tcp://127.0.0.1:\(try freePort())")
        wait(worker, seconds: 30)
        XCTAssertNotEqual(worker.terminationStatus, 0)
        XCTAssertTrue(errors("worker").contains("can be read by other users (mode 644): run `chmod 600 \(keys)/alice.key_secret`"), errors("worker"))

        chmod("\(keys)/coordinator.key_secret", 0o640)
        let coordinator = try secureCoordinator("coordinator", "tcp://127.0.0.1:\(try freePort())", [])
        wait(coordinator, seconds: 30)
        XCTAssertNotEqual(coordinator.terminationStatus, 0)
        XCTAssertTrue(errors("coordinator").contains("run `chmod 600 \(keys)/coordinator.key_secret`"), errors("coordinator"))
    }

    func testAReachableBindWithoutKeysRefusesToStartNamingInsecure() throws {
        let port = try freePort()
        let refused = try start("refused", ["coordinator", "--bind", "tcp://*:\(port)", "--workers", "1"])
        wait(refused, seconds: 30)
        XCTAssertNotEqual(refused.terminationStatus, 0)
        XCTAssertTrue(errors("refused").contains("--bind tcp://*:\(port) can be reached from the network"), errors("refused"))
        XCTAssertTrue(errors("refused").contains("add --insecure"), errors("refused"))

        let insecure = try start("insecure", ["coordinator", "--bind", "tcp://*:\(port)", "--workers", "1", "--insecure"])
        waitUntil(seconds: 30, "the --insecure coordinator to wait for workers") { errors("insecure").contains("waiting for 1 worker on") }
        XCTAssertTrue(insecure.isRunning)
    }

    /// An authorized worker trains over tcp with CURVE; an intruder with an unknown key is told
    /// within 10 s and exits 1, and the run's weights are those of a run without it, to the bit.
    func testAnAuthorizedWorkerTrainsAndAnIntruderChangesNothing() throws {
        try keygen("coordinator")
        try keygen("alice", authorize: true)
        let intruderKey = try keygen("mallory")
        let flags = ["--batch", "64", "--epochs", "2"]

        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try secureCoordinator("coordinator", endpoint, flags + ["--save", "\(folder)/with-intruder.model"])
        let alice = try secureWorker("alice", key: "alice", endpoint)
        waitUntil(seconds: 60, "training to start") { errors("coordinator").contains("training with 1 worker:") }
        let intruder = try secureWorker("mallory", key: "mallory", endpoint)
        wait(intruder, seconds: 10)
        XCTAssertEqual(intruder.terminationStatus, 1)
        let said = errors("mallory")
        XCTAssertTrue(said.contains("the coordinator at \(endpoint) refused this worker's key \(intruderKey): add it to the coordinator's --authorized-keys"), said)
        wait(coordinator)
        wait(alice, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(alice.terminationStatus, 0, errors("alice"))
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(accuracy(output("coordinator")), output("coordinator")), 0.97)
        XCTAssertEqual(errors("coordinator").components(separatedBy: "with key \(intruderKey)").count - 1, 1, errors("coordinator"))

        let quietEndpoint = "tcp://127.0.0.1:\(try freePort())"
        let alone = try secureCoordinator("alone", quietEndpoint, flags + ["--save", "\(folder)/alone.model"])
        let aliceAlone = try secureWorker("alice-alone", key: "alice", quietEndpoint)
        wait(alone)
        wait(aliceAlone, seconds: 10)
        XCTAssertEqual(alone.terminationStatus, 0, errors("alone"))
        let withIntruder = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/with-intruder.model"))
        XCTAssertEqual(withIntruder, try Data(contentsOf: URL(fileURLWithPath: "\(folder)/alone.model")))
    }

    /// A worker given another coordinator's key, or none, for a coordinator with keys: told at once, exit 1.
    func testAWorkerWithTheWrongCoordinatorKeyOrNoneSaysSo() throws {
        try keygen("coordinator")
        try keygen("impostor")
        try keygen("alice", authorize: true)
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try secureCoordinator("coordinator", endpoint, [])
        waitUntil(seconds: 30, "the coordinator to listen") { errors("coordinator").contains("waiting for 1 worker on") }
        let misled = try start("misled", ["worker", "--connect", endpoint, "--key", "\(keys)/alice.key_secret",
                                          "--coordinator-key", "\(keys)/impostor.key"])
        let keyless = try start("keyless", ["worker", "--connect", endpoint])
        wait(misled, seconds: 10)
        wait(keyless, seconds: 10)
        XCTAssertEqual(misled.terminationStatus, 1)
        XCTAssertTrue(errors("misled").contains("the coordinator at \(endpoint) closed every secure handshake: its key is not the one --coordinator-key names"), errors("misled"))
        XCTAssertEqual(keyless.terminationStatus, 1)
        XCTAssertTrue(errors("keyless").contains("requires CURVE keys"), errors("keyless"))
        XCTAssertTrue(coordinator.isRunning)
    }

    /// `dptrain launch --secure`: keys made for the run, used, and removed.
    func testLaunchSecureTrainsWithThrowawayKeys() throws {
        let launch = try start("launch", ["launch", "--workers", "2", "--secure", "--epochs", "1", "--batch", "256"])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        let said = errors("launch")
        XCTAssertTrue(said.contains("2 authorized worker keys"), said)
        let folder = try XCTUnwrap(said.split(separator: "\n").first { $0.contains("CURVE keys in ") }?.components(separatedBy: "CURVE keys in ").last)
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder), "\(folder) was left behind")
        XCTAssertNotNil(accuracy(output("launch").split(separator: "\n").map { $0.replacingOccurrences(of: "[coordinator] ", with: "") }.joined(separator: "\n")))
    }

    func testSIGHUPAdmitsAWorkerRefusedBefore() throws {
        try keygen("coordinator")
        try keygen("bob")
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try secureCoordinator("coordinator", endpoint, ["--epochs", "1"])
        waitUntil(seconds: 30, "the coordinator to listen") { errors("coordinator").contains("waiting for 1 worker on") }
        let refused = try secureWorker("refused", key: "bob", endpoint)
        wait(refused, seconds: 10)
        XCTAssertEqual(refused.terminationStatus, 1, errors("refused"))

        try FileManager.default.copyItem(atPath: "\(keys)/bob.key", toPath: "\(authorized)/bob.key")
        kill(coordinator.processIdentifier, SIGHUP)
        waitUntil(seconds: 10, "the coordinator to read its keys again") { errors("coordinator").contains("1 authorized key") && errors("coordinator").contains("SIGHUP") }
        let admitted = try secureWorker("admitted", key: "bob", endpoint)
        wait(coordinator)
        wait(admitted, seconds: 10)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(admitted.terminationStatus, 0, errors("admitted"))
    }
}

/// Keys as Kubernetes mounts a Secret volume into a pod with runAsUser, runAsGroup and fsGroup
/// 65532 (deploy/kubernetes): the kubelet's layout (NAME -> ..data/NAME, ..data -> a timestamped
/// folder), each file owned by root, group 65532, mode 0440 whatever the defaultMode. A
/// coordinator and a worker run as user 65532 with them and train.
final class KubernetesSecretTests: ProcessTestCase {
    static let podUser: gid_t = 65532

    /// `names` from `keys`, laid out as the kubelet lays out a Secret volume in `volume`.
    func secretVolume(_ volume: String, from keys: String, _ names: [String], owner: uid_t = 0, group: gid_t = podUser,
                      mode: mode_t = 0o440, kubeletLayout: Bool = true) throws {
        let data = "\(volume)/..2026_12_07_13_20_00.123456789"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        for name in names {
            let file = kubeletLayout ? "\(data)/\(name)" : "\(volume)/\(name)"
            try FileManager.default.copyItem(atPath: "\(keys)/\(name)", toPath: file)
            XCTAssertEqual(chown(file, owner, group), 0)
            XCTAssertEqual(chmod(file, mode), 0)
            if kubeletLayout { try FileManager.default.createSymbolicLink(atPath: "\(volume)/\(name)", withDestinationPath: "..data/\(name)") }
        }
        if kubeletLayout { try FileManager.default.createSymbolicLink(atPath: "\(volume)/..data", withDestinationPath: (data as NSString).lastPathComponent) }
        XCTAssertEqual(chown(volume, 0, Self.podUser), 0)
        XCTAssertEqual(chmod(volume, 0o2755), 0)   // root:fsGroup, setgid, as the kubelet leaves it
    }

    func testKeysMountedAsKubernetesSecretsAreAccepted() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE (libsodium)")
        try XCTSkipUnless(getuid() == 0, "making root-owned files of another group needs root (deploy/test.sh runs as root in CI)")
        let keys = "\(folder)/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(folder)/authorized", withIntermediateDirectories: true)
        for name in ["coordinator", "worker"] { try Certificate(keyPair: try CurveKeyPair.generate()).write(name: name, directory: keys) }
        try FileManager.default.copyItem(atPath: "\(keys)/worker.key", toPath: "\(folder)/authorized/worker.key")
        try secretVolume("\(folder)/coordinator-keys", from: keys, ["coordinator.key_secret"])
        try secretVolume("\(folder)/worker-keys", from: keys, ["worker.key_secret", "coordinator.key"])
        chmod(folder, 0o755)

        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let user = String(Self.podUser)
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "1",
                                                    "--key", "\(folder)/coordinator-keys/coordinator.key_secret",
                                                    "--authorized-keys", "\(folder)/authorized"], user: user)
        let worker = try start("worker", ["worker", "--connect", endpoint], environment: [
            "DPTRAIN_KEY": "\(folder)/worker-keys/worker.key_secret", "DPTRAIN_COORDINATOR_KEY": "\(folder)/worker-keys/coordinator.key"], user: user)
        wait(coordinator)
        wait(worker, seconds: 30)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(worker.terminationStatus, 0, errors("worker"))
        XCTAssertNotNil(accuracy(output("coordinator")), output("coordinator"))
    }

    /// The same mode without the kubelet's layout, or of a group not the process's, or readable
    /// by others, or writable by the group, is still refused: the rule is no wider than a Secret.
    func testAGroupReadableKeyOutsideASecretVolumeIsStillRefused() throws {
        try XCTSkipUnless(getuid() == 0, "making root-owned files of another group needs root")
        let keys = "\(folder)/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        try Certificate(keyPair: try CurveKeyPair.generate()).write(name: "worker", directory: keys)
        let secret = "worker.key_secret"
        let cases: [(String, uid_t, gid_t, mode_t, Bool)] = [
            ("hand-made", 0, getgid(), 0o440, false), ("other-group", 0, 4242, 0o440, true),
            ("other-owner", 4242, getgid(), 0o440, true), ("others-read", 0, getgid(), 0o444, true), ("group-write", 0, getgid(), 0o460, true),
        ]
        for (name, owner, group, mode, layout) in cases {
            try secretVolume("\(folder)/\(name)", from: keys, [secret], owner: owner, group: group, mode: mode, kubeletLayout: layout)
            XCTAssertThrowsError(try Certificate.loadSecret(path: "\(folder)/\(name)/\(secret)"), name)
        }
        try secretVolume("\(folder)/secret", from: keys, [secret], owner: 0, group: getgid())
        XCTAssertNoThrow(try Certificate.loadSecret(path: "\(folder)/secret/\(secret)"))
    }
}
