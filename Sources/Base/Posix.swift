#if canImport(Glibc)
    import Glibc
#endif

/// A system call that failed: what was attempted, where, and `errno` as it was right after the call.
public struct PosixError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What failed and where (`cannot create /var/spool/solstice/tmp/…`).
    public var operation: String
    /// The `errno` value read at the call (ENOSPC for a full disk, EROFS for a read-only one).
    public var code: Int32

    /// `operation: strerror(code)`.
    public var description: String { "\(operation): \(String(cString: strerror(code)))" }

    /// An error for `operation` with the current `errno`; build it right after the failing call, before anything
    /// else can change `errno`.
    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }
}

/// The few POSIX calls every module needs, with EINTR retried in one place and `errno` captured at the call.
public enum Posix {
    /// Runs `call` again while it fails with EINTR; returns its last result.
    @inlinable
    public static func retryingEINTR<T: SignedInteger>(_ call: () -> T) -> T {
        while true {
            let result = call()
            if result >= 0 || errno != EINTR { return result }
        }
    }

    /// Reads `fd` to its end; nil when a read fails.
    public static func readAll(_ fd: Int32) -> [UInt8]? {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = retryingEINTR { Glibc.read(fd, &chunk, chunk.count) }
            if n < 0 { return nil }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// Reads up to `count` bytes, fewer only at end of input; nil when a read fails. The buffer grows as bytes
    /// arrive, so a large `count` announced by a peer costs nothing until the bytes come.
    public static func read(_ fd: Int32, upTo count: Int) -> [UInt8]? {
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while out.count < count {
            let n = retryingEINTR { Glibc.read(fd, &chunk, min(chunk.count, count - out.count)) }
            if n < 0 { return nil }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    /// Reads and throws away up to `count` bytes (a body nobody wants must still be read off some connections).
    public static func discard(_ fd: Int32, upTo count: Int) {
        var sink = [UInt8](repeating: 0, count: 65_536)
        var left = count
        while left > 0 {
            let n = retryingEINTR { Glibc.read(fd, &sink, min(left, sink.count)) }
            if n <= 0 { return }
            left -= n
        }
    }

    /// Writes all of `bytes`; throws with the errno of the write that failed.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: @autoclosure () -> String = "write")
        throws(PosixError)
    {
        let failure: PosixError? = bytes.withUnsafeBytes { raw in
            do throws(PosixError) { try writeAll(fd, raw, what: what()) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Writes all of `raw`; throws with the errno of the write that failed.
    public static func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer, what: @autoclosure () -> String = "write")
        throws(PosixError)
    {
        var written = 0
        while written < raw.count {
            let n = retryingEINTR { Glibc.write(fd, raw.baseAddress! + written, raw.count - written) }
            if n <= 0 { throw PosixError(what(), code: n < 0 ? errno : EIO) }
            written += n
        }
    }

    /// The entries of directory `path` but `.` and `..`; empty when it cannot be read.
    public static func list(_ path: String) -> [String] {
        guard let handle = opendir(path) else { return [] }
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

    /// Creates directory `path` unless it exists.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(PosixError) {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw PosixError("cannot create \(path)") }
    }
}

/// The one owner of an open file descriptor: closed when the owner goes away. Not shared between threads.
public final class FileDescriptor {
    /// The descriptor; valid until this object is released.
    public let raw: Int32

    /// Opens `path` with `flags` (`O_CLOEXEC` is always added) and `mode` for created files.
    public init(path: String, flags: Int32, mode: mode_t = 0o600) throws(PosixError) {
        let fd = Posix.retryingEINTR { open(path, flags | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw PosixError("cannot open \(path)") }
        raw = fd
    }

    /// Takes ownership of `fd`.
    public init(owning fd: Int32) { raw = fd }

    deinit { close(raw) }

    /// Reads to the end of the file; nil when a read fails.
    public func readAll() -> [UInt8]? { Posix.readAll(raw) }

    /// Writes all of `bytes`.
    public func writeAll(_ bytes: [UInt8], what: @autoclosure () -> String = "write") throws(PosixError) {
        try Posix.writeAll(raw, bytes, what: what())
    }

    /// Takes `flock(2)` `operation` (`LOCK_EX`, `LOCK_EX | LOCK_NB`, …), retrying EINTR; false when refused.
    @discardableResult
    public func lock(_ operation: Int32) -> Bool { Posix.retryingEINTR { flock(raw, operation) } == 0 }

    /// Releases the `flock(2)` lock.
    public func unlock() { _ = flock(raw, LOCK_UN) }

    /// `fsync(2)`.
    public func sync(what: @autoclosure () -> String = "fsync") throws(PosixError) {
        guard fsync(raw) == 0 else { throw PosixError(what()) }
    }

    /// `fstat(2)`: the inode, so a caller can check the path still names this file.
    public var inode: UInt? {
        var info = stat()
        return fstat(raw, &info) == 0 ? UInt(info.st_ino) : nil
    }
}
