import CSignals
import Foundation
import Logging
import MLP
import Roles
import Training
import Wire
import ZMQ

/// Parameter servers: with `--parameter-servers K` the coordinator keeps the brain (members,
/// shards, the schedule, liveness, checkpoints, metrics) and no parameter-sized message on its
/// step path. Servers say hello and get a range each (`ParameterServerRoster` decides); at the
/// end of every step the coordinator commits the step's answers to them; its own copy of the
/// weights is fetched from them only where it needs one (evaluation, checkpoints, the model file).
extension Coordinator {
    /// Values in a step's weights and a gradient's sums on the coordinator's socket: none with servers.
    var stepParameterCount: Int { roster == nil ? parameters.count : 0 }

    /// A server's hello: a range for it, or a refusal.
    func receiveServerHello(_ hello: ServerHello, from peer: [UInt8], now: UInt64) {
        guard var roster else {
            refuseServer(peer, .runFull, "this coordinator runs without parameter servers; start it with --parameter-servers K to use them")
            return
        }
        let decision = roster.receiveHello(hello, from: peer, now: now)
        self.roster = roster
        switch decision {
        case .refuse(let reason, let text):
            refuseServer(peer, reason, text)
        case .replaces(let index):
            // In training, the run goes back (`recover`) and the newcomer's next hello takes the place;
            // before it, the place is simply vacant again.
            if machine.phase == .training {
                pendingLoss = ParameterServerLoss(index: index, why: "another process binds its endpoint \(hello.endpoint): it was restarted")
            } else {
                self.roster?.lose(index: index)
            }
        case .welcome(let index):
            let server = roster.server(index: index)!
            let range = server.range
            do {
                try welcome(server, state: optimizer.state)
                logger.info("parameter server \(index + 1) of \(roster.expected) (\(server.host), members reach it at \(server.endpoint)) holds parameters \(range.lowerBound)..<\(range.upperBound)")
                sendMemberKeys(to: [server])
                observer?.event("parameter_server_joined", [("server", .int(index)), ("host", .string(server.host)),
                                                            ("endpoint", .string(server.endpoint)), ("first", .int(range.lowerBound)),
                                                            ("count", .int(range.count))])
            } catch {
                logger.error("could not welcome parameter server \(index + 1): \(error)")
            }
        }
    }

    /// Sends `server` its range as the coordinator holds it (weights, and `state`'s moments over it),
    /// for the step after the machine's: at its first hello, and again when the run went back.
    private func welcome(_ server: ParameterServerRoster.Server, state: OptimizerState) throws {
        try encoder.serverWelcome(runID: runID, step: machine.step + 1, index: server.index, serverCount: roster!.expected,
                                  first: server.range.lowerBound, count: server.range.count,
                                  configuration: runConfiguration(forServers: false).encoded(),
                                  optimizerSteps: UInt64(state.step), moments: state.moments.count)
        var bulk = Array(parameters[server.range])
        for moment in state.moments { bulk.append(contentsOf: moment[server.range]) }
        _ = try sendEncoded(to: server.peer, bulk: bulk)
    }

    private func refuseServer(_ peer: [UInt8], _ reason: RefuseReason, _ text: String) {
        logger.warning("refused a parameter server: \(text)")
        do {
            try encoder.refuse(Refusal(reason: reason, text: text), runID: runID)
            _ = try sendEncoded(to: peer)
        } catch {
            logger.debug("could not send a refusal: \(error)")
        }
    }

    /// What a welcome tells a worker (and, without the servers' places, a server).
    func runConfiguration(forServers: Bool = true) -> RunConfiguration {
        var configuration = RunConfiguration(training: config, featureCount: train.featureCount, classCount: train.classCount,
                                             coordinatorSilenceSeconds: max(Liveness.seconds(Liveness.defaultCoordinatorSilence), options.stepDeadline),
                                             wirePrecision: options.wirePrecision == .float32 ? nil : options.wirePrecision,
                                             blasCore: BLAS.coreName)
        if forServers { configuration.parameterServers = roster?.places }
        return configuration
    }

    /// The step's answers as the servers are told them: whose slices, covering which chunks.
    /// Called before the reducer lets the answers go. The commit's buffers are kept from step to
    /// step, so that a step allocates nothing here.
    func noteCommittedAnswers() {
        guard roster != nil else { return }
        let answers = reducer.answers
        commit.answers.removeSubrange(min(answers.count, commit.answers.count)...)
        for (index, answer) in answers.enumerated() {
            if index == commit.answers.count { commit.answers.append(CommittedAnswer(workerID: 0, chunks: [])) }
            commit.answers[index].workerID = answer.member.id
            commit.answers[index].chunks.removeAll(keepingCapacity: true)
            commit.answers[index].chunks.append(contentsOf: machine.stepRequests[answer.request].chunkNumbers)
        }
    }

