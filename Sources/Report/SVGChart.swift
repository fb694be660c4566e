import Foundation

/// A line of points on a chart.
public struct Series {
    public var name: String
    public var color: String
    public var points: [(x: Double, y: Double)]
    public var dashed = false
    /// Drawn as a staircase (a count that changes at a step), not a slope.
    public var stairs = false
    /// Drawn as dots as well: few points (one per epoch) read better so.
    public var dots = false
    /// Drawn thin and pale, with no legend entry: the raw points behind a smoothed line.
    public var faint = false

    /// The same points, each the mean of the `window` points around it (fewer at the ends):
    /// a noisy rate's trend, drawn over its raw points.
    public func movingAverage(window: Int) -> Series {
        let half = max(window, 1) / 2
        var sums = [0.0]
        for point in points { sums.append(sums.last! + point.y) }
        var smoothed = self
        smoothed.points = points.indices.map { i in
            let low = max(0, i - half), high = min(points.count, i + half + 1)
            return (points[i].x, (sums[high] - sums[low]) / Double(high - low))
        }
        return smoothed
    }
}

/// A vertical line at an x, labelled: a worker joined, was lost, the run resumed.
public struct Marker {
    public var x: Double
    public var label: String
    public var color: String
}

/// Axes, ticks and grid shared by the report's charts, as inline SVG.
struct ChartFrame {
    /// The drawing's own units: the page scales the chart to its column's width (CSS), so text
    /// stays near its size when `width` is about the width it is shown at.
    var width = 680.0, height = 240.0
    var left = 64.0, right = 16.0, top = 40.0, bottom = 38.0
    var xRange: ClosedRange<Double>
    var yRange: ClosedRange<Double>

    var plotWidth: Double { width - left - right }
    var plotHeight: Double { height - top - bottom }

    func x(_ value: Double) -> Double {
        left + (value - xRange.lowerBound) / max(xRange.upperBound - xRange.lowerBound, 1e-12) * plotWidth
    }

    func y(_ value: Double) -> Double {
        top + plotHeight - (value - yRange.lowerBound) / max(yRange.upperBound - yRange.lowerBound, 1e-12) * plotHeight
    }

    /// The frame's SVG: the title, the axes with their ticks and labels, a light grid.
    func axes(title: String, xLabel: String, yLabel: String) -> String {
        var svg = "<text class=\"title\" x=\"\(left)\" y=\"16\">\(escapeHTML(title))</text>"
        for tick in niceTicks(yRange) {
            let py = fmt(y(tick))
            svg += "<line class=\"grid\" x1=\"\(fmt(left))\" x2=\"\(fmt(width - right))\" y1=\"\(py)\" y2=\"\(py)\"/>"
            svg += "<text class=\"tick\" x=\"\(fmt(left - 6))\" y=\"\(py)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(tickLabel(tick))</text>"
        }
        for tick in niceTicks(xRange) {
            let px = fmt(x(tick))
            svg += "<line class=\"grid\" x1=\"\(px)\" x2=\"\(px)\" y1=\"\(fmt(top))\" y2=\"\(fmt(top + plotHeight))\"/>"
            svg += "<text class=\"tick\" x=\"\(px)\" y=\"\(fmt(top + plotHeight + 14))\" text-anchor=\"middle\">\(tickLabel(tick))</text>"
        }
        svg += "<rect class=\"frame\" x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(plotWidth))\" height=\"\(fmt(plotHeight))\"/>"
        svg += "<text class=\"axis\" x=\"\(fmt(left + plotWidth / 2))\" y=\"\(fmt(height - 6))\" text-anchor=\"middle\">\(escapeHTML(xLabel))</text>"
        svg += "<text class=\"axis\" transform=\"translate(14 \(fmt(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escapeHTML(yLabel))</text>"
        return svg
    }

    func open(kind: String) -> String {
        "<svg class=\"chart\" data-chart=\"\(kind)\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" preserveAspectRatio=\"xMinYMin meet\">"
    }
}

/// Lines against a shared x axis, with markers.
public struct LineChart {
    public var kind: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var markers: [Marker] = []
    /// Start the y axis at zero (rates, counts, times).
    public var fromZero = false
    public var height = 240.0
    /// 680 for a chart in the page's two columns, about twice that for one across the page.
    public var width = 680.0

