import Core
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

// The FastCGI/CGI adapter: parse the command line, load the configuration, then hand requests to the responder.

let version = "solstice-fcgi 0.1.0"
let usage = """
    usage: solstice-fcgi [command] [--listen ADDR] [--workers N] [--webhook-path PATH]

    Receives GitHub webhooks over FastCGI (or one CGI request) and queues one JobRequest per job on RabbitMQ.

    commands:
      serve          serve FastCGI on --listen, on the socket inherited on fd 0, or one CGI request (default)
      workflow [FILE|-]  parse a .solstice/workflow.kdl and print its jobs as JSON; on error FILE:LINE:COL, exit 1
      drain-spool    publish what SPOOL_DIR's outbox holds, then exit (0 when it is empty); for CGI setups
      check-config   check the configuration, the secret, the broker and its topology, the spool directory and
                     (--web-config FILE) the web server's body limit; one line per check; exit 0 only if all pass
        --dev              with check-config: accept running without a webhook secret
        --web-config FILE  with check-config: nginx, Apache or lighttpd configuration to compare MAX_BODY_BYTES with

    flags (override the environment variable of the same meaning):
      --listen ADDR        FCGI_LISTEN: host:port or a unix socket path
      --workers N          FCGI_WORKERS [2 x CPUs]
      --webhook-path PATH  WEBHOOK_PATH [/webhooks/github]
      --help, --version

    environment (defaults in brackets):
      GITHUB_WEBHOOK_SECRET (or WEBHOOK_SECRET), GITHUB_WEBHOOK_SECRET_FILE (one secret per line)
                           none: dev mode, unsigned requests accepted
      MAX_BODY_BYTES       [26214400]
      AMQP_URL             [amqp://127.0.0.1:5672/%2f]
      AMQP_EXCHANGE [solstice.jobs]  AMQP_ROUTING_KEY [jobrequest.v1]  AMQP_QUEUE [solstice.jobs.v1]
      AMQP_DLX [solstice.dlx]  AMQP_DLQ [solstice.jobs.v1.dlq]  AMQP_RESULTS_ROUTING_KEY [jobresult.v1]
      AMQP_RESULTS_QUEUE [solstice.results.v1]  AMQP_RESULTS_DLQ [solstice.results.v1.dlq]
      REPO_ALLOWLIST, BRANCH_ALLOWLIST   comma-separated globs [allow all]
      RUNS_ON_DEFAULT, RUNS_ON_MAP (owner/repo=label,...)
      SPOOL_DIR            [/var/spool/solstice]
      GITHUB_APP_ID, GITHUB_APP_KEY_PATH or GITHUB_APP_KEY (PEM)   without them: no workflows, no Check Runs
      GITHUB_API_BASE      [https://api.github.com]   (GitHub Enterprise Server: https://HOST/api/v3)
      GITHUB_CHECK_NAME    [Solstice CI]   LOGS_BASE_URL (job log links; ORCH_HTTP_BASE is deprecated)
      LOG_LEVEL [info]  LOG_FORMAT [text|json]
    """

func fail(_ message: String, code: Int32 = 2) -> Never {
    let line = "solstice-fcgi: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(code)
}

// MARK: - Command line

var command = "serve"
var overrides: [String: String] = [:]
var allowDevMode = false
var webConfigPath: String?
var workflowFile = "-"
var args = CommandLine.arguments.dropFirst()
let flagVariables = ["--listen": "FCGI_LISTEN", "--workers": "FCGI_WORKERS", "--webhook-path": "WEBHOOK_PATH"]
while let arg = args.popFirst() {
    switch arg {
    case "--help", "-h":
        print(usage)
        exit(0)
    case "--version":
        print(version)
        exit(0)
    case _ where flagVariables[arg] != nil:
        guard let value = args.popFirst() else { fail("\(arg) needs a value") }
        overrides[flagVariables[arg]!] = value
    case _ where arg.hasPrefix("--") && arg.contains("="):
        let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
        guard let variable = flagVariables[parts[0]] else { fail("unknown flag \(parts[0]); see --help") }
        overrides[variable] = parts[1]
    case "serve", "check-config", "drain-spool":
        command = arg
    case "workflow":
        command = arg
        workflowFile = args.popFirst() ?? "-"
    case "--dev":
        allowDevMode = true
    case "--web-config":
        guard let value = args.popFirst() else { fail("--web-config needs a file") }
        webConfigPath = value
    default:
        fail("unknown argument \(arg); see --help")
    }
}

