import Base
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Graceful stop on SIGTERM/SIGINT: stop taking requests, let the ones in hand finish, exit 0. libfcgi installs its
/// own SIGTERM handler that only marks a shutdown for the next accept; ours replaces it after `FCGX_Init`.
enum Shutdown {
    /// Requests between accept and finish, across all workers.
    static let inFlight = Atomic<Int>(0)
    /// Set once a stop was asked for.
    static let requested = Atomic<Bool>(false)

    /// Installs the handlers; after a signal, waits for in-flight requests (at most `grace` seconds), then exits.
    static func install(grace: Double = 10, logger: @escaping @Sendable (String) -> Void) {
        TerminationSignal.onFirst {
            requested.store(true, ordering: .sequentiallyConsistent)
            logger("stopping: finishing requests in hand")
            let deadline = MonotonicClock.now() + grace
            var idleChecks = 0
            // Two idle checks in a row, so a request accepted right at the signal is still served.
            while idleChecks < 2 && MonotonicClock.now() < deadline {
                idleChecks = inFlight.load(ordering: .sequentiallyConsistent) == 0 ? idleChecks + 1 : 0
                usleep(20_000)
            }
            exit(0)
        }
    }
}
