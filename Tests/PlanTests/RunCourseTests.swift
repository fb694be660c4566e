import XCTest
@testable import Plan

/// The run's one count of epochs and steps, and the one rule for steps an epoch.
final class RunCourseTests: XCTestCase {
    /// Every decision of a two-epoch, three-step run, in order, and nothing after its end.
    func testACourseBeginsStepsClosesAndEnds() {
        var course = RunCourse(epochs: 2, stepsPerEpoch: 3)
        var seen: [RunCourse.Next] = []
        while true {
            let next = course.next
            seen.append(next)
            switch next {
            case .beginEpoch: course.beginEpoch()
            case .trainStep: course.commitStep()
            case .closeEpoch: course.closeEpoch()
            case .endOfRun: break
            }
            if next == .endOfRun { break }
        }
        XCTAssertEqual(seen, [.beginEpoch(1), .trainStep(stepInEpoch: 0), .trainStep(stepInEpoch: 1), .trainStep(stepInEpoch: 2), .closeEpoch(1),
                              .beginEpoch(2), .trainStep(stepInEpoch: 0), .trainStep(stepInEpoch: 1), .trainStep(stepInEpoch: 2), .closeEpoch(2),
                              .endOfRun])
        XCTAssertTrue(course.isFinished)
        XCTAssertEqual(course.currentEpoch, 2)
    }

    /// A finished run extended with more epochs goes on with the next epoch.
    func testAnExtendedCourseGoesOn() {
        var course = RunCourse(epochs: 1, stepsPerEpoch: 1)
        course.beginEpoch()
        course.commitStep()
        XCTAssertEqual(course.currentEpoch, 1)
        course.closeEpoch()
        XCTAssertTrue(course.isFinished)
        course.extend(to: 3)
        XCTAssertEqual(course.next, .beginEpoch(2))
        XCTAssertEqual(course.currentEpoch, 2)
    }

    /// The steps an epoch computed from the numbers alone are the drawn shards' (the rule the
    /// log interval, the progress and the machine use), for even and uneven splits.
    func testStepsPerEpochWithoutDrawingTheShards() {
        for (samples, shards, batch) in [(60_000, 2, 128), (60_000, 4, 512), (1_000, 3, 10), (97, 5, 7), (10, 10, 10), (5, 2, 100)] {
            let plan = ShardPlan(sampleCount: samples, shardCount: shards, batchSize: batch, seed: 1)
            XCTAssertEqual(ShardPlan.stepsPerEpoch(sampleCount: samples, shardCount: shards, batchSize: batch),
                           zip(plan.shards, plan.chunkSizes).map { ($0.count + $1 - 1) / $1 }.max(), "\(samples) \(shards) \(batch)")
        }
        var config = TrainingConfig.standard()
        config.batchSize = 256
        XCTAssertEqual(config.stepsPerEpoch(sampleCount: 60_000), 235)
        XCTAssertEqual(config.plannedSteps(sampleCount: 60_000), 3 * 235)
    }

    /// A course read from a checkpoint that does not fit the shards, or is not within its run.
    func testAnInconsistentCourseIsNamed() throws {
        let plan = ShardPlan(sampleCount: 100, shardCount: 2, batchSize: 10, seed: 1)
        XCTAssertNil(RunCourse(epochs: 2, stepsPerEpoch: 10).problem(plan: plan))
        XCTAssertEqual(RunCourse(epochs: 2, stepsPerEpoch: 9).problem(plan: plan), "it has 9 steps an epoch, the shards 10")
        let json = #"{"epochs":2,"stepsPerEpoch":10,"epoch":1,"stepsDone":11,"epochOpen":true}"#
        let read = try JSONDecoder().decode(RunCourse.self, from: Data(json.utf8))
        XCTAssertEqual(read.problem(plan: plan), "its step 11 of epoch 1 is not within the run")
    }
}
