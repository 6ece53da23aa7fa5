import AMQP
import Base
import Events
import GitHub
import HTTP
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

/// Everything solstice-fcgi needs, read once from the environment (SPEC §2) and validated before the first
/// request. A command-line flag of the same meaning overrides the variable.
public struct WebhookConfiguration: Sendable {
    /// HMAC secrets (`GITHUB_WEBHOOK_SECRET`, `WEBHOOK_SECRET`, or one per line of `GITHUB_WEBHOOK_SECRET_FILE`).
    /// Empty: dev mode, every request is accepted (`load` allows that only with `SOLSTICE_DEV_MODE=1`).
    public var webhookSecrets: [String] = []
    /// `SOLSTICE_DEV_MODE=1`: the operator asked to run without a webhook secret.
    public var devModeRequested = false
    /// The only path answered (`WEBHOOK_PATH`) [/webhooks/github].
    public var webhookPath = "/webhooks/github"
    /// The status endpoint (`STATUS_PATH`) [/solstice/status] (SPEC §11).
    public var statusPath = "/solstice/status"
    /// The Prometheus metrics endpoint (`METRICS_PATH`) [/solstice/metrics] (SPEC §11).
    public var metricsPath = "/solstice/metrics"
    /// `host:port` or a unix socket path (`FCGI_LISTEN`); nil: the socket inherited on fd 0, or CGI.
    public var listen: String?
    /// Requests one process serves at once (`FCGI_WORKERS`) [2 × CPUs].
    public var workers = 2 * WebhookConfiguration.cpuCount
    /// Seconds a FastCGI client may hold a worker between connecting and being answered
    /// (`FCGI_CLIENT_TIMEOUT`) [30s].
    public var clientTimeout = 30
    /// Larger request bodies are answered 413 (`MAX_BODY_BYTES`) [26214400].
    public var maxBodyBytes = 26_214_400
    /// The broker and topology (`AMQP_*`).
    public var amqp = AMQPSettings()
    /// Globs over `owner/repo` (`REPO_ALLOWLIST`); nil allows all.
    public var repoAllowlist: [String]?
    /// Globs over branch names (`BRANCH_ALLOWLIST`); nil allows all.
    public var branchAllowlist: [String]?
    /// Label used when nothing else names one (`RUNS_ON_DEFAULT`).
    public var runsOnDefault: String?
    /// Per-repository labels, keyed by `owner/repo` (`RUNS_ON_MAP`).
    public var runsOnMap: [String: String] = [:]
    /// What a repository's workflow may ask for (`WORKFLOW_MAX_BYTES`, `WORKFLOW_MAX_JOBS`, `RUNS_ON_ALLOWED`).
    public var workflowLimits = WorkflowLimits()
    /// Who may make the runners run code (`TRUST_POLICY`, `TRUSTED_USERS`).
    public var trust = TrustPolicy()
    /// `BUILD_DRAFTS=1`: draft pull requests build too.
    public var buildDrafts = false
    /// Check Run writes per installation per minute for the whole host (`GITHUB_WRITES_PER_MINUTE`) [60].
    public var githubWritesPerMinute = 60
    /// A run still queued or in progress this long after it was created is completed `timed_out` (`JOB_TIMEOUT`)
    /// [6h].
    public var jobTimeout = 6 * 3600
    /// How often one process of the host looks for such runs (`RECONCILE_INTERVAL`) [10m].
    public var reconcileInterval = 600
    /// How long a deferred workflow read is retried before the delivery gives up (`EXPANSION_GIVE_UP`) [24h].
    public var expansionGiveUp = 24 * 3600
    /// How often one process of the host asks GitHub for deliveries it never answered (`GAP_REPAIR_INTERVAL`)
    /// [10m]; 0: never.
    public var gapRepairInterval = 600
    /// Durable outbox and delivery records (`SPOOL_DIR`) [/var/spool/solstice].
    public var spoolDir = "/var/spool/solstice"
    /// The App, API root, check name and log links; without an App no workflow expansion and no Check Runs.
    public var github = GitHubSettings()
    /// `CA_BUNDLE`.
    public var http = HTTPSettings()
    /// `LOG_LEVEL`, `LOG_FORMAT`.
    public var log = LogSettings()

    /// Defaults everywhere, no secret (dev mode).
    public init() {}

    /// True when no secret is configured and every signature is accepted.
    public var isDevMode: Bool { webhookSecrets.isEmpty }

    static var cpuCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The flags that override a variable (`--listen` → `FCGI_LISTEN`).
    public static let flags = [
        "--listen": "FCGI_LISTEN", "--workers": "FCGI_WORKERS", "--webhook-path": "WEBHOOK_PATH",
    ]

