#if canImport(Glibc)
    import Glibc
#endif

/// Monotonic time for deadlines and back-off, immune to wall-clock jumps.
public enum MonotonicClock {
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

/// Calendar time, for timestamps that leave the process (`submitted_at`, token expiry, record ages).
public enum WallClock {
    /// Whole seconds since 1970 (`time(2)`).
    @Sendable public static func now() -> Int { Int(time(nil)) }

    /// Nanoseconds since 1970 (`clock_gettime(CLOCK_REALTIME)`), for names that sort by arrival.
    public static func nanoseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
    }

    /// Seconds since 1970 with their fraction, for schedules shared between processes.
    @Sendable public static func seconds() -> Double { Double(nanoseconds()) / 1_000_000_000 }
}
