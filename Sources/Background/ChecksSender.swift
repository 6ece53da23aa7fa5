import Base
import Delivery
import FoundationEssentials
import GitHub
import Jobs

/// Sends the Checks outbox (SPEC §7): each entry is a delivery's `PendingCheckRuns`, written before its webhook was
/// answered; this makes the writes on a background thread, never on a FastCGI worker. Writes are paced per
/// installation for the whole host (`WritePacer`); a rate limit blocks that installation for as long as GitHub
/// asked; 5xx and network failures are retried with back-off; any other refusal is logged and dropped.
public struct ChecksSender: Sendable {
    private let writer: CheckRunWriter
    private let pacer: WritePacer
    private let logger: Logger

    /// A sender writing through `writer`, paced by `pacer`.
    public init(writer: CheckRunWriter, pacer: WritePacer, logger: Logger) {
        self.writer = writer
        self.pacer = pacer
        self.logger = logger
    }

    /// One attempt at one outbox entry.
    public func handle(_ entry: SpoolQueue.Entry) -> WorkStep {
        guard let pending = try? JSONDecoder().decode(PendingCheckRuns.self, from: Data(entry.bytes)) else {
            logger.log(.error, "unreadable Checks outbox entry dropped", ["file": .string(entry.name)])
            return .done
        }
        let key = pending.installationID.map(String.init) ?? "\(pending.target.owner)-\(pending.target.repo)"
        switch writer.write(pending, budget: 30, pace: { pacer.take(key) }) {
        case .written, .dropped: return .done
        case .paced(let after): return .wait(seconds: after)
        case .retry(let after, _):
            // GitHub's own limit holds for every process of the host writing for this installation.
            if after > 0 { pacer.block(key, until: WallClock.seconds() + after) }
            return .retry(after: after)
        }
    }
}
