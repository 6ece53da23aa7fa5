import Base
import Crypto
import Delivery
import Foundation
import GitHub
import TestSupport
import Testing

@testable import Background

/// The stuck-run reconciler (SPEC §7) against a loopback GitHub: what each answer to `GET check-runs/{id}` leads
/// to, counted in PATCHes and index entries.
@Suite final class ReconcilerTests {
    static let sha = "0123456789abcdef0123456789abcdef01234567"
    static let timeout = 6 * 3600
    static let now = 1_800_000_000

    /// How the fake answers `GET /repos/o/r/check-runs/{id}`: a status code and, for 200, the run's status.
    typealias Answer = (code: Int, status: String)

    final class Fixture {
        let directory = TemporaryDirectory("reconciler")
        let index: RunIndex
        let duties: HostDuties
        let server: LoopbackHTTPServer
        let answers: Mutexed<[Int: Answer]>
        let patchCode: Mutexed<Int>

        init(_ answers: [Int: Answer], patchCode: Int = 200) throws {
            let spool = try SpoolDirectory(path: directory.path)
            index = RunIndex(spool: spool)
            duties = HostDuties(spool: spool)
            let table = Mutexed(answers)
            let patch = Mutexed(patchCode)
            self.answers = table
            self.patchCode = patch
            server = try LoopbackHTTPServer { request in Self.answer(request, table.value, patch.value) }
        }

        deinit {
            server.stop()
            directory.remove()
        }

