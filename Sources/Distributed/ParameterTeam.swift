import Foundation

/// Threads that split one pass over the parameters into ranges, for the coordinator's reduce:
/// while it adds the answers the workers wait for its weights, so their cores are free, and one
/// thread alone is bound by how fast it can read (8 answers of 784-800-10 are 25 to 40 MB a
/// step). The threads live as long as the team and sleep between passes; a pass allocates
/// nothing. `stop()` ends them.
final class ParameterTeam: @unchecked Sendable {
    /// Threads in all, this one included.
    let threads: Int
    /// Guards the pass in hand (`generation`, `body`, `count`, `stopping`); helpers wait on it.
    private let work = NSCondition()
    /// Guards `pending`; only `run` waits on it, so finishing helpers wake no other helper.
    private let done = NSCondition()
    private var generation = 0
    private var pending = 0
    private var stopping = false
    private var count = 0
    // The pass in hand: set by `run` under `work`, read by each helper under it.
    private var body: ((Range<Int>) -> Void)?

    /// A team of `threads` (at least 1: with 1, `run` is a plain call on this thread).
    init(threads: Int) {
        self.threads = max(1, threads)
        for index in 1..<self.threads {
            let thread = Thread { [self] in helper(index: index) }
            thread.name = "dptrain-reduce-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// As many threads as the machine has cores, up to 8: beyond that the reading does not get faster.
    static func forThisMachine() -> ParameterTeam {
        ParameterTeam(threads: min(ProcessInfo.processInfo.activeProcessorCount, 8))
    }

    /// The `index`-th of `parts` contiguous ranges of 0..<count, each a multiple of 64 values
    /// (whole cache lines for every width) but the last.
    static func range(_ index: Int, of parts: Int, count: Int) -> Range<Int> {
        let step = (count / parts + 63) / 64 * 64
        return min(index * step, count)..<(index == parts - 1 ? count : min((index + 1) * step, count))
    }

    /// Calls `body` once for each of `threads` ranges of 0..<count, on as many threads, and
    /// returns when all are done; or, `split` false, once for the whole on this thread.
    func run(count: Int, split: Bool = true, _ body: (Range<Int>) -> Void) {
        guard threads > 1, split else { return body(0..<count) }
        withoutActuallyEscaping(body) { body in
            done.lock()
            pending = threads - 1
            done.unlock()
            work.lock()
            precondition(!stopping, "a pass after stop() would wait for helpers that are gone")
            self.body = body
            self.count = count
            generation += 1
            work.broadcast()
            work.unlock()
            body(Self.range(0, of: threads, count: count))
            done.lock()
            while pending > 0 { done.wait() }
            done.unlock()
            work.lock()
            self.body = nil
            work.unlock()
        }
    }

    /// Ends the helpers once they finish the pass in hand.
    func stop() {
        work.lock()
        stopping = true
        work.broadcast()
        work.unlock()
    }

    private func helper(index: Int) {
        var seen = 0
        while true {
            work.lock()
            while generation == seen && !stopping { work.wait() }
            if stopping {
                work.unlock()
                return
            }
            seen = generation
            var body = self.body
            let count = self.count
            work.unlock()
            body?(Self.range(index, of: threads, count: count))
            // Let go of the pass before saying it is done: `run` checks that nothing holds it past its return.
            body = nil
            done.lock()
            pending -= 1
            if pending == 0 { done.signal() }
            done.unlock()
        }
    }
}