    /// Every variable solstice-fcgi reads, with its default: the one table behind `--help`, `check-config` and the
    /// README.
    public static let variables: [ConfigVariable] =
        [
            ConfigVariable("GITHUB_WEBHOOK_SECRET", nil, "HMAC secret of the webhooks; none: dev mode"),
            ConfigVariable("WEBHOOK_SECRET", nil, "fallback name of GITHUB_WEBHOOK_SECRET"),
            ConfigVariable("GITHUB_WEBHOOK_SECRET_FILE", nil, "file with one secret per line; any verifies (rotation)"),
            ConfigVariable("SOLSTICE_DEV_MODE", nil, "1: run without a webhook secret (never with App credentials)"),
            ConfigVariable("WEBHOOK_PATH", "/webhooks/github", "the only path answered (--webhook-path)"),
            ConfigVariable("STATUS_PATH", "/solstice/status", "GET: the host's status as JSON (SPEC §11)"),
            ConfigVariable("METRICS_PATH", "/solstice/metrics", "GET: the host's Prometheus metrics (SPEC §11)"),
            ConfigVariable("FCGI_LISTEN", "fd 0, or one CGI request", "host:port or a unix socket path (--listen)"),
            ConfigVariable("FCGI_WORKERS", "2 × CPUs", "requests served at once by one process (--workers)"),
            ConfigVariable("FCGI_CLIENT_TIMEOUT", "30s", "a client that stalls is cut off after this long"),
            ConfigVariable("MAX_BODY_BYTES", "26214400", "larger bodies get 413"),
            ConfigVariable("REPO_ALLOWLIST", "allow all", "comma-separated globs over owner/repo"),
            ConfigVariable("BRANCH_ALLOWLIST", "allow all", "comma-separated globs over branch names"),
            ConfigVariable("RUNS_ON_DEFAULT", nil, "runner label when nothing else names one"),
            ConfigVariable("RUNS_ON_MAP", nil, "owner/repo=label,...: a label per repository"),
            ConfigVariable("SPOOL_DIR", "/var/spool/solstice", "durable outbox and delivery records"),
        ] + TrustPolicy.variables + [
            ConfigVariable("BUILD_DRAFTS", "0", "1: draft pull requests build too"),
            ConfigVariable("GITHUB_WRITES_PER_MINUTE", "60", "Check Run writes per installation per minute, host-wide"),
            ConfigVariable("JOB_TIMEOUT", "6h", "a run without result this long after creation is completed timed_out"),
            ConfigVariable("RECONCILE_INTERVAL", "10m", "how often one process of the host looks for such runs"),
            ConfigVariable("EXPANSION_GIVE_UP", "24h", "how long a deferred workflow read is retried"),
            ConfigVariable("GAP_REPAIR_INTERVAL", "10m", "how often lost deliveries are asked for again; 0: never"),
        ] + WorkflowLimits.variables + AMQPSettings.variables + GitHubSettings.variables + HTTPSettings.variables
        + LogSettings.variables

