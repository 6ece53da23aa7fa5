import AMQP
import Base
import Delivery
import Jobs

/// Publishes what the outbox holds, oldest first, deleting each file only after its confirm (SPEC §7); also
/// expires old delivery records so the directory stays bounded.
public final class OutboxDrainer: Sendable {
    private let outbox: JobOutbox
    private let records: DeliveryRecords
    private let publisher: any MessagePublishing
    private let logger: Logger

    /// A drainer publishing `outbox` through `publisher` and sweeping `records`.
    public init(outbox: JobOutbox, records: DeliveryRecords, publisher: any MessagePublishing, logger: Logger) {
        self.outbox = outbox
        self.records = records
        self.publisher = publisher
        self.logger = logger
    }

    /// One pass over the outbox, stopping at the first failure (the broker is still away) so arrival order holds.
    /// Returns how many files were published and how many remain.
    @discardableResult
    public func drainOnce() -> (published: Int, remaining: Int) {
        var published = 0
        for name in outbox.pendingFiles() {
            switch outbox.drain(name, publish: publisher.publish(outbox:)) {
            case .published: published += 1
            case .skipped: continue
            case .failed(let reason):
                logger.log(.warning, "spool drain paused", ["file": .string(name), "error": .string(reason)])
                return (published, outbox.pendingFiles().count)
            }
        }
        if published > 0 { logger.log(.info, "spool drained", ["published": .int(published)]) }
        return (published, outbox.pendingFiles().count)
    }

    /// Removes expired delivery records when no process of the host did in the last `interval` seconds; returns
    /// how many.
    @discardableResult
    public func sweep(every interval: Int = 600) -> Int {
        let removed = records.sweepIfDue(every: interval)
        if removed > 0 { logger.log(.info, "expired delivery records removed", ["count": .int(removed)]) }
        return removed
    }

    /// Drains every `interval` seconds on a thread of its own, and sweeps expired records when due (every 10
    /// minutes for the whole host).
    public func start(interval: Double = 1) {
        Threads.start { [self] in
            var lastCheck = 0.0
            while true {
                if !outbox.pendingFiles().isEmpty { drainOnce() }
                if MonotonicClock.now() - lastCheck > 60 {
                    sweep()
                    lastCheck = MonotonicClock.now()
                }
                MonotonicClock.sleep(interval)
            }
        }
    }
}
