import Base
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// One message as the outbox keeps it: what the broker needs to publish it again, byte for byte.
public struct OutboxMessage: Sendable, Equatable {
    /// `message_id` (the request id).
    public var messageID: String
    /// `type` (`jobrequest.v1`).
    public var type: String
    /// `timestamp`, seconds since 1970.
    public var timestamp: UInt64
    /// AMQP headers, in order.
    public var headers: [Header]
    /// The message body.
    public var body: [UInt8]

    /// One AMQP header.
    public struct Header: Sendable, Equatable {
        /// Header name.
        public var name: String
        /// Header value.
        public var value: String

        /// A header.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A message.
    public init(messageID: String, type: String, timestamp: UInt64, headers: [Header], body: [UInt8]) {
        self.messageID = messageID
        self.type = type
        self.timestamp = timestamp
        self.headers = headers
        self.body = body
    }
}

/// What the broker did not confirm of a batch handed to `JobOutbox.drain`'s publish function.
public struct Unconfirmed: Sendable, Equatable {
    /// Why (nack, return, connection lost, no confirm in time).
    public var reason: String
    /// Indices of the messages without an ack.
    public var indices: [Int]

    /// `indices` unconfirmed because of `reason`.
    public init(reason: String, indices: [Int]) {
        self.reason = reason
        self.indices = indices
    }
}

/// Messages the broker did not confirm, in `SPOOL_DIR/outbox` (SPEC §7), until a drainer publishes them.
///
/// Files are named `NNNNNNNNNNNNNNNNNNNN-GROUP.json` by arrival time (nanoseconds), so a listing is the arrival
/// order, and written durably (`SpoolDirectory.writeDurably`), so a file exists whole or not at all.
///
/// Shared by all workers and every process using the directory: a drainer claims a file with `flock(2)` and checks
/// after locking that the path still names the file it opened, so two drainers never publish one file twice.
public final class JobOutbox: Sendable {
    private let spool: SpoolDirectory

    /// The outbox of `spool`.
    public init(spool: SpoolDirectory) { self.spool = spool }

    /// The on-disk shape of one message (kept since v1: files written by an older version still drain).
    private struct Stored: Codable {
        var messageID: String
        var type: String
        var timestamp: UInt64
        var headers: [[String]]
        /// Base64 of the body.
        var body: String

        init(_ m: OutboxMessage) {
            messageID = m.messageID
            type = m.type
            timestamp = m.timestamp
            headers = m.headers.map { [$0.name, $0.value] }
            body = Data(m.body).base64EncodedString()
        }

        var message: OutboxMessage {
            OutboxMessage(
                messageID: messageID, type: type, timestamp: timestamp,
                headers: headers.compactMap { $0.count == 2 ? .init(name: $0[0], value: $0[1]) : nil },
                body: Array(Data(base64Encoded: body) ?? Data()))
        }
    }

    /// Writes `messages` durably; throws when they could not be made durable (disk full, read-only), in which
    /// case nothing was left behind.
    public func enqueue(groupID: String, messages: [OutboxMessage]) throws(DeliveryError) {
        let bytes = Array((try? JSONEncoder().encode(messages.map(Stored.init))) ?? Data())
        let stamp = String(WallClock.nanoseconds())
        let name = String(repeating: "0", count: max(0, 20 - stamp.count)) + stamp + "-" + groupID + ".json"
        try spool.writeDurably(bytes, to: spool.outbox + "/" + name)
    }

    /// The outbox files, oldest first.
    public func pendingFiles() -> [String] {
        Posix.list(spool.outbox).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// How many files the outbox holds, and when the oldest was first written (seconds since 1970; its name's
    /// stamp, kept when a partial publish rewrites it), for status and metrics.
    public func census() -> (count: Int, oldestWritten: Int?) {
        let files = pendingFiles()
        let oldest = files.first.flatMap { UInt64($0.prefix { $0 != "-" }) }.map { Int($0 / 1_000_000_000) }
        return (files.count, oldest)
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

    /// Claims outbox file `name` and hands its messages to `publish`, which answers what the broker did not
    /// confirm (nil: everything was). Confirmed in full, the file is removed; in part, it is rewritten with only the
    /// unconfirmed messages, so an acked message is never published twice.
    public func drain(_ name: String, publish: ([OutboxMessage]) -> Unconfirmed?) -> ClaimOutcome {
        let path = spool.outbox + "/" + name
        guard let file = try? FileDescriptor(path: path, flags: O_RDONLY), file.lock(LOCK_EX | LOCK_NB) else {
            return .skipped
        }
        // Locked: make sure this is still the file at that path (another drainer may have removed it between our
        // open and our lock).
        var current = stat()
        guard let inode = file.inode, stat(path, &current) == 0, UInt(current.st_ino) == inode else {
            return .skipped
        }
        guard let bytes = file.readAll(), let stored = try? JSONDecoder().decode([Stored].self, from: Data(bytes))
        else {
            // A file we cannot read back would block the outbox forever: set it aside for an operator.
            rename(path, path + ".corrupt")
            return .failed("unreadable spool file \(name) moved aside")
        }
        guard let unconfirmed = publish(stored.map(\.message)) else {
            unlink(path)
            return .published
        }
        if unconfirmed.indices.count < stored.count {
            let rest = unconfirmed.indices.map { stored[$0] }
            if let data = try? JSONEncoder().encode(rest) { try? spool.writeDurably(Array(data), to: path) }
        }
        return .failed(unconfirmed.reason)
    }
}
