import FoundationEssentials
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A spool write or read that failed, with the path and `strerror(errno)`.
public struct SpoolError: Error, CustomStringConvertible, Sendable {
    /// What failed, where and why.
    public var message: String
    /// The `errno` value (ENOSPC for a full disk, EROFS for a read-only one).
    public var code: Int32

    public var description: String { message }

    init(_ what: String, _ path: String) {
        code = errno
        message = "\(what) \(path): \(String(cString: strerror(code)))"
    }
}

/// The durable outbox and the delivery records of SPEC §7, in `SPOOL_DIR`:
///
/// - `outbox/NNNNNNNNNNNNNNNNNNNN-GROUP.json`: messages the broker did not confirm, named by arrival time so a
///   listing is the arrival order. Written to `tmp/`, fsynced, renamed, and the directory fsynced, so a file
///   either exists whole or not at all.
/// - `deliveries/XX/GROUP.json`: the answer given to a delivery, so the same delivery again is answered, not
///   re-published; `XX` (the group id's first two hex digits) spreads the files over 256 directories, since
///   creating files in one directory serializes every worker on its lock. Created with `O_EXCL` and written in
///   one call, neither renamed nor fsynced: a record cut short by a crash reads as absent, and one lost to a
///   power cut costs at most a duplicate publish of an id consumers can dedupe, while an fsync or a rename per
///   webhook would cost a third of the throughput.
/// - `locks/NNNN.lock`: 1024 lock stripes; copies of one delivery always take the same stripe.
///
/// Shared by all workers and by every process using the same directory: each outbox file is claimed with
/// `flock(2)` and its path checked again after locking, so two drainers never publish one file twice; delivery
/// copies are serialized with `flock(2)` on their lock file, across threads and processes alike.
public final class Spool: Sendable {
    /// The spool directory.
    public let directory: String
    private var outbox: String { directory + "/outbox" }
    private var deliveries: String { directory + "/deliveries" }
    private var tmp: String { directory + "/tmp" }
    private var locks: String { directory + "/locks" }

    /// Opens (creating when missing) the spool at `directory`.
    public init(directory: String) throws(SpoolError) {
        self.directory = directory
        for dir in [directory, outbox, deliveries, tmp, locks] where mkdir(dir, 0o700) != 0 && errno != EEXIST {
            throw SpoolError("cannot create", dir)
        }
    }

    // MARK: - Outbox

    /// One message as spooled.
    struct SpooledMessage: Codable {
        var messageID: String
        var type: String
        var timestamp: UInt64
        var headers: [[String]]
        /// Base64 of the body.
        var body: String
    }

