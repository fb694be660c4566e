import ArgumentParser
import Foundation

/// `dptrain speedrun --target A`: trains to test accuracy A as soon as dptrain knows how on the
/// cores this process may use, running its best recipe as a `train` command it prints (so a user
/// can copy it), once a seed, and says how long the training took: the `target_reached`
/// events' training seconds (evaluation excluded, as the epoch lines count it).
struct SpeedrunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "speedrun",
        abstract: "Train to a test accuracy as soon as dptrain knows how, printing the train command it runs.",
        discussion: """
            Each seed runs `dptrain train` with the recipe for the target, --threads set to the cores this process may \
            use and --target-accuracy to the target, which ends the run at the first epoch that reaches it. \
            benchmarks/speedrun.sh runs PyTorch's best recipe beside it.
            """)

    @Option(parsing: .unconditional, help: ArgumentHelp("The test accuracy to reach, as a fraction, such as 0.98.", valueName: "fraction"))
    var target: Double

    @Option(parsing: .unconditional, help: ArgumentHelp("Runs, each with its own seed; several give the median and the spread (default 1).", valueName: "n"))
    var seeds = 1

    @Option(name: .customLong("first-seed"), parsing: .unconditional, help: ArgumentHelp("The first run's seed; the others follow it (default 1).", valueName: "seed"))
    var firstSeed: UInt64 = 1

    @Option(help: ArgumentHelp("Write each run's JSON lines here, with the target_reached event (FILE.seedN.jsonl with several seeds).", valueName: "file"))
    var metrics: String?

    func validate() throws {
        guard target > 0 && target <= 1 else { throw ValidationError("--target \(target) must be a test accuracy in (0, 1], such as 0.98") }
        guard SpeedrunRecipe.forTarget(target) != nil else {
            let highest = SpeedrunRecipe.all.map(\.reach).max() ?? 0
            throw ValidationError("--target \(target): dptrain has no recipe known to reach it; the highest it has is \(highest)")
        }
        guard seeds >= 1 else { throw ValidationError("--seeds \(seeds) must be at least 1") }
    }

    /// What one seed's run reached, from its metrics.
    struct Outcome {
        var reached: Bool
        var seconds: Double
        var samples: Int
        var epoch: Int
    }

    func run() throws {
        let recipe = SpeedrunRecipe.forTarget(target)!
        let cores = AllowedCores.count.cores
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let scratch = metrics == nil ? FileManager.default.temporaryDirectory.appendingPathComponent("dptrain-speedrun-\(getpid())").path : nil
        if let scratch { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) }
        defer { if let scratch { try? FileManager.default.removeItem(atPath: scratch) } }
        var outcomes: [Outcome] = []
        for seed in firstSeed..<(firstSeed + UInt64(seeds)) {
            let file = scratch.map { "\($0)/seed\(seed).jsonl" } ?? Self.metricsPath(metrics!, seed: seed, of: seeds)
            let arguments = ["train", "--threads", String(cores)] + recipe.flags
                + ["--target-accuracy", String(target), "--seed", String(seed), "--metrics", file]
            print("speedrun: dptrain " + arguments.filter { scratch == nil || !($0 == "--metrics" || $0 == file) }.joined(separator: " "))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw SpeedrunFailure(description: "the speedrun's run of seed \(seed) failed (exit status \(process.terminationStatus)); its lines above say why")
            }
            outcomes.append(try Self.outcome(metrics: file))
        }
        let reached = outcomes.filter(\.reached)
        let line = Self.summary(target: target, outcomes: outcomes, cores: cores)
        print(line)
        if reached.count < outcomes.count { throw ExitCode(ExitStatus.failure) }
    }

    static func metricsPath(_ path: String, seed: UInt64, of seeds: Int) -> String {
        guard seeds > 1 else { return path }
        let stem = (path as NSString).deletingPathExtension, suffix = (path as NSString).pathExtension
        return "\(stem).seed\(seed)" + (suffix.isEmpty ? ".jsonl" : ".\(suffix)")
    }

    /// The run's target_reached event, or its last epoch's figures when it never came.
    static func outcome(metrics path: String) throws -> Outcome {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        func number(_ line: [String: Any], _ key: String) -> Double { (line[key] as? NSNumber)?.doubleValue ?? .nan }
        if let event = lines.first(where: { $0["event"] as? String == "target_reached" }) {
            return Outcome(reached: true, seconds: number(event, "seconds"), samples: Int(number(event, "samples")), epoch: Int(number(event, "epoch")))
        }
        let epochs = lines.filter { $0["event"] as? String == "epoch" }
        return Outcome(reached: false, seconds: .nan, samples: 0, epoch: epochs.count)
    }

    /// "speedrun: 0.98 test accuracy reached by 3 of 3 seeds on 2 cores: median 2.95s of training (2.90 to 3.10), epoch 2, 120,000 samples".
    static func summary(target: Double, outcomes: [Outcome], cores: Int) -> String {
        let reached = outcomes.filter(\.reached)
        var line = "speedrun: \(target) test accuracy reached by \(reached.count) of \(outcomes.count) seed\(outcomes.count == 1 ? "" : "s") on \(cores) core\(cores == 1 ? "" : "s")"
        guard !reached.isEmpty else { return line }
        let seconds = reached.map(\.seconds).sorted()
        let median = seconds.count % 2 == 1 ? seconds[seconds.count / 2] : (seconds[seconds.count / 2 - 1] + seconds[seconds.count / 2]) / 2
        let samples = reached.map(\.samples).sorted()[reached.count / 2]
        line += String(format: ": median %.2fs of training", median)
        if seconds.count > 1 { line += String(format: " (%.2f to %.2f)", seconds.first!, seconds.last!) }
        line += ", \(ProgressDisplay.grouped(Double(samples))) samples (\(String(format: "%.2f", Double(samples) / 60_000)) epochs of MNIST)"
        return line
    }
}

struct SpeedrunFailure: Error, CustomStringConvertible {
    let description: String
}
