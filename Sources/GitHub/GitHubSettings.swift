import Base
import Crypto

/// What both daemons need to write Check Runs: the App, the API root, the run name and the log links.
public struct GitHubSettings: Sendable {
    /// `GITHUB_APP_ID` with `GITHUB_APP_KEY_PATH` or `GITHUB_APP_KEY`; nil: no workflows and no Check Runs.
    public var app: GitHubAppCredentials?
    /// `GITHUB_API_BASE` [https://api.github.com], without a trailing slash.
    public var apiBase = "https://api.github.com"
    /// `GITHUB_CHECK_NAME` [Solstice CI]; with several jobs `NAME / JOB_ID`.
    public var checkName = "Solstice CI"
    /// `LOGS_BASE_URL` (deprecated `ORCH_HTTP_BASE`): job log at `{base}/jobs/{id}/logs`.
    public var logsBaseURL: String?
    /// Deprecated names found while loading, logged once at start.
    public var warnings: [String] = []

    /// Defaults, no App.
    public init() {}

    /// The variables of this part.
    public static let variables = [
        ConfigVariable("GITHUB_APP_ID", nil, "the GitHub App's id"),
        ConfigVariable("GITHUB_APP_KEY_PATH", nil, "the App's private key (PKCS#1 or PKCS#8 PEM file)"),
        ConfigVariable("GITHUB_APP_KEY", nil, "the App's private key as PEM text (instead of the path)"),
        ConfigVariable("GITHUB_API_BASE", "https://api.github.com", "GitHub Enterprise Server: https://HOST/api/v3"),
        ConfigVariable("GITHUB_CHECK_NAME", "Solstice CI", "Check Run name; NAME / JOB_ID with several jobs"),
        ConfigVariable("LOGS_BASE_URL", nil, "orchestrator log service: job log at {base}/jobs/{request_id}/logs"),
        ConfigVariable("ORCH_HTTP_BASE", nil, "deprecated alias of LOGS_BASE_URL"),
    ]

    /// Reads the App credentials (parsing the key), the API root, the check name and the log service.
    public static func load(_ env: Environment) throws(ConfigurationError) -> GitHubSettings {
        var settings = GitHubSettings()
        if let base = env.value("GITHUB_API_BASE") {
            guard base.hasPrefix("https://") || (base.hasPrefix("http://") && Self.isLoopback(base)) else {
                throw ConfigurationError(
                    variable: "GITHUB_API_BASE",
                    message: "expected an https:// URL (installation tokens travel on it); http:// only on loopback")
            }
            settings.apiBase = base.hasSuffix("/") ? String(base.dropLast()) : base
        }
        if let name = env.value("GITHUB_CHECK_NAME") { settings.checkName = name }
        if let logs = env.value("LOGS_BASE_URL") {
            settings.logsBaseURL = logs
        } else if let legacy = env.value("ORCH_HTTP_BASE") {
            settings.logsBaseURL = legacy
            settings.warnings.append("ORCH_HTTP_BASE is deprecated: use LOGS_BASE_URL")
        }
        if let url = settings.logsBaseURL, url.hasSuffix("/") { settings.logsBaseURL = String(url.dropLast()) }
        settings.app = try loadApp(env)
        return settings
    }

    /// True when `url`'s host is this machine: `localhost`, `127.x.y.z` or `[::1]`.
    static func isLoopback(_ url: String) -> Bool {
        guard let scheme = url.firstRange(of: "://") else { return false }
        let authority = url[scheme.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return false }
        if authority.hasPrefix("[") { return authority.hasPrefix("[::1]") }
        let host = authority.prefix { $0 != ":" }
        if host == "localhost" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    private static func loadApp(_ env: Environment) throws(ConfigurationError) -> GitHubAppCredentials? {
        let appID = env.value("GITHUB_APP_ID")
        var pem: String?
        var keyVariable = "GITHUB_APP_KEY"
        if let path = env.value("GITHUB_APP_KEY_PATH") {
            keyVariable = "GITHUB_APP_KEY_PATH"
            pem = try env.file(path, for: keyVariable)
        } else if let text = env.value("GITHUB_APP_KEY") {
            pem = text
        }
        switch (appID, pem) {
        case (nil, nil): return nil
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
                return GitHubAppCredentials(appID: id, key: try RSAPrivateKey(pem: text))
            } catch {
                throw ConfigurationError(
                    variable: keyVariable, message: "not a usable RSA private key (PKCS#1 or PKCS#8 PEM): \(error)")
            }
        }
    }
}
