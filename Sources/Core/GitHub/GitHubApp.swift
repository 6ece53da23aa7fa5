import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A GitHub API call that did not succeed: an HTTP status GitHub answered, or a transport failure.
public struct GitHubError: Error, CustomStringConvertible, Sendable {
    /// The HTTP status, nil when no response arrived.
    public var status: Int?
    /// What failed, with GitHub's `message` when it sent one. Never holds a token.
    public var message: String

    public var description: String { message }
}

/// The GitHub App's side of SPEC §5: App JWTs, installation lookups, installation tokens cached per installation,
/// and requests that carry them. Request code asks for "a client for this installation"; signing, caching and
/// retrying happen here, below it (STYLE point 7).
///
/// Shared by all workers of a process. The token cache is a mutex-protected dictionary; minting is serialized by
/// a second mutex held across the mint call, so twenty webhooks arriving at once for one installation cause one
/// token request.
public final class GitHubApp: Sendable {
    private let apiBase: String
    private let jwt: AppJWT
    private let http: HTTPClient
    private let logger: Logger
    private let wallClock: @Sendable () -> Int
    private let tokens = Mutex<[Int: CachedToken]>([:])
    /// owner/repo (lowercased) → installation id and when it was looked up (monotonic seconds).
    private let installations = Mutex<[String: (id: Int, at: Double)]>([:])
    private let minting = Mutex<Void>(())

    private struct CachedToken {
        var token: String
        var expiresAt: Int
        var mintedAt: Double
    }

    /// An App talking to `apiBase` (`GITHUB_API_BASE`).
    public init(
        credentials: GitHubAppCredentials, apiBase: String, http: HTTPClient = HTTPClient(), logger: Logger,
        wallClock: @escaping @Sendable () -> Int = { Int(time(nil)) }
    ) {
        self.apiBase = apiBase
        self.jwt = AppJWT(appID: credentials.appID, key: credentials.key)
        self.http = http
        self.logger = logger
        self.wallClock = wallClock
    }

    /// The installation of `owner/repo` (`GET /repos/{o}/{r}/installation` with the App JWT); nil when the App is
    /// not installed there (404). Found installations are remembered for 5 minutes, shared by every caller; a
    /// missing one is asked again each time, so a repository the App was just installed on is seen at once.
    public func installationID(owner: String, repo: String, deadline: Double) throws(GitHubError) -> Int? {
        let key = "\(owner)/\(repo)".lowercased()
        if let cached = installations.withLock({ $0[key] }), Clock.now() - cached.at < 300 { return cached.id }
        let response = try send(
            "GET", "\(apiBase)/repos/\(owner)/\(repo)/installation", auth: .jwt, deadline: deadline)
        if response.status == 404 { return nil }
        try Self.expect(200, response, "GET /repos/\(owner)/\(repo)/installation")
        struct Installation: Decodable { var id: Int }
        let id = try Self.decode(Installation.self, response).id
        installations.withLock { $0[key] = (id, Clock.now()) }
        return id
    }

    /// The App itself (`GET /app`), for check-config's App id check.
    public func appID(deadline: Double) throws(GitHubError) -> Int {
        let response = try send("GET", "\(apiBase)/app", auth: .jwt, deadline: deadline)
        try Self.expect(200, response, "GET /app")
        struct App: Decodable { var id: Int }
        return try Self.decode(App.self, response).id
    }

    /// Sends a request to `path` (relative to the API base, or an absolute URL from a `Link` header) with the
    /// installation's token. Rate limits are waited out and idempotent calls retried on 5xx while `deadline`
    /// (monotonic seconds) allows; a 401 re-mints the token once.
    public func request(
        installation: Int, method: String, path: String, body: [UInt8]? = nil,
        accept: String = "application/vnd.github+json", deadline: Double
    ) throws(GitHubError) -> HTTPResponse {
        let url = path.hasPrefix("http") ? path : apiBase + path
        var waitedForReplication = false
        var reminted = false
        while true {
            let token = try installationToken(installation, deadline: deadline)
            let response = try send(
                method, url, auth: .token(token.token), body: body, accept: accept, deadline: deadline)
            guard response.status == 401, !reminted else { return response }
            if !waitedForReplication && Clock.now() - token.mintedAt < 10 {
                // A token just minted can be refused for a moment while GitHub replicates it.
                waitedForReplication = true
                Clock.sleep(min(0.5, max(0, deadline - Clock.now())))
                continue
            }
            // Revoked or expired early: mint a new one, once.
            reminted = true
            tokens.withLock { cache in
                if cache[installation]?.token == token.token { cache.removeValue(forKey: installation) }
            }
        }
    }

    /// A cached token valid for at least five more minutes, or a new one.
    private func installationToken(_ installation: Int, deadline: Double) throws(GitHubError) -> CachedToken {
        if let cached = validToken(installation) { return cached }
        return try minting.withLock { _ throws(GitHubError) -> CachedToken in
            if let cached = validToken(installation) { return cached }
            let response = try send(
                "POST", "\(apiBase)/app/installations/\(installation)/access_tokens", auth: .jwt, body: [],
                deadline: deadline)
            try Self.expect(201, response, "POST /app/installations/\(installation)/access_tokens")
            struct Token: Decodable {
                var token: String
                var expires_at: String
            }
            let token = try Self.decode(Token.self, response)
            let expires = RFC3339.parse(token.expires_at) ?? wallClock() + 3600
            let cached = CachedToken(token: token.token, expiresAt: expires, mintedAt: Clock.now())
            tokens.withLock { $0[installation] = cached }
            logger.log(.debug, "minted installation token", ["installation": .int(installation)])
            return cached
        }
    }

