import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// A real Prometheus (Debian's) scrapes a real run's --prometheus endpoint every second on
/// loopback, and its HTTP API is asked what it stored.
final class PrometheusProcessTests: ProcessTestCase {
    /// Prometheus started by the test, stopped at its end whatever happens.
    private var prometheus: Process?

    override func tearDown() {
        if let prometheus, prometheus.isRunning {
            prometheus.terminate()
            prometheus.waitUntilExit()
        }
        super.tearDown()
    }

    /// Two workers, one killed mid-run. Prometheus' samples counter at the end is the metrics
    /// file's total, its members gauge went from 2 to 1 with the loss counted by reason, and
    /// promtool finds nothing wrong in the exposition.
    func testPrometheusScrapesARunThroughAWorkerLost() throws {
        for tool in ["prometheus", "promtool"] where !FileManager.default.isExecutableFile(atPath: "/usr/bin/\(tool)") {
            throw XCTSkip("/usr/bin/\(tool) is missing: run deploy/install-test-deps.sh (it installs Debian's prometheus)")
        }
        let metricsPort = try freePort(), workerPort = try freePort(), webPort = try freePort(), endpoint = "tcp://127.0.0.1:\(try freePort())"
        try startPrometheus(scraping: ["127.0.0.1:\(metricsPort)", "127.0.0.1:\(workerPort)"], listening: "127.0.0.1:\(webPort)")

        let metricsFile = "\(folder)/run.jsonl"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "2", "--epochs", "3", "--batch", "32",
                                                    "--step-deadline", "2", "--metrics", metricsFile, "--checkpoint", "\(folder)/checkpoints",
                                                    "--prometheus", "127.0.0.1:\(metricsPort)"])
        _ = try start("worker1", ["worker", "--connect", endpoint, "--prometheus", "127.0.0.1:\(workerPort)"])
        let doomed = try start("worker2", ["worker", "--connect", endpoint])

        // Mid-run, with both workers training and Prometheus' scrapes of it stored: read the exposition, kill a worker.
        let exposition = try waitForExposition(port: metricsPort) { text in
            Self.value(of: "dptrain_steps_total", in: text).map { $0 >= 300 } ?? false
        }
        XCTAssertTrue(exposition.contains("dptrain_members{run_id=\""), exposition)
        XCTAssertEqual(try waitForQuery(webPort, #"dptrain_members{state="training"}"#) { $0 == 2 }, 2)
        kill(doomed.processIdentifier, SIGKILL)
        wait(coordinator, seconds: 180)
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertTrue(errors("coordinator").contains("prometheus: serving http://127.0.0.1:\(metricsPort)/metrics"), errors("coordinator"))

        let done = try XCTUnwrap(try metrics(metricsFile).last { $0["event"] as? String == "done" })
        let total = try XCTUnwrap(done["samples"] as? Int)
        XCTAssertEqual(total, 3 * 60_000)
        XCTAssertEqual(try query(webPort, #"max_over_time(dptrain_samples_total{role="coordinator"}[10m])"#), Double(total))
        XCTAssertEqual(try query(webPort, #"max_over_time(dptrain_members{state="training"}[10m])"#), 2)
        XCTAssertEqual(try query(webPort, #"min_over_time(dptrain_members{state="training"}[10m])"#), 1, "the killed worker shows")
        let lost = try query(webPort, #"sum(max_over_time(dptrain_members_lost_total{reason!="left"}[10m]))"#)
        XCTAssertEqual(lost, 1)
        XCTAssertEqual(try query(webPort, #"max_over_time(dptrain_run_finished[10m])"#), 1, "the final scrape came after the end")

        // Every query of the Grafana dashboard finds its series, as of a second before the run's end.
        let runID = try XCTUnwrap(try metrics(metricsFile).first?["run_id"] as? String)
        let end = try XCTUnwrap(done["time"] as? Double)
        for expression in try Self.dashboardExpressions() {
            let promQL = expression.replacingOccurrences(of: "$run_id", with: runID).replacingOccurrences(of: "$__rate_interval", with: "1m")
            XCTAssertGreaterThan(try results(webPort, promQL, at: end - 1), 0, "the dashboard's \(expression) finds nothing")
        }

        // promtool lints the exposition as it was served.
        let exposed = "\(folder)/exposition.txt"
        try exposition.write(toFile: exposed, atomically: true, encoding: .utf8)
        let lint = try runToEnd("/bin/sh", ["-c", "/usr/bin/promtool check metrics < \(exposed)"])
        XCTAssertEqual(lint.status, 0, lint.output + lint.errors)
        XCTAssertEqual(lint.output + lint.errors, "", "promtool has no complaint")
    }

    /// An address outside HOST:PORT is one line before anything starts; a second endpoint on a taken port says so.
    func testBadAddressesAreOneLine() throws {
        let bad = try runToEnd(ProcessTests.executable, ["coordinator", "--bind", "tcp://127.0.0.1:1", "--workers", "1", "--prometheus", "example.com:9400"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.errors.hasPrefix("Error: --prometheus example.com:9400: the host must be an IP address"), bad.errors)
    }

    // MARK: - Prometheus and its API

    private func startPrometheus(scraping targets: [String], listening: String) throws {
        let config = "\(folder)/prometheus.yml"
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: dptrain
                static_configs:
                  - targets: [\(targets.map { "'\($0)'" }.joined(separator: ", "))]
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = ["--config.file=\(config)", "--storage.tsdb.path=\(folder)/tsdb", "--web.listen-address=\(listening)",
                             "--log.level=warn"]
        FileManager.default.createFile(atPath: "\(folder)/prometheus.log", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: "\(folder)/prometheus.log")
        process.standardError = process.standardOutput
        try process.run()
        prometheus = process
    }

    /// GET a URL on loopback; nil when nothing answers.
    private func get(_ url: String) -> (status: Int, body: String)? {
        let done = DispatchSemaphore(value: 0)
        var result: (Int, String)?
        URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
            if let response = response as? HTTPURLResponse { result = (response.statusCode, String(decoding: data ?? Data(), as: UTF8.self)) }
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 10)
        return result
    }

    private func waitForExposition(port: Int, until ready: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            if let (status, body) = get("http://127.0.0.1:\(port)/metrics"), status == 200, ready(body) { return body }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw XCTSkip("the run's endpoint never showed 300 steps: \(errors("coordinator"))")
    }

    /// An instant query's results, now or at a Unix time.
    private func instant(_ port: Int, _ promQL: String, at time: Double? = nil) throws -> [[String: Any]] {
        var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/query")!
        components.queryItems = [URLQueryItem(name: "query", value: promQL)] + (time.map { [URLQueryItem(name: "time", value: String($0))] } ?? [])
        let answer = try XCTUnwrap(get(components.url!.absoluteString), "Prometheus does not answer")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any], answer.body)
        XCTAssertEqual(json["status"] as? String, "success", "\(promQL): \(answer.body)")
        return (json["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
    }

    private func results(_ port: Int, _ promQL: String, at time: Double) throws -> Int { try instant(port, promQL, at: time).count }

    /// The value of an instant query's single result; nil when it has none.
    private func query(_ port: Int, _ promQL: String) throws -> Double? {
        let results = try instant(port, promQL)
        guard results.count == 1, let value = results[0]["value"] as? [Any], let text = value.last as? String else { return nil }
        return Double(text)
    }

    private func waitForQuery(_ port: Int, _ promQL: String, until ready: (Double) -> Bool) throws -> Double? {
        let deadline = Date().addingTimeInterval(30)
        var last: Double?
        while Date() < deadline {
            last = try? query(port, promQL)
            if let last, ready(last) { return last }
            Thread.sleep(forTimeInterval: 0.25)
        }
        return last
    }

    /// Every query of deploy/grafana-dashboard.json.
    static func dashboardExpressions() throws -> [String] {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let data = try Data(contentsOf: repository.appendingPathComponent("deploy/grafana-dashboard.json"))
        let dashboard = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try XCTUnwrap(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        XCTAssertGreaterThan(expressions.count, 10)
        return expressions
    }

    /// The value of an unlabelled-by-us series' first sample line in an exposition.
    static func value(of name: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(name + "{") }.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }
}
