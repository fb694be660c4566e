import MLP

/// Which shards each worker holds and where each sits in the worker's storage, as workers
/// join and leave, with the shards' orders of the epoch under way.
///
/// Workers hold whole shards, in contiguous runs in id order, each run as long as the worker's
/// weight (its thread count) allows: with n workers of equal weight the i-th holds shards
/// [i * S / n, (i + 1) * S / n), and a worker of 16 threads about 16 times the shards of one
/// of 1 (each at least one while there are shards enough). Every join or loss redraws those runs, and a
/// worker is shipped only the shards it has never stored (its storage only grows; a shard
/// it held before is still there). What a step trains is the plan's alone: the chunk of
/// every shard at the epoch's step index, whoever holds the shard. So joins and losses
/// change who computes a chunk, never which samples a step trains.
public struct ShardAssignment: Equatable, Sendable {
    public struct Holder: Codable, Equatable, Sendable {
        public let id: UInt32
        /// The shards this worker trains.
        public internal(set) var shards: Range<Int>
        /// Where each shard begins in this worker's storage, by shard; nil when never shipped to it.
        public internal(set) var offsets: [Int?]
        /// Samples in this worker's storage.
        public internal(set) var storedCount: Int
        /// Its share of the shards against the others': the threads it computes on.
        public internal(set) var weight: Int = 1

        init(id: UInt32, weight: Int, shardCount: Int) {
            precondition(weight >= 1)
            self.id = id
            self.weight = weight
            shards = 0..<0
            offsets = Array(repeating: nil, count: shardCount)
            storedCount = 0
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(UInt32.self, forKey: .id)
            shards = try c.decode(Range<Int>.self, forKey: .shards)
            offsets = try c.decode([Int?].self, forKey: .offsets)
            storedCount = try c.decode(Int.self, forKey: .storedCount)
            // Checkpoints from before threads weighed every worker alike.
            weight = max(1, try c.decodeIfPresent(Int.self, forKey: .weight) ?? 1)
        }
    }

    public let plan: ShardPlan
    /// In id order.
    public private(set) var holders: [Holder] = []
    /// The epoch whose orders are drawn (from 1); 0 before the first. The run's course
    /// (`RunCourse`) says which epoch and step it is; this only keeps the orders that go with it.
    public private(set) var ordersEpoch = 0
    /// Each shard's order in `ordersEpoch` (positions into the shard); drawn again from the seed, never stored.
    public private(set) var orders: [[Int32]] = []

    /// Shards of `plan` over `holderIDs` (ascending), each of weight 1; `rebalance` says what to ship to each.
    public init(plan: ShardPlan, holderIDs: [UInt32]) {
        self.init(plan: plan, holders: holderIDs.map { ($0, 1) })
    }

    /// Shards of `plan` over `holders` (ids ascending) of these weights.
    public init(plan: ShardPlan, holders: [(id: UInt32, weight: Int)]) {
        precondition(holders.map(\.id) == holders.map(\.id).sorted())
        self.plan = plan
        self.holders = holders.map { Holder(id: $0.id, weight: $0.weight, shardCount: plan.shardCount) }
    }

    public var holderIDs: [UInt32] { holders.map(\.id) }

    /// The same run's progress over new workers with empty storage (a resumed coordinator's).
    public func resumed(holders: [(id: UInt32, weight: Int)]) -> ShardAssignment {
        var fresh = ShardAssignment(plan: plan, holders: holders)
        fresh.ordersEpoch = ordersEpoch
        fresh.orders = orders
        return fresh
    }

    /// Draws every holder's run of shards for the holders there are now, and returns, per
    /// holder, the global indices of the samples to ship it (the shards it has never stored,
    /// in shard order, appended to its storage in that order).
    public mutating func rebalance() -> [(id: UInt32, samples: [Int32])] {
        let runs = Self.runs(weights: holders.map(\.weight), shardCount: plan.shardCount)
        var shipments: [(id: UInt32, samples: [Int32])] = []
        for i in holders.indices {
            holders[i].shards = runs[i]
            var samples: [Int32] = []
            for shard in holders[i].shards where holders[i].offsets[shard] == nil {
                holders[i].offsets[shard] = holders[i].storedCount
                holders[i].storedCount += plan.shards[shard].count
                samples += plan.shards[shard]
            }
            if !samples.isEmpty { shipments.append((holders[i].id, samples)) }
        }
        return shipments
    }

