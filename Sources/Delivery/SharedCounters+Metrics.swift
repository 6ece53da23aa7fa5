/// The layout of `metrics.v1` (SPEC §11): which word holds what. Labels come from fixed tables, so every process
/// agrees on the slots without asking the others; a value outside a table counts under `other`.
public enum MetricSlot {
    static let jobsPublished = 2
    static let jobsSpooled = 3
    static let duplicates = 4
    static let checkRunsTimedOut = 5
    static let gapRepairRedeliveries = 6
    /// `x-ratelimit-remaining` of the last GitHub answer that had one, plus one (0: none seen yet).
    static let rateLimitRemaining = 7
    static let githubLastOKAt = 8
    static let githubLastErrorAt = 9
    /// The status of that error; 0 for a transport failure.
    static let githubLastErrorStatus = 10
    static let githubClassSlots = 16
    static let durationBuckets = 32
    static let durationSumMicroseconds = 48
    static let durationCount = 49
    static let webhooks = 64

    /// `event` label values of `solstice_webhooks_total`: the events SPEC §4 maps, and those GitHub sends an App
    /// often; the last is `other`.
    public static let events = [
        "push", "pull_request", "issue_comment", "check_run", "check_suite", "ping", "create", "delete",
        "installation", "installation_repositories", "pull_request_review", "workflow_job", "workflow_run",
        "release", "other",
    ]
    /// `status` label values of `solstice_webhooks_total` (SPEC §3's statuses); the last is `other`.
    public static let statuses = ["200", "202", "204", "400", "401", "404", "405", "413", "415", "500", "503", "other"]
    /// `status` label values of `solstice_github_requests_total`: status classes, and `error` for no answer.
    public static let githubClasses = ["2xx", "3xx", "4xx", "5xx", "error"]
    /// Upper bounds (seconds) of `solstice_webhook_duration_seconds`: a publish takes milliseconds, a workflow read
    /// from GitHub tens to hundreds, GitHub gives up at 10 s.
    public static let durationBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}

/// Every value of `metrics.v1` at one moment (each word read atomically, not all of them at once).
public struct MetricsSnapshot: Sendable, Equatable {
    /// `solstice_webhooks_total` by `MetricSlot.events` index, then `MetricSlot.statuses` index.
    public var webhooks: [[UInt64]]
    /// Per-bucket (not cumulative) counts of `MetricSlot.durationBounds`, then the count above the last bound.
    public var durationBuckets: [UInt64]
    /// Sum of the durations, in seconds.
    public var durationSum: Double
    /// Requests timed.
    public var durationCount: UInt64
    /// Jobs the broker confirmed.
    public var jobsPublished: UInt64
    /// Jobs written to the outbox instead.
    public var jobsSpooled: UInt64
    /// Deliveries answered as duplicates.
    public var duplicates: UInt64
    /// GitHub answers by `MetricSlot.githubClasses`.
    public var githubRequests: [UInt64]
    /// `x-ratelimit-remaining` of the last answer that had one.
    public var rateLimitRemaining: UInt64?
    /// When GitHub last answered 2xx/3xx (seconds since 1970).
    public var githubLastOKAt: UInt64?
    /// When a GitHub call last failed, and its status (nil: no answer).
    public var githubLastError: (at: UInt64, status: Int?)?
    /// Check Runs completed `timed_out` by the reconciler.
    public var checkRunsTimedOut: UInt64
    /// Redeliveries gap repair asked GitHub for.
    public var gapRepairRedeliveries: UInt64

    public static func == (a: MetricsSnapshot, b: MetricsSnapshot) -> Bool {
        a.webhooks == b.webhooks && a.durationBuckets == b.durationBuckets && a.durationCount == b.durationCount
            && a.jobsPublished == b.jobsPublished && a.jobsSpooled == b.jobsSpooled && a.duplicates == b.duplicates
            && a.githubRequests == b.githubRequests && a.checkRunsTimedOut == b.checkRunsTimedOut
            && a.gapRepairRedeliveries == b.gapRepairRedeliveries
    }
}

