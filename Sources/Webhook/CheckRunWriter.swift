import Base
import GitHub

/// The Check Run writes a delivery's answer promises (queued runs, the failed `NAME / workflow` run, the skip and
/// approval runs). A value the responder hands back with its answer; `CheckRunWriter` makes the writes once the
/// answer is out, so GitHub never delays or fails a webhook.
public struct PendingCheckRuns: Sendable {
    /// The delivery, for the log line.
    public var deliveryID: String
    /// Where the runs go.
    public var target: CheckRunTarget
    /// The writes, in order.
    public var writes: [CheckRunWrite]
    /// When the delivery was accepted (seconds since 1970).
    public var acceptedAt: Int
}

/// Writes `PendingCheckRuns` through `CheckRuns`, after the answer, on the worker that answered.
public final class CheckRunWriter: Sendable {
    /// The Checks API, also read by the responder (re-runs, approvals).
    public let checkRuns: CheckRuns
    private let logger: Logger

    /// A writer through `checkRuns`.
    public init(checkRuns: CheckRuns, logger: Logger) {
        self.checkRuns = checkRuns
        self.logger = logger
    }

    /// Makes `pending`'s writes, giving GitHub at most 20 s; a failure is logged, never retried here.
    public func write(_ pending: PendingCheckRuns) {
        let started = MonotonicClock.now()
        do throws(GitHubError) {
            let created = try checkRuns.write(
                pending.writes, target: pending.target, now: pending.acceptedAt, deadline: started + 20)
            logger.log(
                .info, "check runs",
                [
                    "delivery": .string(pending.deliveryID), "created": .int(created),
                    "github_ms": .double((MonotonicClock.now() - started) * 1000),
                ])
        } catch {
            logger.log(
                .error, "check runs not written",
                [
                    "delivery": .string(pending.deliveryID), "sha": .string(pending.target.sha),
                    "error": .string(error.message),
                ])
        }
    }
}
