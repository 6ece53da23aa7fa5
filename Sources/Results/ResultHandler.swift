import AMQP
import Base
import Events
import GitHub

/// How one attempt at a result ended, short of success.
public struct ResultFailure: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public var message: String
    /// Network, 5xx and rate limits: worth another attempt after a pause.
    public var isTransient: Bool

    public var description: String { message }
}

/// Completes the Check Run of each `JobResult` (SPEC §8): installation, log to S3, run found by `external_id` on
/// every page of the commit's runs, PATCH to completed (or a completed run created when there is none).
///
/// Shared by the consumer threads; what it holds is immutable, and the GitHub client keeps its own caches
/// (installations, tokens) behind mutexes.
public final class ResultHandler: Sendable {
    private let client: GitHubClient
    private let checkRuns: CheckRuns
    private let logs: LogUploader?
    private let logger: Logger
    private let wallClock: @Sendable () -> Int
    /// What `METRICS_TEXTFILE` reports (SPEC §11); nil: nothing counted.
    private let metrics: ResultsMetrics?

    /// A handler.
    public init(
        client: GitHubClient, checkName: String, logs: LogUploader?, logger: Logger,
        wallClock: @escaping @Sendable () -> Int = WallClock.now, metrics: ResultsMetrics? = nil
    ) {
        self.metrics = metrics
        self.client = client
        self.checkRuns = CheckRuns(client: client, checkName: checkName, logsBaseURL: nil)
        self.logs = logs
        self.logger = logger
        self.wallClock = wallClock
    }

    /// Makes one attempt at a consumed message and says what the broker should do with it; one log line.
    ///
    /// One attempt per delivery: a passing failure is not waited out here, holding the message, but handed back as
    /// `.retry` — the consumer republishes the message to a delay queue with the attempt count in a header and
    /// acks it (SPEC §8 v2), so the count survives a restart and no consumer thread sleeps on a message. Writing a
    /// Check Run twice (a crash between the republish's confirm and the ack) does no harm: the PATCH sets the same
    /// fields, and before creating a run the commit's runs are listed again.
    public func process(_ message: ConsumedMessage) -> ConsumeDisposition {
        let started = MonotonicClock.now()
        let result: JobResult
        do { result = try JobResult.decode(message.body) } catch {
            logger.log(
                .error, "result rejected to the dead-letter queue",
                ["reason": .string(error.message), "bytes": .int(message.body.count)])
            metrics?.deadLettered(seconds: MonotonicClock.now() - started)
            return .deadLetter
        }
        let attempt = message.previousAttempts + 1
        do {
            let outcome = try handle(result, deadline: MonotonicClock.now() + 60)
            logLine(result, outcome, attempt: attempt, started: started)
            let conclusion = outcome == .noInstallation ? "not_installed" : result.success ? "success" : "failure"
            metrics?.completed(conclusion: conclusion, seconds: MonotonicClock.now() - started, now: wallClock())
            return .ack
        } catch {
            let disposition = Self.disposition(afterFailedAttempt: attempt, transient: error.isTransient)
            let ms = (MonotonicClock.now() - started) * 1000
            let repo = "\(result.owner)/\(result.repo)"
            if case .retry = disposition {
                metrics?.retried(seconds: ms / 1000)
            } else {
                metrics?.deadLettered(seconds: ms / 1000)
            }
            if case .retry(let n) = disposition {
                logger.log(
                    .warning, "result attempt failed, retrying",
                    [
                        "request_id": .string(result.requestID), "repo": .string(repo), "attempt": .int(n),
                        "retry_in_s": .double(ResultRetry.delay(afterFailedAttempt: n)), "ms": .double(ms),
                        "reason": .string(error.message),
                    ])
            } else {
                logger.log(
                    .error, "result rejected to the dead-letter queue",
                    [
                        "request_id": .string(result.requestID), "repo": .string(repo), "attempts": .int(attempt),
                        "ms": .double(ms), "reason": .string(error.message),
                    ])
            }
            return disposition
        }
    }

    /// What becomes of a result whose attempt number `attempt` (1-based, counting those before a restart) failed:
    /// a passing failure (network, 5xx, rate limit) is retried while `ResultRetry.maxAttempts` allows, anything
    /// else goes to the dead-letter queue.
    public static func disposition(afterFailedAttempt attempt: Int, transient: Bool) -> ConsumeDisposition {
        guard transient, attempt >= 1, attempt < ResultRetry.maxAttempts else { return .deadLetter }
        return .retry(attempt: attempt)
    }

