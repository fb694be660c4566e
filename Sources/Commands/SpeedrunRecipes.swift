/// dptrain's fastest known recipes to a test accuracy on MNIST, from the fastest (lowest
/// target) up; `dptrain speedrun` runs the first whose reach covers the target. The figures
/// behind each are in docs/performance.md ("Time to accuracy"), with the commands that measure them.
struct SpeedrunRecipe: Equatable {
    /// The highest test accuracy this recipe reaches for every seed tried.
    let reach: Double
    /// The `train` flags, less --threads, --seed and --target-accuracy, which the speedrun adds.
    let flags: [String]

    static let all: [SpeedrunRecipe] = [
        SpeedrunRecipe(reach: 0.980, flags: ["--hidden", "384", "--batch", "128", "--epochs", "2", "--optimizer", "adam", "--lr", "0.005",
                                             "--schedule", "one-cycle", "--label-smoothing", "0.1"]),
        SpeedrunRecipe(reach: 0.985, flags: ["--hidden", "800", "--batch", "128", "--epochs", "6", "--optimizer", "adam", "--lr", "0.003",
                                             "--schedule", "one-cycle", "--label-smoothing", "0.1"]),
        SpeedrunRecipe(reach: 0.990, flags: ["--hidden", "800", "--batch", "128", "--epochs", "15", "--optimizer", "adam", "--lr", "0.002",
                                             "--schedule", "one-cycle", "--label-smoothing", "0.1", "--augment", "affine"]),
    ]

    /// The recipe for `target`, nil when none is known to reach it.
    static func forTarget(_ target: Double) -> SpeedrunRecipe? { all.first { target <= $0.reach + 1e-9 } }
}
