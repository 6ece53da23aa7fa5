import Base
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// The answer given to each delivery, in `SPOOL_DIR/deliveries/XX/GROUP.json` (SPEC §7), so the same delivery
/// again is answered, not re-published.
///
/// Most records live in slots (`RecordSlots`, `SPOOL_DIR/deliveries/XX.slots`): no file is created per webhook.
/// A body too large for a slot, or a slot window full of live records, goes to a file of its own instead,
/// `SPOOL_DIR/deliveries/XX/GROUP.json`; `answer` looks in both.
///
/// `XX` (the group id's first two hex digits) spreads the files over 256 directories, since creating files in one
/// directory serializes every worker on its lock. A record is written in one call, neither renamed nor fsynced: a
/// record cut short by a crash reads as absent, and one lost to a power cut costs at most a duplicate publish of an
/// id consumers can dedupe, while an fsync or a rename per webhook would cost a third of the throughput.
public final class DeliveryRecords: Sendable {
    private let spool: SpoolDirectory
    private let slots: RecordSlots
    /// SPEC §7 keeps records 8 days.
    public static let maxAge = 8 * 86_400

    /// The records of `spool`.
    public init(spool: SpoolDirectory) {
        self.spool = spool
        slots = RecordSlots(directory: spool.deliveries)
    }

    /// Records with a slot table of other sizes (tests: a window that fills up).
    init(spool: SpoolDirectory, slots: RecordSlots) {
        self.spool = spool
        self.slots = slots
    }

    private func recordPath(_ groupID: String) -> (directory: String, file: String) {
        let shard = spool.deliveries + "/" + String(groupID.prefix(2))
        return (shard, shard + "/" + groupID + ".json")
    }

    /// The answer recorded for delivery `groupID`, if any. A record that is not one whole JSON object (cut short
    /// by a crash, or damaged) counts as none and is replaced by the next answer (SPEC §7).
    public func answer(groupID: String, now: Int = WallClock.now()) -> [UInt8]? {
        if let body = slots.answer(groupID, now: now, maxAge: Self.maxAge) { return body }
        guard let file = try? FileDescriptor(path: recordPath(groupID).file, flags: O_RDONLY),
            let bytes = file.readAll(), bytes.last == UInt8(ascii: "}"),
            case .object = try? JSONDecoder().decode(JSONField.self, from: Data(bytes))
        else { return nil }
        return bytes
    }

    /// Records `body`, the answer given to delivery `groupID` (see the type's note on durability).
    public func record(groupID: String, body: [UInt8], now: Int = WallClock.now()) throws(DeliveryError) {
        if slots.record(groupID, body: body, now: now, maxAge: Self.maxAge) { return }
        let (shard, path) = recordPath(groupID)
        let flags = O_WRONLY | O_CREAT | O_TRUNC
        do throws(PosixError) {
            let file: FileDescriptor
            do { file = try FileDescriptor(path: path, flags: flags) } catch  where error.code == ENOENT {
                try Posix.makeDirectory(shard)
                file = try FileDescriptor(path: path, flags: flags)
            }
            do { try file.writeAll(body, what: "cannot write \(path)") } catch {
                unlink(path)
                throw error
            }
        } catch {
            throw DeliveryError(error)
        }
    }

    /// Removes records older than `maxAge` seconds (SPEC §7 keeps them 8 days) and temporary files older than an
    /// hour; returns how many files were removed.
    @discardableResult
    public func sweep(maxAge: Int = DeliveryRecords.maxAge, now: Int = WallClock.now()) -> Int {
        var removed = slots.sweep(now: now, maxAge: maxAge)
        for shard in Posix.list(spool.deliveries) where !shard.hasSuffix(".slots") {
            removed += spool.removeFiles(in: spool.deliveries + "/" + shard, olderThan: maxAge, now: now)
        }
        return removed + spool.removeFiles(in: spool.tmp, olderThan: 3600, now: now)
    }

    /// `sweep` when no process of the host swept in the last `interval` seconds (a marker file's time says when),
    /// so records expire in every mode — one CGI process per request, `drain-spool`, serving — without every
    /// process listing the directory. Returns how many files were removed.
    @discardableResult
    public func sweepIfDue(every interval: Int = 3600, now: Int = WallClock.now()) -> Int {
        let marker = spool.deliveries + "/.last-sweep"
        var info = stat()
        if stat(marker, &info) == 0, now - Int(info.st_mtim.tv_sec) < interval { return 0 }
        guard let file = try? FileDescriptor(path: marker, flags: O_WRONLY | O_CREAT) else { return 0 }
        var times = [timespec(tv_sec: now, tv_nsec: 0), timespec(tv_sec: now, tv_nsec: 0)]
        futimens(file.raw, &times)
        return sweep(now: now)
    }
}