    /// Each holder's contiguous run of `shardCount` shards, in order, as long as its weight
    /// allows: the boundaries fall at the shards' share of the weights before them (rounded
    /// down), moved so that each holder has at least one shard while there are as many shards
    /// as holders. Equal weights give [i * S / n, (i + 1) * S / n).
    public static func runs(weights: [Int], shardCount: Int) -> [Range<Int>] {
        let n = weights.count, total = weights.reduce(0, +)
        guard n > 0 else { return [] }
        var bounds = [0]
        var before = 0
        for i in 1..<max(n, 1) {
            before += weights[i - 1]
            var bound = shardCount * before / total
            if shardCount >= n { bound = min(max(bound, bounds[i - 1] + 1), shardCount - (n - i)) }
            bounds.append(bound)
        }
        bounds.append(shardCount)
        return (0..<n).map { bounds[$0]..<bounds[$0 + 1] }
    }

    /// Workers `ids` of weight 1 join between steps; returns what to ship to whom.
    public mutating func add(_ ids: [UInt32]) -> [(id: UInt32, samples: [Int32])] {
        add(ids.map { ($0, 1) })
    }

    /// Workers join between steps, each of its weight; returns what to ship to whom.
    public mutating func add(_ joiners: [(id: UInt32, weight: Int)]) -> [(id: UInt32, samples: [Int32])] {
        for joiner in joiners {
            precondition(index(of: joiner.id) == nil)
            let slot = holders.firstIndex { $0.id > joiner.id } ?? holders.count
            holders.insert(Holder(id: joiner.id, weight: joiner.weight, shardCount: plan.shardCount), at: slot)
        }
        return rebalance()
    }

    /// New weights for the holders (by id; those not named keep theirs), and their runs drawn
    /// again: returns what to ship to whom (only shards a holder has never stored).
    public mutating func reweigh(_ weights: [UInt32: Int]) -> [(id: UInt32, samples: [Int32])] {
        for i in holders.indices {
            if let weight = weights[holders[i].id] {
                precondition(weight >= 1)
                holders[i].weight = weight
            }
        }
        return rebalance()
    }

    /// Workers `ids` left; returns what to ship to whom among those who stay.
    public mutating func remove(_ ids: [UInt32]) -> [(id: UInt32, samples: [Int32])] {
        holders.removeAll { ids.contains($0.id) }
        return holders.isEmpty ? [] : rebalance()
    }

    /// Draws each shard's order in epoch `epoch` (from 1).
    public mutating func drawOrders(epoch: Int) {
        guard epoch != ordersEpoch else { return }
        ordersEpoch = epoch
        // Each shard's order is rewritten in place: after the first epoch, an epoch allocates nothing here.
        if orders.count != plan.shardCount { orders = Array(repeating: [], count: plan.shardCount) }
        for shard in 0..<plan.shardCount { plan.epochOrder(shard: shard, epoch: epoch, into: &orders[shard]) }
    }

    /// No one holds the shards: training waits for a worker.
    public var waitsForWorkers: Bool { holders.isEmpty }

    /// The holder of `shard`.
    public func holder(of shard: Int) -> UInt32? { holders.first { $0.shards.contains(shard) }?.id }

    /// Appends step `step`'s chunks of `shards` (held by worker `id`) to `request`:
    /// local indices into the worker's storage, one chunk per shard with samples left.
    public func appendChunks(of shards: Range<Int>, heldBy id: UInt32, step: Int, to request: inout StepChunks) {
        appendChunks(ofEach: shards, heldBy: id, step: step, to: &request)
    }

    /// The same for shards that are not a run (a lost member's, handed to a new holder).
    public func appendChunks(of shards: [Int], heldBy id: UInt32, step: Int, to request: inout StepChunks) {
        appendChunks(ofEach: shards, heldBy: id, step: step, to: &request)
    }