    public func svg() -> String {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        guard !points.isEmpty else { return "<p class=\"empty\">\(escapeHTML(title)): no data in these files.</p>" }
        let xs = points.map(\.x) + markers.map(\.x), ys = points.map(\.y)
        var yLow = fromZero ? min(0, ys.min()!) : ys.min()!, yHigh = ys.max()!
        if yHigh - yLow < 1e-9 { yLow -= 0.5; yHigh += 0.5 }
        let pad = (yHigh - yLow) * 0.05
        let frame = ChartFrame(width: width, height: height, xRange: xs.min()!...max(xs.max()!, xs.min()! + 1e-9),
                               yRange: (fromZero && yLow >= 0 ? yLow : yLow - pad)...(yHigh + pad))
        var svg = frame.open(kind: kind) + frame.axes(title: title, xLabel: xLabel, yLabel: yLabel)
        for marker in markers {
            let px = fmt(frame.x(marker.x))
            svg += "<line class=\"marker\" data-marker=\"\(escapeHTML(marker.label))\" x1=\"\(px)\" x2=\"\(px)\" y1=\"\(fmt(frame.top))\" y2=\"\(fmt(frame.top + frame.plotHeight))\" stroke=\"\(marker.color)\"><title>\(escapeHTML(marker.label))</title></line>"
            svg += "<text class=\"marker-label\" x=\"\(px)\" y=\"\(fmt(frame.top + 9))\" fill=\"\(marker.color)\" transform=\"rotate(90 \(px) \(fmt(frame.top + 9)))\">\(escapeHTML(marker.label))</text>"
        }
        for line in series {
            let valid = Self.thinned(line.points.filter { $0.x.isFinite && $0.y.isFinite })
            guard !valid.isEmpty else { continue }
            var d = ""
            for (index, point) in valid.enumerated() {
                let px = fmt(frame.x(point.x)), py = fmt(frame.y(point.y))
                if index == 0 { d += "M\(px) \(py)" } else if line.stairs { d += "H\(px)V\(py)" } else { d += "L\(px) \(py)" }
            }
            svg += "<path class=\"series\(line.faint ? " faint" : "")\" data-series=\"\(escapeHTML(line.name))\" data-points=\"\(valid.count)\" d=\"\(d)\" stroke=\"\(line.color)\"\(line.dashed ? " stroke-dasharray=\"5 3\"" : "")><title>\(escapeHTML(line.name))</title></path>"
            if line.dots {
                for point in valid {
                    svg += "<circle class=\"dot\" cx=\"\(fmt(frame.x(point.x)))\" cy=\"\(fmt(frame.y(point.y)))\" r=\"3\" fill=\"\(line.color)\"/>"
                }
            }
        }
        return svg + legend(frame: frame) + "</svg>"
    }

    /// At most about `limit` points, evenly taken, the last kept: a long run's thousands of step
    /// lines draw the same curve from fewer, and the page stays small.
    static func thinned(_ points: [(x: Double, y: Double)], limit: Int = 1500) -> [(x: Double, y: Double)] {
        guard points.count > limit else { return points }
        let stride = (points.count + limit - 1) / limit
        var kept = Swift.stride(from: 0, to: points.count, by: stride).map { points[$0] }
        if (points.count - 1) % stride != 0 { kept.append(points[points.count - 1]) }
        return kept
    }

    private func legend(frame: ChartFrame) -> String {
        var svg = "", x = frame.width - frame.right
        for line in series.reversed() where !line.points.isEmpty && !line.faint {
            let width = Double(line.name.count) * 6.2 + 22
            x -= width
            svg += "<line x1=\"\(fmt(x))\" x2=\"\(fmt(x + 14))\" y1=\"28\" y2=\"28\" stroke=\"\(line.color)\" stroke-width=\"2\"\(line.dashed ? " stroke-dasharray=\"4 2\"" : "")/>"
            svg += "<text class=\"legend\" x=\"\(fmt(x + 18))\" y=\"31\">\(escapeHTML(line.name))</text>"
        }
        return svg
    }
}

/// Layers stacked on each other at each x: where each step's time went.
public struct StackedChart {
    public var kind: String
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var x: [Double]
    public var layers: [(name: String, color: String, values: [Double])]

