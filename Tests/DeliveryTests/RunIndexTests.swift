import Base
import TestSupport
import Testing

@testable import Delivery

#if canImport(Glibc)
    import Glibc
#endif

/// The run index (SPEC §7) on a real directory: what is due, removal by run id, damaged files, the age bound, and
/// several writers and removers at once.
@Suite final class RunIndexTests {
    private var directories: [TemporaryDirectory] = []

    deinit { directories.forEach { $0.remove() } }

    private func index() throws -> (RunIndex, String) {
        let directory = TemporaryDirectory("runs")
        directories.append(directory)
        let spool = try SpoolDirectory(path: directory.path)
        return (RunIndex(spool: spool), directory.path + "/runs")
    }

    private func run(_ id: Int, created: Int, sha: String = "abc") -> IndexedRun {
        Self.run(id, created: created, sha: sha)
    }

    private static func run(_ id: Int, created: Int, sha: String = "abc") -> IndexedRun {
        IndexedRun(installation: 7, owner: "o", repo: "r", sha: sha, runID: id, created: created)
    }

    private func files(_ directory: String) -> [String] { Posix.list(directory).sorted() }

    @Test func oneFilePerAddAndOnlyOldRunsAreDueOldestFirst() throws {
        let (index, directory) = try index()
        try index.add((1...256).map { run($0, created: 1_000) })
        try index.add([run(900, created: 500), run(901, created: 2_000)])
        try index.add([run(1_000, created: 5_000)])
        try index.add([])
        #expect(files(directory).count == 3)
        #expect(index.count == 259)
        let due = index.due(olderThan: 100, now: 1_100)
        #expect(due.map(\.runID) == [900] + Array(1...256))
        #expect(due[0] == run(900, created: 500))
        #expect(index.due(olderThan: 100, now: 2_100).count == 258)
        #expect(index.due(olderThan: 100, now: 499).isEmpty)
    }

    @Test func aRunIndexedTwiceIsDueOnceAndRemovedEverywhere() throws {
        let (index, directory) = try index()
        try index.add([run(1, created: 100), run(2, created: 100)])
        try index.add([run(1, created: 150)])
        #expect(index.due(olderThan: 10, now: 1_000).map(\.runID) == [1, 2])
        #expect(index.remove([run(1, created: 150)]) == 2)
        #expect(index.due(olderThan: 10, now: 1_000).map(\.runID) == [2])
        #expect(files(directory).count == 1)
        #expect(index.remove([run(2, created: 100)]) == 1)
        #expect(files(directory).isEmpty && index.count == 0)
        #expect(index.remove([run(2, created: 100)]) == 0)
    }

    @Test(arguments: ["", "[{\"owner\": \"o\"", "not json", "{\"run_id\": 1}"])
    func aDamagedFileCountsAsEmptyAndIsRemoved(content: String) throws {
        let (index, directory) = try index()
        try index.add([run(1, created: 100)])
        let damaged = directory + "/000000000050-1-0000000000000000.json"
        let file = try FileDescriptor(path: damaged, flags: O_WRONLY | O_CREAT)
        try file.writeAll(Array(content.utf8))
        #expect(index.count == 1)
        #expect(index.due(olderThan: 10, now: 1_000).map(\.runID) == [1])
        #expect(access(damaged, F_OK) != 0)
        #expect(files(directory).count == 1)
    }

    @Test func sweepDropsOnlyEntriesOlderThanTheBound() throws {
        let (index, _) = try index()
        try index.add([run(1, created: 100), run(2, created: 900)])
        try index.add([run(3, created: 50)])
        try index.add([run(4, created: 2_000)])
        #expect(index.sweep(maxAge: 500, now: 1_000) == 2)
        #expect(index.due(olderThan: 0, now: 10_000).map(\.runID) == [2, 4])
        #expect(index.sweep(maxAge: 500, now: 1_000) == 0)
    }

    @Test func writersAndRemoversOnTwoThreadsLoseNothing() throws {
        let (index, directory) = try index()
        // Two writers add 100 batches of 8 each; meanwhile two removers take the odd and the even run ids of the
        // first 50 batches out of the same files, so their rewrites race.
        try index.add((0..<400).map { run($0, created: 10) })
        let threads = (0..<4).map { worker in
            Threads.startJoinable {
                switch worker {
                case 0, 1:
                    for batch in 0..<100 {
                        let base = 10_000 * (worker + 1) + batch * 8
                        try? index.add((base..<base + 8).map { Self.run($0, created: 20) })
                    }
                default:
                    for id in stride(from: worker - 2, to: 400, by: 2) { index.remove([Self.run(id, created: 10)]) }
                }
            }
        }
        for thread in threads { pthread_join(thread, nil) }
        #expect(index.count == 1_600)
        let due = index.due(olderThan: 0, now: 100)
        #expect(Set(due.map(\.runID)).count == 1_600)
        #expect(due.allSatisfy { $0.runID >= 10_000 })
        #expect(files(directory).count == 200)
    }
}
