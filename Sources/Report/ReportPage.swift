import Foundation

/// `dptrain report`: one self-contained HTML page (inline CSS and SVG, no
/// script, nothing fetched) that shows one or several runs, their curves
/// overlaid for comparison.
public struct ReportPage {
    public let runs: [RunHistory]

    public init(runs: [RunHistory]) { self.runs = runs }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]

    func color(_ index: Int) -> String { Self.palette[index % Self.palette.count] }

    public func html() -> String {
        var body = "<h1>dptrain report</h1>\n<p class=\"files\">"
        body += runs.enumerated().map { "<span class=\"run\" style=\"color:\(color($0.offset))\">■ \(escapeHTML($0.element.name))</span>" }.joined(separator: " ")
        body += "</p>\n" + summaryTable()
        body += "<h2>Loss and accuracy</h2>\n<div class=\"grid\">" + lossAndAccuracy() + "</div>\n"
        body += "<h2>Throughput and workers</h2>\n" + throughput()
        body += "<h2>Where each step's time went</h2>\n" + stepTimes()
        body += "<h2>Workers' compute time</h2>\n" + workerCompute()
        body += "<h2>Configuration</h2>\n" + configuration()
        body += "<h2>Confusion matrix</h2>\n" + confusion()
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>dptrain report: \(escapeHTML(runs.map(\.name).joined(separator: ", ")))</title>
            <style>\(Self.style)</style></head>
            <body>
            \(body)
            </body></html>

            """
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1420px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px;align-items:start}
        svg.chart{display:block;width:100%;height:auto;box-sizing:border-box}h3{font-size:14px;margin:6px 0}.run{margin-right:14px;font-weight:600}
        table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
        th{background:#f4f4f4}td.key{text-align:left;color:#555}
        svg.chart{background:#fff;border:1px solid #e4e4e4;margin:4px 0}
        svg .title{font-size:13px;font-weight:600}svg .tick,svg .legend,svg .marker-label{font-size:10px}
        svg .axis{font-size:11px;fill:#444}svg .grid{stroke:#eee}svg .frame{fill:none;stroke:#999}
        svg path.series{fill:none;stroke-width:1.6}svg path.series.faint{stroke-width:1;opacity:.25}svg path.layer{stroke:none;opacity:.85}
        svg line.marker{stroke-width:1;stroke-dasharray:3 2}.empty{color:#888}
        table.confusion td{min-width:34px}.note{color:#666}
        """

    // MARK: Sections

    func summaryTable() -> String {
        var rows = "<table class=\"summary\"><tr><th>run</th><th>trainer</th><th>model</th><th>workers</th><th>steps</th><th>test accuracy</th><th>samples/s</th><th>seconds</th><th>resumed</th></tr>"
        for (index, run) in runs.enumerated() {
            let last = run.done ?? run.epochs.last ?? [:]
            rows += "<tr><td class=\"key\" style=\"color:\(color(index))\">\(escapeHTML(run.name))</td>"
            rows += "<td>\(escapeHTML(run.runs.first?["trainer"] as? String ?? "-"))</td><td>\(escapeHTML(run.runs.first?["model"] as? String ?? "-"))</td>"
            rows += "<td>\(number(last.number("workers"), "%.0f"))</td><td>\(number(last.number("step"), "%.0f"))</td>"
            rows += "<td>\(number(last.number("test_accuracy"), "%.4f"))</td><td>\(number(last.number("samples_per_second"), "%.0f"))</td>"
            rows += "<td>\(number(last.number("elapsed_seconds"), "%.1f"))</td><td>\(max(0, run.runs.count - 1))</td></tr>"
        }
        return rows + "</table>\n"
    }

    func lossAndAccuracy() -> String {
        var lossBySteps: [Series] = [], accuracyBySteps: [Series] = [], lossByTime: [Series] = [], accuracyByTime: [Series] = []
        for (index, run) in runs.enumerated() {
            let prefix = runs.count > 1 ? "\(run.name): " : ""
            let c = color(index)
            lossBySteps.append(Series(name: prefix + "train", color: c, points: points(run.steps, "step", "loss")))
            lossBySteps.append(Series(name: prefix + "test", color: c, points: points(run.epochs, "step", "test_loss"), dashed: true, dots: true))
            lossByTime.append(Series(name: prefix + "train", color: c, points: timePoints(run, run.steps, "loss")))
            lossByTime.append(Series(name: prefix + "test", color: c, points: timePoints(run, run.epochs, "test_loss"), dashed: true, dots: true))
            accuracyBySteps.append(Series(name: prefix + "test", color: c, points: points(run.epochs, "step", "test_accuracy"), dots: true))
            accuracyByTime.append(Series(name: prefix + "test", color: c, points: timePoints(run, run.epochs, "test_accuracy"), dots: true))
            // A validating run's epochs score the validation set; its test set is scored once, at the end.
            let validation = points(run.epochs, "step", "validation_accuracy")
            if !validation.isEmpty {
                let test = points(run.done.map { [$0] } ?? [], "step", "test_accuracy")
                accuracyBySteps[accuracyBySteps.count - 1] = Series(name: prefix + "test (end)", color: c, points: test, dots: true)
                accuracyByTime[accuracyByTime.count - 1] = Series(name: prefix + "test (end)", color: c, points: timePoints(run, run.done.map { [$0] } ?? [], "test_accuracy"), dots: true)
                accuracyBySteps.append(Series(name: prefix + "validation", color: c, points: validation, dashed: true, dots: true))
                accuracyByTime.append(Series(name: prefix + "validation", color: c, points: timePoints(run, run.epochs, "validation_accuracy"), dashed: true, dots: true))
                lossBySteps.append(Series(name: prefix + "validation", color: c, points: points(run.epochs, "step", "validation_loss"), dashed: true, dots: true))
            }
            let train = points(run.epochs, "step", "train_accuracy")
            if !train.isEmpty {
                accuracyBySteps.append(Series(name: prefix + "train", color: c, points: train, dashed: true, dots: true))
                accuracyByTime.append(Series(name: prefix + "train", color: c, points: timePoints(run, run.epochs, "train_accuracy"), dashed: true, dots: true))
            }
        }
        return [
            LineChart(kind: "loss-step", title: "Loss against step", xLabel: "step", yLabel: "loss", series: lossBySteps, fromZero: true).svg(),
            LineChart(kind: "accuracy-step", title: "Accuracy against step", xLabel: "step", yLabel: "accuracy", series: accuracyBySteps).svg(),
            LineChart(kind: "loss-time", title: "Loss against wall-clock time", xLabel: "seconds since the run began", yLabel: "loss", series: lossByTime, fromZero: true).svg(),
            LineChart(kind: "accuracy-time", title: "Accuracy against wall-clock time", xLabel: "seconds since the run began", yLabel: "accuracy", series: accuracyByTime).svg(),
        ].joined(separator: "\n")
    }

    func throughput() -> String {
        var rates: [Series] = [], workers: [Series] = [], markers: [Marker] = []
        for (index, run) in runs.enumerated() {
            let c = color(index)
            // Each logged step's rate is noisy (a slow step, a join): its trend smoothed, the raw points faint behind it.
            let raw = Series(name: (runs.count > 1 ? run.name : "samples/s") + " (each logged step)", color: c,
                             points: timePoints(run, run.steps, "samples_per_second"), faint: true)
            var trend = raw.movingAverage(window: Self.rateSmoothingWindow(points: raw.points.count))
            trend.name = runs.count > 1 ? run.name : "samples/s"
            trend.faint = false
            rates += [raw, trend]
            // The worker count: from step lines, and exactly where membership changed.
            let counted = (run.steps + run.events.filter { $0["workers"] is NSNumber })
                .compactMap { line -> (x: Double, y: Double)? in
                    guard let t = run.seconds(line), let n = line.number("workers") else { return nil }
                    return (t, n)
                }.sorted { $0.x < $1.x }
            workers.append(Series(name: runs.count > 1 ? run.name : "workers", color: c, points: counted, stairs: true))
            markers += self.markers(run)
        }
        return "<div class=\"column\">" + LineChart(kind: "samples-per-second", title: "Samples/s over time (moving average; each logged step faint)",
                                                      xLabel: "seconds since the run began", yLabel: "samples/s",
                                                      series: rates, markers: markers, fromZero: true, width: Self.fullWidth).svg() + "\n"
            + LineChart(kind: "workers", title: "Workers", xLabel: "seconds since the run began", yLabel: "workers",
                        series: workers, markers: markers, fromZero: true, height: 170, width: Self.fullWidth).svg()
            + shardsPerWorker(markers: markers) + "</div>\n"
    }

    /// Each worker's shards after each move of the rebalancing (the `rebalanced` events), when
    /// shards moved in some run.
    func shardsPerWorker(markers: [Marker]) -> String {
        var series: [Series] = []
        for (index, run) in runs.enumerated() {
            var byWorker: [String: [(x: Double, y: Double)]] = [:]
            for line in run.events where line["event"] as? String == "rebalanced" {
                guard let t = run.seconds(line), let shards = line["shards"] as? [String: Any] else { continue }
                for (worker, count) in shards {
                    if let count = (count as? NSNumber)?.doubleValue { byWorker[worker, default: []].append((t, count)) }
                }
            }
            for (offset, worker) in byWorker.keys.sorted(by: { (Int($0) ?? 0) < (Int($1) ?? 0) }).enumerated() {
                series.append(Series(name: (runs.count > 1 ? "\(run.name) " : "") + "worker \(worker)", color: color(index + offset),
                                     points: byWorker[worker]!, stairs: true))
            }
        }
        guard !series.isEmpty else { return "" }
        return "\n" + LineChart(kind: "shards", title: "Shards per worker, from each move that followed the workers' speeds", xLabel: "seconds since the run began",
                                yLabel: "shards", series: series, markers: markers, fromZero: true, height: 170, width: Self.fullWidth).svg()
    }

    /// The drawing width of a chart across the whole page.
    static let fullWidth = 1360.0

    /// Points averaged for the samples/s trend: about a twentieth of the run, odd, at least 5.
    static func rateSmoothingWindow(points: Int) -> Int { max(5, points / 20) | 1 }

    /// Joins, losses, restarts and resumes, where they happened.
    func markers(_ run: RunHistory) -> [Marker] {
        var markers: [Marker] = []
        for line in run.events {
            guard let t = run.seconds(line) else { continue }
            let worker = line.number("worker").map { String(Int($0)) } ?? "?"
            switch line["event"] as? String {
            case "worker_joined": markers.append(Marker(x: t, label: "worker \(worker) joined", color: "#2ca02c"))
            case "worker_lost":
                let left = (line["cleanly"] as? Bool) == true
                markers.append(Marker(x: t, label: "worker \(worker) \(left ? "left" : "lost")", color: "#d62728"))
            case "resumed": markers.append(Marker(x: t, label: "resumed at step \(Int(line.number("step") ?? 0))", color: "#9467bd"))
            default: break
            }
        }
        for restart in run.runs.dropFirst() {
            if let t = run.seconds(restart) { markers.append(Marker(x: t, label: "coordinator restarted", color: "#ff7f0e")) }
        }
        return markers
    }

    func stepTimes() -> String {
        let phases: [(key: String, name: String, color: String)] = [
            ("broadcast_ms", "broadcast", "#4c78a8"), ("wait_ms", "wait", "#f58518"),
            ("reduce_ms", "reduce", "#54a24b"), ("update_ms", "update", "#b279a2"),
        ]
        var charts = ""
        for run in runs {
            let lines = run.steps.filter { $0["wait_ms"] is NSNumber }
            guard !lines.isEmpty else { continue }
            charts += StackedChart(kind: "step-time", title: "\(run.name): milliseconds per step", xLabel: "step", yLabel: "ms per step",
                                   x: lines.map { $0.number("step") ?? 0 },
                                   layers: phases.map { phase in (phase.name, phase.color, lines.map { $0.number(phase.key) ?? 0 }) }).svg() + "\n"
        }
        return charts.isEmpty ? "<p class=\"empty\">Single-process runs: no coordinator, no step breakdown.</p>\n" : "<div class=\"grid\">\(charts)</div>\n"
    }

    func workerCompute() -> String {
        var charts = ""
        for run in runs {
            let workers = run.workers
            guard !workers.isEmpty else { continue }
            let bars = workers.map { (label: "worker \($0.id)", value: $0.meanComputeMilliseconds, highlighted: !$0.stragglerEpochs.isEmpty) }
            charts += BarChart(kind: "worker-compute", title: "\(run.name): mean compute ms per step, by worker (stragglers in red)",
                               yLabel: "ms per step", bars: bars).svg() + "\n"
            var table = "<table class=\"workers\"><tr><th>worker</th><th>host</th><th>mean compute ms</th><th>samples</th><th>steps</th><th>straggler in epochs</th></tr>"
            for worker in workers {
                table += "<tr><td>\(worker.id)</td><td class=\"key\">\(escapeHTML(worker.host))</td>"
                table += "<td>\(String(format: "%.3f", worker.meanComputeMilliseconds))</td><td>\(worker.samples)</td><td>\(worker.steps)</td>"
                table += "<td>\(worker.stragglerEpochs.map(String.init).joined(separator: ", "))</td></tr>"
            }
            charts += table + "</table>\n"
        }
        return charts.isEmpty ? "<p class=\"empty\">No per-worker figures in these files.</p>\n" : charts
    }

    func configuration() -> String {
        var tables = ""
        for run in runs {
            guard let line = run.runs.first else { continue }
            tables += "<div><h3>\(escapeHTML(run.name))</h3><table class=\"config\">"
            for (key, value) in flatten(line).sorted(by: { $0.key < $1.key }) where !["event", "time"].contains(key) {
                tables += "<tr><td class=\"key\">\(escapeHTML(key))</td><td>\(escapeHTML(value))</td></tr>"
            }
            tables += "</table></div>\n"
        }
        return tables.isEmpty ? "<p class=\"empty\">No run line in these files.</p>\n" : "<div class=\"grid\">\(tables)</div>\n"
    }

    func confusion() -> String {
        var tables = ""
        for run in runs {
            guard let matrix = ((run.done ?? run.epochs.last)?["confusion"] as? [[NSNumber]])?.map({ $0.map(\.intValue) }) else { continue }
            let largest = Double(matrix.joined().max() ?? 1)
            tables += "<div><h3>\(escapeHTML(run.name))</h3><table class=\"confusion\"><tr><th>true \\ predicted</th>"
            tables += matrix.indices.map { "<th>\($0)</th>" }.joined() + "</tr>"
            for (truth, row) in matrix.enumerated() {
                tables += "<tr><th>\(truth)</th>"
                for (predicted, count) in row.enumerated() {
                    let shade = count == 0 ? 0 : 0.08 + 0.8 * sqrt(Double(count) / largest)
                    let hue = truth == predicted ? "31,119,180" : "214,39,40"
                    tables += "<td style=\"background:rgba(\(hue),\(String(format: "%.2f", shade)))\">\(count)</td>"
                }
                tables += "</tr>"
            }
            tables += "</table></div>\n"
        }
        return tables.isEmpty ? "<p class=\"empty\">No confusion matrix in these files (written with each epoch's evaluation).</p>\n" : "<div class=\"grid\">\(tables)</div>\n"
    }

    // MARK: Helpers

    func points(_ lines: [[String: Any]], _ x: String, _ y: String) -> [(x: Double, y: Double)] {
        lines.compactMap { line in
            guard let px = line.number(x), let py = line.number(y) else { return nil }
            return (px, py)
        }
    }

    func timePoints(_ run: RunHistory, _ lines: [[String: Any]], _ y: String) -> [(x: Double, y: Double)] {
        lines.compactMap { line in
            guard let t = run.seconds(line), let py = line.number(y) else { return nil }
            return (t, py)
        }
    }

    func number(_ value: Double?, _ format: String) -> String {
        value.map { String(format: format, $0) } ?? "-"
    }

    /// A run line as key paths and values: config.optimizer.learningRate = 0.1.
    func flatten(_ object: [String: Any], prefix: String = "") -> [String: String] {
        var flat: [String: String] = [:]
        for (key, value) in object {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch value {
            case let nested as [String: Any]: flat.merge(flatten(nested, prefix: path)) { $1 }
            case let list as [Any]: flat[path] = list.map { "\($0)" }.joined(separator: " ")
            case is NSNull: flat[path] = "-"
            default: flat[path] = "\(value)"
            }
        }
        return flat
    }
}