    // Generic only inside this module, where both callers above specialise it: a generic called
    // across modules runs unspecialised and allocates on every step.
    private func appendChunks<Shards: Sequence<Int>>(ofEach shards: Shards, heldBy id: UInt32, step: Int, to request: inout StepChunks) {
        guard let holder = holders.first(where: { $0.id == id }) else { return }
        for shard in shards {
            let chunk = plan.chunk(shard: shard, step: step)
            guard !chunk.isEmpty, let offset = holder.offsets[shard] else { continue }
            for position in orders[shard][chunk] { request.indices.append(UInt32(offset + Int(position))) }
            request.chunkSizes.append(UInt32(chunk.count))
            request.shards.append(shard)
            request.chunkNumbers.append(UInt32(shard))
        }
    }

    /// The global indices of step `step`'s chunk of `shard`.
    public func chunkSamples(shard: Int, step: Int) -> [Int32] {
        orders[shard][plan.chunk(shard: shard, step: step)].map { plan.shards[shard][Int($0)] }
    }

    private func index(of id: UInt32) -> Int? { holders.firstIndex { $0.id == id } }

    /// What is wrong with an assignment read from a file, if anything.
    public func problem(sampleCount: Int) -> String? {
        guard plan.sampleCount == sampleCount else { return "it splits \(plan.sampleCount) samples, the data has \(sampleCount)" }
        guard holders.map(\.id) == holders.map(\.id).sorted(), Set(holders.map(\.id)).count == holders.count,
              !holders.contains(where: { $0.id == 0 || $0.id == .max }) else { return "its worker ids are not ascending and distinct" }
        return nil
    }
}

/// The chunks of a step asked of one member: local indices into its storage, chunk after chunk.
public struct StepChunks: Sendable {
    public internal(set) var indices: [UInt32] = []
    /// Samples of each chunk, in order.
    public internal(set) var chunkSizes: [UInt32] = []
    /// The shard of each chunk.
    public internal(set) var shards: [Int] = []
    /// The same as they travel (a step's chunk numbers).
    public internal(set) var chunkNumbers: [UInt32] = []

    public init() {}

    /// Empty again for the next step, keeping the buffers.
    public mutating func removeAll() {
        indices.removeAll(keepingCapacity: true)
        chunkSizes.removeAll(keepingCapacity: true)
        shards.removeAll(keepingCapacity: true)
        chunkNumbers.removeAll(keepingCapacity: true)
    }
}

/// What a checkpoint keeps of the coordinator's course, to go on where it stopped.
public struct ResumePoint: Equatable, Sendable {
    public var step: UInt64
    public var course: RunCourse
    public var memberIDs: [UInt32]
    public var nextID: UInt32
    public var assignment: ShardAssignment

    public init(step: UInt64, course: RunCourse, memberIDs: [UInt32], nextID: UInt32, assignment: ShardAssignment) {
        self.step = step
        self.course = course
        self.memberIDs = memberIDs
        self.nextID = nextID
        self.assignment = assignment
    }
}

/// A checkpoint keeps the plan's inputs and the holders; shards and orders are drawn again
/// (the orders for the epoch the checkpoint's course is in, by `drawOrders`).
extension ShardAssignment: Codable {
    enum CodingKeys: String, CodingKey { case sampleCount, shardCount, batchSize, seed, holders }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let sampleCount = try c.decode(Int.self, forKey: .sampleCount), shardCount = try c.decode(Int.self, forKey: .shardCount)
        let batchSize = try c.decode(Int.self, forKey: .batchSize)
        if let problem = ShardPlan.problem(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize) {
            throw DecodingError.dataCorruptedError(forKey: .shardCount, in: c, debugDescription: problem)
        }
        plan = ShardPlan(sampleCount: sampleCount, shardCount: shardCount, batchSize: batchSize, seed: try c.decode(UInt64.self, forKey: .seed))
        holders = try c.decode([Holder].self, forKey: .holders)
        guard holders.allSatisfy({ $0.offsets.count == shardCount }) else {
            throw DecodingError.dataCorruptedError(forKey: .holders, in: c, debugDescription: "holders do not fit the shards")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(plan.sampleCount, forKey: .sampleCount)
        try c.encode(plan.shardCount, forKey: .shardCount)
        try c.encode(plan.batchSize, forKey: .batchSize)
        try c.encode(plan.seed, forKey: .seed)
        try c.encode(holders, forKey: .holders)
    }
}