    /// Tells every server which answers make the step just done (none when it was abandoned)
    /// and that the new weights are for the next step, to every member.
    func commitToServers(sampleCount: Int, learningRate: Float) throws {
        guard let roster else { return }
        if sampleCount == 0 { commit.answers.removeAll(keepingCapacity: true) }
        commit.learningRate = learningRate
        commit.sampleCount = UInt32(sampleCount)
        commit.members.removeAll(keepingCapacity: true)
        for member in machine.members { commit.members.append(member.id) }
        for member in machine.joining { commit.members.append(member.id) }
        commit.nextStep = machine.step + 1
        try encoder.commit(commit, runID: runID, step: machine.step)
        for server in roster.servers {
            if try !sendToServer(server) { logger.warning("parameter server \(server.index + 1) is not reading: its queue is full") }
        }
        lastServerHeartbeat = Self.now()
    }

    /// Brings the coordinator's copy of the weights and optimizer state up to the servers'
    /// (for evaluation, a checkpoint, the model file): asks each for its range and waits for all,
    /// handling everything else that comes meanwhile.
    func fetchFromServers() throws {
        guard let roster, fetchedStep != machine.step + 1 else { return }
        encoder.fetch(runID: runID)
        for server in roster.servers { _ = try sendToServer(server) }
        fetching = Set(roster.servers.map(\.index))
        fetchedMoments = optimizer.state.moments
        let deadline = Self.now() + Liveness.nanoseconds(max(options.stepDeadline, 5) * 2)
        while !fetching.isEmpty {
            guard Self.now() < deadline else { throw ParameterServerLoss(index: fetching.min()!, why: "it did not send its range's state") }
            try pump(timeoutMilliseconds: 50)
        }
        optimizer.state = OptimizerState(step: fetchedOptimizerSteps, moments: fetchedMoments)
        fetchedMoments = []
        fetchedStep = machine.step + 1
    }

    /// A server's range and optimizer state, asked for by `fetchFromServers`.
    func receiveRangeState(_ state: RangeStateView, from peer: [UInt8], step: UInt64) {
        guard let server = roster?.server(at: peer), fetching.contains(server.index) else { return }
        // A state from before the last commit was applied: the one after it follows.
        guard step == machine.step + 1 else { return }
        guard state.index == server.index, state.first == server.range.lowerBound, state.weights.count == server.range.count,
              state.moments.count == fetchedMoments.count else {
            logger.warning("dropped parameter server \(server.index + 1)'s state: it is not its range at step \(machine.step + 1)")
            return
        }
        parameters.withUnsafeMutableBufferPointer { p in
            state.weights.copy(into: UnsafeMutableBufferPointer(rebasing: p[server.range]))
        }
        for (k, moment) in state.moments.enumerated() {
            fetchedMoments[k].withUnsafeMutableBufferPointer { m in moment.copy(into: UnsafeMutableBufferPointer(rebasing: m[server.range])) }
        }
        fetchedOptimizerSteps = Int(state.optimizerSteps)
        fetching.remove(server.index)
    }

    /// Waits for every range to have its server before the first worker is welcomed; false when
    /// a stop signal came first.
    func gatherServers() throws -> Bool {
        guard let roster else { return true }
        if options.verify > 0 {
            logger.info("--verify is off with parameter servers: recomputing an answer needs the step's weights, which the servers hold")
        }
        logger.info("waiting for \(counted(roster.expected, "parameter server")) on \(endpoint)")
        var lastSaid = Self.now()
        while !(self.roster?.isComplete ?? true) {
            if options.stopsOnSignal, dptrain_stop_requested() != 0 { return false }
            try pump(timeoutMilliseconds: 200)
            if Self.now() - lastSaid >= Self.waitingReportInterval {
                lastSaid = Self.now()
                logger.info("\(self.roster!.servers.count) of \(counted(roster.expected, "parameter server")) joined; start them with: dptrain parameter-server --connect \(endpoint) --bind tcp://HOST:PORT")
            }
        }
        return true
    }

    /// Servers hear from the coordinator at least every heartbeat interval, as members do: a
    /// commit each step, a heartbeat while it evaluates or waits.
    func heartbeatServers(now: UInt64) {
        guard let roster, now &- lastServerHeartbeat >= Liveness.heartbeatInterval else { return }
        lastServerHeartbeat = now
        encoder.signal(.heartbeat, runID: runID, step: machine.step)
        for server in roster.servers { _ = try? sendToServer(server) }
    }

    /// Sends the encoder's message (no bulk: a commit, a heartbeat, a fetch) to `server`, with no
    /// array built on the way; its closed connection is its loss.
    func sendToServer(_ server: ParameterServerRoster.Server) throws -> Bool {
        do {
            return try server.peer.withUnsafeBytes { address in
                try encoder.withFrames(bulk: UnsafeRawBufferPointer(start: nil, count: 0)) { header, meta, bulk in
                    stepTimings.bytes += UInt64(address.count + header.count + meta.count)
                    return try socket.send(address, header, meta, bulk, .dontWait)
                }
            }
        } catch let error as ZMQError where error.isHostUnreachable {
            throw ParameterServerLoss(index: server.index, why: "its connection closed")
        }
    }

    /// How long a server may be silent before it is taken for lost: shorter than the step
    /// deadline, so that members waiting for its weights are not taken for lost first.
    var serverSilence: UInt64 { Liveness.nanoseconds(max(1.5, min(4, options.stepDeadline * 0.8))) }

