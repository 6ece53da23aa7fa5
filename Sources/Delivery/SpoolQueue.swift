import Base

#if canImport(Glibc)
    import Glibc
#endif

/// What a handler made of one entry of a `SpoolQueue`.
public enum WorkStep: Sendable, Equatable {
    /// Done, or given up for good: the entry leaves the queue.
    case done
    /// Failed for now: try again with back-off (5 s doubling to 5 min), not before `after` seconds.
    case retry(after: Double)
    /// Not tried (paced): go on in `seconds`, without counting an attempt.
    case wait(seconds: Double)
}

/// A durable queue of work to retry in `SPOOL_DIR` (SPEC §7): the Checks outbox (`checks/`) and the deferred
/// expansions (`deferred/`). Each entry is one file, written durably before the webhook is answered, so `kill -9`
/// loses none.
///
/// Files are named `NOTBEFORE-ATTEMPTS-KEY.json` (nanoseconds, zero-padded, so a listing is in due order): the
/// schedule lives in the name, and rescheduling is one atomic rename. Several processes share the directory: a
/// worker claims a file with `flock(2)` and checks after locking that the path still names the file it opened (the
/// JobOutbox's rule), so no entry is worked on twice at once.
public final class SpoolQueue: Sendable {
    /// The directory.
    public let directory: String
    private let spool: SpoolDirectory

    /// The queue `name` (`checks`, `deferred`) of `spool`, creating its directory.
    public init(spool: SpoolDirectory, name: String) throws(DeliveryError) {
        self.spool = spool
        directory = spool.path + "/" + name
        do { try Posix.makeDirectory(directory) } catch { throw DeliveryError(error) }
    }

    /// One entry as a worker sees it.
    public struct Entry: Sendable {
        /// The file name.
        public var name: String
        /// The key it was enqueued under.
        public var key: String
        /// Attempts made so far.
        public var attempts: Int
        /// Not to be tried before this (seconds since 1970).
        public var notBefore: Double
        /// What was enqueued.
        public var bytes: [UInt8]
    }

    /// What became of a claimed entry.
    public enum Disposition: Sendable, Equatable {
        /// Done (or given up): removed.
        case done
        /// Try again, not before this time (seconds since 1970), counting an attempt or not (paced).
        case retry(notBefore: Double, countAttempt: Bool)
    }

    /// Writes `bytes` under `key` (letters, digits and `-` only: it goes into the file name), due at `notBefore`;
    /// throws when it could not be made durable, leaving nothing behind.
    public func enqueue(key: String, bytes: [UInt8], notBefore: Double = Double(WallClock.now()))
        throws(DeliveryError)
    {
        try spool.writeDurably(bytes, to: directory + "/" + Self.name(notBefore: notBefore, attempts: 0, key: key))
    }

    /// Every entry's file name, in due order.
    public func files() -> [String] {
        Posix.list(directory).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// The file names due at `now`.
    public func due(now: Double) -> [String] {
        files().filter { (Self.parse($0)?.notBefore ?? 0) <= now }
    }

    /// How many entries there are, and the enqueue-or-reschedule time of the oldest file (its mtime), for status.
    public func census() -> (count: Int, oldestModified: Int?) {
        var oldest: Int?
        let names = files()
        for name in names {
            var info = stat()
            if stat(directory + "/" + name, &info) == 0 { oldest = min(oldest ?? Int.max, Int(info.st_mtim.tv_sec)) }
        }
        return (names.count, oldest)
    }

    /// Claims file `name` and hands its entry to `work`; false when another process holds it, it is gone, or it is
    /// unreadable (then set aside as `.corrupt` for an operator).
    @discardableResult
    public func claim(_ name: String, _ work: (Entry) -> Disposition) -> Bool {
        let path = directory + "/" + name
        guard let parsed = Self.parse(name),
            let file = try? FileDescriptor(path: path, flags: O_RDONLY), file.lock(LOCK_EX | LOCK_NB)
        else { return false }
        var current = stat()
        guard let inode = file.inode, stat(path, &current) == 0, UInt(current.st_ino) == inode else { return false }
        guard let bytes = file.readAll() else {
            rename(path, path + ".corrupt")
            return false
        }
        let entry = Entry(
            name: name, key: parsed.key, attempts: parsed.attempts, notBefore: parsed.notBefore, bytes: bytes)
        switch work(entry) {
        case .done:
            unlink(path)
        case .retry(let notBefore, let count):
            let attempts = parsed.attempts + (count ? 1 : 0)
            let next = directory + "/" + Self.name(notBefore: notBefore, attempts: attempts, key: parsed.key)
            rename(path, next)
        }
        return true
    }

    static func name(notBefore: Double, attempts: Int, key: String) -> String {
        let stamp = String(UInt64(max(0, notBefore) * 1_000_000_000))
        let count = String(min(attempts, 999))
        return String(repeating: "0", count: max(0, 20 - stamp.count)) + stamp + "-"
            + String(repeating: "0", count: 3 - count.count) + count + "-" + key + ".json"
    }

    static func parse(_ name: String) -> (notBefore: Double, attempts: Int, key: String)? {
        guard name.hasSuffix(".json") else { return nil }
        let parts = name.dropLast(5).split(separator: "-", maxSplits: 2)
        guard parts.count == 3, let stamp = UInt64(parts[0]), let attempts = Int(parts[1]) else { return nil }
        return (Double(stamp) / 1_000_000_000, attempts, String(parts[2]))
    }
}
