import Base
import Crypto
import FoundationEssentials
import HTTP
import Synchronization

/// A GitHub API call that did not succeed: an HTTP status GitHub answered, or a transport failure.
public struct GitHubError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure, so callers decide on retries without reading the message.
    public enum Kind: Sendable, Equatable {
        /// A primary or secondary rate limit (403/429 with GitHub's headers, or 429) outlasting the deadline.
        case rateLimited
        /// 5xx: GitHub's trouble; worth another attempt later.
        case server
        /// Another 4xx: the request was refused; another attempt gets the same answer.
        case client
        /// No HTTP answer: connect, TLS, timeout, or out of time before the call.
        case transport
        /// A 2xx whose body is not what GitHub documents.
        case invalidResponse
    }

    /// What kind of failure.
    public var kind: Kind
    /// The HTTP status, nil when no response arrived.
    public var status: Int?
    /// What failed, with GitHub's `message` when it sent one. Never holds a token.
    public var message: String
    /// For a rate limit: the seconds GitHub asked us to wait (`retry-after`, or until `x-ratelimit-reset`).
    public var retryAfter: Double?

    public var description: String { message }

    /// True for failures another attempt may cure: rate limits, 5xx, transport.
    public var isTransient: Bool { kind == .rateLimited || kind == .server || kind == .transport }

    /// An error of `kind`.
    public init(_ kind: Kind, status: Int? = nil, message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }

    /// The error for an answer that was not the one expected, classified by its status.
    init(unexpected response: HTTPResponse, _ what: String) {
        let kind: Kind = response.status == 429 ? .rateLimited : response.status >= 500 ? .server : .client
        self.init(
            kind, status: response.status,
            message: "\(what): \(response.status) \(GitHubClient.githubMessage(response))")
    }
}

/// GitHub App credentials: the App id and its private key, parsed at start.
public struct GitHubAppCredentials: Sendable {
    /// `GITHUB_APP_ID`.
    public var appID: String
    /// The App's private key.
    public var key: RSAPrivateKey

    /// Credentials for App `appID`.
    public init(appID: String, key: RSAPrivateKey) {
        self.appID = appID
        self.key = key
    }
}

/// The GitHub REST API as the App sees it (SPEC §5). Credentials live here, in the transport (STYLE point 7):
/// callers name a path, and the client picks the App JWT (`/app…`, `/repos/{o}/{r}/installation`) or the
/// installation token of the repository the path names (`/repos/{o}/{r}/…`), resolving and caching the
/// installation and its token. Rate limits are waited out within the caller's deadline, idempotent calls retried
/// on 5xx, and pagination stays on the API host: a token is never sent to another.
///
/// Shared by all workers of a process. The caches are mutex-protected dictionaries; minting is serialized by a
/// second mutex held across the mint call, so twenty webhooks arriving at once for one installation cause one
/// token request.
public final class GitHubClient: Sendable {
    /// The REST API root (`GITHUB_API_BASE`), without a trailing slash.
    public let apiBase: String
    /// The App's id (`GITHUB_APP_ID`): runs of other Apps on a commit are not ours.
    public let appID: String
    private let jwt: AppJWT
    private let http: HTTPClient
    private let logger: Logger
    private let wallClock: @Sendable () -> Int
    private let tokens = Mutex<[Int: CachedToken]>([:])
    /// owner/repo (lowercased) → installation id and when it was learnt (monotonic seconds).
    private let installations = Mutex<[String: (id: Int, at: Double)]>([:])
    private let minting = Mutex<Void>(())
    /// Told of every answer (its status, nil when none arrived, and `x-ratelimit-remaining`): the host's metrics.
    private let observer: (@Sendable (_ status: Int?, _ rateLimitRemaining: Int?) -> Void)?

    private struct CachedToken {
        var token: String
        var expiresAt: Int
        var mintedAt: Double
    }

    /// A client for the App `credentials` at `apiBase` (`GITHUB_API_BASE`).
    public init(
        credentials: GitHubAppCredentials, apiBase: String, http: HTTPClient = HTTPClient(), logger: Logger,
        wallClock: @escaping @Sendable () -> Int = WallClock.now,
        observer: (@Sendable (_ status: Int?, _ rateLimitRemaining: Int?) -> Void)? = nil
    ) {
        self.observer = observer
        self.apiBase = apiBase
        self.appID = credentials.appID
        self.jwt = AppJWT(appID: credentials.appID, key: credentials.key)
        self.http = http
        self.logger = logger
        self.wallClock = wallClock
    }

    // MARK: - Installations

    /// Remembers that the App's installation `id` covers `owner/repo` (a signed webhook's `installation.id`), so
    /// no lookup is needed.
    public func learnInstallation(_ id: Int, owner: String, repo: String) {
        installations.withLock { $0["\(owner)/\(repo)".lowercased()] = (id, MonotonicClock.now()) }
    }

