#if canImport(Glibc)
    import Glibc
#endif

/// Dedicated OS threads for the blocking C libraries (libfcgi accept, rabbitmq-c), which must not run on
/// Swift's cooperative pool.
public enum Threads {
    private final class Box: @unchecked Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts a detached thread running `body` (wraps `pthread_create`); traps only if the system has no threads
    /// left, a state no request can recover from.
    public static func start(_ body: @escaping @Sendable () -> Void) {
        pthread_detach(startJoinable(body))
    }

    /// Starts a thread running `body` that the caller must `pthread_join` (tests wait for their servers' threads).
    public static func startJoinable(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(
            &thread, nil,
            { argument in
                Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
                return nil
            }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
        return thread
    }
}
