import Foundation
import Testing

@testable import LookoutBench

#if canImport(FoundationXML)
import FoundationXML
#endif

@Suite("Capacity report")
struct CapacityReportTests {
    static var report: CapacityReport {
        let one = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 1, database: false),
            steps: [
                CalibrationTests.step(offered: 1000, achieved: 1000, monitors: 1000, rss: 12, passed: true),
                CalibrationTests.step(offered: 2000, achieved: 1500, monitors: 2000, rss: 14, passed: false),
            ], notRun: nil)
        var database = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 2, database: true),
            steps: [CalibrationTests.step(offered: 1000, achieved: 990, monitors: 1000, rss: 25, passed: true)],
            notRun: nil)
        database.steps[0].rowsPerSecond = 985
        let skipped = ScenarioResult(
            scenario: CapacityScenario(.http, engines: 1, database: true), steps: [], notRun: "no database")
        return CapacityReport(results: [one, database, skipped], conditions: ["test <conditions> & more"])
    }

    @Test("The JSON has exactly the shape of issue 9")
    func jsonShape() throws {
        let data = try Self.report.json()
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(Array(root.keys) == ["scenarios"])
        let scenarios = try #require(root["scenarios"] as? [[String: Any]])
        #expect(scenarios.count == 3)
        #expect(Set(scenarios[0].keys) == ["name", "protocol", "engines", "database", "saturation"])
        #expect(scenarios[0]["name"] as? String == "http-1-engine")
        #expect(scenarios[0]["protocol"] as? String == "http")
        #expect(scenarios[1]["database"] as? Bool == true)
        let saturation = try #require(scenarios[0]["saturation"] as? [String: Any])
        #expect(
            Set(saturation.keys) == [
                "checksPerSecond", "monitors", "intervalSeconds", "lagP99Ms", "farmChecksPerSecond",
                "cpuMicrosPerCheck",
            ])
        #expect(saturation["cpuMicrosPerCheck"] as? Double == Self.report.results[0].saturation?.cpuMicrosPerCheck)
        #expect(saturation["checksPerSecond"] as? Double == 1000)
        // A scenario with no passing step (or not run) has a null saturation, not a missing key.
        #expect(scenarios[2]["saturation"] is NSNull)
        // And it reads back (what `plan --from` does).
        let document = try JSONDecoder().decode(CapacityReport.Document.self, from: data)
        #expect(document == Self.report.document)
    }

    @Test("Every chart is well-formed SVG (parsed by XMLParser), with one polyline per series that has points")
    func chartsParse() throws {
        let charts = Self.report.charts
        #expect(charts.map(\.file) == CapacityReport.chartNames.map(\.file))
        for chart in charts {
            let parser = XMLParser(data: Data(chart.svg.utf8))
            let collector = ElementCollector()
            parser.delegate = collector
            #expect(parser.parse(), "\(chart.file): \(parser.parserError.map { "\($0)" } ?? "")")
            #expect(collector.root == "svg", "\(chart.file)")
            #expect(collector.namespace == "http://www.w3.org/2000/svg")
        }
        let achieved = try #require(charts.first { $0.file == "achieved-vs-offered.svg" })
        // Two scenarios ran: engine and farm series for each.
        #expect(achieved.svg.components(separatedBy: "<polyline").count - 1 == 4)
        let rows = try #require(charts.first { $0.file == "postgresql-rows.svg" })
        #expect(rows.svg.components(separatedBy: "<polyline").count - 1 == 1)
    }

    @Test("Charts written to a directory parse back from disk")
    func writtenCharts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("capacity-charts-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.report.writeCharts(to: directory)
        for chart in CapacityReport.chartNames {
            let parser = try #require(XMLParser(contentsOf: URL(fileURLWithPath: directory + "/" + chart.file)))
            #expect(parser.parse(), "\(chart.file)")
        }
    }

    @Test("A --details file redraws the same charts and Markdown (--replot)")
    func detailsRoundTrip() throws {
        let saved = try JSONEncoder().encode(Self.report)
        let read = try JSONDecoder().decode(CapacityReport.self, from: saved)
        #expect(read.charts.map(\.svg) == Self.report.charts.map(\.svg))
        #expect(read.markdown(chartsLink: nil) == Self.report.markdown(chartsLink: nil))
    }

    @Test("Text in charts is escaped; an empty chart says so")
    func escaping() {
        let chart = SVGChart(title: "a < b & \"c\"", xLabel: "x", yLabel: "y", series: [.init(name: "s>", points: [])])
        let svg = chart.render()
        #expect(svg.contains("a &lt; b &amp; &quot;c&quot;"))
        #expect(svg.contains("s&gt;"))
        #expect(svg.contains("no data"))
        #expect(XMLParser(data: Data(svg.utf8)).parse())
    }

    @Test("Axis ceilings are round")
    func niceCeiling() {
        #expect(SVGChart.niceCeiling(0) == 1)
        #expect(SVGChart.niceCeiling(7) == 10)
        #expect(SVGChart.niceCeiling(1) == 1)
        #expect(SVGChart.niceCeiling(1.2) == 2)
        #expect(SVGChart.niceCeiling(2300) == 2500)
        #expect(SVGChart.niceCeiling(4100) == 5000)
        #expect(SVGChart.label(12_000) == "12k")
        #expect(SVGChart.label(2.5) == "2.5")
    }

    @Test("The Markdown lists every scenario, a skipped one with its reason")
    func markdown() {
        let text = Self.report.markdown(chartsLink: "capacity")
        #expect(text.contains("| http-1-engine | 1 | – | 1,000 |"))
        #expect(text.contains("not run: no database"))
        #expect(text.contains("![Achieved vs offered checks/s](capacity/achieved-vs-offered.svg)"))
        #expect(text.contains("lag p50 / p99 ms"))
    }
}

/// Notes the root element and its namespace.
final class ElementCollector: NSObject, XMLParserDelegate {
    var root: String?
    var namespace: String?

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        if root == nil {
            root = elementName
            namespace = attributes["xmlns"]
        }
    }
}
