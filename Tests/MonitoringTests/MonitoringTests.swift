import Monitoring
import Prometheus
@testable import Training
import MLP
import XCTest

final class EndpointAddressTests: XCTestCase {
    func testAPortAloneIsLoopback() throws {
        XCTAssertEqual(try EndpointAddress("9400"), try EndpointAddress("127.0.0.1:9400"))
        XCTAssertEqual(try EndpointAddress("localhost:0").host, "127.0.0.1")
        XCTAssertEqual(try EndpointAddress("[::1]:9400").host, "::1")
        XCTAssertEqual(try EndpointAddress("0.0.0.0:9400").port, 9400)
    }

    func testWhatIsNotHostAndPortSaysWhy() {
        XCTAssertThrowsError(try EndpointAddress("127.0.0.1:http")) { XCTAssertTrue("\($0)".contains("the port must be a number")) }
        XCTAssertThrowsError(try EndpointAddress("127.0.0.1:70000"))
        XCTAssertThrowsError(try EndpointAddress("dptrain.example:9400")) { XCTAssertTrue("\($0)".contains("the host must be an IP address")) }
    }
}

/// The series a run's events set, read back from the exposition as Prometheus would read it.
final class TrainingSeriesTests: XCTestCase {
    func exposition(_ registry: PrometheusCollectorRegistry) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in registry.emitToString().split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            values[String(parts[0])] = Double(parts[1])
        }
        return values
    }

    func testStepsEpochsAndMembersSetTheirSeries() {
        let series = Series(labels: Series.labels(runID: 0xab, role: "coordinator", member: nil))
        let watcher = TrainingSeries(series)
        let labels = #"run_id="00000000000000ab",role="coordinator""#
        var timings = StepTimings()
        for step in 1...3 {
            timings.steps = step
            timings.waitNanoseconds += 2_000_000
            timings.bytes += 1000
            timings.bytesReceived += 400
            var progress = StepProgress(epoch: 1, epochs: 2, samplesInEpoch: 32 * step, samplesPerEpoch: 100, loss: 1, samplesPerSecond: 500, elapsedSeconds: 1)
            progress = progress.adding(step: step, learningRate: 0.1, score: BatchScore(lossSum: 32, samples: 32), workers: 2, epochTimings: timings)
            watcher.stepFinished(progress)
        }
        // A new epoch's timings start from nothing again.
        timings = StepTimings()
        timings.steps = 1
        timings.waitNanoseconds = 1_000_000
        var progress = StepProgress(epoch: 2, epochs: 2, samplesInEpoch: 4, samplesPerEpoch: 100, loss: 1, samplesPerSecond: 500, elapsedSeconds: 1)
        progress = progress.adding(step: 4, learningRate: 0.1, score: BatchScore(lossSum: 4, samples: 4), workers: 2, epochTimings: timings)
        watcher.stepFinished(progress)
        watcher.event("training_started", [("workers", .int(2))])
        watcher.event("worker_lost", [("worker", .int(2)), ("reason", .string("deadline"))])
        watcher.membersChanged(training: 1, joining: 0)
        watcher.messageDropped("stale_gradient")
        watcher.messageDropped("stale_gradient")

        let values = exposition(series.registry)
        XCTAssertEqual(values["dptrain_samples_total{\(labels)}"], 100)
        XCTAssertEqual(values["dptrain_steps_total{\(labels)}"], 4)
        XCTAssertEqual(values["dptrain_epoch{\(labels)}"], 2)
        XCTAssertEqual(values["dptrain_step_phase_seconds_total{\(labels),phase=\"wait\"}"] ?? 0, 0.007, accuracy: 1e-12)
        XCTAssertEqual(values["dptrain_network_bytes_total{\(labels),direction=\"sent\"}"], 1800)
        XCTAssertEqual(values["dptrain_network_bytes_total{\(labels),direction=\"received\"}"], 1200)
        XCTAssertEqual(values["dptrain_members{\(labels),state=\"training\"}"], 1)
        XCTAssertEqual(values["dptrain_members_joined_total{\(labels)}"], 2)
        XCTAssertEqual(values["dptrain_members_lost_total{\(labels),reason=\"deadline\"}"], 1)
        XCTAssertEqual(values["dptrain_members_lost_total{\(labels),reason=\"left\"}"], 0)
        XCTAssertEqual(values["dptrain_dropped_messages_total{\(labels),reason=\"stale_gradient\"}"], 2)
    }

    /// A run holding out a validation set: each epoch sets the validation series and leaves the
    /// test's alone (the epoch's test figure is NaN then); the run's end sets the test's, once.
    func testValidationEachEpochAndTheTestAtTheEnd() {
        let series = Series(labels: Series.labels(runID: 0xab, role: "single-process", member: nil))
        let watcher = TrainingSeries(series)
        let labels = #"run_id="00000000000000ab",role="single-process""#
        var epoch = TrainingReport(epoch: 1, step: 10, trainLoss: 0.5, testAccuracy: .nan, samplesPerSecond: 1, elapsedSeconds: 1, workers: 1)
        epoch.validationAccuracy = 0.91
        epoch.validationLoss = 0.3
        watcher.epochFinished(epoch)
        var values = exposition(series.registry)
        XCTAssertEqual(values["dptrain_validation_accuracy_ratio{\(labels)}"], 0.91)
        XCTAssertEqual(values["dptrain_validation_loss{\(labels)}"], 0.3)
        XCTAssertEqual(values["dptrain_test_accuracy_ratio{\(labels)}"], 0, "no test figure yet")
        var end = epoch
        end.testAccuracy = 0.93
        end.testLoss = 0.25
        watcher.trainingFinished(end)
        values = exposition(series.registry)
        XCTAssertEqual(values["dptrain_test_accuracy_ratio{\(labels)}"], 0.93)
        XCTAssertEqual(values["dptrain_test_loss{\(labels)}"], 0.25)
        XCTAssertEqual(values["dptrain_run_finished{\(labels)}"], 1)
    }
}
