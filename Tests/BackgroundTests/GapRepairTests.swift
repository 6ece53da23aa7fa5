import Base
import Crypto
import Delivery
import Events
import GitHub
import TestSupport
import Testing

@testable import Background

/// SPEC §7 gap repair: which events are asked for again (no 2xx attempt, no local record, not asked within the
/// hour), and a whole pass against a delivery log on a real temporary `SPOOL_DIR`.
@Suite struct GapRepairTests {
    static let now = 1_795_521_600

    static func attempt(
        _ id: Int, _ guid: String, minutesAgo: Int, status: Int = 502, event: String = "push"
    ) -> HookDelivery {
        HookDelivery(id: id, guid: guid, deliveredAt: now - 60 * minutesAgo, statusCode: status, event: event)
    }

    // MARK: - Choosing

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var attempts: [HookDelivery]
        var recorded: Set<String> = []
        var asked: Set<String> = []
        var since = GapRepairTests.now - 3 * 3600
        /// (guid, attempt asked for, first status), in order.
        var expected: [(String, Int, Int)]
    }

    static let cases: [Case] = [
        Case(
            description: "one failed attempt is asked for", attempts: [attempt(1, "a", minutesAgo: 5)],
            expected: [("a", 1, 502)]),
        Case(
            description: "any 2xx attempt settles the event",
            attempts: [attempt(1, "a", minutesAgo: 9), attempt(2, "a", minutesAgo: 5, status: 202)], expected: []),
        Case(
            description: "204 (ignored) is an answer too",
            attempts: [attempt(1, "a", minutesAgo: 5, status: 204)], expected: []),
        Case(
            description: "a 2xx before failed redeliveries still settles it",
            attempts: [attempt(1, "a", minutesAgo: 9, status: 200), attempt(2, "a", minutesAgo: 5, status: 503)],
            expected: []),
        Case(
            description: "the newest attempt is asked for, the first one's status is told",
            attempts: [
                attempt(3, "a", minutesAgo: 1, status: 503), attempt(1, "a", minutesAgo: 30, status: 502),
                attempt(2, "a", minutesAgo: 10, status: 504),
            ],
            expected: [("a", 3, 502)]),
        Case(
            description: "a recorded delivery is not asked for",
            attempts: [attempt(1, "a", minutesAgo: 5), attempt(2, "b", minutesAgo: 4)], recorded: ["a"],
            expected: [("b", 2, 502)]),
        Case(
            description: "one asked within the hour is not asked again",
            attempts: [attempt(1, "a", minutesAgo: 5), attempt(2, "b", minutesAgo: 4)], asked: ["b"],
            expected: [("a", 1, 502)]),
        Case(
            description: "an event whose newest attempt is older than the watermark is left alone",
            attempts: [attempt(1, "a", minutesAgo: 200), attempt(2, "b", minutesAgo: 170)],
            expected: [("b", 2, 502)]),
        Case(
            description: "oldest event first",
            attempts: [
                attempt(5, "c", minutesAgo: 1), attempt(4, "b", minutesAgo: 2), attempt(3, "a", minutesAgo: 3),
                attempt(6, "a", minutesAgo: 0),
            ],
            expected: [("a", 6, 502), ("b", 4, 502), ("c", 5, 502)]),
        Case(
            description: "a connection that never answered (0) is a failure",
            attempts: [attempt(1, "a", minutesAgo: 5, status: 0)], expected: [("a", 1, 0)]),
    ]

    @Test(arguments: cases)
    func selection(_ c: Case) {
        let chosen = GapRepair.select(c.attempts, since: c.since, asked: c.asked) { c.recorded.contains($0) }
        #expect(
            chosen.map { "\($0.guid) \($0.deliveryID) \($0.firstStatus)" }
                == c.expected.map { "\($0.0) \($0.1) \($0.2)" })
    }

    @Test func theLineNamesTheDeliveryTheEventAndTheFirstStatus() {
        let request = RedeliveryRequest(
            guid: "0b989ba4-242f-11e5-81e1-c7b6966d2516", deliveryID: 12, event: "push", action: nil, firstStatus: 502,
            firstAttemptAt: Self.now)
        #expect(
            request.line
                == "redelivery requested: 0b989ba4-242f-11e5-81e1-c7b6966d2516 (delivery 12, push, first attempt 502)")
    }

    // MARK: - A pass

    /// A delivery log on a loopback server, answering redeliveries with `redeliveryStatus`.
    final class Log: Sendable {
        let server: LoopbackHTTPServer

        init(_ entries: [HookDelivery], redeliveryStatus: Int = 202) throws {
            server = try LoopbackHTTPServer { request in
                if request.method == "POST" {
                    return .json(redeliveryStatus, redeliveryStatus == 202 ? "{}" : #"{"message": "no"}"#)
                }
                let items = entries.sorted { $0.deliveredAt > $1.deliveredAt }.map {
                    #"{"id": \#($0.id), "guid": "\#($0.guid)", "delivered_at": "\#(RFC3339.format(secondsSince1970: $0.deliveredAt))", "status_code": \#($0.statusCode), "event": "\#($0.event)", "redelivery": false}"#
                }
                return .json(200, "[" + items.joined(separator: ",") + "]")
            }
        }

        var redeliveries: [String] { server.requests.filter { $0.method == "POST" }.map(\.path) }
        var listings: [String] { server.requests.filter { $0.method == "GET" }.map(\.target) }
    }

    struct Fixture {
        let directory = TemporaryDirectory("gaprepair")
        let spool: SpoolDirectory
        let repair: GapRepair
        let log: Log

        init(_ log: Log) throws {
            self.log = log
            spool = try SpoolDirectory(path: directory.path + "/spool")
            let client = GitHubClient(
                credentials: GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1)),
                apiBase: log.server.baseURL, logger: Logger(level: .error))
            repair = GapRepair(client: client, spool: spool, interval: 600, logger: Logger(level: .error))
        }

        func record(_ guid: String, target: String?) throws {
            try DeliveryRecords(spool: spool).record(
                groupID: DeliveryIDs(delivery: guid, installationTarget: target).groupID,
                body: Array(#"{"ok": 1}"#.utf8))
        }

        var state: GapRepairState.Snapshot { GapRepairState(spool: spool).load() }

        func remove() {
            log.server.stop()
            directory.remove()
        }
    }

    @Test func aPassAsksOnceForEachLostDeliveryAndMovesTheWatermark() throws {
        let now = WallClock.now()
        let log = try Log([
            HookDelivery(id: 1, guid: "lost-1", deliveredAt: now - 600, statusCode: 502, event: "push"),
            HookDelivery(id: 2, guid: "lost-2", deliveredAt: now - 500, statusCode: 504, event: "pull_request"),
            HookDelivery(id: 3, guid: "answered", deliveredAt: now - 400, statusCode: 202, event: "push"),
            HookDelivery(id: 4, guid: "recorded-app", deliveredAt: now - 300, statusCode: 502, event: "push"),
            HookDelivery(id: 5, guid: "recorded-bare", deliveredAt: now - 200, statusCode: 502, event: "push"),
        ])
        let f = try Fixture(log)
        defer { f.remove() }
        try f.record("recorded-app", target: "4242")
        try f.record("recorded-bare", target: nil)

        let first = try f.repair.pass(now: now)
        #expect(first.requested.map(\.guid) == ["lost-1", "lost-2"])
        #expect(first.failures.isEmpty && first.complete && first.since == now - GapRepair.firstLookBack)
        #expect(log.redeliveries == ["/app/hook/deliveries/1/attempts", "/app/hook/deliveries/2/attempts"])
        #expect(f.state.watermark == now - 3600)
        #expect(Set(f.state.asked.keys) == ["lost-1", "lost-2"])

        // The redeliveries are on their way: the next pass asks nothing, and lists back to the watermark only.
        let second = try f.repair.pass(now: now + 60)
        #expect(second.requested.isEmpty && second.since == now - 3600)
        #expect(log.redeliveries.count == 2)

        // An hour later they are forgotten: still without an answer, they are asked for again.
        let later = try f.repair.pass(now: now + 3601)
        #expect(later.requested.map(\.guid) == ["lost-1", "lost-2"])
    }

    @Test func aRedeliveryGitHubCouldNotTakeKeepsTheWatermark() throws {
        let now = WallClock.now()
        let log = try Log(
            [HookDelivery(id: 9, guid: "lost", deliveredAt: now - 60, statusCode: 502, event: "push")],
            redeliveryStatus: 503)
        let f = try Fixture(log)
        defer { f.remove() }
        let outcome = try f.repair.pass(now: now)
        #expect(outcome.requested.isEmpty && outcome.failures.map(\.request.guid) == ["lost"])
        #expect(f.state.watermark == nil && f.state.asked.isEmpty)
    }

    @Test func aRefusedRedeliveryIsNotAskedAgainWithinTheHour() throws {
        let now = WallClock.now()
        let log = try Log(
            [HookDelivery(id: 9, guid: "gone", deliveredAt: now - 60, statusCode: 502, event: "push")],
            redeliveryStatus: 422)
        let f = try Fixture(log)
        defer { f.remove() }
        #expect(try f.repair.pass(now: now).failures.count == 1)
        #expect(try f.repair.pass(now: now + 60).failures.isEmpty)
        #expect(log.redeliveries.count == 1)
        #expect(f.state.watermark == now + 60 - 3600)
    }

    @Test func aShorterLookBackThanTheWatermarkLeavesTheWatermark() throws {
        let now = WallClock.now()
        let log = try Log([])
        let f = try Fixture(log)
        defer { f.remove() }
        _ = try f.repair.pass(since: now - 600, now: now)
        #expect(f.state.watermark == nil)
        _ = try f.repair.pass(since: now - 4 * 86_400, now: now)
        #expect(f.state.watermark == now - 3600)
    }

    @Test func passNowRunsWhateverTheIntervalButNotBesideAnotherPass() throws {
        let log = try Log([])
        let f = try Fixture(log)
        defer { f.remove() }
        _ = try f.repair.passNow()
        _ = try f.repair.passNow()
        #expect(log.listings.count == 2)
        // Another holder of the duty: the command waits, then gives up.
        var error: GapRepairError?
        HostDuties(spool: f.spool).runIfDue(GapRepair.duty, every: 0) {
            do throws(GapRepairError) { _ = try f.repair.passNow(waitForLock: 0.6) } catch let e { error = e }
        }
        #expect(error != nil)
        #expect(log.listings.count == 2)
    }
}
