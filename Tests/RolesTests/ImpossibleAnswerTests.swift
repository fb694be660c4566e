import MLP
import Wire
import XCTest
@testable import Plan
@testable import Roles

/// Answers no honest member can send: each is dropped, counted by its reason, and its member
/// lost, its chunks of the step asked of the others.
final class ImpossibleAnswerTests: XCTestCase {
    let alice: [UInt8] = [1], bob: [UInt8] = [2]

    /// Two members, each asked one chunk of 5 samples at step 1.
    func started() -> Machine {
        var m = machine()
        _ = m.receiveHello(Hello(host: "a"), from: alice, now: 0)
        _ = m.receiveHello(Hello(host: "b"), from: bob, now: 0)
        _ = m.startTraining(now: 0)
        XCTAssertEqual(m.advance(now: 0), .beginEpoch(1))
        m.planStep(now: 0)
        return m
    }

    func figures(samples: Int = 5, lossSum: Double = 11.5, correct: Int = 0, width: Int = 5, magnitude: UInt64 = 0) -> AnswerFigures {
        AnswerFigures(sampleCount: samples, lossSum: lossSum, correct: correct, valueBytes: width, largestMagnitude: magnitude)
    }

    /// Alice's answer is rejected for `reason`: she is lost for it, and Bob is asked her chunk.
    func assertRejected(_ answer: AnswerFigures, _ reason: DropReason, file: StaticString = #filePath, line: UInt = #line) {
        var m = started()
        guard case .reject(let dropped, let actions) = m.receiveGradient(step: 1, answer, from: alice, now: 0) else {
            return XCTFail("accepted \(answer)", file: file, line: line)
        }
        XCTAssertEqual(dropped, reason, file: file, line: line)
        XCTAssertEqual(m.dropped, [reason.kind: 1], file: file, line: line)
        XCTAssertTrue(actions.contains { if case .lost(let member, .impossibleAnswer(reason)) = $0 { member.id == 1 } else { false } },
                      "alice is not lost: \(actions)", file: file, line: line)
        XCTAssertEqual(m.members.map(\.id), [2], file: file, line: line)
        XCTAssertEqual(m.awaiting, [2: 2], "bob is asked alice's chunk too", file: file, line: line)
        XCTAssertEqual(shipped(actions).keys.sorted(), [2], "bob gets alice's shard", file: file, line: line)
    }

    func testAWrongSampleCountLosesTheMember() {
        assertRejected(figures(samples: 4, lossSum: 9), .wrongSampleCount(worker: 1, got: 4, expected: 5))
    }

    func testAValueBeyondItsChunksBoundLosesTheMember() {
        let bound = FixedPointFormat.chunkBound
        assertRejected(figures(width: 8, magnitude: bound + 1), .gradientOutOfBound(worker: 1, magnitude: bound + 1, bound: bound))
    }

    /// One chunk's values stay below 2^51, which 7 bytes hold: no worker packs one chunk's sums in 8.
    func testASumWiderThanItsChunksCanNeedLosesTheMember() {
        assertRejected(figures(width: 8), .impossibleWidth(worker: 1, width: 8, widest: 7, chunks: 1))
        var m = started()
        guard case .accept = m.receiveGradient(step: 1, figures(width: 7), from: alice, now: 0) else { return XCTFail() }
    }

    func testMoreRightThanSamplesLosesTheMember() {
        assertRejected(figures(correct: 6), .impossibleCorrect(worker: 1, correct: 6, samples: 5))
    }

    /// Cross-entropy of float32 softmax is at most -log(2^-126) = 87.3 a sample.
    func testALossSumNoFloat32CrossEntropyCanGiveLosesTheMember() {
        assertRejected(figures(lossSum: 1e300), .impossibleLoss(worker: 1, lossSum: 1e300, samples: 5, correct: 0))
        assertRejected(figures(lossSum: 5 * 87.5), .impossibleLoss(worker: 1, lossSum: 5 * 87.5, samples: 5, correct: 0))
        assertRejected(figures(lossSum: -1), .impossibleLoss(worker: 1, lossSum: -1, samples: 5, correct: 0))
        var m = started()
        guard case .accept = m.receiveGradient(step: 1, figures(lossSum: 5 * 87.3), from: alice, now: 0) else { return XCTFail() }
    }

    /// A misclassified sample's softmax probability is at most 1/2: a loss of at least log 2.
    /// A zero loss with samples wrong is a lie.
    func testALossTooSmallForTheSamplesWrongLosesTheMember() {
        assertRejected(figures(lossSum: 0, correct: 0), .impossibleLoss(worker: 1, lossSum: 0, samples: 5, correct: 0))
        assertRejected(figures(lossSum: 1.3, correct: 3), .impossibleLoss(worker: 1, lossSum: 1.3, samples: 5, correct: 3))
        var m = started()
        guard case .accept = m.receiveGradient(step: 1, figures(lossSum: 1.4, correct: 3), from: alice, now: 0) else { return XCTFail() }
        guard case .accept = m.receiveGradient(step: 1, figures(lossSum: 0, correct: 5), from: bob, now: 0) else { return XCTFail() }
    }

    /// Squared error of sigmoid outputs: at most half the classes a sample, at least 1/4 when wrong.
    func testSquaredErrorHasItsOwnRange() {
        XCTAssertTrue(AnswerFigures.lossRange(loss: .mse, classCount: 10, samples: 4, wrong: 0).contains(20))
        XCTAssertFalse(AnswerFigures.lossRange(loss: .mse, classCount: 10, samples: 4, wrong: 0).contains(20.1))
        XCTAssertFalse(AnswerFigures.lossRange(loss: .mse, classCount: 10, samples: 4, wrong: 4).contains(0.9))
        XCTAssertTrue(AnswerFigures.lossRange(loss: .mse, classCount: 10, samples: 4, wrong: 4).contains(1))
    }

    func testWidthsThatHoldABound() {
        XCTAssertEqual(AnswerFigures.bytesHolding(127), 1)
        XCTAssertEqual(AnswerFigures.bytesHolding(128), 2)
        XCTAssertEqual(AnswerFigures.bytesHolding(FixedPointFormat.chunkBound), 7)
        XCTAssertEqual(AnswerFigures.bytesHolding(256 * FixedPointFormat.chunkBound), 8)
    }
}
