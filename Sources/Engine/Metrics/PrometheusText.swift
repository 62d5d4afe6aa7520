/// Prometheus text exposition format 0.0.4, written by hand on the metrics thread (the engine
/// links no metrics library): metric families with their HELP and TYPE lines, samples, and
/// histograms from per-bucket counts. Every `/metrics` family of the engine goes through it.
struct PrometheusText {
    /// The exposition so far.
    private(set) var text = ""

    /// A family with one sample per label set (`""` for none, `{code="timeout"}` otherwise).
    mutating func family(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
        header(name, type, help)
        for (labels, value) in samples {
            text += "\(name)\(labels) \(Self.format(value))\n"
        }
    }

    /// A family with a single unlabelled sample.
    mutating func family(_ name: String, _ type: String, _ help: String, value: Double) {
        family(name, type, help, [("", value)])
    }

    /// A histogram from the count in each bucket (not cumulative) of `bounds` (seconds); the
    /// `+Inf` bucket is `count`.
    mutating func histogram(
        _ name: String, _ help: String, bounds: [Double], buckets: [Int], sumSeconds: Double, count: Int
    ) {
        header(name, "histogram", help)
        var cumulative = 0
        for (index, bound) in bounds.enumerated() {
            cumulative += buckets[index]
            text += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        text += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        text += "\(name)_sum \(sumSeconds)\n"
        text += "\(name)_count \(count)\n"
    }

    /// Whole numbers without a fraction (`42`, not `42.0`), others as Swift prints them.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    private mutating func header(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }
}
