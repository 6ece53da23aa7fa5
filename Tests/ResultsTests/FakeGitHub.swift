import Foundation
import TestSupport

/// GitHub's REST API as far as solstice-results uses it, on a loopback server: the App's installation on o/r, an
/// installation token, the commit's check runs on two pages (the second one under `/repositories/1/…` as GitHub's
/// `Link` headers name it), and the run PATCH and POST. Requests without the right credentials are answered 401.
final class FakeGitHub: Sendable {
    /// How the fake answers.
    struct Script: Sendable {
        /// The App is installed on o/r (404 otherwise).
        var installed = true
        /// `(id, external_id)` of the runs on the first and second page.
        var firstPage: [(Int, String)] = [(7, "another-request")]
        var secondPage: [(Int, String)] = []
        /// `(id, external_id)` of runs another App (id 77) made on the first page.
        var otherAppRuns: [(Int, String)] = []
        /// Statuses of successive run PATCHes; the last repeats.
        var patchStatuses = [200]
        /// Every request answered 500.
        var alwaysFail = false
    }

    static let sha = "0123456789abcdef0123456789abcdef01234567"
    static let token = "ghs_installation_token"

    let server: LoopbackHTTPServer
    private let patches = Mutexed(0)

    init(_ script: Script) throws {
        let patches = self.patches
        server = try LoopbackHTTPServer { request in
            Self.answer(request, script, patches)
        }
    }

    /// `METHOD target` of every request the fake saw.
    var lines: [String] { server.lines }
    /// The JSON body of every request matching `method` and `path`.
    func bodies(_ method: String, _ path: String) -> [[String: Any]] {
        server.requests.filter { $0.method == method && $0.path == path }.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any]
        }
    }

    func stop() { server.stop() }

    private static func answer(
        _ request: LoopbackHTTPServer.Request, _ script: Script, _ patches: Mutexed<Int>
    ) -> LoopbackHTTPServer.Reply {
        if script.alwaysFail { return .json(500, #"{"message": "Server Error"}"#) }
        let authorization = request.headers["authorization"] ?? ""
        let jwt = authorization.hasPrefix("Bearer ey") && authorization.split(separator: ".").count == 3
        let installationToken = authorization == "token \(token)"
        let runs = "/repos/o/r/commits/\(sha)/check-runs"
        switch (request.method, request.path) {
        case ("GET", "/repos/o/r/installation"):
            guard jwt else { return unauthorized }
            return script.installed ? .json(200, #"{"id": 1, "account": {"login": "o"}}"#) : notFound
        case ("POST", "/app/installations/1/access_tokens"):
            guard jwt else { return unauthorized }
            return .json(201, #"{"token": "\#(token)", "expires_at": "2099-01-01T00:00:00Z"}"#)
        case ("GET", runs):
            guard installationToken else { return unauthorized }
            guard request.target.hasSuffix("?filter=all&per_page=100") else { return notFound }
            let next = "http://\(request.headers["host"] ?? "")/repositories/1/commits/\(sha)/check-runs?page=2"
            return .json(
                200, page(script.firstPage, otherApp: script.otherAppRuns),
                headers: [("Link", "<\(next)>; rel=\"next\"")])
        case ("GET", "/repositories/1/commits/\(sha)/check-runs"):
            guard installationToken else { return unauthorized }
            return .json(200, page(script.secondPage))
        case ("POST", "/repos/o/r/check-runs"):
            guard installationToken else { return unauthorized }
            return .json(201, #"{"id": 99}"#)
        case ("PATCH", let path) where path.hasPrefix("/repos/o/r/check-runs/"):
            guard installationToken else { return unauthorized }
            var index = 0
            patches.mutate {
                index = $0
                $0 += 1
            }
            let status = script.patchStatuses[min(index, script.patchStatuses.count - 1)]
            switch status {
            case 200: return .json(200, #"{"id": \#(path.split(separator: "/").last!)}"#)
            case 422: return .json(422, #"{"message": "Validation Failed"}"#)
            default: return .json(status, #"{"message": "Server Error"}"#)
            }
        default:
            return notFound
        }
    }

    private static let unauthorized = LoopbackHTTPServer.Reply.json(401, #"{"message": "Bad credentials"}"#)
    private static let notFound = LoopbackHTTPServer.Reply.json(404, #"{"message": "Not Found"}"#)

    private static func page(_ runs: [(Int, String)], otherApp: [(Int, String)] = []) -> String {
        let items =
            runs.map { #"{"id": \#($0.0), "name": "Solstice CI", "external_id": "\#($0.1)", "app": {"id": 4242}}"# }
            + otherApp.map { #"{"id": \#($0.0), "name": "Other CI", "external_id": "\#($0.1)", "app": {"id": 77}}"# }
        return #"{"total_count": \#(items.count), "check_runs": [\#(items.joined(separator: ", "))]}"#
    }
}
