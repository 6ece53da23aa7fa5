import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGTERM and SIGINT (systemd, mod_fcgid, lighttpd, `make stop`) turned into a call on an ordinary thread.
///
/// A signal handler may do almost nothing safely, so ours only writes a byte to a pipe (its descriptor read from an
/// atomic, which is async-signal-safe); a thread blocked on the pipe's other end runs the action.
public enum TerminationSignal {
    private static let writeFD = Atomic<Int32>(-1)

    /// Installs the handlers (replacing any, such as libfcgi's) and runs `action` once, after the first signal.
    public static func onFirst(_ action: @escaping @Sendable () -> Void) {
        var fds: [Int32] = [-1, -1]
        precondition(pipe(&fds) == 0, "pipe failed: \(errno)")
        writeFD.store(fds[1], ordering: .sequentiallyConsistent)
        let readFD = fds[0]
        let handler: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 1
            _ = write(TerminationSignal.writeFD.load(ordering: .sequentiallyConsistent), &byte, 1)
        }
        signal(SIGTERM, handler)
        signal(SIGINT, handler)
        Threads.start {
            var byte: UInt8 = 0
            _ = Posix.retryingEINTR { read(readFD, &byte, 1) }
            action()
        }
    }
}

/// Set once the process was asked to stop (SIGTERM); consumer loops finish the message in hand and return.
public final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)

    /// A signal not yet raised.
    public init() {}

    /// Asks every loop to stop.
    public func request() { flag.store(true, ordering: .sequentiallyConsistent) }

    /// True once a stop was asked for.
    public var isRequested: Bool { flag.load(ordering: .sequentiallyConsistent) }
}
