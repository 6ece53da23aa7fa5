import Foundation
import TestSupport
import Testing

@testable import Base
@testable import Delivery

#if canImport(Glibc)
    import Glibc
#endif

/// The Checks outbox's and the deferred expansions' queue, and the host-wide pacer (SPEC §7), on real directories.
@Suite final class SpoolQueueTests {
    private var directories: [TemporaryDirectory] = []

    deinit { directories.forEach { $0.remove() } }

    private func spool() throws -> SpoolDirectory {
        let directory = TemporaryDirectory("queue")
        directories.append(directory)
        return try SpoolDirectory(path: directory.path)
    }

    @Test func entriesComeDueInOrderAndRetriesCountAttempts() throws {
        let queue = try SpoolQueue(spool: try spool(), name: "checks")
        try queue.enqueue(key: "b", bytes: Array("2".utf8), notBefore: 200)
        try queue.enqueue(key: "a", bytes: Array("1".utf8), notBefore: 100)
        try queue.enqueue(key: "c", bytes: Array("3".utf8), notBefore: 300)
        #expect(queue.due(now: 250).count == 2)
        var seen: [String] = []
        for name in queue.due(now: 250) {
            #expect(
                queue.claim(name) { entry in
                    seen.append(entry.key)
                    return entry.key == "a" ? .done : .retry(notBefore: 400, countAttempt: true)
                })
        }
        #expect(seen == ["a", "b"])
        #expect(queue.files().count == 2)
        #expect(queue.due(now: 350).map { SpoolQueue.parse($0)!.key } == ["c"])
        let retried = queue.due(now: 400).first { SpoolQueue.parse($0)!.key == "b" }!
        queue.claim(retried) { entry in
            #expect(entry.attempts == 1 && entry.bytes == Array("2".utf8))
            return .retry(notBefore: 500, countAttempt: false)
        }
        #expect(queue.files().compactMap { SpoolQueue.parse($0) }.first { $0.key == "b" }?.attempts == 1)
    }

    @Test func aClaimedEntryIsNotClaimedTwice() throws {
        let queue = try SpoolQueue(spool: try spool(), name: "deferred")
        try queue.enqueue(key: "k", bytes: [1], notBefore: 0)
        let name = queue.files()[0]
        var inner: Bool?
        queue.claim(name) { _ in
            // Another worker (another process would take flock the same way) finds it held.
            inner = queue.claim(name) { _ in .done }
            return .done
        }
        #expect(inner == false)
        #expect(queue.files().isEmpty)
    }

    @Test func theScheduleLivesInTheName() {
        let name = SpoolQueue.name(notBefore: 1_795_953_600.5, attempts: 7, key: "0b9e-77")
        #expect(name == "01795953600500000000-007-0b9e-77.json")
        #expect(SpoolQueue.parse(name)! == (1_795_953_600.5, 7, "0b9e-77"))
        #expect(SpoolQueue.parse("garbage.json") == nil && SpoolQueue.parse("1-2-x.tmp") == nil)
    }

    @Test func thePacerAllowsPerMinuteInAnySixtySecondsForTheHost() throws {
        let directory = try spool()
        let pacer = try WritePacer(spool: directory, perMinute: 3)
        // A second pacer on the same spool stands for another process of the host.
        let other = try WritePacer(spool: directory, perMinute: 3)
        #expect(pacer.take("77", now: 1000) == 0)
        #expect(other.take("77", now: 1010) == 0)
        #expect(pacer.take("77", now: 1020) == 0)
        #expect(other.take("77", now: 1030) == 30)  // the first write of the window leaves it at 1060
        #expect(pacer.take("88", now: 1030) == 0)  // installations are paced apart
        #expect(other.take("77", now: 1060.5) == 0)
        pacer.block("77", until: 1200)
        #expect(other.take("77", now: 1100) == 100)
        #expect(other.take("77", now: 1200) == 0)
    }
}
