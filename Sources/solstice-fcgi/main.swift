import AMQP
import Background
import Base
import Delivery
import GitHub
import HTTP
import Jobs
import Webhook
import Workflow

#if canImport(Glibc)
    import Glibc
#endif

// solstice-fcgi: the FastCGI/CGI adapter. Parse the command line, load the configuration, wire the pipeline's
// collaborators, then hand requests to the WebhookResponder. Nothing here decides anything about a webhook.
//
// Threads of this process (ARCHITECTURE.md; keep this table true):
//
// | thread                       | owns                                        | shares, and how                      |
// |------------------------------|---------------------------------------------|--------------------------------------|
// | FastCGI worker × FCGI_WORKERS| its connection; one curl handle at a time   | the publisher's queue (mutex), the   |
// |                              | from the pool while it asks GitHub          | token and installation caches (mutex)|
// |                              |                                             | SPOOL_DIR (flock + lock stripes)     |
// | publisher (JobPublisher)     | the one AMQP connection                     | its queue; wakes workers through     |
// |                              |                                             | their tickets (semaphores)           |
// | outbox drainer               | nothing of its own                          | SPOOL_DIR/outbox files, claimed with |
// |                              |                                             | flock; publishes through the         |
// |                              |                                             | publisher                            |
// | checks outbox × 4            | nothing of its own                          | SPOOL_DIR/checks files (flock), the  |
// |                              |                                             | pacer's files (flock), the GitHub    |
// |                              |                                             | client's caches (mutex)              |
// | deferred expansions          | nothing of its own                          | SPOOL_DIR/deferred files (flock);    |
// |                              |                                             | publishes through the publisher      |
// | gap repair (GapRepair)       | nothing of its own; runs when it holds the  | the GitHub client (mutex-protected   |
// |                              | host's gap-repair duty (flock)              | caches), SPOOL_DIR records (read) and|
// |                              |                                             | state/gap-repair.json (duty holder)  |
// | stall watchdog               | nothing                                     | each worker's phase (mutex); shuts   |
// |                              |                                             | down a connection held too long      |
// | reconciler                   | its curl handles from the pool              | SPOOL_DIR/runs (flock per file); one |
// |                              |                                             | process per host (HostDuties flock)  |
// | signal (TerminationSignal)   | nothing                                     | the Shutdown flags (atomics)         |
//
// A FastCGI worker never calls GitHub after its answer: the Check Run writes it owes go to SPOOL_DIR/checks before
// the answer, and the checks outbox thread sends them.

let usage = """
    usage: solstice-fcgi [command] [--listen ADDR] [--workers N] [--webhook-path PATH]

    Receives GitHub webhooks over FastCGI (or one CGI request) and queues one JobRequest per job on RabbitMQ.

    commands:
      serve          serve FastCGI on --listen, on the socket inherited on fd 0, or one CGI request (default)
      workflow [FILE|-]  parse a .solstice/workflow.kdl and print its jobs as JSON; on error FILE:LINE:COL, exit 1
      drain-spool    publish what SPOOL_DIR's outbox holds, try the deferred expansions and the Check Run writes
                     that are due, time out stuck Check Runs, expire old delivery records, then exit (0 when the
                     outbox, the deferred expansions and the Check Run writes are empty); for CGI setups
      repair-deliveries [--since DURATION]
                     one gap-repair pass: ask GitHub to redeliver the webhooks it logged as failed that this host
                     never recorded (back to the last pass, 72h the first time, or DURATION such as 6h); prints
                     each delivery asked for; exit 0 unless GitHub could not be asked
      check-config   check the configuration, the secret, the broker and its topology, the spool directory and
                     (--web-config FILE) the web server's body limit; one line per check; exit 0 only if all pass
        --dev              with check-config: accept running without a webhook secret
        --web-config FILE  with check-config: nginx, Apache or lighttpd configuration to compare MAX_BODY_BYTES with

    flags (override the environment variable of the same meaning):
      --listen ADDR        FCGI_LISTEN
      --workers N          FCGI_WORKERS
      --webhook-path PATH  WEBHOOK_PATH
      --help, --version

    environment (defaults in brackets):
    \(ConfigVariable.helpText(WebhookConfiguration.variables))
    """