    /// Whether the App is installed on `owner/repo` (`GET /repos/{o}/{r}/installation` with the App JWT, 404 when
    /// not). Found installations are remembered for 5 minutes, shared by every caller; a missing one is asked
    /// again each time, so a repository the App was just installed on is seen at once.
    public func isInstalled(owner: String, repo: String, deadline: Double) throws(GitHubError) -> Bool {
        try installation(owner: owner, repo: repo, deadline: deadline) != nil
    }

    private func installation(owner: String, repo: String, deadline: Double) throws(GitHubError) -> Int? {
        let key = "\(owner)/\(repo)".lowercased()
        if let cached = installations.withLock({ $0[key] }), MonotonicClock.now() - cached.at < 300 {
            return cached.id
        }
        let response = try send("GET", "\(apiBase)/repos/\(owner)/\(repo)/installation", auth: .jwt, deadline: deadline)
        if response.status == 404 { return nil }
        try Self.expect(200, response, "GET /repos/\(owner)/\(repo)/installation")
        struct Installation: Decodable { var id: Int }
        let id = try Self.decode(Installation.self, response).id
        installations.withLock { $0[key] = (id, MonotonicClock.now()) }
        return id
    }

    // MARK: - Requests

    /// Sends `method` to `path` (relative to the API base, or an absolute URL on the API host from a `Link`
    /// header) with the credentials that path needs (see the type's note). Rate limits are waited out and
    /// idempotent calls retried on 5xx while `deadline` (monotonic seconds) allows; a 401 re-mints the token once.
    /// `maxResponseBytes` cuts a long body there (the response says `truncated`): a file a repository controls
    /// is never read whole into memory.
    public func request(
        _ method: String, _ path: String, body: [UInt8]? = nil, accept: String = "application/vnd.github+json",
        maxResponseBytes: Int64? = nil, deadline: Double
    ) throws(GitHubError) -> HTTPResponse {
        let relative = try relativePath(path)
        return try request(
            method, relative, repository: Self.usesAppJWT(relative) ? nil : Self.repository(relative), body: body,
            accept: accept, maxResponseBytes: maxResponseBytes, deadline: deadline)
    }

    /// `request` with the repository whose installation token is used given (nil: the App JWT): `Link` headers
    /// name `/repositories/{id}/…`, so the next pages of a list use the first page's repository.
    private func request(
        _ method: String, _ relative: String, repository: (owner: String, repo: String)?, body: [UInt8]? = nil,
        accept: String = "application/vnd.github+json", maxResponseBytes: Int64? = nil, deadline: Double
    ) throws(GitHubError) -> HTTPResponse {
        let url = apiBase + relative
        guard let (owner, repo) = repository else {
            return try send(
                method, url, auth: .jwt, body: body, accept: accept, maxResponseBytes: maxResponseBytes,
                deadline: deadline)
        }
        guard let installation = try installation(owner: owner, repo: repo, deadline: deadline) else {
            throw GitHubError(.client, status: 404, message: "the App is not installed on \(owner)/\(repo)")
        }
        var waitedForReplication = false
        var reminted = false
        while true {
            let token = try installationToken(installation, deadline: deadline)
            let response = try send(
                method, url, auth: .token(token.token), body: body, accept: accept, maxResponseBytes: maxResponseBytes,
                deadline: deadline)
            guard response.status == 401, !reminted else { return response }
            if !waitedForReplication && MonotonicClock.now() - token.mintedAt < 10 {
                // A token just minted can be refused for a moment while GitHub replicates it.
                waitedForReplication = true
                MonotonicClock.sleep(min(0.5, max(0, deadline - MonotonicClock.now())))
                continue
            }
            // Revoked or expired early: mint a new one, once.
            reminted = true
            tokens.withLock { cache in
                if cache[installation]?.token == token.token { cache.removeValue(forKey: installation) }
            }
        }
    }

    /// Every page of a list (`Link: rel="next"`, at most `maxPages`), each answered 200.
    public func pages(_ path: String, what: String, maxPages: Int = 50, deadline: Double) throws(GitHubError)
        -> [HTTPResponse]
    {
        let first = try relativePath(path)
        let repository = Self.usesAppJWT(first) ? nil : Self.repository(first)
        var result: [HTTPResponse] = []
        var next: String? = first
        while let page = next, result.count < maxPages {
            let response = try request(
                "GET", try relativePath(page), repository: repository, deadline: deadline)
            try Self.expect(200, response, what)
            result.append(response)
            next = response.headers["link"].flatMap(Self.nextLink)
        }
        return result
    }

    /// The App itself (`GET /app`), for check-config's App id check.
    public func fetchAppID(deadline: Double) throws(GitHubError) -> Int {
        let response = try request("GET", "/app", deadline: deadline)
        try Self.expect(200, response, "GET /app")
        struct App: Decodable { var id: Int }
        return try Self.decode(App.self, response).id
    }

