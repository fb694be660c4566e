import Foundation

/// Child processes that live and die together: their output passed through
/// line by line with a `[name] ` prefix, and the first one to fail (or a
/// Ctrl-C) stops them all, SIGTERM first and SIGKILL after a grace period.
/// A child started with restart arguments is started again instead, while
/// the group has restarts left (like torchrun's --max-restarts, a budget for
/// the whole group).
///
/// Each child runs in a process group of its own, for two reasons: a Ctrl-C at
/// the terminal reaches only the supervisor, which stops the children once and
/// in order; and signalling the group also reaches anything a child started,
/// so that nothing is left behind as an orphan. When a child ends, whatever
/// is left in its group is killed before the child is reaped.
public final class ProcessGroup {
    public enum Stream: Sendable { case output, errors }

    /// Receives one or more whole lines, each ending in a newline, on one serial queue:
    /// two calls never overlap, so lines from different children never interleave.
    public typealias Sink = (Stream, String) -> Void
    /// Given a line of a child's output, the child's new name when the line gives it one.
    public typealias Relabel = @Sendable (String) -> String?

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A failed child the group started again.
    public struct Restart: Equatable, Sendable {
        public let name: String
        /// How the run before the restart ended.
        public let termination: Termination
        /// The restarted process.
        public let pid: pid_t
    }

    private final class Child {
        let name: String
        let pid: pid_t
        let executable: String
        let endsTheGroup: Bool
        /// What a restart runs; nil for a child whose failure stops the group.
        let restartArguments: [String]?
        let relabel: Relabel?
        /// Set before the child is reaped, while its pid still belongs to it: only
        /// children not yet marked are ever signalled, so a reused pid never is.
        var hasExited = false
        var termination: Termination?

        init(name: String, pid: pid_t, executable: String, endsTheGroup: Bool, restartArguments: [String]?, relabel: Relabel?) {
            self.relabel = relabel
            self.name = name
            self.pid = pid
            self.executable = executable
            self.endsTheGroup = endsTheGroup
            self.restartArguments = restartArguments
        }
    }

    public let name: String
    public let gracePeriod: TimeInterval
    /// Restarts allowed in all, across the children.
    public let maxRestarts: Int
    /// Exit statuses that a restart cannot cure (a configuration refused, a full disk): a child
    /// that ends with one stops the group at once, restarts left or not, so that its message is
    /// said once rather than once a restart.
    public let incurableStatuses: Set<Int32>
    private let sink: Sink
    private let lock = NSLock()
    private var children: [Child] = []
    private var isStopping = false
    /// A child that ends the group has finished: whatever fails now is not restarted.
    private var isWindingDown = false
    private var restartsDone: [Restart] = []
    private var stoppingSignal: Int32?
    private var signalSources: [DispatchSourceSignal] = []
    private let childrenEnded = DispatchGroup()
    private let outputEnded = DispatchGroup()
    /// Every write to the sink happens here, one at a time.
    private let outputQueue = DispatchQueue(label: "ProcessGroup.output")
    private var outputs: [ChildOutput] = []

    /// - Parameters:
    ///   - name: prefixes the group's own lines, such as why it stopped.
    ///   - gracePeriod: seconds between SIGTERM and SIGKILL.
    ///   - maxRestarts: failed children started again, in all, before a failure stops the group.
    ///   - incurableStatuses: exit statuses never restarted: they stop the group.
    ///   - sink: where the children's lines go; the parent's standard output and error by default.
    public init(name: String, gracePeriod: TimeInterval = 5, maxRestarts: Int = 0, incurableStatuses: Set<Int32> = [],
                sink: @escaping Sink = ProcessGroup.writeToParent) {
        self.name = name
        self.gracePeriod = gracePeriod
        self.maxRestarts = maxRestarts
        self.incurableStatuses = incurableStatuses
        self.sink = sink
    }

    /// The restarts so far, in order.
    public var restarts: [Restart] {
        lock.lock()
        defer { lock.unlock() }
        return restartsDone
    }

