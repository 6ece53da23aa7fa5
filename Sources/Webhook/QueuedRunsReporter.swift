import Base
import GitHub

/// The Check Runs a delivery's answer promises: one queued run per job, and the failed `NAME / workflow` run when
/// the workflow file was rejected. A value the responder hands back with its answer; `QueuedRunsReporter` writes it
/// once the answer is out, so GitHub never delays or fails a webhook.
public struct PendingCheckRuns: Sendable {
    /// The delivery, for the log line.
    public var deliveryID: String
    /// Where the runs go.
    public var target: CheckRunTarget
    /// One per job queued.
    public var runs: [QueuedRun]
    /// How many jobs the workflow has (run names follow it, so a re-run of one job keeps `NAME / JOB_ID`).
    public var workflowJobs: Int
    /// The rejected workflow and the external id of its run.
    public var workflowFailure: (failure: WorkflowFailure, externalID: String)?
    /// When the delivery was accepted (seconds since 1970).
    public var acceptedAt: Int
}

/// Writes `PendingCheckRuns` through `CheckRuns`, after the answer, on the worker that answered.
public final class QueuedRunsReporter: Sendable {
    private let checkRuns: CheckRuns
    private let logger: Logger

    /// A reporter writing through `checkRuns`.
    public init(checkRuns: CheckRuns, logger: Logger) {
        self.checkRuns = checkRuns
        self.logger = logger
    }

    /// The run name of a job (for re-runs of one check run).
    func jobID(fromRunName name: String) -> String? { checkRuns.jobID(fromRunName: name) }

    /// Writes `pending`, giving GitHub at most 20 s; a failure is logged, never retried here.
    public func report(_ pending: PendingCheckRuns) {
        let started = MonotonicClock.now()
        let deadline = started + 20
        do throws(GitHubError) {
            let created = try checkRuns.reportQueued(
                pending.runs, workflowJobs: pending.workflowJobs, target: pending.target, deadline: deadline)
            if let (failure, externalID) = pending.workflowFailure {
                try checkRuns.reportWorkflowError(
                    failure, externalID: externalID, target: pending.target, now: pending.acceptedAt,
                    deadline: deadline)
            }
            logger.log(
                .info, "check runs",
                [
                    "delivery": .string(pending.deliveryID), "created": .int(created),
                    "github_ms": .double((MonotonicClock.now() - started) * 1000),
                ])
        } catch {
            logger.log(
                .error, "check runs not created",
                [
                    "delivery": .string(pending.deliveryID), "sha": .string(pending.target.sha),
                    "error": .string(error.message),
                ])
        }
    }
}
