import Core
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Graceful stop on SIGTERM/SIGINT (sent by mod_fcgid, lighttpd, systemd and `make stop`): stop taking requests,
/// let the ones in hand finish, exit 0. libfcgi installs its own SIGTERM handler that only marks a shutdown for
/// the next accept; ours replaces it after `FCGX_Init`.
enum Shutdown {
    /// Requests between accept and finish, across all workers.
    static let inFlight = Atomic<Int>(0)
    /// Set once a stop was asked for.
    static let requested = Atomic<Bool>(false)
    // The self-pipe: the handler may only write(2); a thread reads it and does the rest.
    nonisolated(unsafe) private static var pipeFDs: [Int32] = [-1, -1]

    /// Installs the handlers and starts the thread that waits for in-flight requests (at most `grace` seconds)
    /// before exiting.
    static func install(grace: Double = 10, logger: @escaping @Sendable (String) -> Void) {
        precondition(pipe(&pipeFDs) == 0, "pipe failed")
        let readFD = pipeFDs[0]
        let handler: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 1
            _ = write(Shutdown.pipeFDs[1], &byte, 1)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        Threads.start {
            var byte: UInt8 = 0
            while read(readFD, &byte, 1) < 0 && errno == EINTR {}
            requested.store(true, ordering: .sequentiallyConsistent)
            logger("stopping: finishing requests in hand")
            let deadline = Clock.monotonic() + grace
            var idleChecks = 0
            // Two idle checks in a row, so a request accepted right at the signal is still served.
            while idleChecks < 2 && Clock.monotonic() < deadline {
                idleChecks = inFlight.load(ordering: .sequentiallyConsistent) == 0 ? idleChecks + 1 : 0
                usleep(20_000)
            }
            exit(0)
        }
    }
}

/// Monotonic seconds.
enum Clock {
    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
