import Foundation
import XCTest

/// The recipe flags of a time-to-accuracy run, as a user meets them: they keep the guarantee
/// (the same model file from `train` and from `launch` with any number of workers), and a run
/// with a target ends at the epoch that reaches it, every process exiting.
final class RecipeProcessTests: ProcessTestCase {
    func testTheRecipeFlagsGiveTheSameModelFromTrainAndLaunch() throws {
        let flags = ["--epochs", "1", "--batch", "256", "--shards", "4", "--seed", "5", "--optimizer", "adam",
                     "--schedule", "one-cycle", "--warmup", "0.2epochs", "--lr-scaling", "sqrt",
                     "--clip-norm", "0.5", "--label-smoothing", "0.1", "--augment", "shift", "--dropout", "0.2"]
        let train = try start("train", ["train"] + flags + ["--save", "\(folder)/train.safetensors"])
        let plain = try start("plain", ["train", "--epochs", "1", "--batch", "256", "--shards", "4", "--seed", "5", "--optimizer", "adam",
                                        "--save", "\(folder)/plain.safetensors"])
        wait(train)
        wait(plain)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/train.safetensors"))
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/plain.safetensors")), expected, "the recipe flags changed nothing")
        XCTAssertGreaterThan(try XCTUnwrap(accuracy(output("train")), output("train")), 0.9)
        // Every answer recomputed by the coordinator: its draws must be the workers' too.
        let launch = try start("launch", ["launch", "--workers", "3", "--threads", "2", "--verify", "1"] + flags
                               + ["--save", "\(folder)/launch.safetensors", "--metrics", "\(folder)/launch.jsonl"])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        XCTAssertEqual(try metrics("\(folder)/launch.jsonl").filter { $0["event"] as? String == "verification_failed" }.count, 0,
                       "an honest worker's augmented answer was taken for a lie")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/launch.safetensors")), expected,
                       "launch --workers 3 --threads 2 trained another model than train")
    }

    /// Reached after the first of five epochs (784-128-10 scores about 0.95 after one): train and
    /// launch stop there, say so, write the event with the training time and samples, and every
    /// worker exits.
    func testATargetAccuracyEndsTrainAndLaunchAtTheEpochThatReachesIt() throws {
        let flags = ["--epochs", "5", "--target-accuracy", "0.9", "--seed", "2"]
        let train = try start("train", ["train"] + flags + ["--metrics", "\(folder)/train.jsonl"])
        wait(train)
        let launch = try start("launch", ["launch", "--workers", "2"] + flags + ["--metrics", "\(folder)/launch.jsonl"])
        wait(launch)
        for name in ["train", "launch"] {
            let process = name == "train" ? train : launch
            XCTAssertEqual(process.terminationStatus, 0, errors(name))
            let lines = try metrics("\(folder)/\(name).jsonl")
            XCTAssertEqual(lines.filter { $0["event"] as? String == "epoch" }.count, 1, "\(name) trained past its target")
            let reached = try XCTUnwrap(lines.first { $0["event"] as? String == "target_reached" }, "\(name): no target_reached line")
            XCTAssertEqual(reached["epoch"] as? Int, 1)
            XCTAssertEqual(reached["samples"] as? Int, 60_000)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(reached["accuracy"] as? Double), 0.9)
            XCTAssertGreaterThan(try XCTUnwrap(reached["seconds"] as? Double), 0)
            XCTAssertTrue((output(name) + errors(name)).contains("target reached: accuracy 0.9"), output(name) + errors(name))
        }
        XCTAssertEqual(errors("launch").components(separatedBy: "training is done").count - 1, 2, "both workers were told: \(errors("launch"))")
    }
}