let tool = CommandLineTool(name: "solstice-fcgi", version: "0.1.0", usage: usage)

// MARK: - Command line

var command = "serve"
var overrides: [String: String] = [:]
var allowDevMode = false
var webConfigPath: String?
var workflowFile = "-"
var repairSince: Int?
var args = CommandLine.arguments.dropFirst()
let flagVariables = WebhookConfiguration.flags
while let arg = args.popFirst() {
    tool.answerHelpOrVersion(arg)
    switch arg {
    case _ where flagVariables[arg] != nil:
        guard let value = args.popFirst() else { tool.fail("\(arg) needs a value") }
        overrides[flagVariables[arg]!] = value
    case _ where arg.hasPrefix("--") && arg.contains("="):
        let parts = arg.split(separator: "=", maxSplits: 1).map(String.init)
        guard let variable = flagVariables[parts[0]] else { tool.fail("unknown flag \(parts[0]); see --help") }
        overrides[variable] = parts[1]
    case "serve", "check-config", "drain-spool":
        command = arg
    case "workflow":
        command = arg
        workflowFile = args.popFirst() ?? "-"
    case "repair-deliveries":
        command = arg
    case "--since":
        guard let value = args.popFirst(), let seconds = DurationText.seconds(value), seconds > 0 else {
            tool.fail("--since needs a duration (90s, 10m, 6h, 3d)")
        }
        repairSince = seconds
    case "--dev":
        allowDevMode = true
    case "--web-config":
        guard let value = args.popFirst() else { tool.fail("--web-config needs a file") }
        webConfigPath = value
    default:
        tool.fail("unknown argument \(arg); see --help")
    }
}

if command == "workflow" {
    // Parse a workflow file and print its jobs (SPEC §9); needs no configuration but the workflow limits, so that it
    // refuses what the daemon would.
    let limits: WorkflowLimits
    do {
        limits = try WorkflowLimits.load(Environment(ProcessEnvironment.current()))
    } catch {
        tool.fail(error.description)
    }
    let bytes: [UInt8]?
    if workflowFile == "-" {
        bytes = Posix.readAll(0)
    } else {
        bytes = (try? FileDescriptor(path: workflowFile, flags: O_RDONLY))?.readAll()
    }
    guard let bytes else { tool.fail("cannot read \(workflowFile)", code: 1) }
    let output = WorkflowCommand.run(
        fileName: workflowFile == "-" ? "<stdin>" : workflowFile, bytes: bytes, limits: limits)
    if !output.stdout.isEmpty { print(output.stdout, terminator: output.stdout.hasSuffix("\n") ? "" : "\n") }
    if !output.stderr.isEmpty {
        let text = output.stderr.hasSuffix("\n") ? output.stderr : output.stderr + "\n"
        try? Posix.writeAll(2, Array(text.utf8))
    }
    exit(output.exitCode)
}

let environment = ProcessEnvironment.current()
let configuration: WebhookConfiguration
do {
    configuration = try WebhookConfiguration.load(Environment(environment, overrides: overrides))
} catch {
    tool.fail(error.description)
}
let logger = configuration.log.logger
// The host's metrics (SPEC §11), shared through SPOOL_DIR/metrics.v1 by every process of the spool; nil only when the
// spool cannot hold them (the spool's own checks below say why).
let counters = try? SharedCounters(spool: SpoolDirectory(path: configuration.spoolDir))
let githubObserver: (@Sendable (Int?, Int?) -> Void)? = counters.map { counters in
    { @Sendable status, remaining in
        counters.countGitHubResponse(status: status, rateLimitRemaining: remaining, now: WallClock.now())
    }
}
let github = configuration.github.app.map {
    GitHubClient(
        credentials: $0, apiBase: configuration.github.apiBase, http: HTTPClient(settings: configuration.http),
        logger: logger,
        observer: githubObserver)
}

// MARK: - Commands

