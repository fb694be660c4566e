import XCTest
@testable import Roles

/// Within an epoch every sample is trained exactly once, whoever joins or leaves.
final class SampleAssignmentTests: XCTestCase {
    /// Runs one epoch; `event(step)` may change membership between steps.
    /// Returns how often each global sample was trained.
    func epoch(_ assignment: inout SampleAssignment, sampleCount: Int,
               event: (Int, inout SampleAssignment) -> Void = { _, _ in }) -> [Int] {
        var trained = [Int](repeating: 0, count: sampleCount)
        assignment.startEpoch()
        var step = 0
        while !assignment.epochFinished {
            event(step, &assignment)
            for id in assignment.holderIDs {
                let batch = assignment.takeBatch(for: id)
                XCTAssertLessThanOrEqual(batch.count, assignment.batchSize)
                let holder = assignment.holders.first { $0.id == id }!
                for local in batch {
                    XCTAssertFalse(holder.released[Int(local)])
                    trained[Int(holder.stored[Int(local)])] += 1
                }
                assignment.commit(id)
            }
            step += 1
            if step > 10_000 { XCTFail("the epoch never ends"); break }
        }
        return trained
    }

    func testShardsCoverEverySampleOnce() {
        var assignment = SampleAssignment(sampleCount: 1000, holderIDs: [1, 2, 3], batchSize: 32, seed: 5)
        XCTAssertEqual(assignment.holders.map(\.stored.count), [334, 333, 333])
        XCTAssertEqual(Set(assignment.holders.flatMap(\.stored)).count, 1000)
        for _ in 0..<2 { XCTAssertEqual(epoch(&assignment, sampleCount: 1000), Array(repeating: 1, count: 1000)) }
    }

    func testSameSeedSameSteps() {
        var a = SampleAssignment(sampleCount: 500, holderIDs: [1, 2], batchSize: 16, seed: 9)
        var b = SampleAssignment(sampleCount: 500, holderIDs: [1, 2], batchSize: 16, seed: 9)
        a.startEpoch()
        b.startEpoch()
        XCTAssertEqual(a.takeBatch(for: 2), b.takeBatch(for: 2))
        XCTAssertEqual(a, b)
    }

    /// A worker lost with a batch in flight: that batch and the rest of its samples go to the others.
    func testLostWorkerSamplesAreTrainedByTheOthers() {
        var assignment = SampleAssignment(sampleCount: 1000, holderIDs: [1, 2, 3], batchSize: 20, seed: 1)
        var moved: [(id: UInt32, samples: [SampleAssignment.Transfer])] = []
        var trained = [Int](repeating: 0, count: 1000)
        assignment.startEpoch()
        var step = 0
        while !assignment.epochFinished {
            for id in assignment.holderIDs {
                let batch = assignment.takeBatch(for: id)
                if step == 5 && id == 2 { continue }   // worker 2 dies with this batch in flight
                let holder = assignment.holders.first { $0.id == id }!
                for local in batch { trained[Int(holder.stored[Int(local)])] += 1 }
                assignment.commit(id)
            }
            if step == 5 { moved = assignment.remove(2) }
            step += 1
        }
        XCTAssertEqual(trained, Array(repeating: 1, count: 1000))
        XCTAssertEqual(moved.map(\.id), [1, 3])
        XCTAssertEqual(moved.flatMap(\.samples).count, 333)
        XCTAssertEqual(moved.flatMap(\.samples).filter(\.untrained).count, 333 - 5 * 20)
        XCTAssertEqual(epoch(&assignment, sampleCount: 1000), Array(repeating: 1, count: 1000))
    }

    func testJoiningWorkerTakesAFairShareAndNothingIsDoubled() {
        var assignment = SampleAssignment(sampleCount: 1200, holderIDs: [1, 2, 3], batchSize: 25, seed: 3)
        var joined: [SampleAssignment.Transfer] = []
        let counts = epoch(&assignment, sampleCount: 1200) { step, assignment in
            if step == 4 { joined = assignment.add(4) }
        }
        XCTAssertEqual(counts, Array(repeating: 1, count: 1200))
        XCTAssertEqual(joined.count, 300)
        XCTAssertEqual(assignment.holders.map(\.activeCount), [300, 300, 300, 300])
        XCTAssertEqual(epoch(&assignment, sampleCount: 1200), Array(repeating: 1, count: 1200))
    }

    func testEveryWorkerLostThenANewOneTakesEverything() {
        var assignment = SampleAssignment(sampleCount: 300, holderIDs: [1], batchSize: 50, seed: 2)
        var trained = [Int](repeating: 0, count: 300)
        assignment.startEpoch()
        let holder = assignment.holders[0]
        for local in assignment.takeBatch(for: 1) { trained[Int(holder.stored[Int(local)])] += 1 }
        assignment.commit(1)
        XCTAssertTrue(assignment.remove(1).isEmpty)
        XCTAssertTrue(assignment.waitsForWorkers)
        let taken = assignment.add(7)
        XCTAssertEqual(taken.count, 300)
        XCTAssertEqual(taken.filter(\.untrained).count, 250)
        while !assignment.epochFinished {
            let newcomer = assignment.holders[0]
            for local in assignment.takeBatch(for: 7) { trained[Int(newcomer.stored[Int(local)])] += 1 }
            assignment.commit(7)
        }
        XCTAssertEqual(trained, Array(repeating: 1, count: 300))
    }

    func testRoundTripsThroughJSONForCheckpoints() throws {
        var assignment = SampleAssignment(sampleCount: 100, holderIDs: [1, 2], batchSize: 10, seed: 4)
        assignment.startEpoch()
        _ = assignment.takeBatch(for: 1)
        assignment.commit(1)
        let data = try JSONEncoder().encode(assignment)
        XCTAssertEqual(try JSONDecoder().decode(SampleAssignment.self, from: data), assignment)
    }

    /// A worker joining at 85% of an epoch takes samples the others have already trained; the
    /// assignment written to a checkpoint then must still pass the loader's checks, and the
    /// epoch still trains every sample once. Before the fix the checkpoint was refused.
    func testLateJoinLeavesAnAssignmentTheLoaderAccepts() throws {
        var assignment = SampleAssignment(sampleCount: 1000, holderIDs: [1, 2], batchSize: 25, seed: 8)
        assignment.startEpoch()
        var trained = [Int](repeating: 0, count: 1000)
        func train(_ id: UInt32) {
            guard let holder = assignment.holders.first(where: { $0.id == id }) else { return }
            for local in assignment.takeBatch(for: id) { trained[Int(holder.stored[Int(local)])] += 1 }
            assignment.commit(id)
        }
        for _ in 0..<17 { train(1); train(2) }   // 850 of 1,000 samples
        _ = assignment.add(3)
        let written = try JSONDecoder().decode(SampleAssignment.self, from: JSONEncoder().encode(assignment))
        XCTAssertNil(written.problem(sampleCount: 1000))
        while !assignment.epochFinished { train(1); train(2); train(3) }
        XCTAssertEqual(trained, Array(repeating: 1, count: 1000))
        XCTAssertNil(assignment.problem(sampleCount: 1000))
    }
}
