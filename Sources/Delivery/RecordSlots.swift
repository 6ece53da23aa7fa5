import Base
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Delivery records in fixed-size slots of 256 files `SPOOL_DIR/deliveries/XX.slots`, read and written with one
/// `pread`/`pwrite` each: creating a file per webhook cost 50–130 µs of kernel time (ext4 inode allocation), the
/// largest single cost of the webhook path (issue 16's profile), and a slot is a quarter of a file's 4 KB block.
///
/// A record is `magic, checksum, time, key length, body length, key, body` in one 1 KB slot, placed in a window of
/// 8 slots from its key's hash. SPEC §7's guarantees:
/// - **torn records are absent**: the checksum (FNV-1a 64 over everything after it) must match, so a slot cut short
///   by a power loss reads as empty;
/// - **several processes**: a writer holds its shard's mutex (threads) and `flock` on the shard file (processes)
///   while it chooses a slot and writes it, so two keys never take one slot; a reader needs no lock, since only the
///   key's own writer (serialized by `LockStripes`) ever writes the slot that holds the key;
/// - **expiry**: a record older than `maxAge` counts as absent and its slot as free; `sweep` clears them.
///
/// A body too large for a slot, or a window full of live records, is not taken (`record` answers false): the caller
/// writes a file record instead, so nothing depends on the table's size.
final class RecordSlots: Sendable {
    static let slotSize = 1024
    static let headerSize = 24
    private static let magic: [UInt8] = Array("SDR1".utf8)

    private let directory: String
    private let slotsPerShard: Int
    private let window: Int
    private let shards: [Shard]

    /// A shard file's descriptor, opened on first use and kept, behind a mutex (Mutex cannot live in an array).
    private final class Shard: Sendable {
        let file = Mutex<FileDescriptor?>(nil)
    }

    /// Slots under `directory`; the sizes are parameters for the tests (a window that fills up).
    init(directory: String, shards: Int = 256, slotsPerShard: Int = 4096, window: Int = 8) {
        self.directory = directory
        self.slotsPerShard = slotsPerShard
        self.window = min(window, slotsPerShard)
        self.shards = (0..<shards).map { _ in Shard() }
    }

    /// The body recorded for `key`, unless absent, torn or older than `maxAge` seconds.
    func answer(_ key: String, now: Int, maxAge: Int) -> [UInt8]? {
        let (shard, first) = place(key)
        // One pread under the shard's mutex (which keeps the descriptor): no lock between processes is needed.
        guard
            let slots = shards[shard].file.withLock({ file -> [UInt8]? in
                guard let fd = open(shard, into: &file) else { return nil }
                return read(fd, first: first)
            })
        else { return nil }
        let keyBytes = Array(key.utf8)
        for index in 0..<window where Self.holds(keyBytes, slots, at: index * Self.slotSize) {
            guard let slot = Self.decode(slots, at: index * Self.slotSize), now - slot.time <= maxAge else { continue }
            return slot.body
        }
        return nil
    }

    /// Whether the slot at `offset` names `key`, compared in place: most slots of a window hold other keys, and
    /// decoding each (checksum, copies) cost as much as the rest of the lookup.
    private static func holds(_ key: [UInt8], _ slots: [UInt8], at offset: Int) -> Bool {
        let start = offset + headerSize
        guard slots.count >= start + key.count, slots[offset..<offset + 4].elementsEqual(magic),
            Int(littleEndian(slots, at: offset + 20, bytes: 2)) == key.count
        else { return false }
        return slots[start..<start + key.count].elementsEqual(key)
    }

    /// Records `body` for `key` at time `now`; false when it does not fit a slot, when every slot of its window
    /// holds a live record of another key, or when the write failed (the caller then writes a file record).
    func record(_ key: String, body: [UInt8], now: Int, maxAge: Int) -> Bool {
        let keyBytes = Array(key.utf8)
        guard Self.headerSize + keyBytes.count + body.count <= Self.slotSize, keyBytes.count <= 255 else {
            return false
        }
        let (shard, first) = place(key)
        return shards[shard].file.withLock { file -> Bool in
            guard let fd = open(shard, into: &file) else { return false }
            guard fd.lock(LOCK_EX) else { return false }
            defer { fd.unlock() }
            let slots = read(fd, first: first)
            var chosen: Int?
            for index in 0..<window {
                guard let slot = Self.decode(slots, at: index * Self.slotSize) else {
                    chosen = chosen ?? index  // empty or torn
                    continue
                }
                if slot.key == keyBytes {  // the same delivery again: replace it
                    chosen = index
                    break
                }
                if now - slot.time > maxAge { chosen = chosen ?? index }
            }
            guard let chosen else { return false }
            let bytes = Self.encode(key: keyBytes, body: body, time: now)
            let offset = off_t((first + chosen) * Self.slotSize)
            return bytes.withUnsafeBytes { pwrite(fd.raw, $0.baseAddress, $0.count, offset) } == bytes.count
        }
    }

