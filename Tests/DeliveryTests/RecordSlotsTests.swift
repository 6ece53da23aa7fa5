import Base
import Dispatch
import TestSupport
import Testing

@testable import Delivery

#if canImport(Glibc)
    import Glibc
#endif

/// Delivery records in slots (SPEC §7 without a file per webhook): torn records absent, several processes, expiry,
/// and the file records as the fallback for what a slot does not take.
@Suite final class RecordSlotsTests {
    private let directory = TemporaryDirectory("slots")
    deinit { directory.remove() }

    private func records(_ slots: RecordSlots? = nil) throws -> DeliveryRecords {
        let spool = try SpoolDirectory(path: directory.path)
        return slots.map { DeliveryRecords(spool: spool, slots: $0) } ?? DeliveryRecords(spool: spool)
    }

    private func body(_ group: String, jobs: Int = 1) -> [UInt8] {
        Array(
            #"{"delivery": "\#(group)", "jobs": [\#(Array(repeating: #"{"request_id": "r"}"#, count: jobs).joined(separator: ", "))]}"#
                .utf8)
    }

    private func recordFiles() -> [String] {
        Posix.list(directory.path + "/deliveries").filter { !$0.contains(".") }.flatMap {
            Posix.list(directory.path + "/deliveries/" + $0)
        }
    }

    @Test func aRecordIsReadBackByAnotherProcessWithoutAFilePerDelivery() throws {
        let writer = try records()
        for i in 0..<200 { try writer.record(groupID: "group-\(i)", body: body("d\(i)")) }
        let reader = try records()  // another process: its own descriptors, the same files
        for i in 0..<200 { #expect(reader.answer(groupID: "group-\(i)") == body("d\(i)")) }
        #expect(reader.answer(groupID: "group-200") == nil)
        #expect(recordFiles().isEmpty)
        #expect(Posix.list(directory.path + "/deliveries").filter { $0.hasSuffix(".slots") }.count > 1)
    }

    @Test func theSameDeliveryRecordedAgainKeepsOneSlot() throws {
        let store = try records(RecordSlots(directory: directory.path + "/deliveries", shards: 1, slotsPerShard: 8))
        try store.record(groupID: "g", body: body("first"))
        try store.record(groupID: "g", body: body("second"))
        #expect(store.answer(groupID: "g") == body("second"))
        for i in 0..<7 { try store.record(groupID: "other-\(i)", body: body("o\(i)")) }
        #expect(recordFiles().isEmpty)  // 1 + 7 fill the 8 slots exactly: "g" took one, not two
    }

    @Test func aTornSlotReadsAsAbsentAndIsTakenAgain() throws {
        let store = try records(RecordSlots(directory: directory.path + "/deliveries", shards: 1, slotsPerShard: 8))
        try store.record(groupID: "g", body: body("d"))
        // A power cut in the middle of the slot's write: its last byte never reached the disk.
        let path = directory.path + "/deliveries/00.slots"
        let fd = open(path, O_RDWR)
        var slot = [UInt8](repeating: 0, count: RecordSlots.slotSize)
        #expect(pread(fd, &slot, slot.count, 0) > 0)
        let used = RecordSlots.headerSize + 1 + body("d").count
        var last = slot[used - 1] ^ 0xFF
        #expect(pwrite(fd, &last, 1, off_t(used - 1)) == 1)
        close(fd)
        #expect(store.answer(groupID: "g") == nil)
        try store.record(groupID: "g", body: body("again"))
        #expect(store.answer(groupID: "g") == body("again"))
        #expect(recordFiles().isEmpty)
    }

    @Test func recordsExpireAfterEightDaysAndTheirSlotsAreFree() throws {
        let store = try records(RecordSlots(directory: directory.path + "/deliveries", shards: 1, slotsPerShard: 4))
        let now = WallClock.now()
        let eightDays = DeliveryRecords.maxAge
        for i in 0..<4 { try store.record(groupID: "old-\(i)", body: body("o"), now: now - eightDays - 60) }
        #expect(store.answer(groupID: "old-0", now: now - eightDays) != nil)
        #expect(store.answer(groupID: "old-0", now: now) == nil)
        // The window is full of expired records: a new one takes a slot, no file.
        try store.record(groupID: "new", body: body("n"), now: now)
        #expect(store.answer(groupID: "new") == body("n"))
        #expect(recordFiles().isEmpty)
        #expect(store.sweep(now: now) == 3)  // the three expired records still in their slots
        #expect(store.answer(groupID: "new") == body("n"))
    }

    @Test func whatASlotCannotTakeBecomesAFileAndIsFoundThere() throws {
        let store = try records(RecordSlots(directory: directory.path + "/deliveries", shards: 1, slotsPerShard: 2))
        let large = body("large", jobs: 80)  // more than 1 KB: a workflow with many jobs
        try store.record(groupID: "large", body: large)
        for i in 0..<3 { try store.record(groupID: "small-\(i)", body: body("s\(i)")) }  // 2 slots, 3 records
        #expect(store.answer(groupID: "large") == large)
        for i in 0..<3 { #expect(store.answer(groupID: "small-\(i)") == body("s\(i)")) }
        #expect(recordFiles().count == 2)
    }

    @Test func concurrentWritersOfManyDeliveriesLoseNone() throws {
        let store = try records()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for i in 0..<250 { try? store.record(groupID: "w\(worker)-\(i)", body: Array("{\"n\": \(i)}".utf8)) }
        }
        let reader = try records()
        var found = 0
        for worker in 0..<8 {
            for i in 0..<250 where reader.answer(groupID: "w\(worker)-\(i)") == Array("{\"n\": \(i)}".utf8) {
                found += 1
            }
        }
        #expect(found == 2000)
    }
}
