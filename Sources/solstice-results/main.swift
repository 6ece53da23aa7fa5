import AMQP
import Base
import Dispatch
import GitHub
import HTTP
import Results

#if canImport(Glibc)
    import Glibc
#endif

// solstice-results: consume JobResult messages and complete their Check Runs (SPEC §8). Wiring only: the command
// line, the configuration, the signal handling; the work is AMQP's ResultConsumer and Results' ResultHandler.
//
// Threads of this process (ARCHITECTURE.md; keep this table true):
//
// | thread                        | owns                                   | shares, and how                          |
// |-------------------------------|----------------------------------------|------------------------------------------|
// | consumer × RESULTS_WORKERS    | its own AMQP connection and channel    | the handler (immutable), the GitHub      |
// |                               | (consuming, and republishing retries   | client's token and installation caches   |
// |                               | with confirms); one curl handle at a   | (mutex), the HTTP handle pool (mutex)    |
// |                               | time from the pool                     |                                          |
// | signal (TerminationSignal)    | nothing                                | the StopSignal (atomic)                  |
// | metrics (METRICS_TEXTFILE)    | nothing                                | ResultsMetrics (mutex); writes the file  |
// |                               |                                        | every 15 s (temporary file + rename)     |
// | main                          | nothing                                | waits for the consumers to finish        |
//
// No thread waits out a retry: a result whose attempt failed for a passing reason is republished to a delay queue
// (ResultRetry) and acked, and comes back by itself when the queue's TTL dead-letters it to the results exchange.

let usage = """
    usage: solstice-results [--help] [--version]

    Consumes JobResult messages (jobresult.v1) from RabbitMQ and completes the GitHub Check Run of each job
    (success or failure, exit code, summary, the end of the log), with the log uploaded to S3-compatible storage
    (SPEC §8). Runs until SIGTERM or SIGINT, then finishes the messages in hand and exits 0.

    Malformed messages and those that fail for good go to AMQP_RESULTS_DLQ. Network errors, GitHub/S3 5xx and
    rate limits are retried through four delay queues, AMQP_RESULTS_RETRY_QUEUE + .5s, .30s, .2m and .10m: after
    failed attempt n (1-4) the message is republished to the n-th with header x-solstice-attempt = n and acked, so
    the count survives a restart; the 5th failure goes to AMQP_RESULTS_DLQ. A repository without the App
    installed is acked and logged. The GitHub App (GITHUB_APP_ID with GITHUB_APP_KEY_PATH or GITHUB_APP_KEY) is
    required.

    environment (defaults in brackets):
    \(ConfigVariable.helpText(ResultsConfiguration.variables))
    """

let tool = CommandLineTool(name: "solstice-results", version: "0.1.0", usage: usage)
for argument in CommandLine.arguments.dropFirst() {
    tool.answerHelpOrVersion(argument)
    tool.fail("unknown argument \(argument); see --help")
}

let configuration: ResultsConfiguration
do { configuration = try ResultsConfiguration.load(Environment(ProcessEnvironment.current())) } catch {
    tool.fail(error.description)
}
guard let credentials = configuration.github.app else {
    tool.fail(
        "invalid configuration: GITHUB_APP_ID: missing (with GITHUB_APP_KEY_PATH or GITHUB_APP_KEY); "
            + "solstice-results needs the GitHub App to complete Check Runs")
}
let logger = configuration.log.logger
for warning in configuration.github.warnings { logger.log(.warning, warning) }
if configuration.s3 != nil && configuration.github.logsBaseURL == nil {
    logger.log(.warning, "S3_BUCKET is set but LOGS_BASE_URL is not: there is no log to store")
}

let http = HTTPClient(settings: configuration.http)
let client = GitHubClient(
    credentials: credentials, apiBase: configuration.github.apiBase, http: http, logger: logger)
let logs = configuration.github.logsBaseURL.map {
    LogUploader(
        logsBaseURL: $0, s3: configuration.s3, http: http, temporaryDirectory: configuration.temporaryDirectory,
        maxBytes: Int64(configuration.logMaxBytes))
}
let metrics = ResultsMetrics()
let handler = ResultHandler(
    client: client, checkName: configuration.github.checkName, logs: logs, logger: logger, metrics: metrics)
/// Writes METRICS_TEXTFILE (SPEC §11) when it is configured; a failure is logged, never fatal.
let writeMetrics: @Sendable () -> Void = { [metrics, logger, metricsTextfile = configuration.metricsTextfile] in
    guard let path = metricsTextfile else { return }
    do { try metrics.write(to: path) } catch {
        logger.log(.warning, "metrics textfile not written", ["error": .string("\(error)")])
    }
}
let consumer: ResultConsumer
do { consumer = try ResultConsumer(settings: configuration.amqp, logger: logger) } catch {
    tool.fail("invalid configuration: AMQP_URL: \(error.message)")
}

// SIGTERM/SIGINT: the loops finish the result in hand, then return.
let stop = StopSignal()
signal(SIGPIPE, SIG_IGN)
TerminationSignal.onFirst {
    logger.log(.info, "stopping: finishing the results in hand")
    stop.request()
}

logger.log(
    .info, "solstice-results starting",
    [
        "queue": .string(configuration.amqp.resultsQueue), "workers": .int(configuration.workers),
        "retry_queues": .string(configuration.amqp.resultsRetryQueue + ".*"),
        "queue_type": .string(configuration.amqp.queueType.rawValue),
        "github": .string(configuration.github.apiBase), "logs": .string(configuration.github.logsBaseURL ?? "none"),
        "s3": .string(configuration.s3.map { "\($0.endpoint)/\($0.bucket)" } ?? "none"),
    ])
writeMetrics()
if configuration.metricsTextfile != nil {
    Threads.start {
        while true {
            MonotonicClock.sleep(15)
            writeMetrics()
        }
    }
}
let finished = DispatchSemaphore(value: 0)
for worker in 1...configuration.workers {
    Threads.start {
        consumer.run(worker: worker, stop: stop, handler: handler.process)
        finished.signal()
    }
}
for _ in 1...configuration.workers { finished.wait() }
writeMetrics()
logger.log(.info, "stopped")
exit(0)
