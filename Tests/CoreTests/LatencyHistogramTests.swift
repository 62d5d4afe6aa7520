import Foundation
import Testing

@testable import LookoutCore

/// The exact nearest-rank percentile of `sorted`.
private func exactPercentile(_ sorted: [Int64], _ percentile: Double) -> Int64 {
    let rank = max(1, Int((percentile / 100 * Double(sorted.count)).rounded(.up)))
    return sorted[rank - 1]
}

@Suite("LatencyHistogram")
struct LatencyHistogramTests {
    static let percentiles: [Double] = [1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100]

    @Test("an empty histogram reports 0 for every percentile and a mean of 0")
    func emptyHistogram() {
        let histogram = LatencyHistogram()
        for p in Self.percentiles { #expect(histogram.value(atPercentile: p) == 0) }
        #expect(histogram.totalCount == 0)
        #expect(histogram.maxValue == 0)
        #expect(histogram.sum == 0)
        #expect(histogram.mean == 0)
    }

    @Test("values below 64 are recorded exactly")
    func smallValuesAreExact() {
        var histogram = LatencyHistogram()
        for value in Int64(1)...63 { histogram.record(value) }
        #expect(histogram.value(atPercentile: 0) == 1)
        #expect(histogram.value(atPercentile: 50) == 32)
        #expect(histogram.value(atPercentile: 90) == 57)
        #expect(histogram.value(atPercentile: 100) == 63)
        #expect(histogram.totalCount == 63)
        #expect(histogram.sum == 2016)
        #expect(histogram.mean == 32)
    }

    @Test("a single sample is every percentile")
    func singleSample() {
        var histogram = LatencyHistogram()
        histogram.record(123_456)
        for p in Self.percentiles { #expect(histogram.value(atPercentile: p) == 123_456) }
        #expect(histogram.maxValue == 123_456)
    }

    @Test("negative samples count as 0")
    func negativeSamplesCountAsZero() {
        var histogram = LatencyHistogram()
        histogram.record(-5)
        histogram.record(10)
        #expect(histogram.totalCount == 2)
        #expect(histogram.sum == 10)
        #expect(histogram.value(atPercentile: 50) == 0)
        #expect(histogram.value(atPercentile: 100) == 10)
    }

    enum Distribution: String, CaseIterable, Sendable {
        case logUniformOneMicrosecondToTenSeconds
        case uniformOneMillisecondToTwoSeconds
        case narrowHundredToHundredFortyMilliseconds

        func sample(using random: inout SeededGenerator) -> Int64 {
            switch self {
            case .logUniformOneMicrosecondToTenSeconds: return Int64(pow(10, Double.random(in: 0..<7, using: &random)))
            case .uniformOneMillisecondToTwoSeconds: return Int64.random(in: 1_000...2_000_000, using: &random)
            case .narrowHundredToHundredFortyMilliseconds: return Int64.random(in: 100_000...140_000, using: &random)
            }
        }
    }

    @Test(
        "percentiles on random data are within 1.6% of the exact value and never below it",
        arguments: Distribution.allCases
    )
    func percentilesAreAccurate(distribution: Distribution) {
        var random = SeededGenerator(seed: 0xC0FFEE)
        let unsorted = (0..<100_000).map { _ in distribution.sample(using: &random) }
        var samples = unsorted
        var histogram = LatencyHistogram()
        for value in unsorted { histogram.record(value) }
        samples.sort()
        for p in Self.percentiles {
            let exact = exactPercentile(samples, p)
            let reported = histogram.value(atPercentile: p)
            let relativeError = Double(reported - exact) / Double(exact)
            #expect(reported >= exact, "p\(p): reported \(reported), exact \(exact)")
            #expect(relativeError <= 0.016, "p\(p): reported \(reported), exact \(exact), error \(relativeError)")
        }
        #expect(histogram.value(atPercentile: 100) == samples.last)
        #expect(histogram.maxValue == samples.last)
        #expect(histogram.totalCount == 100_000)
        #expect(histogram.sum == samples.reduce(0, +))
    }

    @Test("the worst case error stays within 1.6%: a sample at the bottom of a bucket")
    func worstCaseBucketError() {
        // Each value is the lowest of its bucket, where reporting the bucket's highest value errs most.
        for value: Int64 in [64, 2_048, 65_536, 1_048_576, 33_554_432] {
            var histogram = LatencyHistogram()
            histogram.record(value)
            histogram.record(value * 4)  // so the maximum does not hide the bucket's upper edge
            let reported = histogram.value(atPercentile: 50)
            let relativeError = Double(reported - value) / Double(value)
            #expect(relativeError <= 0.016, "\(value) reported as \(reported) (\(relativeError))")
        }
    }

    @Test("merging two histograms equals recording every sample into one")
    func mergeEqualsCombinedRecording() {
        var random = SeededGenerator(seed: 42)
        var left = LatencyHistogram()
        var right = LatencyHistogram()
        var combined = LatencyHistogram()
        for _ in 0..<20_000 {
            let a = Int64.random(in: 0...50_000, using: &random)
            let b = Int64.random(in: 10_000...5_000_000, using: &random)
            left.record(a)
            right.record(b)
            combined.record(a)
            combined.record(b)
        }
        var merged = left
        merged.merge(right)
        #expect(merged.totalCount == combined.totalCount)
        #expect(merged.sum == combined.sum)
        #expect(merged.maxValue == combined.maxValue)
        #expect(merged.mean == combined.mean)
        for p in Self.percentiles {
            #expect(merged.value(atPercentile: p) == combined.value(atPercentile: p), "p\(p)")
        }
    }

    @Test("merging an empty histogram changes nothing; merging into an empty one copies")
    func mergeWithEmpty() {
        var filled = LatencyHistogram()
        for value in [Int64(5), 500, 50_000] { filled.record(value) }
        var a = filled
        a.merge(LatencyHistogram())
        var b = LatencyHistogram()
        b.merge(filled)
        for histogram in [a, b] {
            #expect(histogram.totalCount == 3)
            #expect(histogram.sum == 50_505)
            #expect(histogram.maxValue == 50_000)
            #expect(histogram.value(atPercentile: 0) == 5)
            #expect(histogram.value(atPercentile: 100) == 50_000)
        }
    }

    @Test("the mean is the exact arithmetic mean, not a bucket approximation")
    func meanIsExact() {
        var histogram = LatencyHistogram()
        for value in [Int64(1_001), 2_003, 3_005] { histogram.record(value) }
        #expect(histogram.mean == 2_003)
    }
}
