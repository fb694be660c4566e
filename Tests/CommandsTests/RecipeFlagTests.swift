import ArgumentParser
import XCTest
@testable import Commands

/// The time-to-accuracy flags as a user types them: the run they make, and one sentence when wrong.
final class RecipeFlagTests: XCTestCase {
    func testRecipeFlagsMakeTheRunTheyDescribe() throws {
        let command = try DptrainCommand.parseAsRoot(["train", "--batch", "512", "--lr", "0.1", "--lr-scaling", "linear", "--warmup", "2epochs",
                                                      "--schedule", "one-cycle", "--clip-norm", "1", "--label-smoothing", "0.1",
                                                      "--augment", "elastic", "--target-accuracy", "0.98", "--patience", "3"]) as! TrainCommand
        let config = command.training.config(inputSize: 784, classCount: 10)
        XCTAssertEqual(config.optimizer.learningRate, 0.4, accuracy: 1e-6, "0.1 x 512/128")
        XCTAssertEqual(config.optimizer.schedule, .oneCycle)
        XCTAssertEqual(config.warmup, .epochs(2))
        XCTAssertEqual(config.clipNorm, 1)
        XCTAssertEqual(config.model.labelSmoothing, 0.1)
        XCTAssertEqual(config.augment, .elastic)
        XCTAssertEqual(config.stopping, .init(targetAccuracy: 0.98, patience: 3))
        XCTAssertEqual(config.problems, [])
    }

    /// The configuration line a run prints shows its recipe, so a log says how it was trained.
    func testTheConfigurationLineShowsTheRecipe() throws {
        let command = try DptrainCommand.parseAsRoot(["train", "--epochs", "1", "--warmup", "100", "--label-smoothing", "0.1", "--clip-norm", "2",
                                                      "--augment", "affine", "--target-accuracy", "0.98", "--patience", "2"]) as! TrainCommand
        XCTAssertEqual(RunLines.configuration(command.training.config(inputSize: 784, classCount: 10)),
                       "784-128-10 relu, cross-entropy, biases, momentum lr 0.1 cosine, batch 128 in 2 shards, 1 epoch, seed 1, warmup 100, "
                       + "label smoothing 0.1, gradient clipped at norm 2.0, affine augmentation, stop at accuracy 0.98, "
                       + "stop after 2 epochs without a better accuracy")
    }

    func testWrongRecipeFlagsAreOneSentence() {
        XCTAssertEqual(message(["train", "--warmup", "soon"]), "--warmup 'soon' must be a number of steps (500) or of epochs (1epoch, 0.5epochs)")
        XCTAssertEqual(message(["train", "--target-accuracy", "98"]), "--target-accuracy must be a fraction in (0, 1], such as 0.98 (got 98.0)")
        XCTAssertEqual(message(["train", "--patience", "0"]), "--patience must be at least 1 epoch (got 0)")
        XCTAssertEqual(message(["train", "--clip-norm", "0"]), "--clip-norm must be a positive number (got 0.0)")
        XCTAssertEqual(message(["train", "--label-smoothing", "1"]), "--label-smoothing must be in [0, 1) (got 1.0)")
        XCTAssertEqual(message(["train", "--label-smoothing", "0.1", "--loss", "mse"]), "--label-smoothing needs --loss cross-entropy")
        XCTAssertEqual(message(["train", "--dropout", "0.2", "--activation", "tanh"]), "--dropout needs --activation relu")
        XCTAssertEqual(message(["train", "--dropout", "1"]), "--dropout must be in [0, 1) (got 1.0)")
        XCTAssertEqual(message(["speedrun", "--target", "0.999"]),
                       "--target 0.999: dptrain has no recipe known to reach it; the highest it has is 0.99")
        XCTAssertEqual(message(["speedrun", "--target", "98"]), "--target 98.0 must be a test accuracy in (0, 1], such as 0.98")
    }

    /// speedrun runs the recipe for the target, and sums the seeds up with the median and the spread.
    func testSpeedrunPicksTheRecipeAndSumsUpTheSeeds() {
        XCTAssertEqual(SpeedrunRecipe.forTarget(0.97), SpeedrunRecipe.all[0])
        XCTAssertEqual(SpeedrunRecipe.forTarget(0.98), SpeedrunRecipe.all[0])
        XCTAssertEqual(SpeedrunRecipe.forTarget(0.985)?.reach, 0.985)
        XCTAssertNil(SpeedrunRecipe.forTarget(0.995))
        let outcomes = [SpeedrunCommand.Outcome(reached: true, seconds: 3.5, samples: 120_000, epoch: 2),
                        SpeedrunCommand.Outcome(reached: true, seconds: 3.0, samples: 120_000, epoch: 2),
                        SpeedrunCommand.Outcome(reached: true, seconds: 4.25, samples: 180_000, epoch: 3)]
        XCTAssertEqual(SpeedrunCommand.summary(target: 0.98, outcomes: outcomes, cores: 2),
                       "speedrun: 0.98 test accuracy reached by 3 of 3 seeds on 2 cores: median 3.50s of training (3.00 to 4.25), 120,000 samples (2.00 epochs of MNIST)")
        XCTAssertEqual(SpeedrunCommand.metricsPath("runs/m.jsonl", seed: 2, of: 3), "runs/m.seed2.jsonl")
        XCTAssertEqual(SpeedrunCommand.metricsPath("runs/m.jsonl", seed: 1, of: 1), "runs/m.jsonl")
    }
}
