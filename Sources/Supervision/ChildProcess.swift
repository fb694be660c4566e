import Foundation

// A child's output, read line by line on a thread of its own, and how children are spawned.

/// A child's standard output and error, read on a thread of their own until both close, and cut
/// into prefixed whole lines. Blocking reads rather than dispatch read sources: tearing those down
/// races libdispatch's epoll loop on Linux and crashes it (swift-corelibs-libdispatch issue 949).
final class ChildOutput {
    private struct OpenPipe {
        let descriptor: Int32
        let stream: ProcessGroup.Stream
        var lines: PrefixedLines
    }

    private var pipes: [OpenPipe]
    private let deliver: (ProcessGroup.Stream, String) -> Void
    private let ended: () -> Void
    private let lock = NSLock()
    private var isAbandoned = false

    init(output: Int32, errors: Int32, prefix: String, relabel: ProcessGroup.Relabel? = nil,
         deliver: @escaping (ProcessGroup.Stream, String) -> Void, ended: @escaping () -> Void) {
        let label = Label(prefix: prefix, relabel: relabel)
        pipes = [OpenPipe(descriptor: output, stream: .output, lines: PrefixedLines(label: label)),
                 OpenPipe(descriptor: errors, stream: .errors, lines: PrefixedLines(label: label))]
        self.deliver = deliver
        self.ended = ended
    }

    /// Stops reading within a poll interval, for pipes held open by a process that left the child's group.
    func abandon() {
        lock.lock()
        isAbandoned = true
        lock.unlock()
    }

    func run() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !pipes.isEmpty && !abandoned {
            var polled = pipes.map { pollfd(fd: $0.descriptor, events: Int16(POLLIN), revents: 0) }
            guard poll(&polled, nfds_t(polled.count), 200) >= 0 || errno == EINTR else { break }
            for index in polled.indices.reversed() where polled[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(pipes[index].descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    send(pipes[index].stream, pipes[index].lines.append(buffer[..<count]))
                } else if count == 0 || errno != EINTR {
                    closePipe(at: index)
                }
            }
        }
        for index in pipes.indices.reversed() { closePipe(at: index) }
        ended()
    }

    private var abandoned: Bool {
        lock.lock()
        defer { lock.unlock() }
        return isAbandoned
    }

    private func closePipe(at index: Int) {
        send(pipes[index].stream, pipes[index].lines.finish())
        close(pipes[index].descriptor)
        pipes.remove(at: index)
    }

    private func send(_ stream: ProcessGroup.Stream, _ lines: String) {
        if !lines.isEmpty { deliver(stream, lines) }
    }
}

/// A child's line prefix, shared by its two streams: a line of the child's own may rename it
/// (a worker learns its id from the coordinator, and its lines then carry that id).
final class Label {
    private(set) var prefix: String
    private let relabel: ProcessGroup.Relabel?

    init(prefix: String, relabel: ProcessGroup.Relabel?) {
        self.prefix = prefix
        self.relabel = relabel
    }

    /// The prefix for `line`, after the rename the line may bring.
    func prefix(for line: String) -> String {
        if let name = relabel?(line) { prefix = "[\(name)] " }
        return prefix
    }
}

/// Cuts a byte stream into whole lines, each behind a prefix, holding the unfinished last one back.
struct PrefixedLines {
    /// A line longer than this is passed on in pieces rather than held without bound.
    static let longestLine = 1 << 20

    let label: Label
    private var pending: [UInt8] = []

    init(label: Label) { self.label = label }
    init(prefix: String) { self.init(label: Label(prefix: prefix, relabel: nil)) }

    /// Every line that `bytes` completes, prefixed and newline-ended; empty when none is complete yet.
    mutating func append(_ bytes: ArraySlice<UInt8>) -> String {
        pending += bytes
        let newline = UInt8(ascii: "\n")
        guard let lastNewline = pending.lastIndex(of: newline) else {
            return pending.count > Self.longestLine ? finish() : ""
        }
        let lines = pending[...lastNewline].split(separator: newline, omittingEmptySubsequences: false).dropLast()
        pending.removeFirst(lastNewline + 1)
        return lines.map { bytes in
            let line = String(decoding: bytes, as: UTF8.self)
            return label.prefix(for: line) + line + "\n"
        }.joined()
    }

    /// The unfinished last line, newline-ended; empty when there is none.
    mutating func finish() -> String {
        guard !pending.isEmpty else { return "" }
        defer { pending = [] }
        let line = String(decoding: pending, as: UTF8.self)
        return label.prefix(for: line) + line + "\n"
    }
}

// MARK: - Spawning

func makePipe() throws -> (read: Int32, write: Int32) {
    var descriptors: [Int32] = [0, 0]
    guard pipe(&descriptors) == 0 else {
        throw ProcessGroup.StartError(description: "cannot make a pipe: \(String(cString: strerror(errno)))")
    }
    // Close-on-exec, so that no child inherits another child's pipe and holds it open. (Swift's Glibc
    // has no pipe2; the children of one group are started one at a time, under its lock.)
    for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    return (descriptors[0], descriptors[1])
}

/// posix_spawn with stdout and stderr on the given pipes, stdin on /dev/null, a process group of its
/// own, nothing blocked, and every signal at its default action: the supervisor ignores SIGINT and
/// SIGTERM, and a child that inherited that could not be stopped.
func spawnInOwnProcessGroup(executable: String, arguments: [String], output: Int32, errors: Int32) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, output, STDOUT_FILENO)
    posix_spawn_file_actions_adddup2(&actions, errors, STDERR_FILENO)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t(), everySignal = sigset_t()
    sigemptyset(&noSignals)
    sigfillset(&everySignal)
    sigdelset(&everySignal, SIGKILL)
    sigdelset(&everySignal, SIGSTOP)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setsigdefault(&attributes, &everySignal)
    posix_spawnattr_setpgroup(&attributes, 0)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
    guard result == 0 else { throw ProcessGroup.StartError(description: String(cString: strerror(result))) }
    return pid
}