        func reconciler(interval: Int = 600) throws -> Reconciler {
            let credentials = GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1))
            let client = GitHubClient(credentials: credentials, apiBase: server.baseURL, logger: Logger(level: .error))
            return Reconciler(
                index: index, checkRuns: CheckRuns(client: client, checkName: "Solstice CI", logsBaseURL: nil),
                duties: duties, jobTimeout: ReconcilerTests.timeout, interval: interval, logger: Logger(level: .error))
        }

        /// Indexes runs `ids`, queued `age` seconds before `ReconcilerTests.now`.
        func indexRuns(_ ids: [Int], age: Int = ReconcilerTests.timeout + 60, installation: Int? = 1) throws {
            try index.add(
                ids.map {
                    IndexedRun(
                        installation: installation, owner: "o", repo: "r", sha: ReconcilerTests.sha, runID: $0,
                        created: ReconcilerTests.now - age)
                })
        }

        var indexed: [Int] { index.due(olderThan: 0, now: .max / 2).map(\.runID) }
        var lines: [String] { server.lines }
        func count(_ method: String) -> Int { server.requests.filter { $0.method == method }.count }
        var patches: [[String: Any]] {
            server.requests.filter { $0.method == "PATCH" }.compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any]
            }
        }

        static func answer(_ request: LoopbackHTTPServer.Request, _ answers: [Int: Answer], _ patchCode: Int)
            -> LoopbackHTTPServer.Reply
        {
            let runs = "/repos/o/r/check-runs/"
            switch (request.method, request.path) {
            case ("GET", "/repos/o/r/installation"):
                return .json(200, #"{"id": 1}"#)
            case ("POST", "/app/installations/1/access_tokens"):
                return .json(201, #"{"token": "ghs_t", "expires_at": "2099-01-01T00:00:00Z"}"#)
            case ("GET", let path) where path.hasPrefix(runs):
                guard request.headers["authorization"] == "token ghs_t" else { return .json(401, "{}") }
                let id = Int(path.dropFirst(runs.count)) ?? 0
                let answer = answers[id] ?? (404, "")
                switch answer.code {
                case 200: return .json(200, #"{"id": \#(id), "status": "\#(answer.status)", "conclusion": null}"#)
                case 429: return .json(429, #"{"message": "slow down"}"#, headers: [("retry-after", "3600")])
                default: return .json(answer.code, #"{"message": "no"}"#)
                }
            case ("PATCH", let path) where path.hasPrefix(runs):
                return .json(patchCode, patchCode == 200 ? "{}" : #"{"message": "Validation Failed"}"#)
            default:
                return .json(404, #"{"message": "Not Found"}"#)
            }
        }
    }

    @Test func queuedAndInProgressRunsTimeOutWithASummarySayingHowToRerun() throws {
        let fixture = try Fixture([1: (200, "queued"), 2: (200, "in_progress")])
        try fixture.indexRuns([1, 2])
        let reconciler = try fixture.reconciler()
        let pass = reconciler.passOnce(now: Self.now)
        #expect(pass == Reconciler.Pass(timedOut: 2, removed: 0, kept: 0))
        #expect(reconciler.timedOutTotal == 2)
        #expect(
            fixture.lines.filter { $0.hasPrefix("PATCH") } == [
                "PATCH /repos/o/r/check-runs/1", "PATCH /repos/o/r/check-runs/2",
            ])
        let body = try #require(fixture.patches.first)
        #expect(body["status"] as? String == "completed" && body["conclusion"] as? String == "timed_out")
        #expect(body["completed_at"] as? String == RFC3339.format(secondsSince1970: Self.now))
        let output = try #require(body["output"] as? [String: Any])
        #expect(output["title"] as? String == "No result within 6h")
        let summary = try #require(output["summary"] as? String)
        for phrase in ["within 6h", "JOB_TIMEOUT", "**Re-run**", "**Re-run all checks**", "`/retest`"] {
            #expect(summary.contains(phrase), "\(phrase)")
        }
        #expect(fixture.indexed.isEmpty)
        // The installation came from the index: never looked up.
        #expect(!fixture.lines.contains("GET /repos/o/r/installation"))
        // Settled: the next pass asks GitHub nothing.
        let requests = fixture.lines.count
        #expect(reconciler.passOnce(now: Self.now + 600) == Reconciler.Pass())
        #expect(fixture.lines.count == requests)
    }

    /// What each answer to the GET leads to: PATCHes sent, and whether the run stays in the index.
    @Test(arguments: [
        (200, "completed", 0, false), (404, "", 0, false), (403, "", 0, false), (422, "", 0, false),
        (500, "", 0, true), (502, "", 0, true),
    ])
    func eachAnswerSettlesOrKeepsTheRun(code: Int, status: String, patches: Int, kept: Bool) throws {
        let fixture = try Fixture([5: (code, status)])
        try fixture.indexRuns([5])
        let pass = try fixture.reconciler().passOnce(now: Self.now)
        #expect(fixture.count("PATCH") == patches)
        #expect(pass.timedOut == 0 && pass.removed == (kept ? 0 : 1) && pass.kept == (kept ? 1 : 0))
        #expect(fixture.indexed == (kept ? [5] : []))
    }

    @Test func aRunKeptForGitHubsTroubleTimesOutOnTheNextPass() throws {
        let fixture = try Fixture([1: (500, "")])
        try fixture.indexRuns([1])
        let reconciler = try fixture.reconciler()
        #expect(reconciler.passOnce(now: Self.now).kept == 1)
        fixture.answers.mutate { $0[1] = (200, "queued") }
        #expect(reconciler.passOnce(now: Self.now + 600).timedOut == 1)
        #expect(fixture.count("PATCH") == 1 && fixture.indexed.isEmpty)
    }

    @Test func aRefusedPatchDropsTheRunAndAGonePatchToo() throws {
        for code in [422, 404] {
            let fixture = try Fixture([1: (200, "queued")], patchCode: code)
            try fixture.indexRuns([1])
            let reconciler = try fixture.reconciler()
            #expect(reconciler.passOnce(now: Self.now) == Reconciler.Pass(timedOut: 0, removed: 1, kept: 0))
            #expect(reconciler.timedOutTotal == 0 && fixture.indexed.isEmpty)
        }
    }

    @Test func aRateLimitEndsThePassAndKeepsTheRest() throws {
        let fixture = try Fixture([1: (429, ""), 2: (200, "queued"), 3: (200, "queued")])
        try fixture.indexRuns([1, 2, 3])
        let pass = try fixture.reconciler().passOnce(now: Self.now)
        #expect(pass == Reconciler.Pass(timedOut: 0, removed: 0, kept: 3))
        #expect(fixture.lines.filter { $0.contains("check-runs/") } == ["GET /repos/o/r/check-runs/1"])
        #expect(fixture.indexed == [1, 2, 3])
    }

    @Test func runsYoungerThanTheTimeoutAreNotAskedAbout() throws {
        let fixture = try Fixture([1: (200, "queued"), 2: (200, "queued")])
        try fixture.indexRuns([1], age: Self.timeout - 1)
        try fixture.indexRuns([2], age: Self.timeout, installation: nil)
        let pass = try fixture.reconciler().passOnce(now: Self.now)
        #expect(pass == Reconciler.Pass(timedOut: 1, removed: 0, kept: 0))
        #expect(
            fixture.lines.filter { $0.contains("check-runs/") } == [
                "GET /repos/o/r/check-runs/2", "PATCH /repos/o/r/check-runs/2",
            ])
        // Without an installation in the index, it is looked up.
        #expect(fixture.lines.contains("GET /repos/o/r/installation"))
        #expect(fixture.indexed == [1])
    }

    @Test func runsTheIndexNeverSettledLeaveAfterEightDays() throws {
        let fixture = try Fixture([:])
        try fixture.indexRuns([1], age: Reconciler.keepUnsettled + Self.timeout + 1)
        let pass = try fixture.reconciler().passOnce(now: Self.now)
        #expect(pass == Reconciler.Pass(timedOut: 0, removed: 1, kept: 0))
        #expect(fixture.lines.isEmpty && fixture.indexed.isEmpty)
    }

    @Test func oneProcessOfTheHostPassesPerInterval() throws {
        let fixture = try Fixture([1: (200, "queued")])
        try fixture.indexRuns([1])
        let first = try fixture.reconciler(interval: 600)
        let second = try fixture.reconciler(interval: 600)
        #expect(first.passIfDue(now: Self.now)?.timedOut == 1)
        #expect(second.passIfDue(now: Self.now + 599) == nil)
        #expect(second.passIfDue(now: Self.now + 600) == Reconciler.Pass())
        #expect(fixture.count("PATCH") == 1)
    }
}
