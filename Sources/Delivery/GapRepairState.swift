import Base
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// What gap repair (SPEC §7) remembers between passes, in `SPOOL_DIR/state/gap-repair.json`: the watermark the
/// next pass lists back to, and the deliveries it asked GitHub to redeliver in the last hour, so that none is asked
/// twice while GitHub's redelivery is on its way.
///
/// Only the holder of the host's gap-repair duty (`HostDuties`) writes it, so there is no lock; the file is
/// replaced whole (`SpoolDirectory.writeDurably`), and one that cannot be read counts as empty: the next pass then
/// looks back 72 hours, and a delivery asked again is harmless (SPEC §7's idempotency).
public final class GapRepairState: Sendable {
    /// The remembered state.
    public struct Snapshot: Sendable, Equatable, Codable {
        /// Seconds since 1970 the next pass lists back to; nil before the first complete pass.
        public var watermark: Int?
        /// Delivery GUID → when it was asked for (seconds since 1970).
        public var asked: [String: Int]

        /// A state.
        public init(watermark: Int? = nil, asked: [String: Int] = [:]) {
            self.watermark = watermark
            self.asked = asked
        }
    }

    /// How long an asked delivery is remembered (SPEC §7: an hour).
    public static let askedMemory = 3600
    /// The most asked deliveries remembered; the oldest go first (a pass asks for at most 10,000).
    public static let maxAsked = 20_000

    private let spool: SpoolDirectory
    private var file: String { spool.state + "/gap-repair.json" }

    /// The state kept in `spool`.
    public init(spool: SpoolDirectory) { self.spool = spool }

    /// The state as last saved; empty when there is none or it cannot be read.
    public func load() -> Snapshot {
        guard let descriptor = try? FileDescriptor(path: file, flags: O_RDONLY), let bytes = descriptor.readAll(),
            let snapshot = try? JSONDecoder().decode(Snapshot.self, from: Data(bytes))
        else { return Snapshot() }
        return snapshot
    }

    /// Saves `snapshot` durably, forgetting deliveries asked more than `askedMemory` seconds before `now` and all
    /// but the newest `maxAsked`.
    public func save(_ snapshot: Snapshot, now: Int = WallClock.now()) throws(DeliveryError) {
        let recent = snapshot.asked.filter { now - $0.value < Self.askedMemory }
        let kept = recent.sorted { $0.value > $1.value }.prefix(Self.maxAsked)
        var fields: [String: JSONField] = [
            "asked": .object(Dictionary(uniqueKeysWithValues: kept.map { ($0.key, JSONField.int($0.value)) }))
        ]
        if let watermark = snapshot.watermark { fields["watermark"] = .int(watermark) }
        try spool.writeDurably(JSONField.object(fields).bytes, to: file)
    }
}
