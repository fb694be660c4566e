import Foundation

/// Threads that share one pass of work, each its own part: a step's chunks split over a
/// process's cores, or a pass over the parameters split into ranges. The threads live as long
/// as the team and sleep between passes; a pass allocates nothing. The calling thread takes
/// part 0, so a team of T threads starts T - 1. `stop()` ends them: the helpers hold the team
/// until then, so its owner calls it.
///
/// The threads meet only where a pass starts and ends (a condition variable each way); during
/// a pass each works on its own part and its own buffers, and no lock guards anything they compute.
public final class ThreadTeam: @unchecked Sendable {
    /// Threads in all, the calling one included.
    public let threads: Int
    /// Guards the pass in hand (`generation`, `body`, `parts`, `stopping`); helpers wait on it.
    private let work = NSCondition()
    /// Guards `pending`; only `run` waits on it, so finishing helpers wake no other helper.
    private let done = NSCondition()
    private var generation = 0
    private var pending = 0
    private var stopping = false
    private var parts = 0
    // The pass in hand: set by `run` under `work`, read by each helper under it.
    private var body: ((Int) -> Void)?

    /// A team of `threads` (at least 1: with 1, `run` is a plain call on this thread), its
    /// helpers named `name`-1, `name`-2, ... (what `top -H` and a debugger show).
    public init(threads: Int, name: String) {
        self.threads = max(1, threads)
        for index in 1..<self.threads {
            let thread = Thread { [self] in helper(index: index) }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// Calls `body(part)` for each part in 0..<parts (at most `threads`), part 0 on this thread
    /// and each other on a helper, and returns when all are done.
    public func run(parts: Int, _ body: (Int) -> Void) {
        precondition(parts >= 0 && parts <= threads, "a pass of \(parts) parts for a team of \(threads)")
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            done.lock()
            pending = threads - 1
            done.unlock()
            work.lock()
            precondition(!stopping, "a pass after stop() would wait for helpers that are gone")
            self.body = body
            self.parts = parts
            generation += 1
            work.broadcast()
            work.unlock()
            body(0)
            done.lock()
            while pending > 0 { done.wait() }
            done.unlock()
            work.lock()
            self.body = nil
            work.unlock()
        }
    }

    /// Ends the helpers once they finish the pass in hand.
    public func stop() {
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
            let parts = self.parts
            work.unlock()
            if index < parts { body?(index) }
            // Let go of the pass before saying it is done: `run` checks that nothing holds it past its return.
            body = nil
            done.lock()
            pending -= 1
            if pending == 0 { done.signal() }
            done.unlock()
        }
    }
}

extension ThreadTeam {
    /// The `index`-th of `parts` contiguous ranges of 0..<count, each a multiple of 64 values
    /// (whole cache lines for every width) but the last.
    public static func range(_ index: Int, of parts: Int, count: Int) -> Range<Int> {
        let step = (count / parts + 63) / 64 * 64
        return min(index * step, count)..<(index == parts - 1 ? count : min((index + 1) * step, count))
    }

    /// The `index`-th of `parts` runs of `count` items as even as whole items allow, the longer
    /// ones first: part 0 has work whenever there is any.
    public static func share(_ index: Int, of parts: Int, count: Int) -> Range<Int> {
        let base = count / parts, extra = count % parts
        let start = index * base + min(index, extra)
        return start..<(start + base + (index < extra ? 1 : 0))
    }
}