if command == "workflow" {
    // Parse a workflow file and print its jobs (SPEC §9); needs no configuration.
    let bytes: [UInt8]
    if workflowFile == "-" {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(0, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data += chunk[0..<n]
        }
        bytes = data
    } else if let data = try? Data(contentsOf: URL(fileURLWithPath: workflowFile)) {
        bytes = Array(data)
    } else {
        fail("cannot read \(workflowFile)", code: 1)
    }
    let output = WorkflowCommand.run(fileName: workflowFile == "-" ? "<stdin>" : workflowFile, bytes: bytes)
    if !output.stdout.isEmpty { print(output.stdout, terminator: output.stdout.hasSuffix("\n") ? "" : "\n") }
    if !output.stderr.isEmpty {
        let text = output.stderr.hasSuffix("\n") ? output.stderr : output.stderr + "\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
    exit(output.exitCode)
}

let environment = ProcessEnvironment.current()
let configuration: Configuration
do {
    configuration = try Configuration.load(environment: environment, overrides: overrides)
} catch {
    fail(error.description)
}
let logger = Logger(level: configuration.logLevel, format: configuration.logFormat)

// MARK: - Commands

if command == "check-config" {
    let check = ConfigCheck(configuration: configuration)
    var results = [CheckResult(name: "configuration", ok: true, detail: "every variable is valid")]
    results.append(check.secret(allowDevMode: allowDevMode))
    results.append(check.broker())
    results.append(check.spool())
    if let credentials = configuration.githubApp {
        let app = GitHubApp(credentials: credentials, apiBase: configuration.githubAPIBase, logger: logger)
        results.append(check.githubApp(app))
    } else {
        results.append(
            CheckResult(
                name: "github app", ok: true,
                detail: "not configured (GITHUB_APP_ID, GITHUB_APP_KEY_PATH): no workflows, no Check Runs"))
    }
    if let path = webConfigPath {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            results.append(check.webServerLimit(configText: text, path: path))
        } else {
            results.append(CheckResult(name: "web server", ok: false, detail: "cannot read \(path)"))
        }
    }
    for result in results { print(result.line) }
    exit(results.allSatisfy(\.ok) ? 0 : 1)
}

// Writing to a web server connection that closed must fail the write, not kill the process.
signal(SIGPIPE, SIG_IGN)

let publisher: JobPublisher
do {
    publisher = try JobPublisher(settings: configuration.amqp, logger: logger)
} catch {
    fail("invalid configuration: AMQP_URL: \(error.message)")
}
for warning in configuration.warnings { logger.log(.warning, warning) }
var expander: any JobExpanding = SingleJobExpander()
var reporter: CheckRunReporter?
if let credentials = configuration.githubApp {
    let app = GitHubApp(credentials: credentials, apiBase: configuration.githubAPIBase, logger: logger)
    expander = WorkflowExpander(app: app, logger: logger)
    reporter = CheckRunReporter(
        app: app, checkName: configuration.checkName, logsBaseURL: configuration.logsBaseURL, logger: logger)
} else {
    logger.log(.info, "no GitHub App configured: one job per commit, no workflow expansion, no Check Runs")
}
let spool: Spool
do {
    spool = try Spool(directory: configuration.spoolDir)
} catch {
    fail("invalid configuration: SPOOL_DIR: \(error.message)")
}
let drainer = SpoolDrainer(spool: spool, publisher: publisher, logger: logger)
if command == "drain-spool" {
    let (published, remaining) = drainer.drainOnce()
    print("drain-spool: \(published) file(s) published, \(remaining) left in \(configuration.spoolDir)/outbox")
    exit(remaining == 0 ? 0 : 1)
}
let responder = WebhookResponder(
    configuration: configuration, publisher: publisher, expander: expander, reporter: reporter, spool: spool,
    logger: logger)

let listener: FastCGIListener
do {
    if let address = configuration.listen {
        listener = try FastCGIListener.open(address)
    } else if FastCGIListener.isCGI {
        CGIAdapter.serveOne(responder, environment: environment)
        exit(0)
    } else {
        listener = try FastCGIListener.inherited()
    }
} catch {
    fail(error.description, code: 1)
}

Shutdown.install { logger.log(.info, $0) }
drainer.start()
logger.log(
    .info, "serving FastCGI",
    ["listen": .string(configuration.listen ?? "fd 0"), "workers": .int(configuration.workers)])
for _ in 1..<configuration.workers {
    Threads.start { FastCGIWorker(listener: listener).run(responder, logger: logger) }
}
FastCGIWorker(listener: listener).run(responder, logger: logger)
