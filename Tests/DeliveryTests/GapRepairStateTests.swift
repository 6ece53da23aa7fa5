import Base
import TestSupport
import Testing

@testable import Delivery

/// Gap repair's memory in `SPOOL_DIR/state/gap-repair.json` (SPEC §7): it survives the process, forgets asked
/// deliveries after an hour, stays bounded, and a damaged file counts as none.
@Suite struct GapRepairStateTests {
    @Test func whatIsSavedIsLoadedAndAskedDeliveriesExpireAfterAnHour() throws {
        let directory = TemporaryDirectory("gapstate")
        defer { directory.remove() }
        let spool = try SpoolDirectory(path: directory.path)
        let state = GapRepairState(spool: spool)
        #expect(state.load() == GapRepairState.Snapshot())
        try state.save(.init(watermark: 1000, asked: ["old": 5000, "new": 8000]), now: 8700)
        #expect(GapRepairState(spool: spool).load() == .init(watermark: 1000, asked: ["new": 8000]))
    }

    @Test func theAskedDeliveriesAreBounded() throws {
        let directory = TemporaryDirectory("gapstate")
        defer { directory.remove() }
        let state = GapRepairState(spool: try SpoolDirectory(path: directory.path))
        let many = Dictionary(uniqueKeysWithValues: (0..<(GapRepairState.maxAsked + 5)).map { ("g\($0)", 10_000 + $0) })
        try state.save(.init(watermark: nil, asked: many), now: 10_100)
        let loaded = state.load()
        #expect(loaded.asked.count == GapRepairState.maxAsked)
        #expect(loaded.asked["g0"] == nil && loaded.asked["g\(GapRepairState.maxAsked + 4)"] != nil)
    }

    @Test(arguments: ["", "{\"watermark\": 12", "[1, 2]", "{\"watermark\": \"soon\", \"asked\": {}}"])
    func aDamagedFileCountsAsNone(_ text: String) throws {
        let directory = TemporaryDirectory("gapstate")
        defer { directory.remove() }
        let spool = try SpoolDirectory(path: directory.path)
        directory.write("state/gap-repair.json", text)
        #expect(GapRepairState(spool: spool).load() == GapRepairState.Snapshot())
    }
}
