#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic time for deadlines and back-off, immune to wall-clock jumps.
public enum Clock {
    /// Seconds on the monotonic clock (`clock_gettime(CLOCK_MONOTONIC)`).
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Sleeps `seconds` in steps of at most 50 ms, so a stop is noticed quickly; false when `stop` turned true.
    @discardableResult
    public static func sleep(_ seconds: Double, unless stop: () -> Bool = { false }) -> Bool {
        let end = now() + seconds
        while now() < end {
            if stop() { return false }
            usleep(UInt32(min(0.05, max(0, end - now())) * 1_000_000))
        }
        return !stop()
    }
}
