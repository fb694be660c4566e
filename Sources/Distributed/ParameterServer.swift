import CSignals
import Foundation
import Logging
import MLP
import Roles
import Training
import Wire
import ZMQ

/// A parameter server's driver: says hello to the coordinator (its link follows the same
/// rules as a worker's: `WorkerStateMachine`), takes the range the coordinator gives it, binds
/// an endpoint for the members, and feeds its `ServerRange` what arrives: each member's slice of
/// the sum, the coordinator's commits. It sends each member its range of the new weights, and
/// the coordinator the range's state when asked. Every decision about the range is `ServerRange`'s.
public final class ParameterServer {
    public let coordinatorEndpoint: String
    /// Where members reach it, as the coordinator tells them.
    public private(set) var endpoint: String

    private let context: Context
    private var coordinator: Socket
    private let members: Socket
    private let security: SocketSecurity
    private var handshake: HandshakeMonitor
    private let logger: Logger
    private let host: String
    private var link: WorkerStateMachine
    private var encoder = MessageEncoder()
    private let message = Message(maxFrames: 1 + framesPerMessage)
    private var pollItems: [PollItem] = []

    private var runID: UInt64 = 0
    private var range: ServerRange?
    private var precision = WirePrecision.float32
    /// Each attached member's connection to this server, by worker id.
    private var memberPeers: [UInt32: [UInt8]] = [:]
    /// The weights in the run's wire precision, encoded once for every member of a step.
    private var weightsFrame: SharedFrame?
    public private(set) var stepsApplied = 0
    /// Told of each welcome and each step applied (the Prometheus endpoint); nil for none.
    public var monitor: ParameterServerMonitor?
    /// Slices and their bytes taken since the last step applied, for the monitor.
    private var slicesTaken = 0, sliceBytes = 0
    /// The coordinator asked for the range's state while a commit waited for slices: sent once it is applied.
    private var stateAsked = false
    /// Admits the members the coordinator names, in a run with keys.
    private var memberAuthenticator: Authenticator?
    /// When a stop signal came, the time this server stops serving at the latest.
    private var stopDeadline: UInt64?
    /// How long a server asked to stop serves on for its coordinator's last fetch.
    static let stopGrace: UInt64 = 20_000_000_000

    public init(coordinator endpoint: String, bind: String, context: Context, logger: Logger, giveUpAfterSeconds: Double = 300,
                host: String = Worker.defaultHost, security: SocketSecurity = .none) throws {
        coordinatorEndpoint = endpoint
        self.context = context
        self.logger = logger
        self.security = security
        self.host = String(host.utf8.prefix(Limits.hostBytes)) ?? "parameter server"
        link = WorkerStateMachine(giveUpAfterSeconds: giveUpAfterSeconds, now: Self.now())
        (coordinator, handshake) = try Worker.connectedSocket(context, endpoint, security, role: "parameter server")
        members = try Socket(context, .router)
        if case let .curveClient(pair, _) = security {
            // With keys, the members' links are encrypted too, and only the keys the coordinator
            // names (its members') get through the handshake: none until it names them.
            let authenticator = try Authenticator(context: context, authorizedKeys: [], onRefusal: { [logger] refusal in
                logger.warning("refused a member whose key the coordinator has not named: \(refusal)")
            })
            try members.apply(.curveServer(pair, authenticator))
            memberAuthenticator = authenticator
        }
        try members.set(.routerMandatory, 1)
        try members.set(.maxMessageSize, Limits.messageBytes)
        try members.useLargeKernelBuffers(messageBytes: 4 << 20)
        do {
            try members.bind(bind)
        } catch let error as ZMQError {
            throw EndpointError(role: "parameter server", verb: "bind", endpoint: bind, error: error)
        }
        self.endpoint = Self.reachable(bound: (try? members.lastEndpoint()) ?? bind, asked: bind)
    }

