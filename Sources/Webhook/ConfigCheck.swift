import AMQP
import Base
import FoundationEssentials
import GitHub

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
    let configuration: WebhookConfiguration

    /// Checks for `configuration`.
    public init(configuration: WebhookConfiguration) { self.configuration = configuration }

    /// The webhook secret: required unless dev mode is explicitly allowed (`--dev`, `SOLSTICE_DEV_MODE=1`).
    public func secret(allowDevMode: Bool) -> CheckResult {
        if !configuration.isDevMode {
            return CheckResult(
                name: "webhook secret", ok: true, detail: "\(configuration.webhookSecrets.count) secret(s) loaded")
        }
        do {
            try configuration.requireSecret(allowDevMode: allowDevMode)
        } catch {
            return CheckResult(name: "webhook secret", ok: false, detail: error.message)
        }
        return CheckResult(
            name: "webhook secret", ok: true, detail: "none: dev mode, unsigned webhooks are accepted")
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
            case 406 where error.message.contains("'x-queue-type'"):
                fix = Self.queueTypeMismatch(error.message, configured: configuration.amqp.queueType)
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

    /// The fix for RabbitMQ's 406 on `x-queue-type` ("inequivalent arg 'x-queue-type' for queue 'NAME' …"): the
    /// queue exists as the other type, and a queue's type cannot change in place (SPEC §12).
    static func queueTypeMismatch(_ message: String, configured: AMQPQueueType) -> String {
        var queue = "a queue"
        if let start = message.firstRange(of: "for queue '")?.upperBound,
            let end = message[start...].firstIndex(of: "'")
        {
            queue = "queue '\(message[start..<end])'"
        }
        let existing = configured == .quorum ? "classic" : "quorum"
        return "\(queue) exists as a \(existing) queue but AMQP_QUEUE_TYPE=\(configured.rawValue); a queue's type "
            + "cannot change in place: set AMQP_QUEUE_TYPE=\(existing) to keep it, or migrate (README, "
            + "\"Moving to quorum queues\": let the consumers empty it, rabbitmqctl delete_queue NAME --if-empty, "
            + "restart; webhooks meanwhile are spooled)"
    }

    /// The App key signs a JWT that GitHub accepts, and GitHub's App id is `GITHUB_APP_ID`.
    public func githubApp(_ client: GitHubClient) -> CheckResult {
        guard let credentials = configuration.github.app else {
            return CheckResult(name: "github app", ok: true, detail: "not configured")
        }
        do {
            let id = try client.fetchAppID(deadline: MonotonicClock.now() + 10)
            guard String(id) == credentials.appID else {
                return CheckResult(
                    name: "github app", ok: false,
                    detail:
                        "GitHub says this key belongs to App \(id), not GITHUB_APP_ID=\(credentials.appID): set the id "
                        + "shown on the App's settings page")
            }
            return CheckResult(
                name: "github app", ok: true, detail: "App \(id) authenticated at \(configuration.github.apiBase)")
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
        let probe = dir + "/.check-config-\(getpid())"
        do throws(PosixError) {
            try Posix.makeDirectory(dir)
            let file = try FileDescriptor(path: probe, flags: O_CREAT | O_WRONLY | O_TRUNC)
            defer { unlink(probe) }
            try file.writeAll(Array("probe".utf8), what: "cannot write \(probe)")
            try file.sync(what: "cannot fsync \(probe)")
        } catch {
            return CheckResult(
                name: "spool", ok: false,
                detail: "\(error.description); make SPOOL_DIR a writable directory owned by the service user")
        }
        return CheckResult(name: "spool", ok: true, detail: "\(dir) is writable")
    }

    /// The variables set in `environment` against the table of known ones: a typo (`AMQP_QUEU`) would silently
    /// leave a default in force, so it is named. Never fails: other software may use a similar prefix.
    public func variables(in environment: [String: String]) -> CheckResult {
        let unknown = ConfigVariable.unknown(in: environment, known: WebhookConfiguration.variables)
        let set = WebhookConfiguration.variables.filter { environment[$0.name] != nil }.count
        guard !unknown.isEmpty else {
            return CheckResult(name: "configuration", ok: true, detail: "every variable is valid (\(set) set)")
        }
        return CheckResult(
            name: "configuration", ok: true,
            detail: "every variable is valid (\(set) set); not ours, so ignored: \(unknown.joined(separator: ", "))"
                + " (a typo? see solstice-fcgi --help)")
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
