import Base

#if canImport(Glibc)
    import Glibc
#endif

/// A write or read in `SPOOL_DIR` that failed: what, where, and `errno` read at the call.
public struct DeliveryError: Error, CustomStringConvertible, Sendable {
    /// What failed, where and why (`cannot fsync /var/spool/solstice/tmp/…: No space left on device`).
    public var message: String
    /// The `errno` value (ENOSPC for a full disk, EROFS for a read-only one).
    public var code: Int32

    public var description: String { message }

    init(_ error: PosixError) {
        message = error.description
        code = error.code
    }
}

/// `SPOOL_DIR` (SPEC §7): the directory every durable file of this host lives in, shared by every solstice-fcgi
/// process that names it. Each kind of file has one owner type: `JobOutbox` (`outbox/`), `DeliveryRecords`
/// (`deliveries/`), `RunIndex` (`runs/`), `LockStripes` (`locks/`), `GapRepairState` (`state/`); `tmp/` holds files
/// being written.
public final class SpoolDirectory: Sendable {
    /// The directory.
    public let path: String
    var outbox: String { path + "/outbox" }
    var deliveries: String { path + "/deliveries" }
    var tmp: String { path + "/tmp" }
    var locks: String { path + "/locks" }
    /// Small files of host-wide state (gap repair's watermark), each replaced whole.
    var state: String { path + "/state" }
    var runs: String { path + "/runs" }

    /// Opens (creating when missing) the spool at `path`.
    public init(path: String) throws(DeliveryError) {
        self.path = path
        do throws(PosixError) {
            for dir in [path, path + "/outbox", path + "/deliveries", path + "/tmp", path + "/locks", path + "/state"] {
                try Posix.makeDirectory(dir)
            }
            try Posix.makeDirectory(path + "/runs")
        } catch {
            throw DeliveryError(error)
        }
    }

    /// Writes `bytes` to `destination` so that it exists whole or not at all, and survives a crash: a temporary
    /// file, written, fsynced, renamed, and the directory fsynced. Nothing is left behind when it throws.
    func writeDurably(_ bytes: [UInt8], to destination: String) throws(DeliveryError) {
        let temp = tmp + "/" + String(getpid()) + "-" + Self.randomHex()
        do throws(PosixError) {
            let file = try FileDescriptor(path: temp, flags: O_WRONLY | O_CREAT | O_EXCL)
            do {
                try file.writeAll(bytes, what: "cannot write \(temp)")
                try file.sync(what: "cannot fsync \(temp)")
            } catch {
                unlink(temp)
                throw error
            }
            guard rename(temp, destination) == 0 else {
                let error = PosixError("cannot rename into \(destination)")
                unlink(temp)
                throw error
            }
            let parent = String(destination[..<destination.lastIndex(of: "/")!])
            if let directory = try? FileDescriptor(path: parent, flags: O_RDONLY | O_DIRECTORY) {
                try directory.sync(what: "cannot fsync directory \(parent)")
            }
        } catch {
            throw DeliveryError(error)
        }
    }

    /// Whether a file can be made durable here now (status, SPEC §11): a small file written, fsynced, renamed and
    /// removed, as an outbox write would be.
    public func isWritable() -> Bool {
        let probe = tmp + "/probe-" + String(getpid()) + "-" + Self.randomHex()
        do { try writeDurably([0x31], to: probe) } catch { return false }
        unlink(probe)
        return true
    }

    /// Removes files in `directory` whose modification time is more than `maxAge` seconds before `now`; returns
    /// how many.
    func removeFiles(in directory: String, olderThan maxAge: Int, now: Int) -> Int {
        var removed = 0
        for name in Posix.list(directory) {
            var info = stat()
            let file = directory + "/" + name
            if stat(file, &info) == 0, now - Int(info.st_mtim.tv_sec) > maxAge, unlink(file) == 0 { removed += 1 }
        }
        return removed
    }

    /// 16 random hex digits, for temporary names no other writer picks.
    static func randomHex() -> String {
        Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
    }
}
