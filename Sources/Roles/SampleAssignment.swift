import MLP

/// Which training samples each worker stores, and which of them each still
/// has to train this epoch, as workers join and leave.
///
/// A worker's samples live in its own storage, appended to as it is handed
/// more; a local index is a position in that storage. Every epoch each
/// worker's samples are shuffled anew from the run's generator and handed out
/// a batch per step. When a worker leaves, the samples it had not trained this
/// epoch (its step in flight included) go to the others, with the rest of its
/// samples for later epochs; when one joins, it takes a fair share from the
/// others, its untrained part first. So within an epoch every sample is trained
/// exactly once, whoever comes and goes. With the same seed and the same
/// workers throughout, every run makes the same steps.
public struct SampleAssignment: Codable, Equatable, Sendable {
    public struct Holder: Codable, Equatable, Sendable {
        public let id: UInt32
        /// Global indices of the samples in this worker's storage; local index = position.
        public internal(set) var stored: [Int32]
        /// Per local index: true once the sample has moved to another worker.
        public internal(set) var released: [Bool]
        /// This epoch's order of local indices; those from `next` on are still to train.
        public internal(set) var order: [UInt32]
        public internal(set) var next: Int
        /// Positions in `order` handed out for the step under way, just before `next`.
        public internal(set) var inFlight: Range<Int>

        var activeCount: Int { released.lazy.filter { !$0 }.count }
        /// Local indices still to train this epoch.
        public var pending: ArraySlice<UInt32> { order[next...] }
    }

    /// A sample to store, and whether it still needs training this epoch.
    public struct Transfer: Codable, Equatable, Sendable {
        public let global: Int32
        public let untrained: Bool
    }

    public let batchSize: Int
    /// In id order: the order steps are handed out and gradients summed.
    public private(set) var holders: [Holder] = []
    /// Samples nobody stores, because their worker left with no one to take them.
    public private(set) var orphans: [Transfer] = []
    public private(set) var generator: SeededGenerator

    /// Splits `sampleCount` samples over `holderIDs` (ascending) by a permutation drawn from `seed`:
    /// the k-th worker stores positions k, k + N, k + 2N, ... of it.
    public init(sampleCount: Int, holderIDs: [UInt32], batchSize: Int, seed: UInt64) {
        precondition(batchSize > 0 && holderIDs == holderIDs.sorted())
        self.batchSize = batchSize
        generator = EpochOrder.orderGenerator(seed: seed)
        var all = (0..<Int32(sampleCount)).map { $0 }
        generator.shuffle(&all)
        if holderIDs.isEmpty {
            orphans = all.map { Transfer(global: $0, untrained: true) }
            return
        }
        for (slot, id) in holderIDs.enumerated() {
            let stored = stride(from: slot, to: sampleCount, by: holderIDs.count).map { all[$0] }
            holders.append(Holder(id: id, stored: stored, released: Array(repeating: false, count: stored.count),
                                  order: [], next: 0, inFlight: 0..<0))
        }
    }

    public var holderIDs: [UInt32] { holders.map(\.id) }

    /// Reshuffles every worker's samples for a new epoch.
    public mutating func startEpoch() {
        for h in holders.indices {
            precondition(holders[h].inFlight.isEmpty, "an epoch starts between steps")
            var order = holders[h].released.indices.filter { !holders[h].released[$0] }.map { UInt32($0) }
            generator.shuffle(&order)
            holders[h].order = order
            holders[h].next = 0
            holders[h].inFlight = 0..<0
        }
        orphans = orphans.map { Transfer(global: $0.global, untrained: true) }
    }

    /// True when every sample of the epoch has been trained.
    public var epochFinished: Bool {
        holders.allSatisfy { $0.pending.isEmpty && $0.inFlight.isEmpty } && !orphans.contains { $0.untrained }
    }

    /// Untrained samples that no worker stores: training must wait for a worker to take them.
    public var waitsForWorkers: Bool { orphans.contains { $0.untrained } && holders.isEmpty }

    /// Hands out the next batch of worker `id`'s samples as local indices (a view of its
    /// epoch order, no copy); empty when it has none left.
    public mutating func takeBatch(for id: UInt32) -> ArraySlice<UInt32> {
        guard let h = index(of: id) else { return [] }
        precondition(holders[h].inFlight.isEmpty, "the last batch was neither trained nor given back")
        let start = holders[h].next
        let batch = start..<min(start + batchSize, holders[h].order.count)
        holders[h].next = batch.upperBound
        holders[h].inFlight = batch
        return holders[h].order[batch]
    }

    /// Worker `id`'s batch in flight was trained.
    public mutating func commit(_ id: UInt32) {
        if let h = index(of: id) { holders[h].inFlight = holders[h].next..<holders[h].next }
    }

    /// Worker `id` left. Returns, per remaining worker, the samples it must now store
    /// (append to its storage); untrained ones join its work for this epoch.
    public mutating func remove(_ id: UInt32) -> [(id: UInt32, samples: [Transfer])] { remove([id]) }

