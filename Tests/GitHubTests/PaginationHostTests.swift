import Base
import Crypto
import Foundation
import HTTP
import TestSupport
import Testing

@testable import GitHub

/// SPEC v2 §5: pagination stays on the API host. A `Link` header naming another host is refused, and that host
/// never sees a request (it would have carried the installation token).
@Suite struct PaginationHostTests {
    static let sha = "0123456789abcdef0123456789abcdef01234567"

    private func api(linkingTo next: @escaping @Sendable (String) -> String) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            switch (request.method, request.path) {
            case ("GET", "/repos/o/r/installation"): return .json(200, #"{"id": 1}"#)
            case ("POST", "/app/installations/1/access_tokens"):
                return .json(201, #"{"token": "ghs_t", "expires_at": "2099-01-01T00:00:00Z"}"#)
            case ("GET", "/repos/o/r/commits/\(Self.sha)/check-runs"):
                let link = next(request.headers["host"] ?? "")
                return .json(
                    200, #"{"total_count": 0, "check_runs": []}"#, headers: [("Link", "<\(link)>; rel=\"next\"")])
            default:
                return .json(200, #"{"total_count": 0, "check_runs": []}"#)
            }
        }
    }

    private func client(_ server: LoopbackHTTPServer) throws -> GitHubClient {
        GitHubClient(
            credentials: GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1)),
            apiBase: server.baseURL, logger: Logger(level: .error))
    }

    @Test func aNextPageOnAnotherHostIsRefusedAndNeverAsked() throws {
        let elsewhere = try LoopbackHTTPServer { _ in .json(200, #"{"total_count": 0, "check_runs": []}"#) }
        defer { elsewhere.stop() }
        let server = try api { _ in elsewhere.baseURL + "/repositories/1/commits/\(Self.sha)/check-runs?page=2" }
        defer { server.stop() }
        let checkRuns = CheckRuns(client: try client(server), checkName: "Solstice CI", logsBaseURL: nil)
        let target = CheckRunTarget(owner: "o", repo: "r", sha: Self.sha)
        #expect {
            try checkRuns.runIDsByExternalID(target, deadline: MonotonicClock.now() + 10)
        } throws: { error in
            (error as? GitHubError)?.kind == .invalidResponse
        }
        #expect(elsewhere.requests.isEmpty)
    }

    @Test func aNextPageOnTheAPIHostIsFollowedWithTheToken() throws {
        let server = try api { host in "http://\(host)/repositories/1/commits/\(Self.sha)/check-runs?page=2" }
        defer { server.stop() }
        let checkRuns = CheckRuns(client: try client(server), checkName: "Solstice CI", logsBaseURL: nil)
        _ = try checkRuns.runIDsByExternalID(
            CheckRunTarget(owner: "o", repo: "r", sha: Self.sha), deadline: MonotonicClock.now() + 10)
        let second = try #require(server.requests.first { $0.path.hasPrefix("/repositories/1/") })
        #expect(second.headers["authorization"] == "token ghs_t")
    }
}
