import Base
internal import CAtomics

#if canImport(Glibc)
    import Glibc
#endif

/// The host's metrics (SPEC §11): 64-bit counters in `SPOOL_DIR/metrics.v1`, mapped `MAP_SHARED` by every
/// solstice-fcgi process that names the spool, so mod_fcgid's and lighttpd's several processes add up and a scrape
/// of any of them sees the host's totals.
///
/// The file has a fixed layout (`MetricSlot`): slot 0 holds a magic number, the others one counter or gauge each.
/// Every process opens it with `O_CREAT`, and under `flock(2)` extends it to the full size (never shrinks it) and
/// writes the magic when the file is new, or resets it when it holds something else (a torn first write, another
/// layout): counters restart from zero, which Prometheus reads as a counter reset. Updates are relaxed C atomics
/// (`CAtomics`) on the mapped words; the mapping lives as long as this object.
///
/// This file is the only one that holds a pointer into the mapping. Shared by all threads of a process.
public final class SharedCounters: @unchecked Sendable {
    /// The file's name in `SPOOL_DIR`.
    public static let fileName = "metrics.v1"
    /// Words in the file.
    public static let slotCount = 1024
    /// "SOLSTMv1", little-endian: marks a file with this layout.
    static let magic: UInt64 = 0x3176_4D54_534C_4F53

    /// The file.
    public let path: String
    private let words: UnsafeMutablePointer<UInt64>

    /// The counters of `spool`.
    public convenience init(spool: SpoolDirectory) throws(DeliveryError) {
        try self.init(path: spool.path + "/" + Self.fileName)
    }

    /// The counters in the file at `path`, creating, extending or resetting it as the type's comment says.
    public init(path: String) throws(DeliveryError) {
        self.path = path
        let size = Self.slotCount * MemoryLayout<UInt64>.size
        let file: FileDescriptor
        do { file = try FileDescriptor(path: path, flags: O_RDWR | O_CREAT) } catch { throw DeliveryError(error) }
        file.lock(LOCK_EX)
        defer { file.unlock() }
        var info = stat()
        guard fstat(file.raw, &info) == 0 else { throw DeliveryError(PosixError("cannot stat \(path)")) }
        if Int(info.st_size) < size, ftruncate(file.raw, off_t(size)) != 0 {
            throw DeliveryError(PosixError("cannot extend \(path) to \(size) bytes"))
        }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, file.raw, 0), mapped != MAP_FAILED
        else {
            throw DeliveryError(PosixError("cannot map \(path)"))
        }
        words = mapped.bindMemory(to: UInt64.self, capacity: Self.slotCount)
        // Under the lock: no other process initializes it at the same time, and none has counted into a file
        // without the magic (each takes this path first).
        if catomics_load_u64(words) != Self.magic {
            for slot in 1..<Self.slotCount { catomics_store_u64(words + slot, 0) }
            catomics_store_u64(words, Self.magic)
        }
    }

    deinit { munmap(words, Self.slotCount * MemoryLayout<UInt64>.size) }

    /// Adds `value` to word `slot`.
    public func add(_ slot: Int, _ value: UInt64 = 1) {
        guard (1..<Self.slotCount).contains(slot) else { return }
        _ = catomics_add_u64(words + slot, value)
    }

    /// The value of word `slot`.
    public func load(_ slot: Int) -> UInt64 {
        guard (1..<Self.slotCount).contains(slot) else { return 0 }
        return catomics_load_u64(words + slot)
    }

    /// Sets word `slot` (a gauge: the last value any process saw).
    public func store(_ slot: Int, _ value: UInt64) {
        guard (1..<Self.slotCount).contains(slot) else { return }
        catomics_store_u64(words + slot, value)
    }

    /// Raises word `slot` to `value` unless it is larger (a timestamp).
    public func raise(_ slot: Int, to value: UInt64) {
        guard (1..<Self.slotCount).contains(slot) else { return }
        catomics_max_u64(words + slot, value)
    }
}