    /// Clears the slots of records older than `maxAge` seconds at `now`; returns how many.
    func sweep(now: Int, maxAge: Int) -> Int {
        var cleared = 0
        for shard in shards.indices {
            shards[shard].file.withLock { file in
                guard access(path(shard), F_OK) == 0, let fd = open(shard, into: &file), fd.lock(LOCK_EX) else {
                    return
                }
                defer { fd.unlock() }
                var first = 0
                while first < slotsPerShard {
                    let count = min(256, slotsPerShard - first)  // 256 KB a read: a few dozen preads a shard
                    let slots = read(fd, first: first, count: count)
                    for index in 0..<count {
                        guard let slot = Self.decode(slots, at: index * Self.slotSize), now - slot.time > maxAge
                        else { continue }
                        let zero = [UInt8](repeating: 0, count: Self.headerSize)
                        let offset = off_t((first + index) * Self.slotSize)
                        if zero.withUnsafeBytes({ pwrite(fd.raw, $0.baseAddress, $0.count, offset) }) == zero.count {
                            cleared += 1
                        }
                    }
                    first += count
                }
            }
        }
        return cleared
    }

    // MARK: - Layout

    private struct Slot {
        var time: Int
        var key: [UInt8]
        var body: [UInt8]
    }

    private static func encode(key: [UInt8], body: [UInt8], time: Int) -> [UInt8] {
        var out = magic + [UInt8](repeating: 0, count: 8)
        appendLittleEndian(UInt64(bitPattern: Int64(time)), bytes: 8, to: &out)
        appendLittleEndian(UInt64(key.count), bytes: 2, to: &out)
        appendLittleEndian(UInt64(body.count), bytes: 2, to: &out)
        out += key
        out += body
        let sum = checksum(out[12...])
        for i in 0..<8 { out[4 + i] = UInt8(truncatingIfNeeded: sum >> (8 * UInt64(i))) }
        return out
    }

    /// The record in the slot at `offset` of `slots`, nil when empty, torn or not ours.
    private static func decode(_ slots: [UInt8], at offset: Int) -> Slot? {
        guard slots.count >= offset + headerSize, slots[offset..<offset + 4].elementsEqual(magic) else { return nil }
        let keyLength = Int(littleEndian(slots, at: offset + 20, bytes: 2))
        let bodyLength = Int(littleEndian(slots, at: offset + 22, bytes: 2))
        let end = offset + headerSize + keyLength + bodyLength
        guard headerSize + keyLength + bodyLength <= slotSize, slots.count >= end,
            littleEndian(slots, at: offset + 4, bytes: 8) == checksum(slots[(offset + 12)..<end])
        else { return nil }
        let keyStart = offset + headerSize
        return Slot(
            time: Int(Int64(bitPattern: littleEndian(slots, at: offset + 12, bytes: 8))),
            key: Array(slots[keyStart..<keyStart + keyLength]), body: Array(slots[(keyStart + keyLength)..<end]))
    }

    private static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    private static func appendLittleEndian(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for i in 0..<bytes { out.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    private static func littleEndian(_ bytes: [UInt8], at offset: Int, bytes count: Int) -> UInt64 {
        (0..<count).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << (8 * UInt64($1)) }
    }

    // MARK: - Files

    /// `O_NOATIME` of Linux, which Glibc's Swift module leaves out (it is a `_GNU_SOURCE` name).
    private static let noAtime: Int32 = 0o1_000_000

    /// The shard and the first slot of `key`'s window.
    private func place(_ key: String) -> (shard: Int, first: Int) {
        let hash = Self.checksum(ArraySlice(key.utf8))
        let shard = Int(hash % UInt64(shards.count))
        let first = Int((hash / UInt64(shards.count)) % UInt64(slotsPerShard - window + 1))
        return (shard, first)
    }

    private func path(_ shard: Int) -> String {
        directory + "/" + Hex.encode([UInt8(truncatingIfNeeded: shard)]) + ".slots"
    }

    /// The shard's file, opened once per process and kept (created on first use).
    private func open(_ shard: Int, into file: inout FileDescriptor?) -> FileDescriptor? {
        if let file { return file }
        let flags = O_RDWR | O_CREAT | O_CLOEXEC
        // O_NOATIME: each write moves the file's mtime past its atime, so under relatime every read after a write
        // updated the inode's atime (a tenth of a lookup's kernel time). Only the file's owner may ask for it;
        // another user's processes sharing SPOOL_DIR open it without.
        func open() -> FileDescriptor? {
            (try? FileDescriptor(path: path(shard), flags: flags | Self.noAtime))
                ?? (try? FileDescriptor(path: path(shard), flags: flags))
        }
        if let opened = open() {
            file = opened
        } else if (try? Posix.makeDirectory(directory)) != nil {
            file = open()
        }
        // Every read is one window at a hashed place: the kernel's readahead (up to 128 KB, zero-filled pages for
        // the holes of a sparse file) was most of a lookup's cost and filled the page cache with slots nobody reads.
        if let fd = file?.raw { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM) }
        return file
    }

    private func read(_ fd: FileDescriptor, first: Int, count: Int? = nil) -> [UInt8] {
        let length = (count ?? window) * Self.slotSize
        // Not zeroed first: only the bytes pread filled are kept.
        return [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            initialized = max(0, pread(fd.raw, buffer.baseAddress, length, off_t(first * Self.slotSize)))
        }
    }
}
