import Foundation
import Plan

/// The settings that make a run what it is, as run-file keys with the values the run used:
/// every training flag spelled out (defaults and a preset's choices included) and the data.
/// Written into the metrics file's run line and the model file, so that `dptrain config --from
/// MODEL` prints a run file that trains the same model again.
enum RunSettings {
    static func of(_ config: TrainingConfig, data: String?, splits: SplitOptions? = nil) -> [(String, String)] {
        var settings: [(String, String)] = [
            ("epochs", String(config.epochs)), ("batch", String(config.batchSize)), ("shards", String(config.shardCount)),
            ("hidden", config.model.layerSizes.dropFirst().dropLast().map(String.init).joined(separator: ",")),
            ("activation", config.model.hiddenActivation.rawValue), ("loss", config.model.loss.rawValue),
            ("optimizer", config.optimizer.kind.rawValue), ("lr", config.optimizer.learningRate.description),
            ("schedule", config.optimizer.schedule.rawValue), ("momentum", config.optimizer.momentum.description),
            ("weight-decay", config.optimizer.weightDecay.description), ("init", config.initialization.rawValue),
            ("no-bias", String(!config.model.useBias)), ("seed", String(config.seed)),
        ]
        // The recipe's flags, only where given: a run file without them is the run it always was.
        if let dropout = config.model.dropout { settings.append(("dropout", dropout.description)) }
        if let augment = config.augment { settings.append(("augment", augment.rawValue)) }
        if let clipNorm = config.clipNorm { settings.append(("clip-norm", clipNorm.description)) }
        if let smoothing = config.model.labelSmoothing { settings.append(("label-smoothing", smoothing.description)) }
        if let warmup = config.warmup { settings.append(("warmup", warmup.argument)) }
        if let target = config.stopping?.targetAccuracy { settings.append(("target-accuracy", target.description)) }
        if let patience = config.stopping?.patience { settings.append(("patience", String(patience))) }
        // How the data is normalised and split changes the weights as much as a training flag does.
        if let mode = splits?.normalize { settings.append(("normalize", mode.rawValue)) }
        if let fraction = splits?.testFraction { settings.append(("test-fraction", fraction.description)) }
        if let validation = splits?.validation { settings.append(("validation", validation)) }
        if let data { settings.append(("data", data)) }
        return settings
    }

    /// The settings as YAML, one `key: value` a line, quoted where YAML would read the value otherwise.
    static func yaml(_ settings: [(String, String)]) -> String {
        settings.map { key, value in
            let plain = !value.isEmpty && value.allSatisfy { $0.isLetter || $0.isNumber || "._/,-+".contains($0) }
                && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(value.lowercased()) || ["true", "false"].contains(value)
            return "\(key): " + (plain ? value : "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"")
        }.joined(separator: "\n") + "\n"
    }
}
