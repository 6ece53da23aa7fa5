import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Everything the webhook path needs to know, read once from the environment (SPEC §2) and validated before the
/// first request. A command-line flag of the same meaning overrides the variable.
public struct Configuration: Sendable {
    /// HMAC secrets (`GITHUB_WEBHOOK_SECRET`, `WEBHOOK_SECRET`, or one per line of `GITHUB_WEBHOOK_SECRET_FILE`).
    /// Empty: dev mode, every request is accepted.
    public var webhookSecrets: [String] = []
    /// The only path answered (`WEBHOOK_PATH`) [/webhooks/github].
    public var webhookPath = "/webhooks/github"
    /// `host:port` or a unix socket path (`FCGI_LISTEN`); nil: the socket inherited on fd 0, or CGI.
    public var listen: String?
    /// Requests one process serves at once (`FCGI_WORKERS`) [2 × CPUs].
    public var workers = 2 * Configuration.cpuCount
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
    /// Durable outbox and delivery records (`SPOOL_DIR`) [/var/spool/solstice].
    public var spoolDir = "/var/spool/solstice"
    /// GitHub App credentials (`GITHUB_APP_ID` with `GITHUB_APP_KEY_PATH` or `GITHUB_APP_KEY`); nil: no workflow
    /// expansion and no Check Runs.
    public var githubApp: GitHubAppCredentials?
    /// REST API root (`GITHUB_API_BASE`) [https://api.github.com]; GitHub Enterprise Server: `https://HOST/api/v3`.
    public var githubAPIBase = "https://api.github.com"
    /// Check Run name (`GITHUB_CHECK_NAME`) [Solstice CI]; with several jobs `NAME / JOB_ID`.
    public var checkName = "Solstice CI"
    /// Orchestrator log service (`LOGS_BASE_URL`, deprecated `ORCH_HTTP_BASE`); job log at `{base}/jobs/{id}/logs`.
    public var logsBaseURL: String?
    /// Log upload to S3-compatible storage (`S3_*`, `AWS_*`, SPEC §8); nil when `S3_BUCKET` is unset.
    public var s3: S3Settings?
    /// Results handled at once by solstice-results (`RESULTS_WORKERS`) [4], each on its own broker connection.
    public var resultsWorkers = 4
    /// Warnings found while loading (deprecated names), logged once at start.
    public var warnings: [String] = []
    /// Least severe level logged (`LOG_LEVEL`) [info].
    public var logLevel = LogLevel.info
    /// `text` or `json` (`LOG_FORMAT`) [text].
    public var logFormat = LogFormat.text

    /// Defaults everywhere, no secret (dev mode).
    public init() {}

    /// True when no secret is configured and every signature is accepted.
    public var isDevMode: Bool { webhookSecrets.isEmpty }

    static var cpuCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

/// Broker address and the names of SPEC §6.
public struct AMQPSettings: Sendable, Equatable {
    /// `AMQP_URL` [amqp://127.0.0.1:5672/%2f].
    public var url = "amqp://127.0.0.1:5672/%2f"
    /// `AMQP_EXCHANGE` [solstice.jobs].
    public var exchange = "solstice.jobs"
    /// `AMQP_ROUTING_KEY` [jobrequest.v1].
    public var routingKey = "jobrequest.v1"
    /// `AMQP_QUEUE` [solstice.jobs.v1].
    public var queue = "solstice.jobs.v1"
    /// `AMQP_DLX` [solstice.dlx].
    public var deadLetterExchange = "solstice.dlx"
    /// `AMQP_DLQ` [solstice.jobs.v1.dlq].
    public var deadLetterQueue = "solstice.jobs.v1.dlq"
    /// `AMQP_RESULTS_ROUTING_KEY` [jobresult.v1].
    public var resultsRoutingKey = "jobresult.v1"
    /// `AMQP_RESULTS_QUEUE` [solstice.results.v1].
    public var resultsQueue = "solstice.results.v1"
    /// `AMQP_RESULTS_DLQ` [solstice.results.v1.dlq].
    public var resultsDeadLetterQueue = "solstice.results.v1.dlq"

    /// Defaults of SPEC §2.
    public init() {}
}

/// Where job logs are uploaded (SPEC §8). The secret key is never logged: `description` leaves it out.
public struct S3Settings: Sendable, Equatable, CustomStringConvertible {
    /// `S3_ENDPOINT` [https://s3.REGION.amazonaws.com], without a trailing slash; requests are path style.
    public var endpoint: String
    /// `S3_BUCKET`.
    public var bucket: String
    /// `S3_REGION` [us-east-1], part of the Signature V4 scope.
    public var region = "us-east-1"
    /// `AWS_ACCESS_KEY_ID`.
    public var accessKeyID: String
    /// `AWS_SECRET_ACCESS_KEY`.
    public var secretAccessKey: String
    /// `S3_PUBLIC_BASE_URL` [S3_ENDPOINT/S3_BUCKET]: where people read the logs (a CDN, a public bucket URL).
    public var publicBaseURL: String?