extension SharedCounters {
    /// One request to `WEBHOOK_PATH`: its event (`X-GitHub-Event`), status and duration.
    public func countWebhook(event: String?, status: Int, seconds: Double) {
        let e = event.flatMap(MetricSlot.events.firstIndex) ?? MetricSlot.events.count - 1
        let s = MetricSlot.statuses.firstIndex(of: String(status)) ?? MetricSlot.statuses.count - 1
        add(MetricSlot.webhooks + e * MetricSlot.statuses.count + s)
        let bucket = MetricSlot.durationBounds.firstIndex { seconds <= $0 } ?? MetricSlot.durationBounds.count
        add(MetricSlot.durationBuckets + bucket)
        add(MetricSlot.durationSumMicroseconds, UInt64(max(0, seconds) * 1_000_000))
        add(MetricSlot.durationCount)
    }

    /// Jobs of one delivery: confirmed by the broker, or spooled.
    public func countJobs(_ count: Int, spooled: Bool) {
        add(spooled ? MetricSlot.jobsSpooled : MetricSlot.jobsPublished, UInt64(max(0, count)))
    }

    /// A delivery answered as a duplicate.
    public func countDuplicate() { add(MetricSlot.duplicates) }

    /// One GitHub API answer (`status` nil: none arrived), with its `x-ratelimit-remaining`, at `now`.
    public func countGitHubResponse(status: Int?, rateLimitRemaining: Int?, now: Int) {
        let index: Int
        switch status {
        case .some(200..<300): index = 0
        case .some(300..<400): index = 1
        case .some(400..<500): index = 2
        case .some(500...): index = 3
        default: index = 4
        }
        add(MetricSlot.githubClassSlots + index)
        if let remaining = rateLimitRemaining, remaining >= 0 {
            store(MetricSlot.rateLimitRemaining, UInt64(remaining) + 1)
        }
        let stamp = UInt64(max(0, now))
        if let status, status < 400 {
            raise(MetricSlot.githubLastOKAt, to: stamp)
        } else if status != 404 {
            // 404 is an answer callers expect (no workflow file, App not installed), not a failure.
            store(MetricSlot.githubLastErrorStatus, UInt64(status ?? 0))
            raise(MetricSlot.githubLastErrorAt, to: stamp)
        }
    }

    /// Check Runs the reconciler completed `timed_out`.
    public func countTimedOut(_ count: Int) { add(MetricSlot.checkRunsTimedOut, UInt64(max(0, count))) }

    /// Redeliveries gap repair asked for.
    public func countRedeliveries(_ count: Int) { add(MetricSlot.gapRepairRedeliveries, UInt64(max(0, count))) }

    /// Every value now.
    public func snapshot() -> MetricsSnapshot {
        let statuses = MetricSlot.statuses.count
        let webhooks = (0..<MetricSlot.events.count).map { e in
            (0..<statuses).map { s in load(MetricSlot.webhooks + e * statuses + s) }
        }
        let remaining = load(MetricSlot.rateLimitRemaining)
        let okAt = load(MetricSlot.githubLastOKAt)
        let errorAt = load(MetricSlot.githubLastErrorAt)
        let errorStatus = load(MetricSlot.githubLastErrorStatus)
        return MetricsSnapshot(
            webhooks: webhooks,
            durationBuckets: (0...MetricSlot.durationBounds.count).map { load(MetricSlot.durationBuckets + $0) },
            durationSum: Double(load(MetricSlot.durationSumMicroseconds)) / 1_000_000,
            durationCount: load(MetricSlot.durationCount),
            jobsPublished: load(MetricSlot.jobsPublished), jobsSpooled: load(MetricSlot.jobsSpooled),
            duplicates: load(MetricSlot.duplicates),
            githubRequests: (0..<MetricSlot.githubClasses.count).map { load(MetricSlot.githubClassSlots + $0) },
            rateLimitRemaining: remaining == 0 ? nil : remaining - 1, githubLastOKAt: okAt == 0 ? nil : okAt,
            githubLastError: errorAt == 0 ? nil : (errorAt, errorStatus == 0 ? nil : Int(errorStatus)),
            checkRunsTimedOut: load(MetricSlot.checkRunsTimedOut),
            gapRepairRedeliveries: load(MetricSlot.gapRepairRedeliveries))
    }
}