    /// The signal (SIGINT, SIGTERM, SIGHUP) that stopped the group, if one did.
    public var interruptingSignal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        return stoppingSignal
    }

    /// Starts `executable` with `arguments` as the child `name`, its standard input on /dev/null.
    /// - Parameters:
    ///   - endsTheGroup: when this child ends successfully, the others have the grace period to end
    ///     by themselves and are stopped after it (a coordinator whose workers hang on).
    ///   - restartArguments: when this child fails while the group runs and restarts are left, it is
    ///     started again with these; when nil, its failure stops the group.
    ///   - relabel: renames the child from a line of its output (its lines' prefix follows).
    public func start(name childName: String, executable: String, arguments: [String], endsTheGroup: Bool = false,
                      restartArguments: [String]? = nil, relabel: Relabel? = nil) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !isStopping else { throw StartError(description: "cannot start \(childName): \(name) is stopping") }
        children.append(try spawn(name: childName, executable: executable, arguments: arguments,
                                  endsTheGroup: endsTheGroup, restartArguments: restartArguments, relabel: relabel))
    }

    /// Call with the lock held. Starts the child, its output's reader and its waiter.
    private func spawn(name childName: String, executable: String, arguments: [String], endsTheGroup: Bool,
                       restartArguments: [String]?, relabel: Relabel?) throws -> Child {
        let output = try makePipe(), errors = try makePipe()
        defer { close(output.write); close(errors.write) }
        let pid: pid_t
        do {
            pid = try spawnInOwnProcessGroup(executable: executable, arguments: arguments,
                                             output: output.write, errors: errors.write)
        } catch {
            close(output.read)
            close(errors.read)
            throw StartError(description: "cannot start \(childName) (\(executable)): \(error)")
        }
        let child = Child(name: childName, pid: pid, executable: executable, endsTheGroup: endsTheGroup,
                          restartArguments: restartArguments, relabel: relabel)
        passThrough(output: output.read, errors: errors.read, of: childName, relabel: relabel)
        childrenEnded.enter()
        let waiter = Thread { [self] in waitForExit(of: child) }
        waiter.name = "wait for \(childName)"
        waiter.start()
        return child
    }

    /// Stops every child still running: SIGTERM now, SIGKILL to those left after the grace period.
    /// Only the first call acts, and logs `reason`.
    public func stop(reason: String) {
        lock.lock()
        defer { lock.unlock() }
        guard !isStopping else { return }
        isStopping = true
        // Logged before signalling, so that the line is queued before any child can end because of it.
        log(reason)
        signalRunningChildren(SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + gracePeriod) { [self] in
            lock.lock()
            defer { lock.unlock() }
            let stragglers = children.filter { !$0.hasExited }.map(\.name)
            guard !stragglers.isEmpty else { return }
            log("\(stragglers.joined(separator: ", ")) still running \(formattedGrace) after SIGTERM: killing")
            signalRunningChildren(SIGKILL)
        }
    }

    /// Stops the group on SIGINT, SIGTERM or SIGHUP to this process; a second one kills at once.
    /// Call it before starting children.
    public func stopOnInterrupts() {
        // A closed standard output (dptrain launch | head) must not kill this process and orphan the children.
        signal(SIGPIPE, SIG_IGN)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            // Dispatch only observes the signal; ignoring it keeps its default action from ending this process.
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.interrupted(by: signalNumber) }
            source.resume()
            signalSources.append(source)
        }
    }

    private func stopHandlingInterrupts() {
        guard !signalSources.isEmpty else { return }
        for source in signalSources { source.cancel() }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(signalNumber, SIG_DFL) }
        signalSources = []
    }

    /// Blocks until every child has ended and its output has been passed on; the children in start order.
    public func wait() -> [(name: String, termination: Termination)] {
        childrenEnded.wait()
        // Everything a child started has been killed with it, so its pipes close at once; a process that
        // left the child's group could still hold them open, and must not keep this waiting.
        if outputEnded.wait(timeout: .now() + gracePeriod) == .timedOut {
            lock.lock()
            outputs.forEach { $0.abandon() }
            lock.unlock()
        }
        outputEnded.wait()
        // The group's own lines, such as why it stopped, may still be queued behind the children's.
        outputQueue.sync {}
        stopHandlingInterrupts()
        lock.lock()
        defer { lock.unlock() }
        return children.map { ($0.name, $0.termination ?? .signalled(SIGKILL)) }
    }

    /// The default sink: one write per call to this process's standard output or error.
    public static func writeToParent(_ stream: Stream, _ lines: String) {
        let descriptor = stream == .output ? STDOUT_FILENO : STDERR_FILENO
        var bytes = Array(lines.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }

    // MARK: - Supervision

    private var formattedGrace: String { String(format: "%gs", gracePeriod) }

    private func interrupted(by signalNumber: Int32) {
        lock.lock()
        let secondTime = isStopping
        if secondTime {
            log("\(Self.signalName(signalNumber)) again: killing every process")
            signalRunningChildren(SIGKILL)
        } else {
            stoppingSignal = signalNumber
        }
        lock.unlock()
        if !secondTime {
            stop(reason: "\(Self.signalName(signalNumber)) received: stopping every process")
        }
    }

    /// Call with the lock held.
    private func signalRunningChildren(_ signalNumber: Int32) {
        for child in children where !child.hasExited { kill(-child.pid, signalNumber) }
    }

    /// On the child's own thread: a blocking wait is the one way to learn of an exit that
    /// neither steals other children's statuses nor depends on SIGCHLD handlers.
    private func waitForExit(of child: Child) {
        var info = siginfo_t()
        while waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        lock.lock()
        child.hasExited = true
        lock.unlock()
        // The child is a zombie, so its process group cannot be reused yet: kill what it left behind.
        kill(-child.pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
        let termination = Termination(waitStatus: status)

        lock.lock()
        child.termination = termination
        if termination.succeeded && child.endsTheGroup { isWindingDown = true }
        let incurable = incurableStatuses.contains(termination.shellStatus) && !termination.succeeded
        let restarted = termination.succeeded || incurable ? false : restartIfAllowed(child)
        let restartsUsedUp = child.restartArguments != nil && maxRestarts > 0 && restartsDone.count >= maxRestarts
        lock.unlock()
        if restarted {
            // The new child has its own waiter; the group goes on.
        } else if !termination.succeeded {
            let why = incurable && child.restartArguments != nil ? ", which a restart cannot cure"
                : restartsUsedUp ? ", and all \(maxRestarts) restarts are used" : ""
            stop(reason: "\(child.name) \(termination)\(why): stopping the others")
        } else if child.endsTheGroup {
            // Checked after the grace period rather than now: a sibling started just after this
            // child ended would otherwise be left running.
            DispatchQueue.global().asyncAfter(deadline: .now() + gracePeriod) { [self] in
                lock.lock()
                let stillRunning = children.filter { !$0.hasExited }.map(\.name)
                lock.unlock()
                if !stillRunning.isEmpty {
                    stop(reason: "\(child.name) finished but \(stillRunning.joined(separator: ", ")) still running \(formattedGrace) later: stopping them")
                }
            }
        }
        childrenEnded.leave()
    }

    /// Call with the lock held. Starts a failed child again in its place, when it has restart
    /// arguments, restarts are left, and the group is neither stopping nor winding down.
    private func restartIfAllowed(_ child: Child) -> Bool {
        guard let arguments = child.restartArguments, let termination = child.termination,
              !isStopping, !isWindingDown, restartsDone.count < maxRestarts,
              let index = children.firstIndex(where: { $0 === child }) else { return false }
        do {
            let replacement = try spawn(name: child.name, executable: child.executable, arguments: arguments,
                                        endsTheGroup: child.endsTheGroup, restartArguments: arguments, relabel: child.relabel)
            children[index] = replacement
            restartsDone.append(Restart(name: child.name, termination: termination, pid: replacement.pid))
            log("\(child.name) \(termination): restarted it as pid \(replacement.pid) (restart \(restartsDone.count) of \(maxRestarts))")
            return true
        } catch {
            log("cannot restart \(child.name): \(error)")
            return false
        }
    }

    private func log(_ line: String) {
        outputQueue.async { [self] in sink(.errors, "[\(name)] \(line)\n") }
    }

    // MARK: - Output

    /// Call with the lock held.
    private func passThrough(output: Int32, errors: Int32, of childName: String, relabel: Relabel?) {
        outputEnded.enter()
        // Synchronous, so that a child writing faster than the parent's output drains waits for it.
        let childOutput = ChildOutput(output: output, errors: errors, prefix: "[\(childName)] ", relabel: relabel) { [self] stream, lines in
            outputQueue.sync { sink(stream, lines) }
        } ended: { [outputEnded] in
            outputEnded.leave()
        }
        outputs.append(childOutput)
        let reader = Thread { childOutput.run() }
        reader.name = "output of \(childName)"
        reader.start()
    }
}
