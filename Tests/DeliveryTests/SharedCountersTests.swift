import Base
import TestSupport
import Testing

@testable import Delivery

#if canImport(Glibc)
    import Glibc
#endif

/// `SPOOL_DIR/metrics.v1` (SPEC §11): several mappings of one file (several processes) add up, and a file that is
/// short, torn or of another layout is repaired rather than trusted or crashed on.
@Suite struct SharedCountersTests {
    @Test func twoMappingsOfOneFileAddUp() throws {
        let directory = TemporaryDirectory("counters")
        defer { directory.remove() }
        let spool = try SpoolDirectory(path: directory.path)
        let a = try SharedCounters(spool: spool)
        let b = try SharedCounters(spool: spool)
        a.countWebhook(event: "push", status: 202, seconds: 0.003)
        b.countWebhook(event: "push", status: 202, seconds: 0.2)
        b.countWebhook(event: "sponsorship", status: 204, seconds: 20)
        a.countJobs(3, spooled: false)
        b.countJobs(2, spooled: true)
        a.countDuplicate()
        for snapshot in [a.snapshot(), b.snapshot()] {
            let push = MetricSlot.events.firstIndex(of: "push")!
            let accepted = MetricSlot.statuses.firstIndex(of: "202")!
            #expect(snapshot.webhooks[push][accepted] == 2)
            #expect(snapshot.webhooks[MetricSlot.events.count - 1][MetricSlot.statuses.firstIndex(of: "204")!] == 1)
            #expect(snapshot.durationCount == 3)
            #expect(snapshot.durationBuckets.first == 1 && snapshot.durationBuckets.last == 1)
            #expect(abs(snapshot.durationSum - 20.203) < 0.0001)
            #expect(snapshot.jobsPublished == 3 && snapshot.jobsSpooled == 2 && snapshot.duplicates == 1)
        }
        // A third opening (a new process) keeps what the others counted.
        #expect(try SharedCounters(spool: spool).snapshot() == a.snapshot())
    }

    @Test func concurrentAddsFromManyThreadsAreNotLost() async throws {
        let directory = TemporaryDirectory("counters")
        defer { directory.remove() }
        let spool = try SpoolDirectory(path: directory.path)
        let mappings = try (0..<4).map { _ in try SharedCounters(spool: spool) }
        await withTaskGroup(of: Void.self) { group in
            for counters in mappings {
                group.addTask { for _ in 0..<10_000 { counters.countDuplicate() } }
            }
        }
        #expect(mappings[0].snapshot().duplicates == 40_000)
    }

    @Test func aShortOrForeignFileIsResetToTheFullLayout() throws {
        let directory = TemporaryDirectory("counters")
        defer { directory.remove() }
        let path = directory.path + "/" + SharedCounters.fileName
        // A torn first write: a few bytes, no magic.
        try FileDescriptor(path: path, flags: O_WRONLY | O_CREAT).writeAll([1, 2, 3, 4, 5])
        let counters = try SharedCounters(path: path)
        var info = stat()
        #expect(stat(path, &info) == 0 && Int(info.st_size) == SharedCounters.slotCount * 8)
        #expect(counters.snapshot().duplicates == 0 && counters.snapshot().githubLastOKAt == nil)
        counters.countDuplicate()
        // A file truncated to its magic only keeps the layout and extends again; counts past the end read zero.
        #expect(truncate(path, 8) == 0)
        let again = try SharedCounters(path: path)
        #expect(again.snapshot().duplicates == 0)
        again.countDuplicate()
        #expect(again.snapshot().duplicates == 1)
    }

    @Test func gitHubAnswersSetClassesRateLimitAndLastTimes() throws {
        let directory = TemporaryDirectory("counters")
        defer { directory.remove() }
        let counters = try SharedCounters(spool: try SpoolDirectory(path: directory.path))
        counters.countGitHubResponse(status: 200, rateLimitRemaining: 4999, now: 1000)
        counters.countGitHubResponse(status: 404, rateLimitRemaining: 4998, now: 1001)
        counters.countGitHubResponse(status: 502, rateLimitRemaining: nil, now: 1002)
        counters.countGitHubResponse(status: nil, rateLimitRemaining: nil, now: 1003)
        let snapshot = counters.snapshot()
        #expect(snapshot.githubRequests == [1, 0, 1, 1, 1])
        #expect(snapshot.rateLimitRemaining == 4998)
        #expect(snapshot.githubLastOKAt == 1000)
        #expect(snapshot.githubLastError?.at == 1003 && snapshot.githubLastError?.status == nil)
    }
}
