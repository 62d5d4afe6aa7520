/// A line chart as a standalone SVG document, drawn by hand (no plotting dependency): axes with
/// round ticks, one polyline with markers per series, a legend, and optionally the y = x line
/// ("achieved = offered").
struct SVGChart: Sendable {
    struct Point: Sendable, Equatable {
        var x: Double
        var y: Double
    }

    struct Series: Sendable {
        var name: String
        var points: [Point]
        var dashed = false
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    /// Draws y = x across the plot, for "achieved vs offered".
    var identityLine = false

    static let width = 860.0
    static let height = 440.0
    private static let left = 80.0
    /// Room for the legend: a scenario name and a suffix, about 44 characters.
    private static let right = 340.0
    private static let top = 40.0
    private static let bottom = 60.0
    private static let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
    ]

    /// The SVG document.
    func render() -> String {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xMax = Self.niceCeiling(points.map(\.x).max() ?? 1)
        var yMax = Self.niceCeiling(points.map(\.y).max() ?? 1)
        if identityLine { yMax = max(yMax, xMax) }
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        func sx(_ x: Double) -> Double { Self.left + x / xMax * plotWidth }
        func sy(_ y: Double) -> Double { Self.top + plotHeight - min(y, yMax) / yMax * plotHeight }

        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.fmt(Self.width))\" height=\"\(Self.fmt(Self.height))\" viewBox=\"0 0 \(Self.fmt(Self.width)) \(Self.fmt(Self.height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n"
        svg +=
            "<text x=\"\(Self.fmt(Self.width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        // Grid and ticks.
        for tick in Self.ticks(upTo: xMax) {
            let x = sx(tick)
            svg +=
                "<line x1=\"\(Self.fmt(x))\" y1=\"\(Self.fmt(Self.top))\" x2=\"\(Self.fmt(x))\" y2=\"\(Self.fmt(Self.top + plotHeight))\" stroke=\"#e5e5e5\"/>\n"
            svg +=
                "<text x=\"\(Self.fmt(x))\" y=\"\(Self.fmt(Self.top + plotHeight + 18))\" text-anchor=\"middle\">\(Self.escape(Self.label(tick)))</text>\n"
        }
        for tick in Self.ticks(upTo: yMax) {
            let y = sy(tick)
            svg +=
                "<line x1=\"\(Self.fmt(Self.left))\" y1=\"\(Self.fmt(y))\" x2=\"\(Self.fmt(Self.left + plotWidth))\" y2=\"\(Self.fmt(y))\" stroke=\"#e5e5e5\"/>\n"
            svg +=
                "<text x=\"\(Self.fmt(Self.left - 8))\" y=\"\(Self.fmt(y + 4))\" text-anchor=\"end\">\(Self.escape(Self.label(tick)))</text>\n"
        }
        svg +=
            "<rect x=\"\(Self.fmt(Self.left))\" y=\"\(Self.fmt(Self.top))\" width=\"\(Self.fmt(plotWidth))\" height=\"\(Self.fmt(plotHeight))\" fill=\"none\" stroke=\"#333333\"/>\n"
        svg +=
            "<text x=\"\(Self.fmt(Self.left + plotWidth / 2))\" y=\"\(Self.fmt(Self.height - 18))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        svg +=
            "<text x=\"18\" y=\"\(Self.fmt(Self.top + plotHeight / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(Self.fmt(Self.top + plotHeight / 2)))\">\(Self.escape(yLabel))</text>\n"
        if identityLine {
            let end = min(xMax, yMax)
            svg +=
                "<line x1=\"\(Self.fmt(sx(0)))\" y1=\"\(Self.fmt(sy(0)))\" x2=\"\(Self.fmt(sx(end)))\" y2=\"\(Self.fmt(sy(end)))\" stroke=\"#999999\" stroke-dasharray=\"4 4\"/>\n"
        }
        // Series and legend.
        for (index, line) in series.enumerated() {
            let colour = Self.colours[index % Self.colours.count]
            let sorted = line.points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x < $1.x }
            if !sorted.isEmpty {
                let path = sorted.map { "\(Self.fmt(sx($0.x))),\(Self.fmt(sy($0.y)))" }.joined(separator: " ")
                let dash = line.dashed ? " stroke-dasharray=\"6 3\"" : ""
                svg +=
                    "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
                for point in sorted {
                    svg +=
                        "<circle cx=\"\(Self.fmt(sx(point.x)))\" cy=\"\(Self.fmt(sy(point.y)))\" r=\"3\" fill=\"\(colour)\"/>\n"
                }
            }
            let legendY = Self.top + 14 + Double(index) * 20
            let legendX = Self.left + plotWidth + 14
            let dash = line.dashed ? " stroke-dasharray=\"6 3\"" : ""
            svg +=
                "<line x1=\"\(Self.fmt(legendX))\" y1=\"\(Self.fmt(legendY - 4))\" x2=\"\(Self.fmt(legendX + 22))\" y2=\"\(Self.fmt(legendY - 4))\" stroke=\"\(colour)\" stroke-width=\"2\"\(dash)/>\n"
            svg +=
                "<text x=\"\(Self.fmt(legendX + 28))\" y=\"\(Self.fmt(legendY))\">\(Self.escape(line.name))</text>\n"
        }
        if series.allSatisfy({ $0.points.isEmpty }) {
            svg +=
                "<text x=\"\(Self.fmt(Self.left + plotWidth / 2))\" y=\"\(Self.fmt(Self.top + plotHeight / 2))\" text-anchor=\"middle\" fill=\"#666666\">no data</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (1 for nothing positive).
    static func niceCeiling(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1.0, 2, 2.5, 5, 10] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    /// Five ticks from 0 to `maximum` inclusive.
    static func ticks(upTo maximum: Double) -> [Double] {
        (0...5).map { maximum * Double($0) / 5 }
    }

    /// 12000 → "12k", 2.5 → "2.5".
    static func label(_ value: Double) -> String {
        if value >= 10_000 { return trimmed(value / 1000) + "k" }
        return trimmed(value)
    }

    private static func trimmed(_ value: Double) -> String {
        var text = ThroughputReport.fixed(value, 2)
        while text.contains(".") && (text.hasSuffix("0") || text.hasSuffix(".")) { text.removeLast() }
        return text
    }

    /// Coordinates with at most one decimal.
    static func fmt(_ value: Double) -> String { trimmed((value * 10).rounded() / 10) }

    /// Text content and attribute values: `&`, `<`, `>` and `"` escaped.
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}