    /// Reads SPEC §2 from `env` (flags already applied).
    public static func load(_ env: Environment) throws(ConfigurationError) -> WebhookConfiguration {
        var config = WebhookConfiguration()
        config.webhookSecrets = try loadSecrets(env)
        switch env.raw("SOLSTICE_DEV_MODE").map({ $0.trimmed() }) {
        case nil, "", "0": config.devModeRequested = false
        case "1": config.devModeRequested = true
        default: throw ConfigurationError(variable: "SOLSTICE_DEV_MODE", message: "expected 1 (or unset)")
        }
        if let path = env.value("WEBHOOK_PATH") {
            guard path.hasPrefix("/"), !path.contains("?") else {
                throw ConfigurationError(variable: "WEBHOOK_PATH", message: "must start with / and have no query")
            }
            config.webhookPath = path
        }
        for (name, path) in [("STATUS_PATH", \WebhookConfiguration.statusPath), ("METRICS_PATH", \.metricsPath)] {
            guard let value = env.value(name) else { continue }
            guard value.hasPrefix("/"), !value.contains("?"), value != config.webhookPath else {
                throw ConfigurationError(
                    variable: name, message: "must start with /, have no query and differ from WEBHOOK_PATH")
            }
            config[keyPath: path] = value
        }
        config.listen = env.value("FCGI_LISTEN")
        if let n = try env.integer("FCGI_WORKERS", in: 1...1024, "expected a whole number from 1 to 1024") {
            config.workers = n
        }
        if let text = env.value("FCGI_CLIENT_TIMEOUT") {
            guard let seconds = DurationText.seconds(text), (1...3600).contains(seconds) else {
                throw ConfigurationError(
                    variable: "FCGI_CLIENT_TIMEOUT", message: "expected a duration from 1s to 1h (30s, 2m)")
            }
            config.clientTimeout = seconds
        }
        if let n = try env.integer("MAX_BODY_BYTES", in: 1...Int.max, "expected a positive number of bytes") {
            config.maxBodyBytes = n
        }
        config.amqp = try AMQPSettings.load(env)
        config.repoAllowlist = env.list("REPO_ALLOWLIST")
        config.branchAllowlist = env.list("BRANCH_ALLOWLIST")
        config.runsOnDefault = env.value("RUNS_ON_DEFAULT")
        if let map = env.value("RUNS_ON_MAP") {
            for entry in map.split(separator: ",") {
                let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmed() }
                guard parts.count == 2, parts[0].split(separator: "/").count == 2, !parts[1].isEmpty else {
                    throw ConfigurationError(
                        variable: "RUNS_ON_MAP", message: "expected owner/repo=label[,owner/repo=label], got '\(entry)'"
                    )
                }
                config.runsOnMap[parts[0].lowercased()] = parts[1]
            }
        }
        config.trust = try TrustPolicy.load(env)
        switch env.value("BUILD_DRAFTS") {
        case nil, "0": config.buildDrafts = false
        case "1": config.buildDrafts = true
        default: throw ConfigurationError(variable: "BUILD_DRAFTS", message: "expected 0 or 1")
        }
        if let n = try env.integer(
            "GITHUB_WRITES_PER_MINUTE", in: 1...1_000_000, "expected a whole number from 1 to 1000000")
        {
            config.githubWritesPerMinute = n
        }
        config.jobTimeout = try duration(env, "JOB_TIMEOUT", 10...30 * 86_400) ?? config.jobTimeout
        config.reconcileInterval = try duration(env, "RECONCILE_INTERVAL", 1...86_400) ?? config.reconcileInterval
        config.expansionGiveUp = try duration(env, "EXPANSION_GIVE_UP", 10...30 * 86_400) ?? config.expansionGiveUp
        config.gapRepairInterval = try duration(env, "GAP_REPAIR_INTERVAL", 0...86_400) ?? config.gapRepairInterval
        config.workflowLimits = try WorkflowLimits.load(env)
        if let dir = env.value("SPOOL_DIR") { config.spoolDir = dir }
        config.github = try GitHubSettings.load(env)
        config.http = try HTTPSettings.load(env)
        config.log = try LogSettings.load(env)
        if config.devModeRequested && config.github.app != nil {
            throw ConfigurationError(
                variable: "SOLSTICE_DEV_MODE",
                message: "refused with App credentials set: an unsigned request could make the App act on GitHub")
        }
        return config
    }

    /// A duration variable (`90s`, `10m`, `6h`, `3d`, or seconds) within `range` seconds, or nil when unset.
    private static func duration(_ env: Environment, _ name: String, _ range: ClosedRange<Int>)
        throws(ConfigurationError)
        -> Int?
    {
        guard let text = env.value(name) else { return nil }
        guard let seconds = DurationText.seconds(text), range.contains(seconds) else {
            throw ConfigurationError(
                variable: name,
                message:
                    "expected a duration (90s, 10m, 6h, 3d) from \(range.lowerBound) to \(range.upperBound) seconds")
        }
        return seconds
    }

    /// The webhook secrets (SPEC §2). A secret variable that is set but blank stops the start, naming it: it never
    /// falls back to another variable, nor to running without a secret.
    private static func loadSecrets(_ env: Environment) throws(ConfigurationError) -> [String] {
        for name in ["GITHUB_WEBHOOK_SECRET_FILE", "GITHUB_WEBHOOK_SECRET", "WEBHOOK_SECRET"] {
            if let raw = env.raw(name), raw.trimmed().isEmpty {
                throw ConfigurationError(variable: name, message: "set but empty: give the secret, or unset it")
            }
        }
        if let path = env.value("GITHUB_WEBHOOK_SECRET_FILE") {
            let text = try env.file(path, for: "GITHUB_WEBHOOK_SECRET_FILE")
            let secrets = text.split(whereSeparator: \.isNewline).map { $0.trimmed() }.filter { !$0.isEmpty }
            if secrets.isEmpty {
                throw ConfigurationError(variable: "GITHUB_WEBHOOK_SECRET_FILE", message: "\(path) holds no secret")
            }
            return secrets
        }
        if let secret = env.raw("GITHUB_WEBHOOK_SECRET") ?? env.raw("WEBHOOK_SECRET") { return [secret] }
        return []
    }

    /// Serving needs a secret unless `SOLSTICE_DEV_MODE=1` (or `allowDevMode`, check-config's `--dev`) asked to
    /// run without one.
    public func requireSecret(allowDevMode: Bool = false) throws(ConfigurationError) {
        guard isDevMode, !devModeRequested, !allowDevMode else { return }
        throw ConfigurationError(
            variable: "GITHUB_WEBHOOK_SECRET",
            message: "none set (nor GITHUB_WEBHOOK_SECRET_FILE): anyone could queue builds; set one, or "
                + "SOLSTICE_DEV_MODE=1 for a local test setup")
    }
}