    private func validToken(_ installation: Int) -> CachedToken? {
        let now = wallClock()
        return tokens.withLock { cache in
            guard let cached = cache[installation], cached.expiresAt - 300 > now else { return nil }
            return cached
        }
    }

    private enum Auth {
        case jwt
        case token(String)
    }

    /// One API call with SPEC §5's headers, waiting out rate limits and retrying idempotent calls on 5xx and
    /// transport failures while the deadline allows.
    private func send(
        _ method: String, _ url: String, auth: Auth, body: [UInt8]? = nil,
        accept: String = "application/vnd.github+json", deadline: Double
    ) throws(GitHubError) -> HTTPResponse {
        let idempotent = method == "GET" || method == "HEAD"
        var attempt = 0
        while true {
            attempt += 1
            let authorization: String
            switch auth {
            case .jwt:
                do { authorization = "Bearer " + (try jwt.token(now: wallClock())) } catch {
                    throw GitHubError(status: nil, message: "signing the App JWT: \(error)")
                }
            case .token(let token): authorization = "token " + token
            }
            var headers = [
                ("Accept", accept), ("X-GitHub-Api-Version", "2022-11-28"), ("User-Agent", "solstice-ci-github/0.1"),
                ("Authorization", authorization),
            ]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let remaining = deadline - Clock.now()
            guard remaining > 0.05 else {
                throw GitHubError(status: nil, message: "\(method) \(Self.redact(url)): out of time")
            }
            let response: HTTPResponse
            do {
                response = try http.send(
                    HTTPRequest(method: method, url: url, headers: headers, body: body, timeout: min(10, remaining)))
            } catch {
                if idempotent && error.isTransient && attempt < 3 && backoff(attempt, deadline) { continue }
                throw GitHubError(status: nil, message: error.message)
            }
            if let wait = Self.rateLimitWait(response, now: wallClock()) {
                if Clock.now() + wait < deadline && attempt < 5 {
                    logger.log(.warning, "GitHub rate limit: waiting", ["seconds": .double(wait), "url": .string(url)])
                    Clock.sleep(wait)
                    continue
                }
                throw GitHubError(
                    status: response.status, message: "\(method) \(Self.redact(url)): rate limited for \(Int(wait)) s")
            }
            if response.status >= 500 && idempotent && attempt < 3 && backoff(attempt, deadline) { continue }
            return response
        }
    }

    private func backoff(_ attempt: Int, _ deadline: Double) -> Bool {
        let delay = 0.2 * Double(1 << (attempt - 1))
        guard Clock.now() + delay < deadline else { return false }
        Clock.sleep(delay)
        return true
    }

    /// Seconds to wait for a primary (`x-ratelimit-remaining: 0` + reset) or secondary (`retry-after`) rate
    /// limit, or nil when `response` is not one.
    static func rateLimitWait(_ response: HTTPResponse, now: Int) -> Double? {
        guard response.status == 403 || response.status == 429 else { return nil }
        if let retry = response.headers["retry-after"], let seconds = Double(retry) { return max(0, seconds) }
        if response.headers["x-ratelimit-remaining"] == "0",
            let reset = response.headers["x-ratelimit-reset"].flatMap(Int.init)
        {
            return Double(max(0, reset - now)) + 0.5
        }
        // A secondary limit without headers: GitHub asks for at least a minute.
        if response.status == 429 || response.text.contains("secondary rate limit") { return 60 }
        return nil
    }

    static func expect(_ status: Int, _ response: HTTPResponse, _ what: String) throws(GitHubError) {
        guard response.status != status else { return }
        throw GitHubError(status: response.status, message: "\(what): \(response.status) \(githubMessage(response))")
    }

    static func githubMessage(_ response: HTTPResponse) -> String {
        struct Message: Decodable { var message: String? }
        let parsed = try? JSONDecoder().decode(Message.self, from: Data(response.body))
        return parsed?.message ?? String(response.text.prefix(200))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws(GitHubError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(response.body)) } catch {
            throw GitHubError(status: response.status, message: "unexpected response from GitHub: \(error)")
        }
    }

    private static func redact(_ url: String) -> String { String(url.prefix { $0 != "?" }) }
}

extension RFC3339 {
    /// Seconds since 1970 of `2026-11-24T12:00:00Z` (fractional seconds and offsets accepted).
    public static func parse(_ text: String) -> Int? {
        let b = Array(text.utf8)
        guard b.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                n = n * 10 + Int(b[i] - 48)
            }
            return n
        }
        guard let y = number(0..<4), let mo = number(5..<7), let d = number(8..<10), let h = number(11..<13),
            let mi = number(14..<16), let s = number(17..<19)
        else { return nil }
        // Days from civil (Howard Hinnant).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        var seconds = (era * 146_097 + doe - 719_468) * 86_400 + h * 3600 + mi * 60 + s
        var i = 19
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count && b[i] >= 48 && b[i] <= 57 { i += 1 }
        }
        if i < b.count && (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")), i + 6 <= b.count,
            let oh = number((i + 1)..<(i + 3)), let om = number((i + 4)..<(i + 6))
        {
            let offset = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            seconds -= offset
        }
        return seconds
    }
}
