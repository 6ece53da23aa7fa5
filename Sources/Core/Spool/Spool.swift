import FoundationEssentials

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
/// - `deliveries/GROUP.json`: the answer given to a delivery, so the same delivery again is answered, not
///   re-published. Written atomically (temp file and rename) but not fsynced: a record lost to a power cut costs
///   at most a duplicate publish of an id consumers can dedupe, while an fsync per webhook would halve throughput.
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

    /// The answer recorded for delivery `groupID`, if any.
    public func record(groupID: String) -> [UInt8]? {
        let fd = open(deliveries + "/" + groupID + ".json", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return Self.readAll(fd)
    }

    /// Records the answer given to delivery `groupID` (atomically; see the type's note on durability).
    public func writeRecord(groupID: String, body: [UInt8]) throws(SpoolError) {
        try store(body, to: deliveries + "/" + groupID + ".json", durably: false)
    }

    /// Runs `body` while holding delivery `groupID`'s lock, so copies of one delivery (from any worker or process)
    /// are answered one after the other. Without a lock file (disk full) `body` runs unlocked.
    public func withDeliveryLock<T>(groupID: String, _ body: () throws(Rejection) -> T) throws(Rejection) -> T {
        let stripe = groupID.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % 1024
        let fd = open(locks + "/\(stripe).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        defer { if fd >= 0 { close(fd) } }
        if fd >= 0 {
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
        return try body()
    }

    /// Removes delivery records and locks older than `maxAge` seconds (SPEC §7 keeps them 8 days) and stale
    /// temporary files; returns how many files were removed.
    @discardableResult
    public func sweep(maxAge: Int = 8 * 86_400, now: Int = Int(time(nil))) -> Int {
        var removed = 0
        for (dir, age) in [(deliveries, maxAge), (tmp, 3600)] {
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
        try store(bytes, to: path, durably: true)
    }

    /// temp file, write, (fsync), rename, (fsync of the directory).
    private func store(_ bytes: [UInt8], to path: String, durably: Bool) throws(SpoolError) {
        let temp = tmp + "/" + String(getpid()) + "-" + UUIDString.random()
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
        guard !durably || fsync(fd) == 0 else {
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
        guard durably else { return }
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

/// Random hex for temporary names.
enum UUIDString {
    static func random() -> String {
        var bytes = [UInt8](repeating: 0, count: 8)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return Hex.encode(bytes)
    }
}