    /// What one successful attempt did.
    public enum Outcome: Sendable, Equatable {
        /// The run was patched (or created, `created`) to completed.
        case completed(runID: Int, created: Bool, log: String)
        /// The App is not installed on the repository: nothing to write to.
        case noInstallation
    }

    /// One attempt at `result`.
    public func handle(_ result: JobResult, deadline: Double) throws(ResultFailure) -> Outcome {
        let installed = try github { () throws(GitHubError) in
            try client.isInstalled(owner: result.owner, repo: result.repo, deadline: deadline)
        }
        guard installed else { return .noInstallation }
        let (log, logState) = try collectLog(result)
        var fields: [String: JSONField] = [
            "conclusion": .string(result.success ? "success" : "failure"),
            "completed_at": .string(RFC3339.format(secondsSince1970: result.completedAt ?? wallClock())),
            "output": CheckRunOutput(result: result, log: log).json,
        ]
        if let url = log.url { fields["details_url"] = .string(url) }
        let target = CheckRunTarget(owner: result.owner, repo: result.repo, sha: result.commitSHA)
        let completion = try github { () throws(GitHubError) in
            try checkRuns.complete(externalID: result.requestID, target: target, fields: fields, deadline: deadline)
        }
        switch completion {
        case .patched(let runID): return .completed(runID: runID, created: false, log: logState)
        case .created(let runID): return .completed(runID: runID, created: true, log: logState)
        }
    }

    /// Runs a GitHub call; its failure becomes a `ResultFailure`, transient as `GitHubError.kind` says (rate limits
    /// already waited on as long as the deadline allowed, 5xx, transport).
    private func github<T>(_ call: () throws(GitHubError) -> T) throws(ResultFailure) -> T {
        do { return try call() } catch {
            throw ResultFailure(message: error.message, isTransient: error.isTransient)
        }
    }

    /// The log's tail, URL and problems for the output, and a word for the log line (`stored`, `read`,
    /// `unavailable`, `refused`, `none`). Only a transient S3 failure throws: a log that cannot be read, or an
    /// upload the storage refuses, is reported in the Check Run instead.
    private func collectLog(_ result: JobResult) throws(ResultFailure) -> (CheckRunOutput.Log, String) {
        guard let logs else { return (CheckRunOutput.Log(), "none") }
        let serviceURL = logs.logURL(requestID: result.requestID)
        let file: LogFile
        do { file = try logs.fetch(requestID: result.requestID) } catch {
            logger.log(
                .warning, "job log unavailable",
                ["request_id": .string(result.requestID), "reason": .string(error.message)])
            return (
                CheckRunOutput.Log(url: serviceURL, problems: ["The log is unavailable: \(error.message)."]),
                "unavailable"
            )
        }
        // 64 KiB of bytes hold at most 64 Ki characters; CheckRunOutput cuts them to whole lines within the limit.
        let tail = file.tail(maxBytes: 65_536)
        var log = CheckRunOutput.Log(tail: tail.text, tailIsPartial: tail.partial, url: serviceURL)
        guard let location = logs.location(for: result) else { return (log, "read") }
        do {
            try logs.upload(file, to: location)
        } catch {
            if error.isTransient { throw ResultFailure(message: "log upload: \(error.message)", isTransient: true) }
            logger.log(
                .error, "log upload refused",
                [
                    "request_id": .string(result.requestID), "key": .string(location.key),
                    "reason": .string(error.message),
                ])
            log.problems.append("The log could not be stored: \(error.message).")
            return (log, "refused")
        }
        log.url = location.publicURL
        return (log, "stored")
    }

    private func logLine(_ result: JobResult, _ outcome: Outcome, attempt: Int, started: Double) {
        let ms = (MonotonicClock.now() - started) * 1000
        let repo = "\(result.owner)/\(result.repo)"
        switch outcome {
        case .noInstallation:
            logger.log(
                .warning, "result for a repository without the App installed: acked",
                ["request_id": .string(result.requestID), "repo": .string(repo), "ms": .double(ms)])
        case .completed(let runID, let created, let log):
            logger.log(
                .info, "result",
                [
                    "request_id": .string(result.requestID), "repo": .string(repo),
                    "conclusion": .string(result.success ? "success" : "failure"), "ms": .double(ms),
                    "run_id": .int(runID), "created": .bool(created), "log": .string(log), "attempts": .int(attempt),
                ])
        }
    }
}
