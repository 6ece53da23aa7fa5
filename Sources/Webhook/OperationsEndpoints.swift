import Base
import Delivery

/// The operations endpoints of solstice-fcgi (SPEC §11, §3's first row): `GET`/`HEAD` of `STATUS_PATH` answers
/// how the host is (JSON), of `METRICS_PATH` the host's metrics (Prometheus text 0.0.4). Counters come from the
/// shared `SPOOL_DIR/metrics.v1`, so any process answers for all; gauges (the spool's queues) are computed at the
/// scrape. Shared by all workers: it holds only immutable configuration and thread-safe collaborators.
public final class OperationsEndpoints: Sendable {
    /// What the status answer reads besides the spool.
    public struct Sources: Sendable {
        /// The process's version (`solstice_build_info{version}`).
        public var version: String
        /// Whether the broker connection is up now.
        public var brokerConnected: @Sendable () -> Bool
        /// The broker node in use (`host`, and `host:port`): the one connected to, else the one the next connect
        /// tries first; with several nodes in `AMQP_URL` this is how an operator sees a failover (SPEC §12).
        public var brokerNode: @Sendable () -> (host: String, node: String)
        /// Whether App credentials are configured.
        public var githubConfigured: Bool

        /// The sources.
        public init(
            version: String, brokerConnected: @escaping @Sendable () -> Bool,
            brokerNode: @escaping @Sendable () -> (host: String, node: String),
            githubConfigured: Bool
        ) {
            self.version = version
            self.brokerConnected = brokerConnected
            self.brokerNode = brokerNode
            self.githubConfigured = githubConfigured
        }
    }

    let statusPath: String
    let metricsPath: String
    /// The host's counters.
    public let counters: SharedCounters
    let spool: SpoolDirectory
    let outbox: JobOutbox
    let deferred: SpoolQueue
    let checks: SpoolQueue
    let sources: Sources
    let clock: @Sendable () -> Int

    /// The endpoints at `configuration`'s paths, over `spool`'s counters and queues.
    public init(
        configuration: WebhookConfiguration, spool: SpoolDirectory, counters: SharedCounters, deferred: SpoolQueue,
        checks: SpoolQueue, sources: Sources, clock: @escaping @Sendable () -> Int = WallClock.now
    ) {
        statusPath = configuration.statusPath
        metricsPath = configuration.metricsPath
        self.counters = counters
        self.spool = spool
        outbox = JobOutbox(spool: spool)
        self.deferred = deferred
        self.checks = checks
        self.sources = sources
        self.clock = clock
    }

    /// The answer to a `GET` or `HEAD` of one of the two paths; nil for any other request (the gate goes on).
    public func answer(_ request: WebhookRequest) -> WebhookResponse? {
        guard request.method == "GET" || request.method == "HEAD" else { return nil }
        var response: WebhookResponse
        switch request.path {
        case statusPath: response = status()
        case metricsPath: response = metrics()
        default: return nil
        }
        if request.method == "HEAD" {
            response.headers.append(.init(name: "Content-Type", value: response.contentType))
            response.body = []
        }
        return response
    }

    /// The spool's queues now.
    struct Queues {
        var outbox: Int
        var oldestOutboxAge: Int
        var deferred: Int
        var checks: Int
    }

    func queues(now: Int) -> Queues {
        let census = outbox.census()
        return Queues(
            outbox: census.count, oldestOutboxAge: census.oldestWritten.map { max(0, now - $0) } ?? 0,
            deferred: deferred.files().count, checks: checks.files().count)
    }

    /// `STATUS_PATH`: `ok`; `degraded` (200) when the broker is down but the spool takes webhooks; `failing` (503)
    /// when the spool cannot make a webhook durable.
    func status() -> WebhookResponse {
        let now = clock()
        let writable = spool.isWritable()
        let connected = sources.brokerConnected()
        let broker = sources.brokerNode()
        let queues = queues(now: now)
        let snapshot = counters.snapshot()
        let state = !writable ? "failing" : connected ? "ok" : "degraded"
        var lastError = JSONField.null
        if let error = snapshot.githubLastError {
            let what = error.status.map { "HTTP \($0)" } ?? "no answer"
            lastError = .string("\(what) at \(RFC3339.format(secondsSince1970: Int(error.at)))")
        }
        let body = JSONField.object([
            ("status", .string(state)), ("version", .string(sources.version)),
            (
                "broker",
                .object([
                    ("connected", .bool(connected)), ("url_host", .string(broker.host)), ("node", .string(broker.node)),
                ])
            ),
            (
                "spool",
                .object([
                    ("writable", .bool(writable)), ("outbox", .int(queues.outbox)),
                    ("oldest_outbox_age_s", .int(queues.oldestOutboxAge)), ("deferred", .int(queues.deferred)),
                    ("checks_outbox", .int(queues.checks)),
                ])
            ),
            (
                "github",
                .object([
                    ("configured", .bool(sources.githubConfigured)),
                    (
                        "last_ok_at",
                        .optional(snapshot.githubLastOKAt.map { RFC3339.format(secondsSince1970: Int($0)) })
                    ),
                    ("last_error", lastError),
                ])
            ),
        ])
        return WebhookResponse(status: writable ? 200 : 503, headers: [], body: body.bytes)
    }

