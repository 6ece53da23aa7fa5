import Base
import Delivery

/// Works a `SpoolQueue` in the background: every pass claims the due entries, oldest first, and hands each to
/// the handler (SPEC §7: the Checks outbox, the deferred expansions). Every process sharing `SPOOL_DIR` may run
/// one; claims keep them from working one entry twice.
public final class SpoolQueueWorker: Sendable {
    private let queue: SpoolQueue
    private let name: String
    private let handle: @Sendable (SpoolQueue.Entry) -> WorkStep
    private let logger: Logger

    /// A worker of `queue` (called `name` in logs) handing entries to `handle`.
    public init(
        queue: SpoolQueue, name: String, logger: Logger, handle: @escaping @Sendable (SpoolQueue.Entry) -> WorkStep
    ) {
        self.queue = queue
        self.name = name
        self.logger = logger
        self.handle = handle
    }

    /// One pass over what is due now; returns how many entries were handled and how many remain in the queue.
    @discardableResult
    public func runOnce(until deadline: Double = .infinity) -> (handled: Int, remaining: Int) {
        var handled = 0
        for file in queue.due(now: WallClock.seconds()) where MonotonicClock.now() < deadline {
            queue.claim(file) { entry in
                handled += 1
                switch handle(entry) {
                case .done: return .done
                case .retry(let after):
                    let delay = Self.backoff(attempts: entry.attempts, after: after)
                    logger.log(
                        .info, "\(name): retrying later",
                        ["key": .string(entry.key), "attempt": .int(entry.attempts + 1), "retry_in_s": .double(delay)])
                    return .retry(notBefore: WallClock.seconds() + delay, countAttempt: true)
                case .wait(let seconds):
                    return .retry(notBefore: WallClock.seconds() + max(0.05, seconds), countAttempt: false)
                }
            }
        }
        return (handled, queue.files().count)
    }

    /// Passes on `threads` threads of their own, each every `interval` seconds. Several threads keep GitHub's
    /// latency from bounding the drain (each entry waits on a few round trips); claims keep them apart.
    public func start(every interval: Double = 0.2, threads: Int = 1) {
        for _ in 0..<max(1, threads) {
            Threads.start { [self] in
                while true {
                    runOnce()
                    MonotonicClock.sleep(interval)
                }
            }
        }
    }

    /// The delay after failed attempt `attempts + 1`: 5 s doubling to 5 min, or longer when GitHub asked (`after`).
    static func backoff(attempts: Int, after: Double) -> Double {
        max(after, min(300, 5 * Double(1 << min(attempts, 10))))
    }
}
