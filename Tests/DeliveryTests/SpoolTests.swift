import Foundation
import TestSupport
import Testing

@testable import Delivery

#if canImport(Glibc)
    import Glibc
#endif

/// The outbox and delivery records (SPEC §7) on a real directory.
@Suite final class SpoolTests {
    /// The spool directories a test made, removed when it ends (Swift Testing makes one suite instance per test).
    private var directories: [TemporaryDirectory] = []

    deinit { directories.forEach { $0.remove() } }

    private func tempDir() -> String {
        let directory = TemporaryDirectory("spool")
        directories.append(directory)
        return directory.path
    }

    private func message(_ id: String) -> OutboxMessage {
        OutboxMessage(
            messageID: id, type: "jobrequest.v1", timestamp: 7,
            headers: [.init(name: "x-github-delivery", value: "d"), .init(name: "x-github-event", value: "push")],
            body: Array("{\"request_id\": \"\(id)\"}".utf8))
    }

    private func spool() throws -> (JobOutbox, DeliveryRecords, SpoolDirectory) {
        let directory = try SpoolDirectory(path: tempDir())
        return (JobOutbox(spool: directory), DeliveryRecords(spool: directory), directory)
    }

    @Test func enqueuedMessagesDrainInArrivalOrderAndOnlyAfterConfirm() throws {
        let (spool, _, _) = try spool()
        try spool.enqueue(groupID: "g1", messages: [message("a"), message("b")])
        try spool.enqueue(groupID: "g2", messages: [message("c")])
        #expect(spool.pendingFiles().count == 2)
        var seen: [String] = []
        // The broker is away: nothing is removed.
        let failed = spool.drain(spool.pendingFiles()[0]) { _ in Unconfirmed(reason: "down", indices: [0, 1]) }
        #expect(failed == .failed("down"))
        #expect(spool.pendingFiles().count == 2)
        var shapes: [Bool] = []
        for name in spool.pendingFiles() {
            let outcome = spool.drain(name) { messages in
                seen += messages.map(\.messageID)
                shapes.append(
                    messages.allSatisfy { $0.type == "jobrequest.v1" && $0.timestamp == 7 }
                        && messages[0].headers.map(\.name) == ["x-github-delivery", "x-github-event"])
                return nil
            }
            #expect(outcome == .published)
        }
        #expect(shapes == [true, true])
        #expect(seen == ["a", "b", "c"])
        #expect(spool.pendingFiles().isEmpty)
    }

    @Test func partialFailureKeepsOnlyTheUnconfirmedMessages() throws {
        let (spool, _, _) = try spool()
        try spool.enqueue(groupID: "g", messages: [message("a"), message("b"), message("c")])
        let name = spool.pendingFiles()[0]
        _ = spool.drain(name) { _ in Unconfirmed(reason: "nack", indices: [1]) }
        var left: [String] = []
        _ = spool.drain(name) { messages in
            left = messages.map(\.messageID)
            return nil
        }
        #expect(left == ["b"])
    }

    @Test func aFileHeldByAnotherDrainerIsSkipped() throws {
        let (spool, _, directory) = try spool()
        try spool.enqueue(groupID: "g", messages: [message("a")])
        let name = spool.pendingFiles()[0]
        let fd = open(directory.path + "/outbox/" + name, O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        #expect(spool.drain(name) { _ in nil } == .skipped)
        flock(fd, LOCK_UN)
        #expect(spool.drain(name) { _ in nil } == .published)
        #expect(spool.drain(name) { _ in nil } == .skipped)
    }

    @Test func recordsRoundTripAndExpire() throws {
        let (_, records, _) = try spool()
        #expect(records.answer(groupID: "g") == nil)
        try records.record(groupID: "g", body: Array("{\"a\": 1}".utf8))
        #expect(records.answer(groupID: "g") == Array("{\"a\": 1}".utf8))
        #expect(records.sweep(now: Int(time(nil)) + 7 * 86_400) == 0)
        #expect(records.sweep(now: Int(time(nil)) + 9 * 86_400) >= 1)
        #expect(records.answer(groupID: "g") == nil)
    }

    @Test func unwritableSpoolThrows() throws {
        let dir = tempDir()
        let spool = JobOutbox(spool: try SpoolDirectory(path: dir))
        // The directory vanishes under us (as a full or read-only disk would refuse the write).
        #expect(system("rm -rf '\(dir)'") == 0)
        #expect(throws: DeliveryError.self) { try spool.enqueue(groupID: "g", messages: [message("a")]) }
    }

    /// SPEC §7: a record that is not one whole JSON object counts as absent, even when it happens to end in `}`.
    @Test(arguments: [
        #"{"delivery": "d", "jobs": [{"request_id": "a"}"#, #"{"delivery": "d", "jobs": [{"request_id": "a"}]"#,
        #"{"delivery": "d"}}"#, #"["not", "an", "object"]"#, "", "}",
    ])
    func aTornRecordCountsAsAbsent(text: String) throws {
        let (_, records, directory) = try spool()
        let shard = directory.path + "/deliveries/g1"
        #expect(mkdir(shard, 0o700) == 0)
        let fd = open(shard + "/g1.json", O_WRONLY | O_CREAT, 0o600)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        #expect(records.answer(groupID: "g1") == nil)
        // The next answer replaces it.
        try records.record(groupID: "g1", body: Array(#"{"delivery": "d", "jobs": []}"#.utf8))
        #expect(records.answer(groupID: "g1") == Array(#"{"delivery": "d", "jobs": []}"#.utf8))
    }

    @Test func sweepingIsDueOncePerIntervalForTheWholeHost() throws {
        let (_, records, directory) = try spool()
        try records.record(groupID: "g", body: Array(#"{"a": 1}"#.utf8))
        let later = Int(time(nil)) + 9 * 86_400
        // Another process (a second DeliveryRecords on the same directory) sees the same marker.
        let other = DeliveryRecords(spool: try SpoolDirectory(path: directory.path))
        #expect(records.sweepIfDue(every: 3600, now: later) == 1)
        #expect(other.sweepIfDue(every: 3600, now: later + 60) == 0)
        try records.record(groupID: "h", body: Array(#"{"a": 1}"#.utf8))
        #expect(other.sweepIfDue(every: 3600, now: later + 9 * 86_400) == 1)
    }
}