    public func svg() -> String {
        guard x.count >= 1, layers.allSatisfy({ $0.values.count == x.count }) else {
            return "<p class=\"empty\">\(escapeHTML(title)): no data in these files.</p>"
        }
        let totals = x.indices.map { i in layers.reduce(0) { $0 + $1.values[i] } }
        let frame = ChartFrame(xRange: x.min()!...max(x.max()!, x.min()! + 1e-9), yRange: 0...max(totals.max()! * 1.05, 1e-9))
        var svg = frame.open(kind: kind) + frame.axes(title: title, xLabel: xLabel, yLabel: yLabel)
        var below = [Double](repeating: 0, count: x.count)
        for layer in layers {
            let above = zip(below, layer.values).map(+)
            var d = "M\(fmt(frame.x(x[0]))) \(fmt(frame.y(above[0])))"
            for i in x.indices.dropFirst() { d += "L\(fmt(frame.x(x[i]))) \(fmt(frame.y(above[i])))" }
            for i in x.indices.reversed() { d += "L\(fmt(frame.x(x[i]))) \(fmt(frame.y(below[i])))" }
            svg += "<path class=\"layer\" data-series=\"\(escapeHTML(layer.name))\" data-points=\"\(x.count)\" d=\"\(d)Z\" fill=\"\(layer.color)\"><title>\(escapeHTML(layer.name))</title></path>"
            below = above
        }
        var lx = frame.width - frame.right
        for layer in layers.reversed() {
            lx -= Double(layer.name.count) * 6.2 + 22
            svg += "<rect x=\"\(fmt(lx))\" y=\"22\" width=\"12\" height=\"10\" fill=\"\(layer.color)\"/><text class=\"legend\" x=\"\(fmt(lx + 16))\" y=\"31\">\(escapeHTML(layer.name))</text>"
        }
        return svg + "</svg>"
    }
}

/// One bar per item, some highlighted: each worker's compute time, stragglers in red.
public struct BarChart {
    public var kind: String
    public var title: String
    public var yLabel: String
    public var bars: [(label: String, value: Double, highlighted: Bool)]

    public func svg() -> String {
        guard !bars.isEmpty else { return "<p class=\"empty\">\(escapeHTML(title)): no data in these files.</p>" }
        let frame = ChartFrame(xRange: 0...Double(bars.count), yRange: 0...max(bars.map(\.value).max()! * 1.1, 1e-9))
        var svg = frame.open(kind: kind) + "<text class=\"title\" x=\"\(frame.left)\" y=\"16\">\(escapeHTML(title))</text>"
        for tick in niceTicks(frame.yRange) {
            let py = fmt(frame.y(tick))
            svg += "<line class=\"grid\" x1=\"\(fmt(frame.left))\" x2=\"\(fmt(frame.width - frame.right))\" y1=\"\(py)\" y2=\"\(py)\"/>"
            svg += "<text class=\"tick\" x=\"\(fmt(frame.left - 6))\" y=\"\(py)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(tickLabel(tick))</text>"
        }
        svg += "<text class=\"axis\" transform=\"translate(14 \(fmt(frame.top + frame.plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escapeHTML(yLabel))</text>"
        let slot = frame.plotWidth / Double(bars.count)
        for (index, bar) in bars.enumerated() {
            let x0 = frame.left + slot * (Double(index) + 0.15), top = frame.y(bar.value)
            svg += "<rect class=\"bar\(bar.highlighted ? " straggler" : "")\" data-series=\"\(escapeHTML(bar.label))\" x=\"\(fmt(x0))\" y=\"\(fmt(top))\" width=\"\(fmt(slot * 0.7))\" height=\"\(fmt(frame.top + frame.plotHeight - top))\" fill=\"\(bar.highlighted ? "#d62728" : "#4c78a8")\"><title>\(escapeHTML(bar.label)): \(tickLabel(bar.value))</title></rect>"
            svg += "<text class=\"tick\" x=\"\(fmt(x0 + slot * 0.35))\" y=\"\(fmt(frame.top + frame.plotHeight + 14))\" text-anchor=\"middle\">\(escapeHTML(bar.label))</text>"
        }
        svg += "<rect class=\"frame\" x=\"\(fmt(frame.left))\" y=\"\(fmt(frame.top))\" width=\"\(fmt(frame.plotWidth))\" height=\"\(fmt(frame.plotHeight))\"/>"
        return svg + "</svg>"
    }
}

/// About five round ticks across `range`: steps of 1, 2 or 5 times a power of ten.
func niceTicks(_ range: ClosedRange<Double>) -> [Double] {
    let span = range.upperBound - range.lowerBound
    guard span > 0, span.isFinite else { return [range.lowerBound] }
    let rough = span / 5, power = pow(10, floor(log10(rough)))
    let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? rough
    var ticks: [Double] = [], tick = ceil(range.lowerBound / step) * step
    while tick <= range.upperBound + step * 1e-9 {
        ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
        tick += step
    }
    return ticks
}

/// 1500000 -> "1.5M", 0.0123 -> "0.0123"
func tickLabel(_ value: Double) -> String {
    let magnitude = abs(value)
    if magnitude >= 1e6 { return trimmed(value / 1e6) + "M" }
    if magnitude >= 1e4 { return trimmed(value / 1e3) + "k" }
    return trimmed(value)
}

private func trimmed(_ value: Double) -> String {
    var text = String(format: "%.4g", value)
    if text.contains("."), !text.contains("e") {
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
    }
    return text
}

func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

func escapeHTML(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
