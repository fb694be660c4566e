/// Each worker's share of an epoch: how many steps and samples it trained and
/// how long its computing took, which names the stragglers.
public struct WorkerFigures: Equatable, Sendable {
    public struct Worker: Equatable, Sendable {
        public var id: UInt32
        public var host: String
        public var steps = 0
        public var samples = 0
        public var computeNanoseconds: UInt64 = 0

        /// Mean milliseconds of compute per step the worker took part in.
        public var meanComputeMilliseconds: Double { steps > 0 ? Double(computeNanoseconds) / 1e6 / Double(steps) : 0 }
    }

    public private(set) var workers: [UInt32: Worker] = [:]

    public init() {}

    /// One step's gradient from worker `id`: updated in place, nothing allocated after its first step.
    public mutating func record(_ id: UInt32, host: String, computeNanoseconds: UInt64, samples: Int) {
        if workers[id] == nil { workers[id] = Worker(id: id, host: host) }
        workers[id]!.steps += 1
        workers[id]!.samples += samples
        workers[id]!.computeNanoseconds += computeNanoseconds
    }

    /// By worker id.
    public var sorted: [Worker] { workers.values.sorted { $0.id < $1.id } }

    /// A slower worker holds every step back: more than this times the median is a straggler.
    public static let stragglerRatio = 1.5

    /// The slowest worker when its mean compute is more than `stragglerRatio` times the median
    /// worker's; nil with fewer than two workers.
    public var straggler: (worker: Worker, median: Double)? {
        let byTime = workers.values.filter { $0.steps > 0 }.sorted { $0.meanComputeMilliseconds < $1.meanComputeMilliseconds }
        guard byTime.count >= 2, let slowest = byTime.last else { return nil }
        let middle = byTime.count / 2
        let median = byTime.count % 2 == 1 ? byTime[middle].meanComputeMilliseconds
            : (byTime[middle - 1].meanComputeMilliseconds + byTime[middle].meanComputeMilliseconds) / 2
        return slowest.meanComputeMilliseconds > Self.stragglerRatio * median ? (slowest, median) : nil
    }
}
