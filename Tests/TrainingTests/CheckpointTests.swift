import Foundation
import MLP
import XCTest
import Plan
@testable import Training

final class CheckpointTests: XCTestCase {
    let folder = NSTemporaryDirectory() + "dptrain-checkpoints-\(UUID().uuidString)"
    override func tearDown() { try? FileManager.default.removeItem(atPath: folder) }

    func checkpoint(step: UInt64) -> Checkpoint {
        var config = TrainingConfig.standard()
        config.model = ModelSpec(layerSizes: [6, 4, 3])
        let parameters = config.model.initialParameters(.he, seed: step)
        var assignment = ShardAssignment(plan: ShardPlan(sampleCount: 50, shardCount: 4, batchSize: 8, seed: 3), holderIDs: [1, 2])
        _ = assignment.rebalance()
        var course = RunCourse(epochs: 3, stepsPerEpoch: assignment.plan.stepsPerEpoch)
        course.beginEpoch()
        course.commitStep()
        let state = CheckpointState(training: config, sampleCount: 50, step: step, course: course, samplesSeen: Int(step) * 16,
                                    assignment: assignment, memberIDs: [1, 2], nextWorkerID: 3, optimizerStep: Int(step),
                                    trainingSeconds: 1.5, runLossSum: 2, runSamples: 32, epochLossSum: 2, epochSamples: 32)
        return Checkpoint(state: state, parameters: parameters, moments: [parameters.map { $0 / 2 }])
    }

    func testWrittenCheckpointLoadsExactly() throws {
        let store = try CheckpointStore(directory: folder)
        let written = checkpoint(step: 10)
        let path = try store.write(written)
        XCTAssertTrue(path.hasSuffix("checkpoint-0000000010.dpck"))
        XCTAssertEqual(try CheckpointStore.load(path: path), written)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial"))
    }

    func testTruncatedOrCorruptNewestIsRefusedByNameAndThePreviousUsed() throws {
        let store = try CheckpointStore(directory: folder)
        try store.write(checkpoint(step: 10))
        let newest = try store.write(checkpoint(step: 20))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))

        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: newest))
        var (found, refused) = store.loadNewest()
        XCTAssertEqual(found?.checkpoint.state.step, 10)
        XCTAssertEqual(refused.count, 1)
        XCTAssertTrue(refused[0].contains(newest) && refused[0].contains("truncated or corrupt"), refused[0])

        var flipped = [UInt8](bytes)
        flipped[flipped.count / 2] ^= 0x40
        try Data(flipped).write(to: URL(fileURLWithPath: newest))
        (found, refused) = store.loadNewest()
        XCTAssertEqual(found?.checkpoint.state.step, 10)
        XCTAssertTrue(refused.first?.contains("checksum") ?? false)

        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: newest))
        (found, refused) = store.loadNewest()
        XCTAssertEqual(found?.checkpoint.state.step, 10)
        XCTAssertTrue(refused.first?.contains("not a dptrain checkpoint") ?? false)
    }

    /// A crash mid-write leaves only a .partial file, which no load reads.
    func testPartialWriteIsIgnored() throws {
        let store = try CheckpointStore(directory: folder)
        try store.write(checkpoint(step: 10))
        FileManager.default.createFile(atPath: store.path(step: 20) + ".partial", contents: Data([1, 2, 3]))
        let (found, refused) = store.loadNewest()
        XCTAssertEqual(found?.checkpoint.state.step, 10)
        XCTAssertTrue(refused.isEmpty)
    }

    func testOnlyTheNewestThreeAreKept() throws {
        let store = try CheckpointStore(directory: folder)
        for step: UInt64 in [1, 2, 3, 4, 5] { try store.write(checkpoint(step: step)) }
        XCTAssertEqual(store.checkpointPaths().map { ($0 as NSString).lastPathComponent },
                       ["checkpoint-0000000003.dpck", "checkpoint-0000000004.dpck", "checkpoint-0000000005.dpck"])
    }
}
