import Base
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Paces Check Run writes per installation for the whole host (SPEC §7): at most `perMinute` in any 60 s window,
/// counted across every process sharing `SPOOL_DIR`, and none while GitHub asked us to wait (a secondary limit's
/// `retry-after`). GitHub allows 80 content-creating requests a minute; a host that stays under it is never
/// refused.
///
/// One small file per installation in `SPOOL_DIR/pacing/`, read and rewritten under `flock(2)`: the times of the
/// writes of the last minute, and the time GitHub said we may write again.
public final class WritePacer: Sendable {
    private let directory: String
    private let perMinute: Int

    /// A pacer allowing `perMinute` writes per installation per minute on the host sharing `spool`.
    public init(spool: SpoolDirectory, perMinute: Int) throws(DeliveryError) {
        directory = spool.path + "/pacing"
        self.perMinute = max(1, perMinute)
        do { try Posix.makeDirectory(directory) } catch { throw DeliveryError(error) }
    }

    private struct State: Codable {
        /// Times (seconds since 1970) of the writes in the last 60 s.
        var writes: [Double] = []
        /// No write before this time (a secondary limit's `retry-after`).
        var blockedUntil: Double = 0
    }

    /// Takes one write for `key` (an installation id, or a repository without one) at `now`: 0 when granted,
    /// else how many seconds until one may be.
    public func take(_ key: String, now: Double = WallClock.seconds()) -> Double {
        update(key) { state in
            state.writes.removeAll { $0 <= now - 60 }
            if state.blockedUntil > now { return state.blockedUntil - now }
            guard state.writes.count < perMinute else { return (state.writes.min() ?? now) + 60 - now }
            state.writes.append(now)
            return 0
        }
    }

    /// Records that GitHub asked `key`'s writes to wait until `until` (a rate limit's `retry-after`).
    public func block(_ key: String, until: Double) {
        _ = update(key) { state in
            state.blockedUntil = max(state.blockedUntil, until)
            return 0
        }
    }

    /// Runs `change` on `key`'s state under its lock and writes it back. Without a usable file (disk full) the
    /// write is granted: pacing protects GitHub's limit, it must not stop the writes.
    private func update(_ key: String, _ change: (inout State) -> Double) -> Double {
        let safe = String(
            key.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" })
        guard
            let file = try? FileDescriptor(
                path: "\(directory)/\(safe.isEmpty ? "none" : safe)", flags: O_RDWR | O_CREAT),
            file.lock(LOCK_EX)
        else { return 0 }
        defer { file.unlock() }
        var state = (file.readAll()).flatMap { try? JSONDecoder().decode(State.self, from: Data($0)) } ?? State()
        let wait = change(&state)
        if let bytes = try? JSONEncoder().encode(state) {
            _ = ftruncate(file.raw, 0)
            _ = Posix.retryingEINTR { Int32(pwrite(file.raw, Array(bytes), bytes.count, 0) >= 0 ? 0 : -1) }
        }
        return wait
    }
}
