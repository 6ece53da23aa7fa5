import AMQP
import Base
import Delivery
import TestSupport
import Testing

@testable import Background

#if canImport(Glibc)
    import Glibc
#endif

/// A publisher answering each call with the next scripted result (confirmed once the script is used up), recording
/// the message ids of every call: the broker, at the drainer's seam.
final class ScriptedPublisher: MessagePublishing, @unchecked Sendable {
    private let state: Mutexed<(script: [PublishResult], calls: [[String]])>

    init(_ script: [PublishResult] = []) { state = Mutexed((script, [])) }

    /// The message ids of every publish, in order.
    var calls: [[String]] { state.value.calls }

    func publish(_ messages: [AMQPMessage]) -> PublishResult {
        var result = PublishResult.confirmed
        state.mutate { s in
            s.calls.append(messages.map(\.messageID))
            if !s.script.isEmpty { result = s.script.removeFirst() }
        }
        return result
    }
}

/// The outbox drainer (SPEC §7) on a real temporary `SPOOL_DIR`: what the broker did not confirm is published
/// later, oldest first, never twice, and the delivery records expire after 8 days.
@Suite struct OutboxDrainerTests {
    struct Fixture {
        let directory = TemporaryDirectory("drainer")
        let spool: SpoolDirectory
        let outbox: JobOutbox
        let records: DeliveryRecords

        init() throws {
            spool = try SpoolDirectory(path: directory.path)
            outbox = JobOutbox(spool: spool)
            records = DeliveryRecords(spool: spool)
        }

        func drainer(_ publisher: ScriptedPublisher) -> OutboxDrainer {
            OutboxDrainer(outbox: outbox, records: records, publisher: publisher, logger: Logger(level: .error))
        }

        /// Spools one delivery's messages, as the dispatcher does when the broker does not confirm them.
        func spoolDelivery(_ group: String, _ ids: [String]) throws {
            try outbox.enqueue(
                groupID: group,
                messages: ids.map {
                    OutboxMessage(
                        messageID: $0, type: "jobrequest.v1", timestamp: 7,
                        headers: [.init(name: "x-github-delivery", value: group)],
                        body: Array("{\"id\":\"\($0)\"}".utf8))
                })
        }

        func contents(_ name: String) -> [UInt8]? {
            try? FileDescriptor(path: spool.path + "/outbox/" + name, flags: O_RDONLY).readAll()
        }
    }

    static let down = PublishResult.failed("broker unavailable: connection refused", unconfirmed: [0])

    @Test func drainsOldestFirstAndEmptiesTheOutbox() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try fixture.spoolDelivery("g1", ["a", "b"])
        try fixture.spoolDelivery("g2", ["c"])
        try fixture.spoolDelivery("g3", ["d"])
        let publisher = ScriptedPublisher()
        let (published, remaining) = fixture.drainer(publisher).drainOnce()
        #expect(published == 3 && remaining == 0)
        #expect(publisher.calls == [["a", "b"], ["c"], ["d"]])
        #expect(fixture.outbox.pendingFiles().isEmpty)
        // Nothing is published twice.
        #expect(fixture.drainer(publisher).drainOnce() == (0, 0))
        #expect(publisher.calls.count == 3)
    }

    @Test func stopsAtTheFirstFailureLeavingLaterFilesUntouched() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        for (group, id) in [("g1", "a"), ("g2", "b"), ("g3", "c")] { try fixture.spoolDelivery(group, [id]) }
        let names = fixture.outbox.pendingFiles()
        let before = names.map(fixture.contents)
        // The broker confirms the first file, then goes away.
        let publisher = ScriptedPublisher([.confirmed, Self.down])
        let drainer = fixture.drainer(publisher)
        #expect(drainer.drainOnce() == (1, 2))
        // The third file was not even offered: arrival order holds for the next pass.
        #expect(publisher.calls == [["a"], ["b"]])
        #expect(fixture.outbox.pendingFiles() == Array(names[1...]))
        #expect(names[1...].map(fixture.contents) == Array(before[1...]))
        // The broker is back: the rest drains, in order.
        #expect(drainer.drainOnce() == (2, 0))
        #expect(publisher.calls == [["a"], ["b"], ["b"], ["c"]])
    }

    @Test func aPartialConfirmKeepsOnlyTheUnconfirmedMessages() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        try fixture.spoolDelivery("g1", ["a", "b", "c"])
        try fixture.spoolDelivery("g2", ["d"])
        let publisher = ScriptedPublisher([.failed("broker nacked the message", unconfirmed: [0, 2])])
        let drainer = fixture.drainer(publisher)
        #expect(drainer.drainOnce() == (0, 2))
        // b was acked: only a and c are published again, before the later delivery.
        #expect(drainer.drainOnce() == (2, 0))
        #expect(publisher.calls == [["a", "b", "c"], ["a", "c"], ["d"]])
    }

    @Test func anUnreadableFileIsSetAsideSoItCannotBlockTheOutbox() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let corrupt = fixture.directory.write("outbox/00000000000000000001-broken.json", "{not json")
        try fixture.spoolDelivery("g1", ["a"])
        let publisher = ScriptedPublisher()
        let drainer = fixture.drainer(publisher)
        #expect(drainer.drainOnce() == (0, 1))
        #expect(access(corrupt + ".corrupt", F_OK) == 0)
        #expect(drainer.drainOnce() == (1, 0))
        #expect(publisher.calls == [["a"]])
    }

    @Test func sweepRemovesOnlyRecordsOlderThanEightDays() throws {
        let fixture = try Fixture()
        defer { fixture.directory.remove() }
        let now = WallClock.now()
        let ages = ["old": 8 * 86_400 + 3600, "week": 7 * 86_400, "new": 0]
        for (group, age) in ages {
            try fixture.records.record(groupID: group, body: Array("{\"delivery\":\"\(group)\"}".utf8), now: now - age)
        }
        // Spooled jobs are not records: however old, they wait for the broker.
        try fixture.spoolDelivery("g1", ["a"])
        let month = timeval(tv_sec: now - 30 * 86_400, tv_usec: 0)
        #expect(utimes(fixture.spool.path + "/outbox/" + fixture.outbox.pendingFiles()[0], [month, month]) == 0)
        let drainer = fixture.drainer(ScriptedPublisher())
        #expect(drainer.sweep() == 1)
        #expect(fixture.records.answer(groupID: "old") == nil)
        #expect(fixture.records.answer(groupID: "week") != nil)
        #expect(fixture.records.answer(groupID: "new") != nil)
        #expect(fixture.outbox.pendingFiles().count == 1)
        #expect(drainer.sweep() == 0)
    }
}

@Suite struct SpoolQueueWorkerTests {
    @Test(arguments: [
        (0, 0.0, 5.0), (1, 0.0, 10.0), (5, 0.0, 160.0), (6, 0.0, 300.0), (40, 0.0, 300.0), (0, 60.0, 60.0),
    ])
    func backoffDoublesFromFiveSecondsToFiveMinutesOrWhatGitHubAsked(attempts: Int, after: Double, delay: Double) {
        #expect(SpoolQueueWorker.backoff(attempts: attempts, after: after) == delay)
    }
}
