import Foundation
import XCTest

/// What a person watching a run sees, read back with the real tools: the metrics file,
/// TensorBoard's own loader, the report in headless Chromium.
final class ObservabilityProcessTests: ProcessTestCase {
    /// This source's folder's sibling Tests/tools, where the Python reader lives.
    static let tools = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools").path

    /// Runs a tool found on the PATH to its end.
    func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        try runToEnd("/usr/bin/env", [executable] + arguments)
    }

    func requireTool(_ check: [String], _ install: String) throws {
        guard let result = try? runTool(check[0], Array(check.dropFirst())), result.status == 0 else {
            throw XCTSkip("\(check.joined(separator: " ")) fails here: run deploy/install-test-deps.sh (it installs \(install))")
        }
    }

    /// A launch of two workers for one epoch that logs every 20 steps: the metrics file has its run
    /// line and a step line every 20 steps, TensorBoard's loader reads the same figures back at the
    /// same steps, and launch leaves its report.
    func testLaunchLogsStepsForTheMetricsTensorBoardAndTheReport() throws {
        try requireTool(["python3", "-c", "import tensorboard"], "the tensorboard Python package")
        let metricsPath = "\(folder)/run.jsonl", board = "\(folder)/board", report = "\(folder)/report.html"
        let launch = try start("launch", ["launch", "--workers", "2", "--epochs", "1", "--batch", "128", "--log-every", "20",
                                          "--metrics", metricsPath, "--tensorboard", board, "--report", report])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))

        let lines = try metrics(metricsPath)
        let run = try XCTUnwrap(lines.first)
        XCTAssertEqual(run["event"] as? String, "run")
        XCTAssertEqual((run["run_id"] as? String)?.count, 16)
        XCTAssertEqual(run["trainer"] as? String, "coordinator")
        XCTAssertEqual(run["resumed"] as? Bool, false)
        XCTAssertEqual(run["log_every"] as? Int, 20)
        XCTAssertEqual((run["config"] as? [String: Any])?["batchSize"] as? Int, 128)
        XCTAssertNotNil(run["version"] as? String)
        XCTAssertNotNil(run["start_time"] as? String)
        XCTAssertTrue(lines.allSatisfy { $0["time"] is Double }, "every line has its time")

        // 60,000 samples at a global batch of 128: 469 steps, a step line at 20, 40, ... 460.
        let steps = lines.filter { $0["event"] as? String == "step" }
        XCTAssertEqual(steps.compactMap { $0["step"] as? Int }, Array(stride(from: 20, through: 460, by: 20)))
        for field in ["loss", "learning_rate", "samples_per_second", "gradient_norm", "wait_ms", "broadcast_ms", "reduce_ms", "update_ms"] {
            XCTAssertTrue(steps.allSatisfy { ($0[field] as? Double).map { $0.isFinite && $0 >= 0 } ?? false }, "\(field) in every step line")
        }
        let epoch = try XCTUnwrap(lines.first { $0["event"] as? String == "epoch" })
        XCTAssertNotNil(epoch["test_loss"] as? Double)
        // The workers count their correct answers: a distributed run has a training accuracy too.
        XCTAssertGreaterThan(epoch["train_accuracy"] as? Double ?? 0, 0.8, "\(epoch)")
        XCTAssertLessThanOrEqual(epoch["train_accuracy"] as? Double ?? 2, 1)
        XCTAssertEqual((epoch["confusion"] as? [[Int]])?.joined().reduce(0, +), 10_000)

        // TensorBoard's own loader: the same tags, steps and values.
        let read = try runTool("python3", [Self.tools + "/read_tensorboard.py", board])
        XCTAssertEqual(read.status, 0, read.errors)
        let scalars = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(read.output.utf8)) as? [String: [[Double]]])
        for tag in ["train/loss", "train/learning_rate", "train/samples_per_second", "train/gradient_norm",
                    "step_time_ms/broadcast", "step_time_ms/wait", "step_time_ms/reduce", "step_time_ms/update"] {
            XCTAssertEqual(scalars[tag]?.map { Int($0[0]) }, steps.compactMap { $0["step"] as? Int }, tag)
        }
        for (point, line) in zip(scalars["train/loss"] ?? [], steps) {
            XCTAssertEqual(point[1], line["loss"] as! Double, accuracy: 1e-4 * (line["loss"] as! Double))
        }
        XCTAssertEqual(scalars["epoch/test_accuracy"]?.first?[0], 469)
        XCTAssertEqual(scalars["epoch/test_accuracy"]?.first?[1] ?? 0, epoch["test_accuracy"] as! Double, accuracy: 1e-6)
        // The worker count at every logged step, and where training started.
        XCTAssertEqual(scalars["workers"]?.map { Int($0[0]) }, [0] + steps.compactMap { $0["step"] as? Int })
        XCTAssertEqual(Set(scalars["workers"]?.map { $0[1] } ?? []), [2])

        let page = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(page.contains("data-chart=\"loss-step\""), "launch --report wrote the page")
        XCTAssertTrue(errors("launch").contains("wrote the report to \(report)"), errors("launch"))
    }

    /// Two runs in one report: every chart is an SVG with data, both runs' curves are on the
    /// loss and accuracy charts, and Chromium renders the page, fetching nothing, with no
    /// console error, to a PNG of the window's size.
    func testReportOverlaysTwoRunsAndRendersInChromium() throws {
        try requireTool(["chromium", "--version"], "chromium")
        let single = "\(folder)/single.jsonl", distributed = "\(folder)/distributed.jsonl", report = "\(folder)/report.html"
        let train = try start("train", ["train", "--epochs", "1", "--metrics", single])
        let launch = try start("launch", ["launch", "--workers", "2", "--epochs", "1", "--metrics", distributed])
        wait(train)
        wait(launch)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        let made = try start("report", ["report", single, distributed, "-o", report])
        wait(made)
        XCTAssertEqual(made.terminationStatus, 0, errors("report"))

        let page = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertFalse(page.contains("<script"), "no script")
        XCTAssertFalse(page.contains(" src=") || page.contains(" href="), "nothing loaded from elsewhere")
        for chart in ["loss-step", "accuracy-step", "loss-time", "accuracy-time", "samples-per-second", "workers", "step-time"] {
            let svg = try XCTUnwrap(svgElement(page, chart), "a \(chart) chart")
            let counts = dataPointCounts(svg)
            XCTAssertFalse(counts.isEmpty, "\(chart) has drawn series")
            XCTAssertTrue(counts.allSatisfy { $0 > 0 }, "\(chart): \(counts)")
        }
        for chart in ["loss-step", "loss-time", "accuracy-step", "samples-per-second"] {
            let svg = try XCTUnwrap(svgElement(page, chart))
            XCTAssertTrue(svg.contains("data-series=\"single.jsonl") && svg.contains("data-series=\"distributed.jsonl"),
                          "\(chart) overlays both runs")
        }
        XCTAssertTrue(page.contains("class=\"confusion\""))

        let png = "\(folder)/report.png"
        let rendered = try runTool("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                "--enable-logging=stderr", "--v=0", "--window-size=1280,2000",
                                                "--screenshot=\(png)", "file://\(report)"])
        XCTAssertEqual(rendered.status, 0, rendered.errors)
        let console = rendered.errors.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        XCTAssertEqual(console, [], "console messages while rendering")
        let image = try XCTUnwrap(FileManager.default.contents(atPath: png), rendered.errors)
        XCTAssertEqual(Array(image.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        func bigEndian(_ offset: Int) -> Int { image[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) } }
        XCTAssertEqual(bigEndian(16), 1280)
        XCTAssertEqual(bigEndian(20), 2000)
    }

    /// Three workers, one 10 ms slower each step on purpose: the metrics name it, with its host,
    /// as the straggler, give every worker's figures, and the report draws it in red. A global
    /// batch of 192 over 6 shards gives each worker two.
    func testStragglerIsNamed() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())", metricsPath = "\(folder)/straggler.jsonl"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "3", "--batch", "192", "--shards", "6",
                                                    "--epochs", "1", "--metrics", metricsPath])
        _ = try (1...2).map { try start("worker\($0)", ["worker", "--connect", endpoint]) }
        let slow = try start("slow", ["worker", "--connect", endpoint], environment: ["DPTRAIN_TEST_STEP_DELAY_MS": "10"])
        wait(coordinator)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))

        let lines = try metrics(metricsPath)
        let straggler = try XCTUnwrap(lines.first { $0["event"] as? String == "straggler" }, "a straggler event")
        let host = try XCTUnwrap(straggler["host"] as? String)
        XCTAssertTrue(host.contains("pid \(slow.processIdentifier) "), "the slow worker is named: \(straggler)")
        let figures = try XCTUnwrap(lines.first { $0["event"] as? String == "worker_figures" }?["workers"] as? [[String: Any]])
        XCTAssertEqual(figures.count, 3)
        XCTAssertEqual(figures.compactMap { $0["samples"] as? Int }.reduce(0, +), 60_000)
        XCTAssertNotNil(figures.first { $0["worker"] as? Int == straggler["slowest_worker"] as? Int }?["mean_compute_ms"] as? Double)

        let report = "\(folder)/report.html"
        wait(try start("report", ["report", metricsPath, "-o", report]))
        let page = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(page.contains("class=\"bar straggler\" data-series=\"worker \(straggler["slowest_worker"] as! Int)\""), "drawn in red")
    }

    /// Without --log-every, a run logs about 100 step lines whoever trains it: the coordinator
    /// counts an epoch's steps by the same rule as the single process (the global batch, not the
    /// batch times the workers).
    func testTheCoordinatorsDefaultLogIntervalIsTheSingleProcesss() throws {
        let trained = "\(folder)/train.jsonl", launched = "\(folder)/launch.jsonl"
        let train = try start("train", ["train", "--batch", "256", "--epochs", "1", "--metrics", trained])
        wait(train)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        let launch = try start("launch", ["launch", "--workers", "2", "--batch", "256", "--epochs", "1", "--metrics", launched])
        wait(launch)
        XCTAssertEqual(launch.terminationStatus, 0, errors("launch"))
        // 60,000 samples in 2 shards of chunks of 128: 235 steps, a line every 2.
        XCTAssertEqual(try metrics(trained).first?["log_every"] as? Int, 2)
        XCTAssertEqual(try metrics(launched).first?["log_every"] as? Int, 2)
        XCTAssertEqual(try metrics(launched).filter { $0["event"] as? String == "step" }.count, 117)
    }

    func testReportOfAFileThatIsNotMetricsIsOneLine() throws {
        let path = "\(folder)/notes.txt"
        try "just some notes\n".write(toFile: path, atomically: true, encoding: .utf8)
        let made = try start("report", ["report", path, "-o", "\(folder)/r.html"])
        wait(made)
        XCTAssertNotEqual(made.terminationStatus, 0)
        XCTAssertEqual(errors("report").split(separator: "\n").count, 1, errors("report"))
        XCTAssertTrue(errors("report").contains("notes.txt:1: not a metrics line"), errors("report"))
    }

    func testBadOutputPathsAreOneLineBeforeTraining() throws {
        let file = "\(folder)/file"
        FileManager.default.createFile(atPath: file, contents: nil)
        for (arguments, expected) in [
            (["train", "--tensorboard", file], "--tensorboard \(file): that is a file, not a folder"),
            (["train", "--log-every", "0"], "--log-every must be at least 1 (got 0)"),
            (["launch", "--workers", "1", "--report", "/nonexistent/r.html"],
             "--report /nonexistent/r.html: the folder /nonexistent does not exist; create it or choose another path"),
        ] {
            let result = try runToEnd(ProcessTests.executable, arguments)
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.errors.hasPrefix("Error: \(expected)"), result.errors)
        }
    }

    /// The first <svg> element whose data-chart is `kind`.
    func svgElement(_ page: String, _ kind: String) -> String? {
        guard let start = page.range(of: "<svg class=\"chart\" data-chart=\"\(kind)\"") else { return nil }
        guard let end = page.range(of: "</svg>", range: start.upperBound..<page.endIndex) else { return nil }
        return String(page[start.lowerBound..<end.upperBound])
    }

    /// The data-points of every series drawn in an SVG chart.
    func dataPointCounts(_ svg: String) -> [Int] {
        svg.components(separatedBy: "data-points=\"").dropFirst().compactMap { Int($0.prefix { $0.isNumber }) }
    }
}