    /// Workers `ids` left at the same instant. Their samples are pooled first and then dealt
    /// round-robin to those who stay, so each sample moves once, never to another leaver.
    public mutating func remove(_ ids: [UInt32]) -> [(id: UInt32, samples: [Transfer])] {
        var transfers: [Transfer] = []
        for id in ids {
            guard let h = index(of: id) else { continue }
            let leaving = holders.remove(at: h)
            // The batch in flight sits just before the pending rest of the order: both are untrained.
            let firstUntrained = leaving.inFlight.isEmpty ? leaving.next : leaving.inFlight.lowerBound
            let untrainedLocal = Set(leaving.order[firstUntrained...])
            transfers += leaving.stored.indices.filter { !leaving.released[$0] }.map {
                Transfer(global: leaving.stored[$0], untrained: untrainedLocal.contains(UInt32($0)))
            }
        }
        guard !transfers.isEmpty else { return [] }
        guard !holders.isEmpty else {
            orphans += transfers
            return []
        }
        // Round-robin over the others, in id order.
        var shares = Array(repeating: [Transfer](), count: holders.count)
        for (n, transfer) in transfers.enumerated() { shares[n % holders.count].append(transfer) }
        for (slot, share) in shares.enumerated() { append(share, to: slot) }
        return zip(holders, shares).map { ($0.id, $1) }
    }

    /// Worker `id` joins between steps. Returns the samples it must store: every orphan
    /// and a fair share of each other worker's, taken from what they have not trained yet first.
    public mutating func add(_ id: UInt32) -> [Transfer] {
        precondition(index(of: id) == nil && holders.allSatisfy { $0.inFlight.isEmpty })
        var taken = orphans
        orphans = []
        let share = holders.count + 1
        for h in holders.indices {
            var give = holders[h].activeCount / share
            // Untrained samples first, from the end of this epoch's queue.
            while give > 0, holders[h].order.count > holders[h].next, let local = holders[h].order.popLast() {
                holders[h].released[Int(local)] = true
                taken.append(Transfer(global: holders[h].stored[Int(local)], untrained: true))
                give -= 1
            }
            // Then samples it has trained this epoch.
            var local = holders[h].stored.count - 1
            while give > 0 && local >= 0 {
                if !holders[h].released[local] {
                    holders[h].released[local] = true
                    taken.append(Transfer(global: holders[h].stored[local], untrained: false))
                    give -= 1
                }
                local -= 1
            }
        }
        let slot = holders.firstIndex { $0.id > id } ?? holders.count
        holders.insert(Holder(id: id, stored: [], released: [], order: [], next: 0, inFlight: 0..<0), at: slot)
        append(taken, to: slot)
        return taken
    }

    private mutating func append(_ transfers: [Transfer], to slot: Int) {
        let first = holders[slot].stored.count
        holders[slot].stored += transfers.map(\.global)
        holders[slot].released += Array(repeating: false, count: transfers.count)
        var untrained = transfers.indices.filter { transfers[$0].untrained }.map { UInt32(first + $0) }
        generator.shuffle(&untrained)
        holders[slot].order += untrained
    }

    private func index(of id: UInt32) -> Int? { holders.firstIndex { $0.id == id } }

    /// What is wrong with an assignment read from a file, if anything: every index in range,
    /// every sample held once, nothing in flight between steps.
    public func problem(sampleCount: Int) -> String? {
        guard batchSize > 0, holders.map(\.id) == holders.map(\.id).sorted(), Set(holders.map(\.id)).count == holders.count,
              !holders.contains(where: { $0.id == 0 || $0.id == .max }) else { return "its worker ids are not ascending and distinct" }
        var held = [Bool](repeating: false, count: max(sampleCount, 0))
        func take(_ global: Int32) -> Bool {
            guard global >= 0, Int(global) < sampleCount, !held[Int(global)] else { return false }
            held[Int(global)] = true
            return true
        }
        for holder in holders {
            guard holder.released.count == holder.stored.count, holder.inFlight.isEmpty,
                  holder.next >= 0, holder.next <= holder.order.count,
                  holder.order.allSatisfy({ Int($0) < holder.stored.count }),
                  // Samples given to a joiner after this worker trained them stay in the trained
                  // part of its order; only the part still to train must be its own.
                  holder.pending.allSatisfy({ !holder.released[Int($0)] }) else {
                return "worker \(holder.id)'s order does not fit its samples"
            }
            for (local, global) in holder.stored.enumerated() where !holder.released[local] {
                guard take(global) else { return "sample \(global) is out of range or held twice" }
            }
        }
        for orphan in orphans { guard take(orphan.global) else { return "sample \(orphan.global) is out of range or held twice" } }
        return held.allSatisfy { $0 } ? nil : "some samples are held by no one"
    }
}
