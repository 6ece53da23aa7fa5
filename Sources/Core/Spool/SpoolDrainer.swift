#if canImport(Glibc)
    import Glibc
#endif

/// Publishes what the spool holds, oldest first, deleting each file only after its confirm (SPEC §7); also
/// expires old delivery records so the directory stays bounded.
public final class SpoolDrainer: Sendable {
    private let spool: Spool
    private let publisher: any MessagePublishing
    private let logger: Logger

    /// A drainer publishing `spool`'s outbox through `publisher`.
    public init(spool: Spool, publisher: any MessagePublishing, logger: Logger) {
        self.spool = spool
        self.publisher = publisher
        self.logger = logger
    }

    /// One pass over the outbox, stopping at the first failure (the broker is still away) so arrival order holds.
    /// Returns how many files were published and how many remain.
    @discardableResult
    public func drainOnce() -> (published: Int, remaining: Int) {
        var published = 0
        for name in spool.pendingFiles() {
            switch spool.drain(name, publish: publisher.publish) {
            case .published: published += 1
            case .skipped: continue
            case .failed(let reason):
                logger.log(.warning, "spool drain paused", ["file": .string(name), "error": .string(reason)])
                return (published, spool.pendingFiles().count)
            }
        }
        if published > 0 { logger.log(.info, "spool drained", ["published": .int(published)]) }
        return (published, spool.pendingFiles().count)
    }

    /// Drains every `interval` seconds on a thread of its own, and sweeps expired records every `sweepInterval`.
    public func start(interval: Double = 1, sweepInterval: Double = 600) {
        Threads.start { [self] in
            var lastSweep = 0.0
            while true {
                if !spool.pendingFiles().isEmpty { drainOnce() }
                if Clock.now() - lastSweep > sweepInterval {
                    let removed = spool.sweep()
                    if removed > 0 { logger.log(.info, "expired delivery records removed", ["count": .int(removed)]) }
                    lastSweep = Clock.now()
                }
                Clock.sleep(interval)
            }
        }
    }
}
