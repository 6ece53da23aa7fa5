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
/// (ack, dead-letter, leave), and how many calls it takes.
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

    static func handler(_ github: FakeGitHub, maxAttempts: Int = 5) throws -> ResultHandler {
        let credentials = GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1))
        let client = GitHubClient(
            credentials: credentials, apiBase: github.server.baseURL, logger: Logger(level: .error))
        return ResultHandler(
            client: client, checkName: "Solstice CI", logs: nil, logger: Logger(level: .error),
            maxAttempts: maxAttempts, backoffBase: 0.01)
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
        #expect(try Self.handler(github).process(Self.body(success: success), shouldStop: { false }) == .ack)
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
        #expect(try Self.handler(github).process(Self.body(success: false), shouldStop: { false }) == .ack)
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
        #expect(try Self.handler(github).process(Self.body(success: true), shouldStop: { false }) == .ack)
        #expect(github.lines == Self.lookup + Self.listing + ["POST /repos/o/r/check-runs"])
    }

    @Test func aRepositoryWithoutTheAppIsAckedWithNothingWritten() throws {
        var script = FakeGitHub.Script()
        script.installed = false
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.body(), shouldStop: { false }) == .ack)
        #expect(github.lines == ["GET /repos/o/r/installation"])
    }

    @Test func aServerErrorIsRetriedUntilThePatchSucceeds() throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [500, 500, 200]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.body(), shouldStop: { false }) == .ack)
        // Three attempts, each listing the runs again (a run created by a lost answer would be found); the
        // installation and its token are looked up once.
        let attempt = Self.listing + ["PATCH /repos/o/r/check-runs/42"]
        #expect(github.lines == Self.lookup + attempt + attempt + attempt)
    }

    @Test func aPatchFailingEveryTimeIsDeadLetteredAfterMaxAttempts() throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [500]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github, maxAttempts: 4).process(Self.body(), shouldStop: { false }) == .deadLetter)
        #expect(github.lines.filter { $0.hasPrefix("PATCH") }.count == 4)
    }

    @Test func githubFailingEverythingIsDeadLetteredAfterMaxAttempts() throws {
        var script = FakeGitHub.Script()
        script.alwaysFail = true
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github, maxAttempts: 2).process(Self.body(), shouldStop: { false }) == .deadLetter)
        // Each attempt stops at the installation lookup, which the client itself tries three times (a GET).
        #expect(github.lines == Array(repeating: "GET /repos/o/r/installation", count: 6))
    }

    @Test func aRefusedPatchIsDeadLetteredAtOnce() throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [422]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.body(), shouldStop: { false }) == .deadLetter)
        #expect(github.lines == Self.lookup + Self.listing + ["PATCH /repos/o/r/check-runs/42"])
    }

    @Test func aStoppingProcessLeavesTheResultToTheBroker() throws {
        var script = FakeGitHub.Script()
        script.firstPage = [(42, Self.requestID)]
        script.patchStatuses = [500]
        let github = try FakeGitHub(script)
        defer { github.stop() }
        #expect(try Self.handler(github).process(Self.body(), shouldStop: { true }) == .leave)
        #expect(github.lines.filter { $0.hasPrefix("PATCH") }.count == 1)
    }

    @Test(arguments: [
        "not json", #"{"schema_version": "jobresult.v1"}"#,
        String(decoding: body(), as: UTF8.self).replacingOccurrences(of: requestID, with: "../../etc"),
    ])
    func aMalformedResultIsDeadLetteredWithoutAnyCall(text: String) throws {
        let github = try FakeGitHub(FakeGitHub.Script())
        defer { github.stop() }
        #expect(try Self.handler(github).process(Array(text.utf8), shouldStop: { false }) == .deadLetter)
        #expect(github.lines.isEmpty)
    }
}
