import Foundation
import XCTest

/// The report as Chromium lays it out in a 1,280-pixel window: the loss and accuracy charts two
/// to a row, the throughput charts across the page (they had kept 680 pixels in one column), and
/// the samples/s chart a smoothed line over its raw points, drawn faint.
extension ObservabilityProcessTests {
    func testTheReportsChartsUseThePagesWidthAndItsRateIsSmoothed() throws {
        try requireTool(["chromium", "--version"], "chromium")
        let metrics = "\(folder)/run.jsonl", report = "\(folder)/report.html"
        let train = try start("train", ["train", "--epochs", "1", "--metrics", metrics, "--log-every", "2"])
        wait(train)
        XCTAssertEqual(train.terminationStatus, 0, errors("train"))
        let made = try start("report", ["report", metrics, "-o", report])
        wait(made)
        XCTAssertEqual(made.terminationStatus, 0, errors("report"))

        // Each chart's box as laid out, written into the page by a script added to a copy of it.
        let page = try String(contentsOfFile: report, encoding: .utf8)
        let measure = "<script>document.body.setAttribute('data-boxes', [...document.querySelectorAll('svg.chart')].map(s => "
            + "{ const r = s.getBoundingClientRect(); return s.dataset.chart + ':' + Math.round(r.left) + ':' + Math.round(r.top) + ':' + Math.round(r.width) }).join(' '))</script>"
        let measured = "\(folder)/measured.html"
        try page.replacingOccurrences(of: "</body>", with: measure + "</body>").write(toFile: measured, atomically: true, encoding: .utf8)
        let dom = try runTool("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000", "--dump-dom", "file://\(measured)"])
        XCTAssertEqual(dom.status, 0, dom.errors)
        let attribute = try XCTUnwrap(dom.output.components(separatedBy: "data-boxes=\"").dropFirst().first?.prefix { $0 != "\"" }, dom.output)
        var boxes: [String: (left: Int, top: Int, width: Int)] = [:]
        for box in attribute.split(separator: " ") {
            let fields = box.split(separator: ":")
            boxes[String(fields[0])] = (Int(fields[1])!, Int(fields[2])!, Int(fields[3])!)
        }
        let loss = try XCTUnwrap(boxes["loss-step"]), accuracy = try XCTUnwrap(boxes["accuracy-step"])
        let rate = try XCTUnwrap(boxes["samples-per-second"])
        XCTAssertEqual(loss.top, accuracy.top, "loss and accuracy against step side by side: \(attribute)")
        XCTAssertGreaterThan(loss.width + accuracy.width, 1100, "\(attribute)")
        XCTAssertGreaterThan(rate.width, 1150, "the samples/s chart across the page: \(attribute)")

        // The raw rate, faint, and its moving average over the same points, which moves far less.
        let svg = try XCTUnwrap(svgElement(page, "samples-per-second"))
        func path(_ cls: String) throws -> (points: Int, ys: [Double]) {
            let element = try XCTUnwrap(svg.components(separatedBy: "<path class=\"\(cls)\"").dropFirst().first, svg)
            let points = Int(element.components(separatedBy: "data-points=\"")[1].prefix { $0.isNumber })!
            let d = element.components(separatedBy: " d=\"")[1].prefix { $0 != "\"" }
            let ys = d.split(whereSeparator: { $0 == "M" || $0 == "L" }).compactMap { Double($0.split(separator: " ").last ?? "") }
            return (points, ys)
        }
        let raw = try path("series faint"), trend = try path("series")
        XCTAssertEqual(raw.points, trend.points)
        XCTAssertGreaterThan(raw.points, 100)
        func travel(_ ys: [Double]) -> Double { zip(ys, ys.dropFirst()).reduce(0) { $0 + abs($1.1 - $1.0) } }
        XCTAssertLessThan(travel(trend.ys), travel(raw.ys) / 3, "the trend is smooth")
    }
}