    /// Settings for `bucket` at `endpoint`.
    public init(
        endpoint: String, bucket: String, region: String = "us-east-1", accessKeyID: String, secretAccessKey: String,
        publicBaseURL: String? = nil
    ) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.publicBaseURL = publicBaseURL
    }

    public var description: String { "s3 \(endpoint)/\(bucket) (\(region), key \(accessKeyID))" }
}

/// A configuration value that stops the process at start; `description` is the one line printed.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// The environment variable (or flag) at fault.
    public var variable: String
    /// What is wrong with it and what is expected.
    public var message: String

    /// `VARIABLE: message`.
    public var description: String { "invalid configuration: \(variable): \(message)" }
}

extension Configuration {
    /// Reads SPEC §2 from `environment`; `overrides` holds command-line flags by variable name
    /// (`--listen` → `FCGI_LISTEN`), which win over the environment.
    public static func load(
        environment: [String: String], overrides: [String: String] = [:],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws(ConfigurationError) -> Configuration {
        var env = environment
        for (key, value) in overrides { env[key] = value }
        func value(_ name: String) -> String? {
            guard let raw = env[name] else { return nil }
            let trimmed = raw.trimmed()
            return trimmed.isEmpty ? nil : trimmed
        }
        var config = Configuration()

        if let path = value("GITHUB_WEBHOOK_SECRET_FILE") {
            let text: String
            do { text = try readFile(path) } catch {
                throw ConfigurationError(variable: "GITHUB_WEBHOOK_SECRET_FILE", message: "cannot read \(path)")
            }
            config.webhookSecrets = text.split(whereSeparator: \.isNewline)
                .map { $0.trimmed() }.filter { !$0.isEmpty }
            if config.webhookSecrets.isEmpty {
                throw ConfigurationError(variable: "GITHUB_WEBHOOK_SECRET_FILE", message: "\(path) holds no secret")
            }
        } else if let secret = env["GITHUB_WEBHOOK_SECRET"] ?? env["WEBHOOK_SECRET"], !secret.isEmpty {
            config.webhookSecrets = [secret]
        }

        if let path = value("WEBHOOK_PATH") {
            guard path.hasPrefix("/"), !path.contains("?") else {
                throw ConfigurationError(variable: "WEBHOOK_PATH", message: "must start with / and have no query")
            }
            config.webhookPath = path
        }
        config.listen = value("FCGI_LISTEN")
        if let workers = value("FCGI_WORKERS") {
            guard let n = Int(workers), (1...1024).contains(n) else {
                throw ConfigurationError(variable: "FCGI_WORKERS", message: "expected a whole number from 1 to 1024")
            }
            config.workers = n
        }
        if let bytes = value("MAX_BODY_BYTES") {
            guard let n = Int(bytes), n > 0 else {
                throw ConfigurationError(variable: "MAX_BODY_BYTES", message: "expected a positive number of bytes")
            }
            config.maxBodyBytes = n
        }

        let amqpNames: [(String, WritableKeyPath<AMQPSettings, String>)] = [
            ("AMQP_EXCHANGE", \.exchange), ("AMQP_ROUTING_KEY", \.routingKey), ("AMQP_QUEUE", \.queue),
            ("AMQP_DLX", \.deadLetterExchange), ("AMQP_DLQ", \.deadLetterQueue),
            ("AMQP_RESULTS_ROUTING_KEY", \.resultsRoutingKey), ("AMQP_RESULTS_QUEUE", \.resultsQueue),
            ("AMQP_RESULTS_DLQ", \.resultsDeadLetterQueue),
        ]
        for (name, keyPath) in amqpNames {
            guard let v = value(name) else { continue }
            guard v.utf8.count <= 255 else {
                throw ConfigurationError(variable: name, message: "AMQP names are at most 255 bytes")
            }
            config.amqp[keyPath: keyPath] = v
        }
        if let url = value("AMQP_URL") {
            do { _ = try AMQPAddress(url: url) } catch {
                throw ConfigurationError(variable: "AMQP_URL", message: error.message)
            }
            config.amqp.url = url
        }

        config.repoAllowlist = value("REPO_ALLOWLIST").map(Self.globList)
        config.branchAllowlist = value("BRANCH_ALLOWLIST").map(Self.globList)
        config.runsOnDefault = value("RUNS_ON_DEFAULT")
        if let map = value("RUNS_ON_MAP") {
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
        if let dir = value("SPOOL_DIR") { config.spoolDir = dir }
        try loadGitHub(into: &config, value: value, readFile: readFile)
        config.s3 = try loadS3(value: value)
        if let workers = value("RESULTS_WORKERS") {
            guard let n = Int(workers), (1...64).contains(n) else {
                throw ConfigurationError(variable: "RESULTS_WORKERS", message: "expected a whole number from 1 to 64")
            }
            config.resultsWorkers = n
        }
        if let level = value("LOG_LEVEL") {
            guard let parsed = LogLevel(rawValue: level.lowercased()) else {
                throw ConfigurationError(variable: "LOG_LEVEL", message: "expected debug, info, warning or error")
            }
            config.logLevel = parsed
        }
        if let format = value("LOG_FORMAT") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError(variable: "LOG_FORMAT", message: "expected text or json")
            }
            config.logFormat = parsed
        }
        return config
    }