    /// `path` relative to the API base; an absolute URL must be on the API base, or the token would leave it.
    private func relativePath(_ path: String) throws(GitHubError) -> String {
        if path.hasPrefix("/") { return path }
        guard path.hasPrefix(apiBase + "/") else {
            throw GitHubError(
                .invalidResponse, message: "refusing to follow \(Self.redact(path)): not under GITHUB_API_BASE")
        }
        return String(path.dropFirst(apiBase.count))
    }

    /// `owner` and `repo` of a `/repos/{owner}/{repo}/…` path.
    static func repository(_ path: String) -> (String, String)? {
        let parts = path.prefix { $0 != "?" }.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].isEmpty, parts[1] == "repos" else { return nil }
        return (String(parts[2]), String(parts[3]))
    }

    /// The calls GitHub answers only for the App itself: `/app…` and an installation lookup.
    static func usesAppJWT(_ path: String) -> Bool {
        let bare = path.prefix { $0 != "?" }
        return bare == "/app" || bare.hasPrefix("/app/")
            || (repository(path) != nil && bare.split(separator: "/").count == 4 && bare.hasSuffix("/installation"))
    }

    // MARK: - Tokens

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
            let cached = CachedToken(token: token.token, expiresAt: expires, mintedAt: MonotonicClock.now())
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
        accept: String = "application/vnd.github+json", maxResponseBytes: Int64? = nil, deadline: Double
    ) throws(GitHubError) -> HTTPResponse {
        let idempotent = method == "GET" || method == "HEAD"
        var attempt = 0
        while true {
            attempt += 1
            let authorization: String
            switch auth {
            case .jwt:
                do { authorization = "Bearer " + (try jwt.token(now: wallClock())) } catch {
                    throw GitHubError(.transport, message: "signing the App JWT: \(error)")
                }
            case .token(let token): authorization = "token " + token
            }
            var headers = [
                ("Accept", accept), ("X-GitHub-Api-Version", "2022-11-28"), ("User-Agent", "solstice-ci-github/0.1"),
                ("Authorization", authorization),
            ]
            if body != nil { headers.append(("Content-Type", "application/json")) }
            let remaining = deadline - MonotonicClock.now()
            guard remaining > 0.05 else {
                throw GitHubError(.transport, message: "\(method) \(Self.redact(url)): out of time")
            }
            let response: HTTPResponse
            do {
                var request = HTTPRequest(
                    method: method, url: url, headers: headers, body: body, timeout: min(10, remaining))
                request.maxResponseBytes = maxResponseBytes
                response = try http.send(request)
                observer?(response.status, response.headers["x-ratelimit-remaining"].flatMap { Int($0) })
            } catch {
                observer?(nil, nil)
                if idempotent && error.isTransient && attempt < 3 && backoff(attempt, deadline) { continue }
                throw GitHubError(.transport, message: error.message)
            }
            if let wait = Self.rateLimitWait(response, now: wallClock()) {
                if MonotonicClock.now() + wait < deadline && attempt < 5 {
                    logger.log(.warning, "GitHub rate limit: waiting", ["seconds": .double(wait), "url": .string(url)])
                    MonotonicClock.sleep(wait)
                    continue
                }
                var error = GitHubError(
                    .rateLimited, status: response.status,
                    message: "\(method) \(Self.redact(url)): rate limited for \(Int(wait)) s")
                error.retryAfter = wait
                throw error
            }
            if response.status >= 500 && idempotent && attempt < 3 && backoff(attempt, deadline) { continue }
            return response
        }
    }

    private func backoff(_ attempt: Int, _ deadline: Double) -> Bool {
        let delay = 0.2 * Double(1 << (attempt - 1))
        guard MonotonicClock.now() + delay < deadline else { return false }
        MonotonicClock.sleep(delay)
        return true
    }

    // MARK: - Responses

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

    /// Throws unless `response` has `status`.
    public static func expect(_ status: Int, _ response: HTTPResponse, _ what: String) throws(GitHubError) {
        guard response.status != status else { return }
        throw GitHubError(unexpected: response, what)
    }

    /// GitHub's `message` field, or the start of the body.
    static func githubMessage(_ response: HTTPResponse) -> String {
        struct Message: Decodable { var message: String? }
        let parsed = try? JSONDecoder().decode(Message.self, from: Data(response.body))
        return parsed?.message ?? String(response.text.prefix(200))
    }

    /// The body decoded as `T`.
    public static func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws(GitHubError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(response.body)) } catch {
            throw GitHubError(
                .invalidResponse, status: response.status, message: "unexpected response from GitHub: \(error)")
        }
    }

    /// The `rel="next"` URL of a `Link` header.
    static func nextLink(_ header: String) -> String? {
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmed() }
            guard pieces.count >= 2, pieces.dropFirst().contains(where: { $0 == "rel=\"next\"" }) else { continue }
            let url = pieces[0]
            guard url.hasPrefix("<"), url.hasSuffix(">") else { continue }
            return String(url.dropFirst().dropLast())
        }
        return nil
    }

    private static func redact(_ url: String) -> String { String(url.prefix { $0 != "?" }) }
}
