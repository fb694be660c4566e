import Foundation
import Prometheus
import Training

/// A training run's series, kept by watching it as the metrics file does: the coordinator's and
/// the single process's. Every call comes from the training loop's thread and only stores
/// numbers into the series' atomics.
public final class TrainingSeries: TrainingObserver {
    let samples: Counter, steps: Counter
    let epoch: Gauge, trainLoss: Gauge, samplesPerSecond: Gauge, learningRate: Gauge
    let testAccuracy: Gauge, testLoss: Gauge, trainAccuracy: Gauge
    let validationAccuracy: Gauge, validationLoss: Gauge
    let phaseSeconds: [(phase: String, counter: Counter, nanoseconds: KeyPath<StepTimings, UInt64>)]
    let bytes: (sent: Counter, received: Counter)
    let members: (training: Gauge, joining: Gauge)
    let joined: Counter
    let lost: CounterByKind, dropped: CounterByKind
    let checkpoints: Counter, lastCheckpoint: Gauge
    let finished: Gauge
    /// The epoch's step timings as last seen: the trainer's start again at each epoch.
    private var previousTimings = StepTimings()
    private var previousEpoch = 0

    public init(_ series: Series) {
        samples = series.counter("dptrain_samples_total", "Training samples trained since this process began the run.")
        steps = series.counter("dptrain_steps_total", "Optimizer steps taken since this process began the run.")
        epoch = series.gauge("dptrain_epoch", "The epoch under way, from 1.")
        trainLoss = series.gauge("dptrain_train_loss", "Mean training loss of the last step's samples.")
        samplesPerSecond = series.gauge("dptrain_samples_per_second", "Training samples over training time since the run began (evaluation excluded).")
        learningRate = series.gauge("dptrain_learning_rate", "The learning rate of the last step.")
        testAccuracy = series.gauge("dptrain_test_accuracy_ratio", "Test-set accuracy, 0 to 1: after each epoch, or once at the run's end when it holds out a validation set.")
        testLoss = series.gauge("dptrain_test_loss", "Mean test-set loss, when the test set was last scored.")
        validationAccuracy = series.gauge("dptrain_validation_accuracy_ratio", "Validation-set accuracy after the last finished epoch, 0 to 1 (--validation).")
        validationLoss = series.gauge("dptrain_validation_loss", "Mean validation-set loss after the last finished epoch (--validation).")
        trainAccuracy = series.gauge("dptrain_train_accuracy_ratio", "Accuracy on the last finished epoch's training batches, 0 to 1.")
        phaseSeconds = [("broadcast", \.broadcastNanoseconds), ("wait", \.waitNanoseconds), ("reduce", \.reduceNanoseconds), ("update", \.updateNanoseconds)]
            .map { phase, path in
                (phase, series.counter("dptrain_step_phase_seconds_total", "Coordinator time in each phase of the steps: sending the weights, waiting for the answers, adding them, the optimizer's update.",
                                       [("phase", phase)]), path)
            }
        let bytesHelp = "Bytes the coordinator sent and received (shared-memory answers counted as received), headers included."
        bytes = (series.counter("dptrain_network_bytes_total", bytesHelp, [("direction", "sent")]),
                 series.counter("dptrain_network_bytes_total", bytesHelp, [("direction", "received")]))
        members = (series.gauge("dptrain_members", "Workers of the run, by state: training takes part in the steps, joining waits for its samples.", [("state", "training")]),
                   series.gauge("dptrain_members", "Workers of the run, by state: training takes part in the steps, joining waits for its samples.", [("state", "joining")]))
        joined = series.counter("dptrain_members_joined_total", "Workers that began taking part in the steps.")
        lost = CounterByKind(series, "dptrain_members_lost_total", "Workers that stopped taking part, by reason (left is a clean goodbye).",
                             label: "reason", known: ["left", "deadline", "silent", "connection_gone", "not_reading", "reported_failure"])
        dropped = CounterByKind(series, "dptrain_dropped_messages_total", "Messages the coordinator dropped unread or unused, by reason.",
                                label: "reason", known: ["malformed"])
        checkpoints = series.counter("dptrain_checkpoints_total", "Checkpoints written.")
        lastCheckpoint = series.gauge("dptrain_last_checkpoint_timestamp_seconds", "Unix time of the newest checkpoint written; time() minus it is its age.")
        finished = series.gauge("dptrain_run_finished", "1 once the run has trained its last step, else 0.")
    }

    public func stepFinished(_ progress: StepProgress) {
        samples.increment(by: Int64(progress.stepSamples))
        steps.increment()
        epoch.set(to: Double(progress.epoch))
        if progress.stepLoss.isFinite { trainLoss.set(to: progress.stepLoss) }
        if progress.samplesPerSecond.isFinite { samplesPerSecond.set(to: progress.samplesPerSecond) }
        learningRate.set(to: progress.learningRate)
        if let timings = progress.epochTimings {
            let base = progress.epoch == previousEpoch && timings.steps >= previousTimings.steps ? previousTimings : StepTimings()
            for phase in phaseSeconds {
                phase.counter.increment(by: Double(timings[keyPath: phase.nanoseconds] - base[keyPath: phase.nanoseconds]) / 1e9)
            }
            let received = timings.bytesReceived - base.bytesReceived
            bytes.received.increment(by: Int64(received))
            bytes.sent.increment(by: Int64(timings.bytes - base.bytes - received))
            previousTimings = timings
            members.training.set(to: Double(progress.workers))
        }
        previousEpoch = progress.epoch
    }

    public func epochFinished(_ report: TrainingReport) {
        recordScores(report)
        if let accuracy = report.trainAccuracy { trainAccuracy.set(to: accuracy) }
    }

    public func trainingFinished(_ report: TrainingReport) {
        // A run that holds out a validation set scores its test set here, once.
        recordScores(report)
        finished.set(to: 1)
    }

    /// The test and validation figures a report has: the test's is NaN in the epochs of a run
    /// that scores its test set only at the end, and is then left as it was.
    private func recordScores(_ report: TrainingReport) {
        if report.testAccuracy.isFinite { testAccuracy.set(to: report.testAccuracy) }
        if let loss = report.testLoss, loss.isFinite { testLoss.set(to: loss) }
        if let accuracy = report.validationAccuracy, accuracy.isFinite { validationAccuracy.set(to: accuracy) }
        if let loss = report.validationLoss, loss.isFinite { validationLoss.set(to: loss) }
    }

    public func event(_ name: String, _ fields: [(String, JSONValue)]) {
        switch name {
        case "worker_joined":
            joined.increment()
        case "training_started":
            // The members the run starts with join here, not one by one.
            if case .int(let workers)? = fields.first(where: { $0.0 == "workers" })?.1 { joined.increment(by: Int64(workers)) }
        case "worker_lost":
            if case .string(let reason)? = fields.first(where: { $0.0 == "reason" })?.1 { lost.increment(reason) }
        case "checkpoint":
            checkpoints.increment()
            lastCheckpoint.set(to: Date().timeIntervalSince1970)
        default:
            break
        }
    }

    public func membersChanged(training: Int, joining: Int) {
        members.training.set(to: Double(training))
        members.joining.set(to: Double(joining))
    }

    public func messageDropped(_ kind: String) { dropped.increment(kind) }
}