    /// The endpoint members are told: the bound one (its port chosen when asked for 0), with the
    /// host asked for when that was a wildcard libzmq reports as 0.0.0.0.
    static func reachable(bound: String, asked: String) -> String {
        guard bound.hasPrefix("tcp://0.0.0.0:") || bound.hasPrefix("tcp://[::]:") else { return bound }
        let port = bound.split(separator: ":").last.map(String.init) ?? ""
        return "tcp://\(ProcessInfo.processInfo.hostName):\(port)"
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Serves until the coordinator says training is done, or a stop signal; a failure of its link
    /// to the coordinator is said as a server's (the link's rules are a worker's).
    public func run() throws {
        do {
            try serve()
        } catch let error as WorkerError {
            if case .otherRelease = error { throw ParameterServerError.otherRelease(Self.asServer(error.description)) }
            throw ParameterServerError.link(Self.asServer(error.description))
        } catch let error as HandshakeError {
            throw ParameterServerError.link(Self.asServer(error.description))
        }
    }

    /// A worker's line about its coordinator, as this server's.
    static func asServer(_ line: String) -> String {
        var said = line
        if said.hasPrefix("worker: ") { said = "parameter server: " + said.dropFirst("worker: ".count) }
        return said.replacingOccurrences(of: "this worker", with: "this server")
    }

    private func serve() throws {
        logger.info("parameter server for members at \(endpoint)\(memberAuthenticator == nil ? "" : " (encrypted, taking the members the coordinator names)"); its coordinator at \(coordinatorEndpoint)")
        defer { memberAuthenticator?.stop() }
        while true {
            if dptrain_stop_requested() != 0, link.isRunning {
                // The coordinator stopped by the same signal (a scheduler's preemption) fetches this
                // range for its checkpoint before it ends: serve on until it says so, or a while.
                let now = Self.now()
                if stopDeadline == nil, link.isJoined {
                    stopDeadline = now + Self.stopGrace
                    logger.info("asked by signal \(dptrain_stop_requested()) to stop: serving on until the coordinator has its range (\(Int(Liveness.seconds(Self.stopGrace))) s at most)")
                }
                if !link.isJoined || now >= stopDeadline! {
                    _ = link.stopRequested(now: now)
                    logger.info("stopping, as asked by signal \(dptrain_stop_requested())")
                }
            }
            switch link.state {
            case .stopped(.trainingDone):
                logger.info("training is done after \(stepsApplied) steps applied")
                return
            case .stopped(.left):
                return
            case .failed(let failure):
                throw WorkerError(failure, endpoint: coordinatorEndpoint)
            case .joining, .joined:
                break
            }
            if !link.isJoined, let failure = try handshake.failure() {
                throw HandshakeError(endpoint: coordinatorEndpoint, publicKey: security.publicKey, failure: failure)
            }
            try perform(link.tick(now: Self.now()))
            let wait = Int(min(link.nanosecondsUntilDue(now: Self.now()) / 1_000_000, 200)) + 1
            if pollItems.first?.socket !== coordinator { pollItems = [PollItem(coordinator), PollItem(members)] }
            guard try poll(&pollItems, timeoutMilliseconds: wait) > 0 else { continue }
            while try coordinator.receive(into: message, .dontWait) { try handleFromCoordinator() }
            while try members.receive(into: message, .dontWait) { try handleFromMember() }
        }
    }

    private func perform(_ actions: [WorkerStateMachine.Action]) throws {
        for action in actions {
            switch action {
            case .sendHello:
                try encoder.serverHello(ServerHello(endpoint: endpoint, host: host, publicKey: security.publicKey ?? ""))
                _ = try encoder.withFrames { try coordinator.send($0, .dontWait) }
            case .sendHeartbeat:
                encoder.signal(.heartbeat, runID: runID)
                _ = try encoder.withFrames { try coordinator.send($0, .dontWait) }
            case .sendGoodbye:
                encoder.signal(.goodbye, runID: runID)
                _ = try? encoder.withFrames { try coordinator.send($0, .dontWait) }
            case .reconnect:
                logger.warning("lost the coordinator at \(coordinatorEndpoint); saying hello again")
                (coordinator, handshake) = try Worker.connectedSocket(context, coordinatorEndpoint, security, role: "parameter server")
                runID = 0
                range = nil
                memberPeers = [:]
            case let .explainWait(waited, left):
                logger.info("no coordinator at \(coordinatorEndpoint) after \(Int(waited.rounded())) s; giving up in \(Int(left.rounded())) s")
            }
        }
    }

    private func handleFromCoordinator() throws {
        guard !message.isTruncated, message.count == framesPerMessage else { return }
        let envelope: Envelope
        do {
            envelope = try message.withFrames { try decode(frames: $0, context: DecodeContext(receiver: .parameterServer, runID: runID)) }
        } catch WireError.unsupportedVersion(let version) {
            try perform(link.receiveOtherVersion(version, now: Self.now()))
            return
        } catch {
            logger.warning("dropped a message from the coordinator: \(error)")
            return
        }
        let now = Self.now()
        link.heard(now: now)
        switch envelope.body {
        case .serverWelcome(let welcome):
            // Again from its coordinator: the run went back (a server was lost) and this range with it.
            if link.isJoined, envelope.header.runID == runID {
                try restart(from: welcome, step: envelope.step)
                return
            }
            guard !link.isJoined else { return }
            try accept(welcome, runID: envelope.header.runID, step: envelope.step)
        case .refuse(let refusal):
            try perform(link.receiveRefusal(refusal.reason, refusal.text, runID: envelope.header.runID, now: now))
        case .commit(let commit):
            guard let range else { return }
            settle(range.receive(commit, step: envelope.step))
        case .memberKeys(let keys):
            memberAuthenticator?.replaceAuthorizedKeys(Set(keys))
        case .fetch:
            stateAsked = true
            if range?.isApplying == false { try sendState() }
        case .shutdown:
            try perform(link.receiveShutdown(now: now))
        default:
            break
        }
    }

    private func accept(_ welcome: ServerWelcomeView, runID: UInt64, step: UInt64) throws {
        let configuration = try RunConfiguration.decode(welcome.configuration, parameterCount: nil)
        let model = configuration.training.model
        guard welcome.first + welcome.count <= model.parameterCount else {
            throw ParameterServerError.rangeDoesNotFit(first: welcome.first, count: welcome.count, parameters: model.parameterCount)
        }
        guard link.receiveWelcome(workerID: UInt32(welcome.index), runID: runID, silenceSeconds: configuration.coordinatorSilenceSeconds, now: Self.now()) else { return }
        self.runID = runID
        precision = configuration.precision
        let optimizer = makeOptimizer(configuration.training.optimizer, parameterCount: welcome.count)
        let expected = optimizer.state.moments.count
        guard welcome.moments.count == expected else {
            throw ParameterServerError.optimizerState(moments: welcome.moments.count, expected: expected)
        }
        optimizer.state = OptimizerState(step: Int(welcome.optimizerSteps), moments: welcome.moments.map { Array($0) })
        range = ServerRange(index: welcome.index, first: welcome.first, weights: Array(welcome.weights), optimizer: optimizer,
                            format: configuration.training.fixedPointFormat(for: configuration.precision), step: step)
        memberPeers = [:]
        weightsFrame = nil
        monitor?.joined(runID: runID, index: welcome.index)
        logger.info("serving parameters \(welcome.first)..<\(welcome.first + welcome.count) of \(model.summary) (server \(welcome.index + 1) of \(welcome.serverCount)) from step \(step)")
    }

    /// The range as the coordinator went back to it; the members attached keep their place and take the weights.
    private func restart(from welcome: ServerWelcomeView, step: UInt64) throws {
        guard let old = range, welcome.first == old.first, welcome.count == old.count else {
            throw ParameterServerError.rangeDoesNotFit(first: welcome.first, count: welcome.count, parameters: (range?.first ?? 0) + (range?.count ?? 0))
        }
        let optimizer = makeOptimizer(old.optimizer.config, parameterCount: welcome.count)
        optimizer.state = OptimizerState(step: Int(welcome.optimizerSteps), moments: welcome.moments.map { Array($0) })
        range = ServerRange(index: welcome.index, first: welcome.first, weights: Array(welcome.weights), optimizer: optimizer, format: old.format, step: step)
        weightsFrame = nil
        stateAsked = false
        logger.warning("the run went back to step \(step - 1): serving parameters \(welcome.first)..<\(welcome.first + welcome.count) as they were then")
        try send(weightsTo: Array(memberPeers.keys))
    }

    private func handleFromMember() throws {
        guard !message.isTruncated, message.count == 1 + framesPerMessage, let range else { return }
        let envelope: Envelope
        do {
            let context = DecodeContext(receiver: .parameterServer, runID: runID, parameterCount: range.count)
            envelope = try message.withFrames(from: 1) { try decode(frames: $0, context: context) }
        } catch {
            logger.warning("dropped a message from a member: \(error)")
            return
        }
        switch envelope.body {
        case .attach(let workerID):
            memberPeers[workerID] = Array(message[0])
            // A member that joins takes the weights as they are now.
            try send(weightsTo: [workerID])
        case .slice(let slice):
            // A member speaks for itself alone: the id it attached with. A slice from a member this
            // server has not met (it replaces a lost one, and the member's connection came back by
            // itself) makes it known, as an attach would.
            if memberPeers[slice.workerID] == nil { memberPeers[slice.workerID] = Array(message[0]) }
            guard memberPeers[slice.workerID]!.elementsEqual(message[0]) else {
                logger.warning("dropped a slice for worker \(slice.workerID) from a connection that did not attach as it")
                return
            }
            slicesTaken += 1
            sliceBytes += message.byteCount
            settle(range.receive(slice, step: envelope.step))
        default:
            break
        }
    }

    /// Carries out what the range decided.
    private func settle(_ outcome: ServerRange.Outcome) {
        switch outcome {
        case .waiting:
            return
        case .applied(let members):
            stepsApplied += 1
            weightsFrame = nil
            do {
                let sent = try send(weightsTo: members)
                monitor?.applied(step: range?.step ?? 0, slices: slicesTaken, bytesReceived: sliceBytes, bytesSent: sent)
                slicesTaken = 0
                sliceBytes = 0
                if stateAsked { try sendState() }
            } catch {
                logger.error("could not send the weights: \(error)")
            }
        case .dropped(let why):
            logger.warning("dropped \(why)")
        case .failed(let why):
            logger.error("\(why)")
            try? encoder.failure(why, runID: runID, step: range?.step ?? 0)
            _ = try? encoder.withFrames { try coordinator.send($0, .dontWait) }
        }
    }

    /// The range's weights for its step, to each of `ids` that has attached; no send waits.
    /// Returns the bytes sent.
    @discardableResult
    private func send(weightsTo ids: [UInt32]) throws -> Int {
        guard let range else { return 0 }
        var bytes = 0
        if weightsFrame == nil {
            let precision = precision
            weightsFrame = try range.weights.withUnsafeBufferPointer { weights in
                try SharedFrame(count: weights.count * precision.bytesPerValue) { precision.encode(weights, into: $0) }
            }
        }
        try encoder.weights(runID: runID, step: range.step, first: range.first, count: range.count, precision: precision)
        for id in ids {
            guard let peer = memberPeers[id] else { continue }
            do {
                let sent = try peer.withUnsafeBytes { address in
                    try encoder.withHeaderAndMeta { try members.send(address, $0, $1, then: weightsFrame!, .dontWait) }
                }
                if sent { bytes += weightsFrame!.count } else { logger.warning("worker \(id) is not reading its weights: skipped at step \(range.step)") }
            } catch let error as ZMQError where error.isHostUnreachable {
                memberPeers[id] = nil
            }
        }
        return bytes
    }

    /// The range's weights and optimizer state, for the coordinator's checkpoints and evaluation.
    private func sendState() throws {
        guard let range else { return }
        stateAsked = false
        let state = range.optimizerState
        try encoder.rangeState(runID: runID, step: range.step, index: range.index, first: range.first, count: range.count,
                               optimizerSteps: UInt64(state.step), moments: state.moments.count)
        var bulk = range.weights
        for moment in state.moments { bulk.append(contentsOf: moment) }
        _ = try bulk.withUnsafeBytes { bytes in try encoder.withFrames(bulk: bytes) { try coordinator.send($0, .dontWait) } }
        link.sent(now: Self.now())
    }
}

/// What a parameter server tells a watcher as it works: plain calls on its own thread, which must not wait.
public protocol ParameterServerMonitor: AnyObject {
    func joined(runID: UInt64, index: Int)
    func applied(step: UInt64, slices: Int, bytesReceived: Int, bytesSent: Int)
}

public enum ParameterServerError: Error, CustomStringConvertible, Equatable {
    case rangeDoesNotFit(first: Int, count: Int, parameters: Int)
    case optimizerState(moments: Int, expected: Int)
    /// Its coordinator refused it, went silent, or its handshake failed: the line says what to do.
    case link(String)
    /// Its coordinator runs another release.
    case otherRelease(String)

    public var description: String {
        switch self {
        case .link(let line), .otherRelease(let line):
            line
        case let .rangeDoesNotFit(first, count, parameters):
            "parameter server: the coordinator gave this server parameters \(first)..<\(first + count) of a model of \(parameters): the coordinator runs another release or is broken; run the same dptrain release everywhere"
        case let .optimizerState(moments, expected):
            "parameter server: the coordinator sent \(moments) optimizer moments where its optimizer keeps \(expected): run the same dptrain release everywhere"
        }
    }
}