if command == "check-config" {
    let check = ConfigCheck(configuration: configuration)
    var results = [check.variables(in: environment)]
    results.append(check.secret(allowDevMode: allowDevMode))
    results.append(check.broker())
    results.append(check.spool())
    if let github {
        results.append(check.githubApp(github))
    } else {
        results.append(
            CheckResult(
                name: "github app", ok: true,
                detail: "not configured (GITHUB_APP_ID, GITHUB_APP_KEY_PATH): no workflows, no Check Runs"))
    }
    if let path = webConfigPath {
        if let text = (try? FileDescriptor(path: path, flags: O_RDONLY))?.readAll() {
            results.append(check.webServerLimit(configText: String(decoding: text, as: UTF8.self), path: path))
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
    // Serving: connect now, so the jobs' queue exists before the first webhook (not for one CGI request).
    publisher = try JobPublisher(
        settings: configuration.amqp, logger: logger,
        connectAtStart: command == "serve" && (configuration.listen != nil || !FastCGIListener.isCGI))
} catch {
    tool.fail("invalid configuration: AMQP_URL: \(error.message)")
}
for warning in configuration.github.warnings { logger.log(.warning, warning) }
let spool: SpoolDirectory
do {
    spool = try SpoolDirectory(path: configuration.spoolDir)
} catch {
    tool.fail("invalid configuration: SPOOL_DIR: \(error.message)")
}
let outbox = JobOutbox(spool: spool)
let runIndex = RunIndex(spool: spool)
/// The stuck-run reconciler (SPEC §7), with the App's credentials.
func makeReconciler(_ checkRuns: CheckRuns) -> Reconciler {
    Reconciler(
        index: runIndex, checkRuns: checkRuns, duties: HostDuties(spool: spool), jobTimeout: configuration.jobTimeout,
        interval: configuration.reconcileInterval, logger: logger, counters: counters)
}
let drainer = OutboxDrainer(
    outbox: outbox, records: DeliveryRecords(spool: spool), publisher: publisher, logger: logger)
let checksOutbox: SpoolQueue
let deferredExpansions: SpoolQueue
let pacer: WritePacer
do {
    checksOutbox = try SpoolQueue(spool: spool, name: "checks")
    deferredExpansions = try SpoolQueue(spool: spool, name: "deferred")
    pacer = try WritePacer(spool: spool, perMinute: configuration.githubWritesPerMinute)
} catch {
    tool.fail("invalid configuration: SPOOL_DIR: \(error.message)")
}
if command == "repair-deliveries" {
    // One gap-repair pass (SPEC §7, §9), under the host's duty lock so it never runs beside the periodic pass.
    guard let github else {
        tool.fail("repair-deliveries needs the GitHub App (GITHUB_APP_ID, GITHUB_APP_KEY_PATH)", code: 1)
    }
    let repair = GapRepair(client: github, spool: spool, interval: 0, logger: logger, counters: counters)
    do {
        let outcome = try repair.passNow(since: repairSince.map { WallClock.now() - $0 })
        for request in outcome.requested { print(request.line) }
        for failure in outcome.failures {
            try? Posix.writeAll(2, Array("redelivery not requested: \(failure.request.guid): \(failure.error)\n".utf8))
        }
        exit(outcome.failures.isEmpty ? 0 : 1)
    } catch {
        tool.fail(error.description, code: 1)
    }
}

var expander: any JobExpanding = SingleJobExpander()
var app: AppAccess?
if let github {
    expander = WorkflowExpander(client: github, logger: logger, limits: configuration.workflowLimits)
    app = AppAccess(
        client: github, checkName: configuration.github.checkName, logsBaseURL: configuration.github.logsBaseURL,
        runIndex: runIndex, logger: logger)
} else {
    logger.log(.info, "no GitHub App configured: one job per commit, no workflow expansion, no Check Runs")
}
// One CGI request has no publisher thread holding a connection: its status tries the broker now.
let amqpSettings = configuration.amqp
let servesOneCGIRequest = FastCGIListener.isCGI && configuration.listen == nil
let brokerConnected: @Sendable () -> Bool = { [publisher] in
    guard servesOneCGIRequest else { return publisher.isConnected }
    do { try JobPublisher.declareTopology(amqpSettings, timeout: 2) } catch { return false }
    return true
}
var operations: OperationsEndpoints?
if let counters {
    let sources = OperationsEndpoints.Sources(
        version: String(tool.version.split(separator: " ").last ?? ""), brokerConnected: brokerConnected,
        brokerNode: { [publisher] in
            let node = publisher.nodeInFavour  // once: a failover between two reads would mix two nodes
            return (node.host, node.node)
        },
        githubConfigured: github != nil)
    operations = OperationsEndpoints(
        configuration: configuration, spool: spool, counters: counters, deferred: deferredExpansions,
        checks: checksOutbox, sources: sources)
}
let responder = WebhookResponder(
    configuration: configuration, dispatcher: JobDispatcher(publisher: publisher, outbox: outbox, logger: logger),
    expander: expander, app: app, spool: spool, checksOutbox: checksOutbox, deferred: deferredExpansions,
    operations: operations, logger: logger)
// The GitHub side's background work (SPEC §7): the Checks outbox and the deferred expansions; both need the App.
let checksWorker = app.map { app in
    let sender = ChecksSender(writer: app.writer, pacer: pacer, logger: logger)
    return SpoolQueueWorker(queue: checksOutbox, name: "checks outbox", logger: logger) { sender.handle($0) }
}
let deferredWorker = app.map { _ in
    SpoolQueueWorker(queue: deferredExpansions, name: "deferred expansions", logger: logger) {
        responder.retryDeferred($0)
    }
}
if command == "drain-spool" {
    let (published, remaining) = drainer.drainOnce()
    drainer.sweep(every: 0)
    let deferred = deferredWorker?.runOnce().remaining ?? deferredExpansions.files().count
    let checks = checksWorker?.runOnce().remaining ?? checksOutbox.files().count
    if let app, let pass = makeReconciler(app.checkRuns).passIfDue(every: 0) {
        print("drain-spool: \(pass.timedOut) check run(s) timed out, \(pass.kept) left for the next pass")
    }
    print(
        "drain-spool: \(published) file(s) published, \(remaining) left in \(configuration.spoolDir)/outbox; "
            + "\(deferred) deferred expansion(s) and \(checks) Check Run write(s) left")
    exit(remaining == 0 && deferred == 0 && checks == 0 ? 0 : 1)
}

do { try configuration.requireSecret() } catch { tool.fail(error.description) }
let listener: FastCGIListener
do {
    if let address = configuration.listen {
        listener = try FastCGIListener.open(address)
    } else if FastCGIListener.isCGI {
        CGIAdapter.serveOne(responder, environment: environment)
        // One process per request and no background threads: after the answer, one bounded pass over what is due
        // (the Check Runs just written among it); records still expire (SPEC §7), at most hourly.
        deferredWorker?.runOnce(until: MonotonicClock.now() + 10)
        checksWorker?.runOnce(until: MonotonicClock.now() + 10)
        drainer.sweep(every: 3600)
        exit(0)
    } else {
        listener = try FastCGIListener.inherited()
    }
} catch {
    tool.fail(error.description, code: 1)
}

Shutdown.install { logger.log(.info, $0) }
drainer.start()
checksWorker?.start(threads: 4)
deferredWorker?.start(every: 1)
if let github {
    GapRepair(
        client: github, spool: spool, interval: configuration.gapRepairInterval, logger: logger, counters: counters
    ).start()
}
if let app { makeReconciler(app.checkRuns).start() }
let watchdog = StallWatchdog(timeout: Double(configuration.clientTimeout), logger: logger)
watchdog.start()
logger.log(
    .info, "serving FastCGI",
    ["listen": .string(configuration.listen ?? "fd 0"), "workers": .int(configuration.workers)])
for _ in 1..<configuration.workers {
    Threads.start { FastCGIWorker(listener: listener, watchdog: watchdog).run(responder, logger: logger) }
}
FastCGIWorker(listener: listener, watchdog: watchdog).run(responder, logger: logger)
