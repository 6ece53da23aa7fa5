import Base

#if canImport(Glibc)
    import Glibc
#endif

/// Duties one process of the host performs for all (SPEC §7: the reconciler, gap repair): the holder of an
/// `flock` on `SPOOL_DIR/locks/duty-NAME.lock` does it, and the kernel releases the lock when that process dies,
/// even by `kill -9`. A marker file's time (`SPOOL_DIR/locks/duty-NAME.last`) says when the duty last ran, so
/// the processes sharing the spool run it once per interval between them, whichever is awake.
public struct HostDuties: Sendable {
    private let directory: String

    /// The duties of the processes sharing `spool`.
    public init(spool: SpoolDirectory) { directory = spool.locks }

    /// Runs `body` when no process of the host is running duty `name` now and none ran it in the last `interval`
    /// seconds before `now`; returns whether it ran. `interval` 0 runs it whenever no other process is.
    @discardableResult
    public func runIfDue(_ name: String, every interval: Int, now: Int = WallClock.now(), _ body: () -> Void) -> Bool {
        guard let lock = try? FileDescriptor(path: "\(directory)/duty-\(name).lock", flags: O_RDWR | O_CREAT),
            lock.lock(LOCK_EX | LOCK_NB)
        else { return false }
        defer { lock.unlock() }
        let marker = "\(directory)/duty-\(name).last"
        if let last = lastRun(name), now - last < interval { return false }
        body()
        guard let file = try? FileDescriptor(path: marker, flags: O_WRONLY | O_CREAT) else { return true }
        var times = [timespec(tv_sec: now, tv_nsec: 0), timespec(tv_sec: now, tv_nsec: 0)]
        futimens(file.raw, &times)
        return true
    }

    /// When duty `name` last ran on this host (seconds since 1970), or nil when it never did.
    public func lastRun(_ name: String) -> Int? {
        var info = stat()
        guard stat("\(directory)/duty-\(name).last", &info) == 0 else { return nil }
        return Int(info.st_mtim.tv_sec)
    }
}
