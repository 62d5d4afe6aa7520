import Testing

@testable import LookoutEngine

@Suite("Prometheus text exposition written by the engine")
struct PrometheusTextTests {
    @Test("a family has HELP and TYPE once, one line per label set, whole numbers without a fraction")
    func families() {
        var text = PrometheusText()
        text.family("lookout_x_total", "counter", "Things.", [("", 3), ("{code=\"timeout\"}", 2.5)])
        text.family("lookout_y", "gauge", "One.", value: 1e15)
        #expect(
            text.text
                == """
                # HELP lookout_x_total Things.
                # TYPE lookout_x_total counter
                lookout_x_total 3
                lookout_x_total{code="timeout"} 2.5
                # HELP lookout_y One.
                # TYPE lookout_y gauge
                lookout_y 1000000000000000.0

                """)
    }

    @Test("a histogram's buckets are cumulative and end with +Inf equal to the count")
    func histogram() {
        var text = PrometheusText()
        text.histogram("lookout_h_seconds", "Spread.", bounds: [0.1, 1], buckets: [2, 3], sumSeconds: 1.25, count: 6)
        #expect(
            text.text
                == """
                # HELP lookout_h_seconds Spread.
                # TYPE lookout_h_seconds histogram
                lookout_h_seconds_bucket{le="0.1"} 2
                lookout_h_seconds_bucket{le="1.0"} 5
                lookout_h_seconds_bucket{le="+Inf"} 6
                lookout_h_seconds_sum 1.25
                lookout_h_seconds_count 6

                """)
    }
}
