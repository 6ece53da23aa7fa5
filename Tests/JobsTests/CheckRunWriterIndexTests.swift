import Base
import Crypto
import Delivery
import Foundation
import GitHub
import TestSupport
import Testing

@testable import Jobs

/// The Check Run writer indexes the queued runs it created for the reconciler (SPEC §7), and only those: runs
/// created completed need no reconciling, and runs an earlier failed attempt created are found again.
@Suite final class CheckRunWriterIndexTests {
    static let sha = "89abcdef0123456789abcdef0123456789abcdef"

    /// A commit's runs as GitHub keeps them: listed, created (the `failCreate`-th create answers 500 once).
    final class FakeChecks: Sendable {
        let server: LoopbackHTTPServer
        let runs = Mutexed<[(id: Int, externalID: String, status: String)]>([])
        let creates = Mutexed(0)

        init(failCreate: Int? = nil) throws {
            let runs = self.runs
            let creates = self.creates
            server = try LoopbackHTTPServer { request in
                switch (request.method, request.path) {
                case ("GET", "/repos/o/r/installation"): return .json(200, #"{"id": 1}"#)
                case ("POST", "/app/installations/1/access_tokens"):
                    return .json(201, #"{"token": "ghs_t", "expires_at": "2099-01-01T00:00:00Z"}"#)
                case ("GET", "/repos/o/r/commits/\(CheckRunWriterIndexTests.sha)/check-runs"):
                    let items = runs.value.reversed().map {
                        #"{"id": \#($0.id), "name": "n", "external_id": "\#($0.externalID)", "status": "\#($0.status)", "app": {"id": 4242}}"#
                    }
                    return .json(200, #"{"check_runs": [\#(items.joined(separator: ","))]}"#)
                case ("POST", "/repos/o/r/check-runs"):
                    var count = 0
                    creates.mutate {
                        $0 += 1
                        count = $0
                    }
                    if count == failCreate { return .json(500, #"{"message": "Server Error"}"#) }
                    let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
                    let external = body["external_id"] as? String ?? ""
                    let status = body["status"] as? String ?? "queued"
                    var id = 0
                    runs.mutate {
                        id = 100 + $0.count
                        $0.append((id, external, status))
                    }
                    return .json(
                        201,
                        #"{"id": \#(id), "name": "\#(body["name"] as? String ?? "")", "status": "\#(status)", "external_id": "\#(external)"}"#
                    )
                default: return .json(404, #"{"message": "Not Found"}"#)
                }
            }
        }

        deinit { server.stop() }
    }

    let directory = TemporaryDirectory("writer-index")
    deinit { directory.remove() }

    func writer(_ github: FakeChecks) throws -> (CheckRunWriter, RunIndex) {
        let index = RunIndex(spool: try SpoolDirectory(path: directory.path))
        let credentials = GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1))
        let client = GitHubClient(
            credentials: credentials, apiBase: github.server.baseURL, logger: Logger(level: .error))
        let checkRuns = CheckRuns(client: client, checkName: "Solstice CI", logsBaseURL: nil)
        return (CheckRunWriter(checkRuns: checkRuns, runIndex: index, logger: Logger(level: .error)), index)
    }

    static func pending(_ writes: [CheckRunWrite]) -> PendingCheckRuns {
        PendingCheckRuns(
            deliveryID: "d", installationID: 1, target: CheckRunTarget(owner: "o", repo: "r", sha: sha), writes: writes,
            acceptedAt: 1_700_000_000)
    }

    static let twoJobs = CheckRunWrite.queued(
        [QueuedRun(externalID: "req-a", jobID: "a"), QueuedRun(externalID: "req-b", jobID: "b")], workflowJobs: 2)

    @Test func queuedRunsAreIndexedAndCompletedOnesAreNot() throws {
        let github = try FakeChecks()
        let (writer, index) = try writer(github)
        let outcome = writer.write(Self.pending([Self.twoJobs, .skipped(externalID: "req-s", marker: "[skip ci]")]))
        guard case .written(let created) = outcome else { Issue.record("\(outcome)"); return }
        #expect(created.map(\.status) == ["queued", "queued", "completed"])
        let indexed = index.due(olderThan: 0, now: 1_800_000_000)
        #expect(indexed.map(\.runID) == [100, 101])
        #expect(
            indexed.first
                == IndexedRun(
                    installation: 1, owner: "o", repo: "r", sha: Self.sha, runID: 100, created: 1_700_000_000))
        // Everything queued was in the answer: the commit's runs were read once, before the writes.
        #expect(github.server.lines.filter { $0.contains("/commits/") }.count == 1)
    }

    @Test func runsAnEarlierAttemptCreatedAreIndexedByTheAttemptThatSucceeds() throws {
        let github = try FakeChecks(failCreate: 2)
        let (writer, index) = try writer(github)
        guard case .retry = writer.write(Self.pending([Self.twoJobs])) else {
            Issue.record("the first attempt should fail")
            return
        }
        #expect(index.count == 0)
        guard case .written(let created) = writer.write(Self.pending([Self.twoJobs])) else {
            Issue.record("the second attempt should succeed")
            return
        }
        #expect(created.map(\.externalID) == ["req-b"])
        #expect(Set(index.due(olderThan: 0, now: 1_800_000_000).map(\.runID)) == [100, 101])
    }
}
