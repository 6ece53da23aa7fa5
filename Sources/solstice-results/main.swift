import Core
import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

// solstice-results: consume JobResult messages and complete their Check Runs (SPEC §8). Wiring only: the command
// line, the configuration, the signal handling; the work is Core's ResultConsumer and ResultHandler.

let version = "solstice-results 0.1.0"
let usage = """
    usage: solstice-results [--help] [--version]

    Consumes JobResult messages (jobresult.v1) from RabbitMQ and completes the GitHub Check Run of each job
    (success or failure, exit code, summary, the end of the log), with the log uploaded to S3-compatible storage
    (SPEC §8). Runs until SIGTERM or SIGINT, then finishes the messages in hand and exits 0.

    Malformed messages and those that fail for good go to AMQP_RESULTS_DLQ; network errors, GitHub/S3 5xx and
    rate limits are retried with back-off, 5 attempts in all; a repository without the App installed is acked
    and logged.

    environment (defaults in brackets):
      AMQP_URL [amqp://127.0.0.1:5672/%2f]  AMQP_EXCHANGE [solstice.jobs]  AMQP_DLX [solstice.dlx]
      AMQP_ROUTING_KEY [jobrequest.v1]  AMQP_QUEUE [solstice.jobs.v1]  AMQP_DLQ [solstice.jobs.v1.dlq]
      AMQP_RESULTS_ROUTING_KEY [jobresult.v1]  AMQP_RESULTS_QUEUE [solstice.results.v1]
      AMQP_RESULTS_DLQ [solstice.results.v1.dlq]
      RESULTS_WORKERS [4]      results handled at once, each on its own broker connection
      GITHUB_APP_ID, GITHUB_APP_KEY_PATH or GITHUB_APP_KEY (PEM)   required
      GITHUB_API_BASE [https://api.github.com]  GITHUB_CHECK_NAME [Solstice CI] (name of runs created here)
      LOGS_BASE_URL            orchestrator log service, log at {base}/jobs/{request_id}/logs [none: no log]
                               (ORCH_HTTP_BASE is a deprecated alias)
      S3_BUCKET [none: logs are not stored]  S3_ENDPOINT [https://s3.S3_REGION.amazonaws.com]
      S3_REGION [us-east-1]  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (required with S3_BUCKET)
      S3_PUBLIC_BASE_URL [S3_ENDPOINT/S3_BUCKET]   base of the log links shown on GitHub
      TMPDIR [/tmp]            where logs are downloaded to (unlinked files) before the upload
      LOG_LEVEL [info]  LOG_FORMAT [text|json]
    """

func fail(_ message: String) -> Never {
    let line = "solstice-results: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

for argument in CommandLine.arguments.dropFirst() {
    switch argument {
    case "--help", "-h":
        print(usage)
        exit(0)
    case "--version":
        print(version)
        exit(0)
    default:
        fail("unknown argument \(argument); see --help")
    }
}

let environment = ProcessEnvironment.current()
let configuration: Configuration
do { configuration = try Configuration.load(environment: environment) } catch { fail(error.description) }
guard let credentials = configuration.githubApp else {
    fail(
        "invalid configuration: GITHUB_APP_ID: missing (with GITHUB_APP_KEY_PATH or GITHUB_APP_KEY); "
            + "solstice-results needs the GitHub App to complete Check Runs")
}
let logger = Logger(level: configuration.logLevel, format: configuration.logFormat)
for warning in configuration.warnings { logger.log(.warning, warning) }
if configuration.s3 != nil && configuration.logsBaseURL == nil {
    logger.log(.warning, "S3_BUCKET is set but LOGS_BASE_URL is not: there is no log to store")
}

let http = HTTPClient()
let app = GitHubApp(credentials: credentials, apiBase: configuration.githubAPIBase, http: http, logger: logger)
let logs = configuration.logsBaseURL.map {
    LogUploader(
        logsBaseURL: $0, s3: configuration.s3, http: http, temporaryDirectory: environment["TMPDIR"] ?? "/tmp")
}
let handler = ResultHandler(app: app, checkName: configuration.checkName, logs: logs, logger: logger)
let consumer: ResultConsumer
do { consumer = try ResultConsumer(settings: configuration.amqp, logger: logger) } catch {
    fail("invalid configuration: AMQP_URL: \(error.message)")
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
        "queue": .string(configuration.amqp.resultsQueue), "workers": .int(configuration.resultsWorkers),
        "github": .string(configuration.githubAPIBase), "logs": .string(configuration.logsBaseURL ?? "none"),
        "s3": .string(configuration.s3.map { "\($0.endpoint)/\($0.bucket)" } ?? "none"),
    ])
let finished = DispatchSemaphore(value: 0)
for worker in 1...configuration.resultsWorkers {
    Threads.start {
        consumer.run(worker: worker, handler: handler, stop: stop)
        finished.signal()
    }
}
for _ in 1...configuration.resultsWorkers { finished.wait() }
logger.log(.info, "stopped")
exit(0)
