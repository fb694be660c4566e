import Foundation
import MLP
import Plan
import Roles
import Training

/// The lines that open and close a run, alike for `train` and `coordinator`.
enum RunLines {
    /// "784-128-10 relu, cross-entropy, biases, momentum lr 0.1 cosine, batch 128 in 4 shards, 3 epochs, seed 1":
    /// the batch is the global one, whatever the number of workers.
    static func configuration(_ config: TrainingConfig) -> String {
        let optimizer = config.optimizer
        return "\(config.model.summary), \(optimizer.kind.rawValue) lr \(optimizer.learningRate) \(optimizer.schedule.rawValue), "
            + "batch \(config.batchSize) in \(counted(config.shardCount, "shard")), \(counted(config.epochs, "epoch")), seed \(config.seed)"
            + (config.computePrecision == .bf16 ? ", bf16 compute (\(OneDNN.version) on \(OneDNN.instructionSet))" : "")
            + recipe(config)
    }

    /// The time-to-accuracy settings the run has, each as its flag says it, so the line shows the recipe.
    static func recipe(_ config: TrainingConfig) -> String {
        var parts: [String] = []
        if let warmup = config.warmup { parts.append("warmup \(warmup.argument)") }
        if let smoothing = config.model.labelSmoothing { parts.append("label smoothing \(smoothing)") }
        if let clipNorm = config.clipNorm { parts.append("gradient clipped at norm \(clipNorm)") }
        if let dropout = config.model.dropout { parts.append("dropout \(dropout)") }
        if let augment = config.augment { parts.append("\(augment.rawValue) augmentation") }
        if let target = config.stopping?.targetAccuracy { parts.append("stop at accuracy \(target)") }
        if let patience = config.stopping?.patience { parts.append("stop after \(counted(patience, "epoch")) without a better accuracy") }
        return parts.map { ", " + $0 }.joined()
    }

    /// The run's last line, "done: test accuracy ACCURACY after N epochs (S steps) with W workers, RATE samples/s, SECONDSs"
    static func done(_ report: TrainingReport, workers: Int? = nil) -> String {
        let with = workers.map { " with \(counted($0, "worker"))" } ?? ""
        return String(format: "done: test accuracy %.4f after %@ (%@)%@, %@ samples/s, %.1fs",
                      report.testAccuracy, counted(report.epoch, "epoch"), counted(report.step, "step"), with,
                      ProgressDisplay.grouped(report.samplesPerSecond), report.elapsedSeconds)
    }
}