    /// `METRICS_PATH`: every metric of SPEC §11.
    func metrics() -> WebhookResponse {
        var response = WebhookResponse(
            status: 200, headers: [],
            body: Array(Self.render(counters.snapshot(), queues(now: clock()), version: sources.version).utf8))
        response.contentType = PrometheusText.contentType
        return response
    }

    /// The exposition of `snapshot` and `queues`: each family's HELP and TYPE even before anything was counted.
    static func render(_ snapshot: MetricsSnapshot, _ queues: Queues, version: String) -> String {
        var out = PrometheusText()
        out.family(
            "solstice_webhooks_total", "counter", help: "Requests to WEBHOOK_PATH answered, by event and status.")
        for (e, event) in MetricSlot.events.enumerated() {
            for (s, status) in MetricSlot.statuses.enumerated() where snapshot.webhooks[e][s] > 0 {
                out.sample(
                    "solstice_webhooks_total", [("event", event), ("status", status)], Double(snapshot.webhooks[e][s]))
            }
        }
        out.histogram(
            "solstice_webhook_duration_seconds", help: "Time from a webhook's head to its answer.",
            bounds: MetricSlot.durationBounds, counts: snapshot.durationBuckets, sum: snapshot.durationSum)
        let counters: [(String, String, UInt64)] = [
            (
                "solstice_jobs_published_total", "Jobs the broker confirmed when their webhook was answered.",
                snapshot.jobsPublished
            ),
            (
                "solstice_jobs_spooled_total", "Jobs written to the outbox because the broker did not confirm them.",
                snapshot.jobsSpooled
            ),
            (
                "solstice_deliveries_duplicate_total", "Deliveries answered as duplicates of one already accepted.",
                snapshot.duplicates
            ),
        ]
        for (name, help, value) in counters {
            out.single(name, "counter", help: help, Double(value))
        }
        let gauges: [(String, String, Int)] = [
            ("solstice_outbox_messages", "Files in SPOOL_DIR/outbox waiting for the broker.", queues.outbox),
            (
                "solstice_outbox_oldest_age_seconds", "Age of the oldest outbox file; 0 when empty.",
                queues.oldestOutboxAge
            ),
            ("solstice_expansions_deferred", "Deliveries whose workflow GitHub could not give yet.", queues.deferred),
            ("solstice_checks_outbox", "Check Run writes waiting to be sent to GitHub.", queues.checks),
        ]
        for (name, help, value) in gauges {
            out.single(name, "gauge", help: help, Double(value))
        }
        out.family(
            "solstice_github_requests_total", "counter",
            help: "GitHub API answers by status class; error: no answer arrived.")
        for (index, label) in MetricSlot.githubClasses.enumerated() {
            out.sample("solstice_github_requests_total", [("status", label)], Double(snapshot.githubRequests[index]))
        }
        out.family(
            "solstice_github_rate_limit_remaining", "gauge",
            help: "x-ratelimit-remaining of the last GitHub answer that carried it.")
        if let remaining = snapshot.rateLimitRemaining {
            out.sample("solstice_github_rate_limit_remaining", [], Double(remaining))
        }
        out.single(
            "solstice_checkruns_timed_out_total", "counter",
            help: "Check Runs the reconciler completed timed_out (JOB_TIMEOUT passed without a result).",
            Double(snapshot.checkRunsTimedOut))
        out.single(
            "solstice_gap_repair_redeliveries_total", "counter",
            help: "Redeliveries gap repair asked GitHub for (deliveries this host never recorded).",
            Double(snapshot.gapRepairRedeliveries))
        out.family("solstice_build_info", "gauge", help: "The version of solstice-fcgi; always 1.")
        out.sample("solstice_build_info", [("version", version)], 1)
        return out.text
    }
}
