import Base
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// 1024 locks in `SPOOL_DIR/locks`, so that copies of one delivery, arriving at once on any worker of any process,
/// are handled one after the other; copies of one delivery always take the same stripe.
///
/// Each stripe is a mutex for the threads of this process, then `flock(2)` on a file kept open for the other
/// processes. (flock alone cannot tell two threads sharing a descriptor apart; opening the file per request would
/// take the directory's lock every time.)
public final class LockStripes: Sendable {
    private final class Stripe: Sendable {
        let file = Mutex<FileDescriptor?>(nil)
    }

    private let directory: String
    private let stripes = (0..<1024).map { _ in Stripe() }

    /// The stripes of `spool`.
    public init(spool: SpoolDirectory) { directory = spool.locks }

    /// Runs `body` while holding `key`'s stripe. Without a lock file (disk full) only this process's threads are
    /// ordered.
    public func withLock<T, E: Error>(_ key: String, _ body: () throws(E) -> T) throws(E) -> T {
        let index = Int(key.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 } % 1024)
        return try stripes[index].file.withLock { file throws(E) -> T in
            if file == nil {
                file = try? FileDescriptor(path: directory + "/\(index).lock", flags: O_RDWR | O_CREAT)
            }
            file?.lock(LOCK_EX)
            defer { file?.unlock() }
            return try body()
        }
    }
}
