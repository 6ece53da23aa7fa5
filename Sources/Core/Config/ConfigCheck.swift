import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// One line of `solstice-fcgi check-config`: what was checked, whether it passed, and the fix when not.
public struct CheckResult: Sendable, Equatable {
    /// Short name of the check (`broker`, `spool`, ...).
    public var name: String
    /// Passed or not.
    public var ok: Bool
    /// What was found, and on failure what to do about it.
    public var detail: String

    /// A result line.
    public init(name: String, ok: Bool, detail: String) {
        self.name = name
        self.ok = ok
        self.detail = detail
    }

    /// `✓ name: detail` or `✗ name: detail`.
    public var line: String { "\(ok ? "✓" : "✗") \(name): \(detail)" }
}

/// The checks of SPEC §9 `check-config`, each independent, so one failure does not hide the next.
public struct ConfigCheck: Sendable {
    let configuration: Configuration

    /// Checks for `configuration`.
    public init(configuration: Configuration) { self.configuration = configuration }

    /// The webhook secret: required unless dev mode is explicitly allowed.
    public func secret(allowDevMode: Bool) -> CheckResult {
        if !configuration.isDevMode {
            return CheckResult(
                name: "webhook secret", ok: true, detail: "\(configuration.webhookSecrets.count) secret(s) loaded")
        }
        return CheckResult(
            name: "webhook secret", ok: allowDevMode,
            detail: allowDevMode
                ? "none: dev mode, unsigned webhooks are accepted (--dev)"
                : "none set: anyone could queue builds. Set GITHUB_WEBHOOK_SECRET or GITHUB_WEBHOOK_SECRET_FILE "
                    + "(or pass --dev for a local test setup)")
    }

    /// Connects to the broker and declares the topology with the configured arguments.
    public func broker() -> CheckResult {
        do {
            try JobPublisher.declareTopology(configuration.amqp)
            return CheckResult(
                name: "broker", ok: true,
                detail: "connected, topology declared (\(configuration.amqp.exchange) → \(configuration.amqp.queue))")
        } catch {
            let fix: String
            switch error.code {
            case 406:
                fix =
                    "a queue or exchange exists with other arguments; delete it (rabbitmqctl delete_queue NAME) "
                    + "or point AMQP_* at other names"
            case 403:
                fix = "the broker refused access: check the user, password and vhost in AMQP_URL"
            default:
                fix = "check AMQP_URL and that RabbitMQ runs and is reachable"
            }
            return CheckResult(name: "broker", ok: false, detail: "\(error.message): \(fix)")
        }
    }

    /// The App key signs a JWT that GitHub accepts, and GitHub's App id is `GITHUB_APP_ID`.
    public func githubApp(_ app: GitHubApp) -> CheckResult {
        guard let credentials = configuration.githubApp else {
            return CheckResult(name: "github app", ok: true, detail: "not configured")
        }
        do {
            let id = try app.appID(deadline: Clock.now() + 10)
            guard String(id) == credentials.appID else {
                return CheckResult(
                    name: "github app", ok: false,
                    detail:
                        "GitHub says this key belongs to App \(id), not GITHUB_APP_ID=\(credentials.appID): set the id "
                        + "shown on the App's settings page")
            }
            return CheckResult(
                name: "github app", ok: true, detail: "App \(id) authenticated at \(configuration.githubAPIBase)")
        } catch {
            let fix =
                error.status == 401
                ? "GitHub refused the App JWT: check GITHUB_APP_ID and that the key is the App's current private key"
                : "check GITHUB_API_BASE and the network"
            return CheckResult(name: "github app", ok: false, detail: "\(error.message): \(fix)")
        }
    }

    /// Creates `SPOOL_DIR` when missing and writes, syncs and removes a file in it.
    public func spool() -> CheckResult {
        let dir = configuration.spoolDir
        let fail = { (what: String) in
            CheckResult(
                name: "spool", ok: false,
                detail: "\(dir): \(what): \(String(cString: strerror(errno))); make SPOOL_DIR a writable directory "
                    + "owned by the service user")
        }
        if mkdir(dir, 0o700) != 0 && errno != EEXIST { return fail("cannot create") }
        let probe = dir + "/.check-config-\(getpid())"
        let fd = open(probe, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
        guard fd >= 0 else { return fail("not writable") }
        defer { unlink(probe) }
        let wrote = "probe".withCString { write(fd, $0, 5) } == 5
        let synced = fsync(fd) == 0
        close(fd)
        guard wrote && synced else { return fail("write or fsync failed") }
        return CheckResult(name: "spool", ok: true, detail: "\(dir) is writable")
    }

    /// Compares `MAX_BODY_BYTES` with the body limit of a web-server configuration (nginx `client_max_body_size`,
    /// Apache `FcgidMaxRequestLen`, lighttpd `server.max-request-size` in KiB).
    public func webServerLimit(configText: String, path: String) -> CheckResult {
        guard let (directive, limit) = Self.bodyLimit(in: configText) else {
            return CheckResult(
                name: "web server", ok: false,
                detail: "\(path) sets no body limit (client_max_body_size, FcgidMaxRequestLen or "
                    + "server.max-request-size): nginx's default of 1 MB and mod_fcgid's of 128 KB refuse real pushes")
        }
        let max = configuration.maxBodyBytes
        if limit != 0 && limit < max {
            return CheckResult(
                name: "web server", ok: false,
                detail: "\(path): \(directive) allows \(limit) bytes, below MAX_BODY_BYTES (\(max)); raise it to at "
                    + "least \(max) or lower MAX_BODY_BYTES")
        }
        return CheckResult(
            name: "web server", ok: true,
            detail: "\(path): \(directive) \(limit == 0 ? "unlimited" : "\(limit) bytes") ≥ MAX_BODY_BYTES (\(max))")
    }

    /// The first body-limit directive in `text` and its value in bytes (0 = unlimited).
    static func bodyLimit(in text: String) -> (String, Int)? {
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.prefix { $0 != "#" }.trimmed()
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" || $0 == ";" })
            guard words.count >= 2 else { continue }
            let value = words[1].trimmingQuotes()
            switch words[0] {
            case "client_max_body_size": if let n = nginxSize(value) { return ("client_max_body_size", n) }
            case "FcgidMaxRequestLen": if let n = Int(value) { return ("FcgidMaxRequestLen", n) }
            case "server.max-request-size": if let n = Int(value) { return ("server.max-request-size", n * 1024) }
            default: continue
            }
        }
        return nil
    }

    /// nginx sizes: `25m`, `1024k`, `26214400`, `0` (unlimited).
    static func nginxSize(_ s: String) -> Int? {
        let lower = s.lowercased()
        let multiplier: Int
        switch lower.last {
        case "k": multiplier = 1024
        case "m": multiplier = 1024 * 1024
        case "g": multiplier = 1024 * 1024 * 1024
        default: multiplier = 1
        }
        let digits = multiplier == 1 ? lower : String(lower.dropLast())
        return Int(digits).map { $0 * multiplier }
    }
}

extension StringProtocol {
    fileprivate func trimmingQuotes() -> String {
        var s = String(self)
        while s.first == "\"" || s.first == "'" { s.removeFirst() }
        while s.last == "\"" || s.last == "'" { s.removeLast() }
        return s
    }
}
