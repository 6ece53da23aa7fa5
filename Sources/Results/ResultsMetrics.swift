import Base
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// solstice-results' metrics (SPEC §11), kept in the process and written to `METRICS_TEXTFILE` for node_exporter's
/// textfile collector: one process per host consumes results, so nothing needs to add up across processes.
/// Shared by every consumer thread (a mutex).
public final class ResultsMetrics: Sendable {
    /// Upper bounds (seconds) of `solstice_result_duration_seconds`: a Check Run PATCH takes tens of milliseconds,
    /// a log download and upload up to a minute (the handler's deadline).
    public static let durationBounds: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// `conclusion` values always exposed: the Check Run's conclusion, and results for repositories without the App.
    public static let conclusions = ["success", "failure", "not_installed"]

    private struct State {
        var results: [String: UInt64] = [:]
        var retried: UInt64 = 0
        var deadLettered: UInt64 = 0
        var buckets = [UInt64](repeating: 0, count: ResultsMetrics.durationBounds.count + 1)
        var durationSum = 0.0
        var lastSuccess: Int?
    }

    private let state = Mutex(State())

    /// No results yet.
    public init() {}

    /// A result handled in `seconds`: its Check Run completed with `conclusion` at `now` (seconds since 1970).
    public func completed(conclusion: String, seconds: Double, now: Int) {
        state.withLock {
            $0.results[conclusion, default: 0] += 1
            $0.lastSuccess = now
            Self.observe(&$0, seconds)
        }
    }

    /// An attempt that failed for a passing reason and was handed to a delay queue.
    public func retried(seconds: Double) {
        state.withLock {
            $0.retried += 1
            Self.observe(&$0, seconds)
        }
    }

    /// A result sent to the dead-letter queue (malformed, refused for good, or out of attempts).
    public func deadLettered(seconds: Double) {
        state.withLock {
            $0.deadLettered += 1
            Self.observe(&$0, seconds)
        }
    }

    private static func observe(_ state: inout State, _ seconds: Double) {
        state.buckets[durationBounds.firstIndex { seconds <= $0 } ?? durationBounds.count] += 1
        state.durationSum += max(0, seconds)
    }

    /// The exposition: every family's HELP and TYPE, also before the first result.
    public func text() -> String {
        let s = state.withLock { $0 }
        var out = PrometheusText()
        out.family("solstice_results_total", "counter", help: "Results whose Check Run was completed, by conclusion.")
        for conclusion in Set(Self.conclusions).union(s.results.keys).sorted() {
            out.sample("solstice_results_total", [("conclusion", conclusion)], Double(s.results[conclusion] ?? 0))
        }
        out.single(
            "solstice_results_retried_total", "counter",
            help: "Result attempts that failed for a passing reason and went to a delay queue.", Double(s.retried))
        out.single(
            "solstice_results_dead_lettered_total", "counter",
            help: "Results sent to the dead-letter queue (malformed, refused, or out of attempts).",
            Double(s.deadLettered))
        out.histogram(
            "solstice_result_duration_seconds", help: "Time of one attempt at a result, whatever its outcome.",
            bounds: Self.durationBounds, counts: s.buckets, sum: s.durationSum)
        out.family(
            "solstice_results_last_success_timestamp_seconds", "gauge",
            help: "When a result's Check Run was last completed (seconds since 1970); absent before the first.")
        if let last = s.lastSuccess {
            out.sample("solstice_results_last_success_timestamp_seconds", [], Double(last))
        }
        return out.text
    }

    /// Writes `text()` to `path` whole or not at all: a temporary file beside it, then `rename(2)`, so the textfile
    /// collector never reads half a file.
    public func write(to path: String) throws(PosixError) {
        let temp = path + ".tmp." + String(getpid())
        let file = try FileDescriptor(path: temp, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        do { try file.writeAll(Array(text().utf8), what: "cannot write \(temp)") } catch {
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else {
            let error = PosixError("cannot rename \(temp) to \(path)")
            unlink(temp)
            throw error
        }
    }
}