    /// Writes `messages` durably to the outbox; throws when they could not be made durable (disk full,
    /// read-only), in which case nothing was left behind.
    public func enqueue(groupID: String, messages: [AMQPMessage]) throws(SpoolError) {
        let spooled = messages.map {
            SpooledMessage(
                messageID: $0.messageID, type: $0.type, timestamp: $0.timestamp,
                headers: $0.headers.map { [$0.0, $0.1] },
                body: Data($0.body).base64EncodedString())
        }
        let bytes = Array((try? JSONEncoder().encode(spooled)) ?? Data())
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let stamp = String(Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec))
        let name = String(repeating: "0", count: max(0, 20 - stamp.count)) + stamp + "-" + groupID + ".json"
        try writeDurably(bytes, to: outbox + "/" + name)
    }

    /// The outbox files, oldest first.
    public func pendingFiles() -> [String] {
        Self.list(outbox).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// How a claim of one outbox file ended.
    public enum ClaimOutcome: Sendable, Equatable {
        /// Published and removed.
        case published
        /// Another process holds it, or it is gone.
        case skipped
        /// Publishing failed; the file keeps what is still unconfirmed.
        case failed(String)
    }

    /// Claims outbox file `name` and hands its messages to `publish`; on `.confirmed` the file is removed, on a
    /// partial failure it is rewritten with only the unconfirmed messages.
    public func drain(_ name: String, publish: ([AMQPMessage]) -> PublishResult) -> ClaimOutcome {
        let path = outbox + "/" + name
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .skipped }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return .skipped }
        // Locked: make sure this is still the file at that path (another drainer may have removed it between our
        // open and our lock).
        var opened = stat()
        var current = stat()
        guard fstat(fd, &opened) == 0, stat(path, &current) == 0, opened.st_ino == current.st_ino else {
            return .skipped
        }
        guard let bytes = Self.readAll(fd),
            let spooled = try? JSONDecoder().decode([SpooledMessage].self, from: Data(bytes))
        else {
            // A file we cannot read back would block the outbox forever: set it aside for an operator.
            rename(path, path + ".corrupt")
            return .failed("unreadable spool file \(name) moved aside")
        }
        let messages = spooled.map {
            AMQPMessage(
                body: Array(Data(base64Encoded: $0.body) ?? Data()), messageID: $0.messageID, type: $0.type,
                timestamp: $0.timestamp, headers: $0.headers.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil })
        }
        switch publish(messages) {
        case .confirmed:
            unlink(path)
            return .published
        case .failed(let reason, let unconfirmed):
            if unconfirmed.count < messages.count {
                let rest = unconfirmed.map { spooled[$0] }
                if let data = try? JSONEncoder().encode(rest) { try? writeDurably(Array(data), to: path) }
            }
            return .failed(reason)
        }
    }

    // MARK: - Delivery records

    private func recordPath(_ groupID: String) -> (directory: String, file: String) {
        let shard = deliveries + "/" + String(groupID.prefix(2))
        return (shard, shard + "/" + groupID + ".json")
    }

    /// The answer recorded for delivery `groupID`, if any (a record cut short by a crash counts as none).
    public func record(groupID: String) -> [UInt8]? {
        let fd = open(recordPath(groupID).file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let bytes = Self.readAll(fd), bytes.last == UInt8(ascii: "}") else { return nil }
        return bytes
    }

    /// Records the answer given to delivery `groupID` (see the type's note on durability).
    public func writeRecord(groupID: String, body: [UInt8]) throws(SpoolError) {
        let (shard, path) = recordPath(groupID)
        var fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        if fd < 0 && errno == ENOENT {
            guard mkdir(shard, 0o700) == 0 || errno == EEXIST else { throw SpoolError("cannot create", shard) }
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { throw SpoolError("cannot create", path) }
        defer { close(fd) }
        let written = body.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == body.count else {
            let error = SpoolError("cannot write", path)
            unlink(path)
            throw error
        }
    }

    /// One lock stripe: a mutex for the threads of this process, then `flock(2)` on a file kept open for the
    /// others. (flock alone cannot tell two threads sharing a descriptor apart; opening the file per request would
    /// take the directory's lock every time.)
    private final class Stripe: Sendable {
        let fd = Mutex<Int32>(-1)
    }

    private let stripes = (0..<1024).map { _ in Stripe() }

    /// Runs `body` while holding delivery `groupID`'s lock, so copies of one delivery (from any worker or process)
    /// are answered one after the other. Without a lock file (disk full) only this process's threads are ordered.
    public func withDeliveryLock<T>(groupID: String, _ body: () throws(Rejection) -> T) throws(Rejection) -> T {
        let index = Int(groupID.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % 1024)
        return try stripes[index].fd.withLock { fd throws(Rejection) -> T in
            if fd < 0 { fd = open(locks + "/\(index).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
            if fd >= 0 {
                while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
            }
            defer { if fd >= 0 { flock(fd, LOCK_UN) } }
            return try body()
        }
    }

    /// Removes delivery records and locks older than `maxAge` seconds (SPEC §7 keeps them 8 days) and stale
    /// temporary files; returns how many files were removed.
    @discardableResult
    public func sweep(maxAge: Int = 8 * 86_400, now: Int = Int(time(nil))) -> Int {
        var removed = 0
        let shards = Self.list(deliveries).map { deliveries + "/" + $0 }
        for (dir, age) in shards.map({ ($0, maxAge) }) + [(tmp, 3600)] {
            for name in Self.list(dir) {
                var info = stat()
                let path = dir + "/" + name
                if stat(path, &info) == 0, now - Int(info.st_mtim.tv_sec) > age, unlink(path) == 0 { removed += 1 }
            }
        }
        return removed
    }

    // MARK: - Files

    /// temp file, write, fsync, rename, fsync of the directory.
    private func writeDurably(_ bytes: [UInt8], to path: String) throws(SpoolError) {
        let temp = tmp + "/" + String(getpid()) + "-" + Self.randomHex()
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SpoolError("cannot create", temp) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let error = SpoolError("cannot write", temp)
                close(fd)
                unlink(temp)
                throw error
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let error = SpoolError("cannot fsync", temp)
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let error = SpoolError("cannot rename into", path)
            unlink(temp)
            throw error
        }
        let parent = String(path[..<path.lastIndex(of: "/")!])
        let dirFD = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            defer { close(dirFD) }
            guard fsync(dirFD) == 0 else { throw SpoolError("cannot fsync directory", parent) }
        }
    }

    private static func readAll(_ fd: Int32) -> [UInt8]? {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// 16 random hex digits, for temporary names no other writer picks.
    private static func randomHex() -> String {
        Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
    }

    private static func list(_ dir: String) -> [String] {
        guard let handle = opendir(dir) else { return [] }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
