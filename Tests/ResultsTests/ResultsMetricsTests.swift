import Base
import TestSupport
import Testing

@testable import Results

/// `METRICS_TEXTFILE` (SPEC §11): every family before the first result, counts by outcome, a whole-file write.
@Suite struct ResultsMetricsTests {
    @Test func everyFamilyIsNamedBeforeTheFirstResult() {
        let text = ResultsMetrics().text()
        for family in [
            "solstice_results_total counter", "solstice_results_retried_total counter",
            "solstice_results_dead_lettered_total counter", "solstice_result_duration_seconds histogram",
            "solstice_results_last_success_timestamp_seconds gauge",
        ] {
            #expect(text.contains("# TYPE \(family)\n"), "\(family)")
        }
        #expect(text.contains("solstice_results_total{conclusion=\"success\"} 0\n"))
        #expect(!text.contains("\nsolstice_results_last_success_timestamp_seconds "))
    }

    @Test func outcomesAreCountedAndTheFileIsReplacedWhole() throws {
        let metrics = ResultsMetrics()
        metrics.completed(conclusion: "failure", seconds: 0.2, now: 1_800_000_000)
        metrics.retried(seconds: 3)
        metrics.deadLettered(seconds: 100)
        let text = metrics.text()
        #expect(text.contains("solstice_results_total{conclusion=\"failure\"} 1\n"))
        #expect(text.contains("solstice_results_retried_total 1\n"))
        #expect(text.contains("solstice_results_dead_lettered_total 1\n"))
        #expect(text.contains("solstice_result_duration_seconds_bucket{le=\"0.25\"} 1\n"))
        #expect(text.contains("solstice_result_duration_seconds_bucket{le=\"60\"} 2\n"))
        #expect(text.contains("solstice_result_duration_seconds_count 3\n"))
        #expect(text.contains("solstice_results_last_success_timestamp_seconds 1800000000\n"))
        let directory = TemporaryDirectory("results-metrics")
        defer { directory.remove() }
        let path = directory.path + "/solstice-results.prom"
        try metrics.write(to: path)
        try metrics.write(to: path)
        #expect(Posix.list(directory.path) == ["solstice-results.prom"])
    }
}
