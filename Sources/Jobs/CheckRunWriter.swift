import Base
import Delivery
import GitHub

/// The Check Run writes a delivery's answer promises (queued runs, the failed `NAME / workflow` run, the skip and
/// approval runs), on one commit. A value the responder hands back with its answer; `CheckRunWriter` makes the
/// writes, so GitHub never delays or fails a webhook.
public struct PendingCheckRuns: Sendable, Equatable, Codable {
    /// The delivery, for the log line.
    public var deliveryID: String
    /// The installation whose token writes them (pacing is per installation); nil: looked up by repository.
    public var installationID: Int?
    /// Where the runs go.
    public var target: CheckRunTarget
    /// The writes, in order.
    public var writes: [CheckRunWrite]
    /// When the delivery was accepted (seconds since 1970).
    public var acceptedAt: Int

    /// The writes `writes` on `target` for delivery `deliveryID`.
    public init(
        deliveryID: String, installationID: Int?, target: CheckRunTarget, writes: [CheckRunWrite], acceptedAt: Int
    ) {
        self.deliveryID = deliveryID
        self.installationID = installationID
        self.target = target
        self.writes = writes
        self.acceptedAt = acceptedAt
    }
}

/// How one attempt at `PendingCheckRuns` ended.
public enum CheckRunWriteOutcome: Sendable, Equatable {
    /// GitHub took every write; the runs created, with their ids.
    case written([CheckRuns.CreatedRun])
    /// A rate limit, 5xx or network failure: try again, not before `after` seconds.
    case retry(after: Double, reason: String)
    /// Our own pacing (`GITHUB_WRITES_PER_MINUTE`) stopped it before GitHub would have: go on in `after` seconds.
    case paced(after: Double)
    /// GitHub refused for good (a 4xx that is not a rate limit): logged, never tried again.
    case dropped(reason: String)
}

/// Makes the writes of `PendingCheckRuns` through `CheckRuns`, classifying the failure, and indexes the queued
/// runs it created for the reconciler (SPEC §7).
public final class CheckRunWriter: Sendable {
    /// The Checks API, also read by the responder (re-runs, approvals).
    public let checkRuns: CheckRuns
    let runIndex: RunIndex?
    let logger: Logger

    /// A writer through `checkRuns`, indexing the queued runs it creates in `runIndex`.
    public init(checkRuns: CheckRuns, runIndex: RunIndex? = nil, logger: Logger) {
        self.checkRuns = checkRuns
        self.runIndex = runIndex
        self.logger = logger
    }

    private static let pacedMessage = "paced by GITHUB_WRITES_PER_MINUTE"

    private static func paced(_ wait: Double) -> GitHubError {
        var error = GitHubError(.rateLimited, message: pacedMessage)
        error.retryAfter = wait
        return error
    }

    /// One attempt at `pending`, giving GitHub at most `budget` seconds. `pace` is asked before each write and
    /// answers 0 to go on, or the seconds to wait (the attempt stops there). Writes already made are found again by
    /// external id on the next attempt, so a retry never duplicates a run.
    public func write(_ pending: PendingCheckRuns, budget: Double = 20, pace: () -> Double = { 0 })
        -> CheckRunWriteOutcome
    {
        let started = MonotonicClock.now()
        if let installation = pending.installationID {
            checkRuns.client.learnInstallation(installation, owner: pending.target.owner, repo: pending.target.repo)
        }
        // Runs made before a failure part-way are indexed once the write completes (`index` finds them again).
        var created: [CheckRuns.CreatedRun] = []
        do throws(GitHubError) {
            try checkRuns.write(
                pending.writes, target: pending.target, now: pending.acceptedAt, deadline: started + budget,
                created: &created
            ) { () throws(GitHubError) in
                let wait = pace()
                guard wait <= 0 else { throw Self.paced(wait) }
            }
            logger.log(
                .info, "check runs",
                [
                    "delivery": .string(pending.deliveryID), "created": .int(created.count),
                    "github_ms": .double((MonotonicClock.now() - started) * 1000),
                ])
            index(created, of: pending, deadline: started + budget)
            return .written(created)
        } catch {
            if error.status == nil && error.message == Self.pacedMessage { return .paced(after: error.retryAfter ?? 1) }
            let transient = error.isTransient
            logger.log(
                transient ? .warning : .error,
                transient ? "check runs not written yet: will retry" : "check runs refused by GitHub: dropped",
                [
                    "delivery": .string(pending.deliveryID), "sha": .string(pending.target.sha),
                    "error": .string(error.message),
                ])
            guard transient else { return .dropped(reason: error.message) }
            return .retry(after: error.retryAfter ?? 0, reason: error.message)
        }
    }
}
