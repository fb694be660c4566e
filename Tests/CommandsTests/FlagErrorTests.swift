import ArgumentParser
import XCTest
@testable import Commands

/// What a user reads when a flag is wrong: one sentence that names the flag and what it takes.
final class FlagErrorTests: XCTestCase {
    func testOutOfRangeValues() {
        XCTAssertEqual(message(["train", "--epochs", "0"]), "--epochs must be at least 1 (got 0)")
        XCTAssertEqual(message(["train", "--batch", "0"]), "--batch must be at least 1 (got 0)")
        XCTAssertEqual(message(["train", "--lr=-0.1"]), "--lr must be a positive number (got -0.1)")
        XCTAssertEqual(message(["train", "--momentum", "1.5"]), "--momentum must be in [0, 1) (got 1.5)")
        XCTAssertEqual(message(["train", "--hidden", "128,0"]),
                       "--hidden '128,0' must be comma-separated layer widths of at least 1, such as 128 or 512,256")
        XCTAssertEqual(message(["train", "--hidden", "wide"]),
                       "--hidden 'wide' must be comma-separated layer widths of at least 1, such as 128 or 512,256")
    }

    func testUnknownChoices() {
        XCTAssertEqual(message(["train", "--activation", "swish"]),
                       "The value 'swish' is invalid for '--activation <activation>'. Please provide one of 'relu', 'sigmoid' or 'tanh'.")
        XCTAssertEqual(message(["train", "--optimizer", "lbfgs"]),
                       "The value 'lbfgs' is invalid for '--optimizer <optimizer>'. Please provide one of 'sgd', 'momentum' or 'adam'.")
        XCTAssertEqual(message(["train", "--preset", "huge"]),
                       "The value 'huge' is invalid for '--preset <preset>'. Please provide one of 'seed'.")
        XCTAssertEqual(message(["train", "--epochs", "three"]),
                       "The value 'three' is invalid for '--epochs <epochs>'")
        XCTAssertTrue(message(["train", "--wings"])?.hasPrefix("Unknown option '--wings'") ?? false)
    }

    func testGoodFlagsMakeTheRunTheyDescribe() throws {
        let command = try DptrainCommand.parseAsRoot(["train", "--hidden", "512,256", "--activation", "tanh",
                                                      "--optimizer", "adam", "--epochs", "2", "--no-bias"]) as! TrainCommand
        let config = command.training.config(inputSize: 784, classCount: 10)
        XCTAssertEqual(config.model.layerSizes, [784, 512, 256, 10])
        XCTAssertEqual(config.model.hiddenActivation, .tanh)
        XCTAssertEqual(config.initialization, .xavier)
        XCTAssertEqual(config.optimizer.kind, .adam)
        XCTAssertEqual(config.optimizer.learningRate, 0.001)
        XCTAssertFalse(config.model.useBias)
        XCTAssertEqual(config.epochs, 2)

        let seed = try DptrainCommand.parseAsRoot(["train", "--preset", "seed", "--epochs", "5"]) as! TrainCommand
        let seedConfig = seed.training.config(inputSize: 784, classCount: 10)
        XCTAssertEqual(seedConfig.model.layerSizes, [784, 10, 10])
        XCTAssertEqual(seedConfig.model.loss, .mse)
        XCTAssertEqual(seedConfig.optimizer.kind, .sgd)
        XCTAssertEqual(seedConfig.initialization, .uniform)
        XCTAssertEqual(seedConfig.epochs, 5)
    }
}