    private static func loadGitHub(
        into config: inout Configuration, value: (String) -> String?, readFile: (String) throws -> String
    ) throws(ConfigurationError) {
        if let base = value("GITHUB_API_BASE") {
            guard base.hasPrefix("https://") || base.hasPrefix("http://") else {
                throw ConfigurationError(variable: "GITHUB_API_BASE", message: "expected an http(s) URL")
            }
            config.githubAPIBase = base.hasSuffix("/") ? String(base.dropLast()) : base
        }
        if let name = value("GITHUB_CHECK_NAME") { config.checkName = name }
        if let logs = value("LOGS_BASE_URL") {
            config.logsBaseURL = logs
        } else if let legacy = value("ORCH_HTTP_BASE") {
            config.logsBaseURL = legacy
            config.warnings.append("ORCH_HTTP_BASE is deprecated: use LOGS_BASE_URL")
        }
        if let url = config.logsBaseURL, url.hasSuffix("/") { config.logsBaseURL = String(url.dropLast()) }

        let appID = value("GITHUB_APP_ID")
        var pem: String?
        var keyVariable = "GITHUB_APP_KEY"
        if let path = value("GITHUB_APP_KEY_PATH") {
            keyVariable = "GITHUB_APP_KEY_PATH"
            do { pem = try readFile(path) } catch {
                throw ConfigurationError(variable: "GITHUB_APP_KEY_PATH", message: "cannot read \(path)")
            }
        } else if let text = value("GITHUB_APP_KEY") {
            pem = text
        }
        switch (appID, pem) {
        case (nil, nil): return
        case (nil, _):
            throw ConfigurationError(variable: "GITHUB_APP_ID", message: "missing, but an App key is set")
        case (_, nil):
            throw ConfigurationError(
                variable: "GITHUB_APP_KEY_PATH", message: "missing (or GITHUB_APP_KEY), but GITHUB_APP_ID is set")
        case (let id?, let text?):
            guard Int(id) != nil else {
                throw ConfigurationError(variable: "GITHUB_APP_ID", message: "expected the App's numeric id")
            }
            do {
                config.githubApp = GitHubAppCredentials(appID: id, key: try RSAPrivateKey(pem: text))
            } catch {
                throw ConfigurationError(
                    variable: keyVariable, message: "not a usable RSA private key (PKCS#1 or PKCS#8 PEM): \(error)")
            }
        }
    }

    private static func loadS3(value: (String) -> String?) throws(ConfigurationError) -> S3Settings? {
        func url(_ name: String) throws(ConfigurationError) -> String? {
            guard let text = value(name) else { return nil }
            guard text.hasPrefix("https://") || text.hasPrefix("http://"), !text.contains("?") else {
                throw ConfigurationError(variable: name, message: "expected an http(s) URL without a query")
            }
            var trimmed = Substring(text)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            return String(trimmed)
        }
        let region = value("S3_REGION") ?? "us-east-1"
        guard !region.isEmpty,
            region.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else {
            throw ConfigurationError(variable: "S3_REGION", message: "expected a region name such as us-east-1")
        }
        let endpoint = try url("S3_ENDPOINT")
        let publicBase = try url("S3_PUBLIC_BASE_URL")
        let keyID = value("AWS_ACCESS_KEY_ID")
        let secret = value("AWS_SECRET_ACCESS_KEY")
        guard let bucket = value("S3_BUCKET") else {
            if endpoint != nil {
                throw ConfigurationError(variable: "S3_BUCKET", message: "missing, but S3_ENDPOINT is set")
            }
            return nil
        }
        let validBucket =
            (3...63).contains(bucket.utf8.count)
            && bucket.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E
            }
        guard validBucket else {
            throw ConfigurationError(variable: "S3_BUCKET", message: "expected 3 to 63 of a-z, 0-9, '.' and '-'")
        }
        guard let keyID else {
            throw ConfigurationError(variable: "AWS_ACCESS_KEY_ID", message: "missing, but S3_BUCKET is set")
        }
        guard let secret else {
            throw ConfigurationError(variable: "AWS_SECRET_ACCESS_KEY", message: "missing, but S3_BUCKET is set")
        }
        return S3Settings(
            endpoint: endpoint ?? "https://s3.\(region).amazonaws.com", bucket: bucket, region: region,
            accessKeyID: keyID, secretAccessKey: secret, publicBaseURL: publicBase)
    }

    private static func globList(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmed() }.filter { !$0.isEmpty }
    }
}

/// A GitHub App's id and private key, parsed at start.
public struct GitHubAppCredentials: Sendable {
    /// `GITHUB_APP_ID`.
    public var appID: String
    /// The App's private key.
    public var key: RSAPrivateKey
}
