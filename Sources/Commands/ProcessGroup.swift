import Foundation

/// Child processes that live and die together: their output passed through
/// line by line with a `[name] ` prefix, and the first one to fail (or a
/// Ctrl-C) stops them all, SIGTERM first and SIGKILL after a grace period.
///
/// Each child runs in a process group of its own, for two reasons: a Ctrl-C at
/// the terminal reaches only the supervisor, which stops the children once and
/// in order; and signalling the group also reaches anything a child started,
/// so that nothing is left behind as an orphan. When a child ends, whatever
/// is left in its group is killed before the child is reaped.
public final class ProcessGroup {
    /// How a child ended.
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var succeeded: Bool { self == .exited(0) }

        /// As a shell reports it: the exit code, or 128 plus the signal.
        public var shellStatus: Int32 {
            switch self {
            case .exited(let code): return code
            case .signalled(let signal): return 128 + signal
            }
        }

        public var description: String {
            switch self {
            case .exited(let code): return "exited with status \(code)"
            case .signalled(let signal): return "was killed by \(ProcessGroup.signalName(signal))"
            }
        }

        /// Decodes a wait status without the C macros, which Swift cannot import.
        init(waitStatus status: Int32) {
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
        }
    }

    public enum Stream: Sendable { case output, errors }

    /// Receives one or more whole lines, each ending in a newline, on one serial queue:
    /// two calls never overlap, so lines from different children never interleave.
    public typealias Sink = (Stream, String) -> Void

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    private final class Child {
        let name: String
        let pid: pid_t
        let endsTheGroup: Bool
        /// Set before the child is reaped, while its pid still belongs to it: only
        /// children not yet marked are ever signalled, so a reused pid never is.
        var hasExited = false
        var termination: Termination?

        init(name: String, pid: pid_t, endsTheGroup: Bool) {
            self.name = name
            self.pid = pid
            self.endsTheGroup = endsTheGroup
        }
    }

    public let name: String
    public let gracePeriod: TimeInterval
    private let sink: Sink
    private let lock = NSLock()
    private var children: [Child] = []
    private var isStopping = false
    private var signalSources: [DispatchSourceSignal] = []
    private let childrenEnded = DispatchGroup()
    private let outputEnded = DispatchGroup()
    /// Every write to the sink happens here, one at a time.
    private let outputQueue = DispatchQueue(label: "ProcessGroup.output")
    private var outputs: [ChildOutput] = []

    /// - Parameters:
    ///   - name: prefixes the group's own lines, such as why it stopped.
    ///   - gracePeriod: seconds between SIGTERM and SIGKILL.
    ///   - sink: where the children's lines go; the parent's standard output and error by default.
    public init(name: String, gracePeriod: TimeInterval = 5, sink: @escaping Sink = ProcessGroup.writeToParent) {
        self.name = name
        self.gracePeriod = gracePeriod
        self.sink = sink
    }

    /// Starts `executable` with `arguments` as the child `name`, its standard input on /dev/null.
    /// - Parameter endsTheGroup: when this child ends, even successfully, the others have the grace
    ///   period to end by themselves and are stopped after it (a coordinator whose workers hang on).
    public func start(name childName: String, executable: String, arguments: [String], endsTheGroup: Bool = false) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !isStopping else { throw StartError(description: "cannot start \(childName): \(name) is stopping") }
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
        let child = Child(name: childName, pid: pid, endsTheGroup: endsTheGroup)
        children.append(child)
        passThrough(output: output.read, errors: errors.read, of: childName)
        childrenEnded.enter()
        let waiter = Thread { [self] in waitForExit(of: child) }
        waiter.name = "wait for \(childName)"
        waiter.start()
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

    static func signalName(_ signal: Int32) -> String {
        let names = [SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
                     SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV",
                     SIGPIPE: "SIGPIPE", SIGTERM: "SIGTERM"]
        return names[signal] ?? "signal \(signal)"
    }

    // MARK: - Supervision

    private var formattedGrace: String { String(format: "%gs", gracePeriod) }

    private func interrupted(by signalNumber: Int32) {
        lock.lock()
        let secondTime = isStopping
        if secondTime {
            log("\(Self.signalName(signalNumber)) again: killing every process")
            signalRunningChildren(SIGKILL)
        }
        lock.unlock()
        if !secondTime { stop(reason: "\(Self.signalName(signalNumber)) received: stopping every process") }
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
        let othersRunning = children.contains { !$0.hasExited }
        lock.unlock()
        if !termination.succeeded {
            stop(reason: "\(child.name) \(termination): stopping the others")
        } else if child.endsTheGroup && othersRunning {
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

    private func log(_ line: String) {
        outputQueue.async { [self] in sink(.errors, "[\(name)] \(line)\n") }
    }

    // MARK: - Output

    /// Call with the lock held.
    private func passThrough(output: Int32, errors: Int32, of childName: String) {
        outputEnded.enter()
        // Synchronous, so that a child writing faster than the parent's output drains waits for it.
        let childOutput = ChildOutput(output: output, errors: errors, prefix: "[\(childName)] ") { [self] stream, lines in
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
