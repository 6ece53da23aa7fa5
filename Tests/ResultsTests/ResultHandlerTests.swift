import AMQP
import Base
import Crypto
import Foundation
import GitHub
import HTTP
import TestSupport
import Testing

@testable import Results

/// `ResultHandler` (SPEC §8) against a loopback GitHub: which Check Run it writes, what it tells the broker
/// (ack, dead-letter, retry through which delay queue), and how many calls it takes.
@Suite struct ResultHandlerTests {
    static let requestID = "7f1c0b9e-1d2a-5c3b-8e4f-0123456789ab"

    static func body(success: Bool = true) -> [UInt8] {
        Array(
            """
            {"schema_version": "jobresult.v1", "request_id": "\(requestID)", "repo_owner": "o", "repo_name": "r",
             "repo_url": "https://github.com/o/r.git", "commit_sha": "\(FakeGitHub.sha)", "success": \(success),
             "exit_code": \(success ? 0 : 2), "summary": "done", "completed_at": "2026-11-24T12:00:00Z"}
            """.utf8)
    }

    static func handler(_ github: FakeGitHub) throws -> ResultHandler {
        let credentials = GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1))
        let client = GitHubClient(
            credentials: credentials, apiBase: github.server.baseURL, logger: Logger(level: .error))
        return ResultHandler(client: client, checkName: "Solstice CI", logs: nil, logger: Logger(level: .error))
    }

    static func message(_ body: [UInt8] = body(), previousAttempts: Int = 0) -> ConsumedMessage {
        ConsumedMessage(body: body, previousAttempts: previousAttempts)
    }

    static let lookup = ["GET /repos/o/r/installation", "POST /app/installations/1/access_tokens"]
    static let listing = [
        "GET /repos/o/r/commits/\(FakeGitHub.sha)/check-runs?filter=all&per_page=100",
        "GET /repositories/1/commits/\(FakeGitHub.sha)/check-runs?page=2",
    ]

    @Test(arguments: [true, false])
    func theRunFoundOnTheSecondPageIsCompleted(success: Bool) throws {
        var script = FakeGitHub.Script()
        script.secondPage = [(8, "older"), (42, Self.requestID)]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(Self.body(success: success))) == .ack)
        #expect(github.lines == Self.lookup + Self.listing + ["PATCH /repos/o/r/check-runs/42"])
        let patch = try #require(github.bodies("PATCH", "/repos/o/r/check-runs/42").first)
        #expect(patch["status"] as? String == "completed")
        #expect(patch["conclusion"] as? String == (success ? "success" : "failure"))
        #expect(patch["completed_at"] as? String == "2026-11-24T12:00:00Z")
        #expect((patch["output"] as? [String: Any])?["summary"] as? String != nil)
    }

    @Test func withoutARunACompletedOneIsCreated() throws {
        let github = try FakeGitHub(FakeGitHub.Script())
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(Self.body(success: false))) == .ack)
        #expect(github.lines == Self.lookup + Self.listing + ["POST /repos/o/r/check-runs"])
        let created = try #require(github.bodies("POST", "/repos/o/r/check-runs").first)
        #expect(created["name"] as? String == "Solstice CI")
        #expect(created["head_sha"] as? String == FakeGitHub.sha)
        #expect(created["external_id"] as? String == Self.requestID)
        #expect(created["status"] as? String == "completed")
        #expect(created["conclusion"] as? String == "failure")
    }

    @Test func anotherAppsRunWithTheSameExternalIDIsLeftAlone() throws {
        var script = FakeGitHub.Script()
        script.otherAppRuns = [(99, Self.requestID)]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(Self.body(success: true))) == .ack)
        #expect(github.lines == Self.lookup + Self.listing + ["POST /repos/o/r/check-runs"])
    }

    @Test func aRepositoryWithoutTheAppIsAckedWithNothingWritten() throws {
        var script = FakeGitHub.Script()
        script.installed = false
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(Self.body())) == .ack)
        #expect(github.lines == ["GET /repos/o/r/installation"])
    }

    @Test func aServerErrorMakesOneAttemptAndAsksForTheFirstRetryQueue() throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [500, 200]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        let handler = try Self.handler(github)
        // One attempt per delivery, no waiting in the handler: the broker holds the result during the delay.
        #expect(handler.process(Self.message()) == .retry(attempt: 1))
        #expect(github.lines == Self.lookup + Self.listing + ["PATCH /repos/o/r/check-runs/42"])
        // The copy that comes back from the .5s queue (x-solstice-attempt = 1) completes the run; the installation
        // and its token are still cached, the runs are listed again (a run created by a lost answer would be found).
        #expect(handler.process(Self.message(previousAttempts: 1)) == .ack)
        let attempt = Self.listing + ["PATCH /repos/o/r/check-runs/42"]
        #expect(github.lines == Self.lookup + attempt + attempt)
    }

    /// The attempt count carried in the header decides the queue, also across a restart (a new handler).
    @Test(arguments: [
        (0, ConsumeDisposition.retry(attempt: 1)), (1, .retry(attempt: 2)), (3, .retry(attempt: 4)),
        (4, .deadLetter),
    ])
    func aPatchFailingAgainGoesOneQueueFurtherUntilTheFifthAttempt(previous: Int, expected: ConsumeDisposition) throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [502]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(previousAttempts: previous)) == expected)
        #expect(github.lines.filter { $0.hasPrefix("PATCH") }.count == 1)
    }

    @Test func githubFailingEverythingIsRetriedThenDeadLettered() throws {
        var script = FakeGitHub.Script()
        script.alwaysFail = true
        let github = try FakeGitHub(script)
        defer { github.stop() }
        let handler = try Self.handler(github)
        #expect(handler.process(Self.message(previousAttempts: 2)) == .retry(attempt: 3))
        #expect(handler.process(Self.message(previousAttempts: 4)) == .deadLetter)
        // Each attempt stops at the installation lookup, which the client itself tries three times (a GET).
        #expect(github.lines == Array(repeating: "GET /repos/o/r/installation", count: 6))
    }

    @Test func aRefusedPatchIsDeadLetteredAtOnce() throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [422]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(Self.body())) == .deadLetter)
        #expect(github.lines == Self.lookup + Self.listing + ["PATCH /repos/o/r/check-runs/42"])
    }

    @Test(arguments: [
        "not json", #"{"schema_version": "jobresult.v1"}"#,
        String(decoding: body(), as: UTF8.self).replacingOccurrences(of: requestID, with: "../../etc"),
    ])
    func aMalformedResultIsDeadLetteredWithoutAnyCall(text: String) throws {
        // Even with attempts left: a malformed result is not worth a retry.
        let github = try FakeGitHub(FakeGitHub.Script())
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.message(Array(text.utf8), previousAttempts: 1)) == .deadLetter)
        #expect(github.lines.isEmpty)
    }

    /// SPEC §8: a passing failure of attempt 1–4 is retried, the 5th and any lasting failure dead-letter.
    @Test(arguments: [
        (1, true, ConsumeDisposition.retry(attempt: 1)), (2, true, .retry(attempt: 2)), (4, true, .retry(attempt: 4)),
        (5, true, .deadLetter), (6, true, .deadLetter), (0, true, .deadLetter), (1, false, .deadLetter),
        (4, false, .deadLetter),
    ])
    func dispositionAfterAFailedAttempt(attempt: Int, transient: Bool, expected: ConsumeDisposition) {
        #expect(ResultHandler.disposition(afterFailedAttempt: attempt, transient: transient) == expected)
    }
}
