/// A log-linear histogram of non-negative integer samples (microseconds, typically), in the
/// spirit of HdrHistogram: 64 buckets per power of two, so any percentile is reported within
/// about 1.6% of the true sample. Fixed size (a few KiB), O(1) record, mergeable.
public struct LatencyHistogram: Sendable {
    // 2^7 sub-buckets, of which values >= 128 use the upper half: 64 per power of two.
    private static let subBucketBits = 7
    private static let subBucketCount = 1 << subBucketBits
    private static let bucketCount = 64 - subBucketBits

    private var counts: [UInt64]
    /// Values recorded.
    public private(set) var totalCount: UInt64 = 0
    /// The largest value recorded.
    public private(set) var maxValue: Int64 = 0
    /// The sum of the values recorded.
    public private(set) var sum: Int64 = 0

    /// An empty histogram.
    public init() {
        counts = Array(repeating: 0, count: (Self.bucketCount + 1) * Self.subBucketCount)
    }

    @inline(__always)
    static func index(of value: Int64) -> Int {
        let v = UInt64(max(value, 0))
        if v < UInt64(subBucketCount) { return Int(v) }
        let magnitude = 63 - v.leadingZeroBitCount  // >= subBucketBits
        let shift = magnitude - subBucketBits + 1
        let sub = Int(v >> UInt64(shift))  // in [32, 64)
        return shift * (subBucketCount / 2) + sub
    }

    /// The highest value that maps to bucket `index` (what percentiles report).
    static func highestValue(atIndex index: Int) -> Int64 {
        if index < subBucketCount { return Int64(index) }
        let half = subBucketCount / 2
        let shift = (index - half) / half
        let sub = index - shift * half
        guard shift < 56 else { return Int64.max }
        return (Int64(sub + 1) << Int64(shift)) - 1
    }

    /// Records one value (negative values count as 0).
    public mutating func record(_ value: Int64) {
        let clamped = max(value, 0)
        counts[Self.index(of: clamped)] &+= 1
        totalCount &+= 1
        sum &+= clamped
        if clamped > maxValue { maxValue = clamped }
    }

    /// Adds every value of `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        for i in 0..<counts.count where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        totalCount &+= other.totalCount
        sum &+= other.sum
        maxValue = max(maxValue, other.maxValue)
    }

    /// The value at `percentile` (0...100); 0 for an empty histogram.
    public func value(atPercentile percentile: Double) -> Int64 {
        guard totalCount > 0 else { return 0 }
        let wanted = max(1, UInt64((percentile / 100 * Double(totalCount)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, count) in counts.enumerated() where count != 0 {
            seen += count
            if seen >= wanted { return min(Self.highestValue(atIndex: index), maxValue) }
        }
        return maxValue
    }

    /// The mean of the values recorded (0 when none).
    public var mean: Double { totalCount == 0 ? 0 : Double(sum) / Double(totalCount) }
}