    /// A server silent for longer than `serverSilence` during training is lost, as is one whose
    /// endpoint another process has bound.
    func checkServers(now: UInt64) throws {
        if let loss = pendingLoss {
            pendingLoss = nil
            throw loss
        }
        guard let roster, machine.phase == .training, let silent = roster.firstSilent(now: now, silence: serverSilence) else { return }
        throw ParameterServerLoss(index: silent.index, why: "silent for \(Int(Liveness.seconds(now &- silent.lastHeard) * 1000)) ms")
    }

    /// The coordinator holds the servers' state after the steps done (just fetched): the state the
    /// run goes back to if a server is lost.
    func keepServersSnapshot() {
        guard roster != nil, machine.phase == .training else { return }
        machine.keepServersSnapshot()
        snapshots = [machine.step: RunSnapshot(parameters: parameters, optimizer: optimizer.state, account: account, divergence: divergence)]
    }

    /// A server was lost: the run goes back to the state kept last (`keepServersSnapshot`), waits
    /// for a replacement where members reach the lost one, and hands every server its range as
    /// it was then. The model ends the same, bit for bit: the same chunks on the same weights.
    func recover(from loss: ParameterServerLoss) throws {
        guard var roster = roster, let lost = roster.server(index: loss.index) else { return }
        roster.lose(index: loss.index)
        self.roster = roster
        logger.warning("parameter server \(loss.index + 1) (\(lost.host)) lost at step \(machine.step): \(loss.why)")
        observer?.event("parameter_server_lost", [("server", .int(loss.index)), ("step", .int(Int(machine.step))), ("host", .string(lost.host)),
                                                  ("reason", .string(loss.why))])
        guard let target = machine.parameterServerLost() else { throw ParameterServerFailure.silent(servers: [loss.index + 1]) }
        rollBack(toStep: target)
        reducer.finish(abandoned: true, recycle: { spareMessages.append($0) })
        requestsSent = 0
        stepWeights = nil
        logger.warning("going back to step \(target), the weights last fetched from the servers; waiting for a parameter server at \(lost.endpoint) to hold parameters \(lost.range.lowerBound)..<\(lost.range.upperBound)")
        let deadline = Self.now() + Liveness.nanoseconds(max(options.stepDeadline, 5) * 12)
        while !(self.roster?.isComplete ?? true) {
            guard Self.now() < deadline else { throw ParameterServerFailure.silent(servers: self.roster!.vacant.map { $0.index + 1 }) }
            do {
                try pump(timeoutMilliseconds: 100)
            } catch let another as ParameterServerLoss {
                self.roster?.lose(index: another.index)
                logger.warning("parameter server \(another.index + 1) lost too: \(another.why)")
            }
        }
        // Every server, the replacement and the others alike, takes its range as it was after `target` steps.
        let state = optimizer.state
        for server in self.roster!.servers { try welcome(server, state: state) }
        sendMemberKeys()
        self.roster!.heardFromAll(now: Self.now())
        fetchedStep = target + 1
        logger.info("every range has its server again: training on from step \(target + 1)")
        observer?.event("rolled_back", [("step", .int(Int(target))), ("reason", .string("parameter_server_lost"))])
    }

    /// Tells secure servers (those with a key) the keys they may take members from: the keys this
    /// coordinator admits, but those of members expelled. All of them, not only the members'
    /// now, so that a member welcomed meets a server that knows its key already (a server told
    /// after the welcome could refuse its first handshake). When a server comes, and whenever a
    /// member is welcomed (an expulsion takes a key out).
    func sendMemberKeys(to servers: [ParameterServerRoster.Server]? = nil) {
        guard let roster, let admittedKeys else { return }
        let secure = (servers ?? roster.servers).filter { !$0.publicKey.isEmpty }
        guard !secure.isEmpty else { return }
        let keys = admittedKeys.authorizedKeys.subtracting(machine.expelled).sorted()
        do {
            try encoder.memberKeys(keys, runID: runID)
            for server in secure { _ = try sendEncoded(to: server.peer) }
        } catch {
            logger.error("could not tell the parameter servers the members' keys: \(error)")
        }
    }

    /// Training is over: the servers are told, as the workers are.
    func shutDownServers() {
        guard let roster else { return }
        encoder.signal(.shutdown, runID: runID, step: machine.step)
        for server in roster.servers { _ = try? sendEncoded(to: server.peer) }
    }
}

/// A parameter server is gone: the run goes back and waits for its replacement (`recover`).
struct ParameterServerLoss: Error {
    let index: Int
    let why: String
}

/// Why a run with parameter servers cannot go on.
public enum ParameterServerFailure: Error, CustomStringConvertible {
    case silent(servers: [Int])
    case failed(server: Int, reason: String)

    public var description: String {
        switch self {
        case .silent(let servers):
            "parameter server\(servers.count == 1 ? "" : "s") \(servers.map(String.init).joined(separator: ", ")) did not answer: the run stops here; resume it from its last checkpoint with --resume once every server runs"
        case let .failed(server, reason):
            "parameter server \(server) cannot go on: \(reason)"
        }
    }
}
