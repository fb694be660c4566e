import ArgumentParser
import CSignals
import Foundation
import Logging
import Training
import ZMQ

/// The coordinator's keys: --key, --authorized-keys, and --insecure for those who want neither.
public struct CoordinatorSecurityOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The coordinator's secret certificate (NAME.key_secret, from `dptrain keygen NAME`): every connection is encrypted, and only --authorized-keys may connect.", valueName: "file"))
    public var key: String?

    @Option(name: .customLong("authorized-keys"), help: ArgumentHelp("A folder of the workers' public certificates (NAME.key files): the keys admitted. Read again on SIGHUP.", valueName: "dir"))
    public var authorizedKeys: String?

    @Flag(help: "Run in plaintext without keys on an address other machines can reach: any process that reaches it can join, read the weights and the data, and poison the model. Only on a network you trust.")
    public var insecure = false

    public init() {}

    public func validate(bind: String) throws {
        if (key == nil) != (authorizedKeys == nil) {
            throw ValidationError("--key and --authorized-keys go together: the coordinator's secret certificate, and the folder of the workers' public ones")
        }
        if insecure && key != nil { throw ValidationError("--insecure and --key contradict each other: choose one") }
        if key == nil && !insecure && Self.isReachableFromNetwork(bind) {
            throw ValidationError(Self.insecureBindText(bind, alternatives: "give --key FILE and --authorized-keys DIR (make keys with `dptrain keygen NAME`)"))
        }
    }

    static func insecureBindText(_ bind: String, alternatives: String) -> String {
        "--bind \(bind) can be reached from the network, and without keys any process that reaches it can join the run, read the weights and the data, and poison the model: \(alternatives), or add --insecure for a plaintext run on a network you trust"
    }

    /// False for ipc://, inproc:// and tcp on a loopback address; true for every other tcp address (a wildcard, an interface, a host name).
    public static func isReachableFromNetwork(_ endpoint: String) -> Bool {
        guard endpoint.hasPrefix("tcp://") else { return false }
        var host = String(endpoint.dropFirst("tcp://".count))
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return !(host == "localhost" || host == "::1" || host.hasPrefix("127."))
    }

    /// The coordinator socket's security: none, or CURVE with a ZAP handler that admits the folder's
    /// keys, logs each refused key once per address, and reads the folder again on SIGHUP.
    public func security(context: Context, logger: Logger) throws -> SocketSecurity {
        guard let key, let authorizedKeys else { return .none }
        let pair = try SecretKeyFile.load(key)
        let authorized = try AuthorizedKeys.load(directory: authorizedKeys)
        authorized.problems.forEach { logger.warning("\($0)") }
        if authorized.keys.isEmpty {
            logger.warning("\(authorizedKeys) holds no public certificates yet: no worker can join until one is added there and this coordinator gets SIGHUP")
        }
        dptrain_catch_hangups()
        let folder = authorizedKeys
        let hangupsSeen = Counter(dptrain_hangups())
        let authenticator = try Authenticator(
            context: context, authorizedKeys: Set(authorized.keys.keys),
            onRefusal: { refusal in
                logger.warning("refused a worker at \(refusal.address) with key \(refusal.publicKey): it is not in --authorized-keys \(folder); to admit it, put its public certificate there and send this coordinator SIGHUP (kill -HUP \(getpid()))")
                if refusal.isLastReported {
                    logger.warning("refused \(Authenticator.refusalsReported) different keys or addresses: refusing more without logging each, until the next SIGHUP")
                }
            },
            reload: {
                let hangups = dptrain_hangups()
                guard hangupsSeen.replace(with: hangups) != hangups else { return nil }
                do {
                    let fresh = try AuthorizedKeys.load(directory: folder)
                    fresh.problems.forEach { logger.warning("\($0)") }
                    logger.info("SIGHUP: read \(folder) again: \(counted(fresh.keys.count, "authorized key"))")
                    return Set(fresh.keys.keys)
                } catch {
                    logger.error("SIGHUP: \(error); keeping the keys admitted so far")
                    return nil
                }
            })
        logger.info("CURVE: encrypted and authenticated, coordinator key \(pair.publicKey), \(counted(authorized.keys.count, "authorized worker key")) from \(authorizedKeys)")
        return .curveServer(pair, authenticator)
    }
}

/// The worker's keys: --key and --coordinator-key, or DPTRAIN_KEY and DPTRAIN_COORDINATOR_KEY.
public struct WorkerSecurityOptions: ParsableArguments {
    @Option(help: ArgumentHelp("This worker's secret certificate (NAME.key_secret, from `dptrain keygen NAME`); default $DPTRAIN_KEY.", valueName: "file"))
    public var key: String?

    @Option(name: .customLong("coordinator-key"), help: ArgumentHelp("The coordinator's public certificate (its NAME.key): the worker talks to no other; default $DPTRAIN_COORDINATOR_KEY.", valueName: "file"))
    public var coordinatorKey: String?

    public init() {}

    /// The files given, the environment's where no flag is.
    var files: (key: String?, coordinatorKey: String?) {
        let environment = ProcessInfo.processInfo.environment
        return (key ?? environment["DPTRAIN_KEY"].flatMap { $0.isEmpty ? nil : $0 },
                coordinatorKey ?? environment["DPTRAIN_COORDINATOR_KEY"].flatMap { $0.isEmpty ? nil : $0 })
    }

    public func validate() throws {
        let (key, coordinatorKey) = files
        if (key == nil) != (coordinatorKey == nil) {
            throw ValidationError("--key and --coordinator-key go together (or DPTRAIN_KEY and DPTRAIN_COORDINATOR_KEY): this worker's secret certificate, and the coordinator's public one")
        }
    }

    public func security() throws -> SocketSecurity {
        guard case let (key?, coordinatorKey?) = files else { return .none }
        let pair = try SecretKeyFile.load(key)
        let coordinator = try Certificate.load(path: coordinatorKey)
        return .curveClient(pair, serverKey: coordinator.publicKey)
    }
}

/// Stops a command that needs CURVE when this libzmq lacks it: `what` is what cannot be done.
func requireCurve(_ what: String) throws {
    guard CurveKeyPair.isAvailable else {
        throw ValidationError("this libzmq was built without CURVE, so \(what); install a libzmq with libsodium (Debian's libzmq5 has it)")
    }
}

enum SecretKeyFile {
    static func load(_ path: String) throws -> CurveKeyPair {
        try requireCurve("--key cannot be used")
        // loadSecret refuses a certificate without a secret key, so keyPair is there.
        return try Certificate.loadSecret(path: path).keyPair!
    }
}

/// An integer shared with the ZAP handler's thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int32
    init(_ value: Int32) { self.value = value }
    /// Stores `new` and returns what was there.
    func replace(with new: Int32) -> Int32 { lock.withLock { defer { value = new }; return value } }
}
