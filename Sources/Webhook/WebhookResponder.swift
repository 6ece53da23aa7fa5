import Base
import Delivery
import Events
import GitHub
import Jobs

/// How the pipeline ends for one request: each stage either hands a value to the next or ends it with one of these.
enum Verdict: Error {
    /// A check of SPEC §3 failed.
    case rejected(Rejection)
    /// `ping`: 200 with GitHub's zen.
    case ping(zen: String?)
    /// Nothing to build (event, allowlist, re-run of no job): 204 with the reason.
    case ignored(String)
    /// The same delivery was already accepted: 200 with that answer plus `"duplicate": true`.
    case duplicate(recorded: [UInt8])
    /// Jobs published or spooled: 202, with the Check Runs to write after the answer.
    case accepted(WebhookResponse, jobs: Int)
}

/// Answers one webhook request (SPEC §3) and logs one line for it. `respond` is the request as data: one named call
/// per stage, each returning a value (ARCHITECTURE.md "The request, as data"):
///
///     gate (head, body, signature, content type) → EventMapper → Routing → delivery ids
///       → DeliveryRecords (duplicate?) → expand → select jobs → JobPlanner → JobDispatcher → record → answer
///
/// Transport-neutral and shared by all workers of a process: it holds only immutable configuration and
/// collaborators that serialize their own state (the publisher, the spool's lock stripes).
public final class WebhookResponder: Sendable {
    private let gate: WebhookGate
    private let routing: Routing
    private let planner: JobPlanner
    private let expander: any JobExpanding
    private let dispatcher: JobDispatcher
    private let deliveries: (records: DeliveryRecords, stripes: LockStripes)?
    private let checkRuns: QueuedRunsReporter?
    private let logger: Logger
    private let clock: @Sendable () -> Int
    private let devMode: Bool

    /// A responder for `configuration`. `expander` reads workflows (one job per commit without it), `dispatcher`
    /// publishes and spools, `spool` (nil: no duplicate detection) holds the delivery records, `checkRuns` writes
    /// the queued runs after each answer; `clock` gives seconds since 1970.
    public init(
        configuration: WebhookConfiguration, dispatcher: JobDispatcher,
        expander: any JobExpanding = SingleJobExpander(), checkRuns: QueuedRunsReporter? = nil,
        spool: SpoolDirectory? = nil, logger: Logger, clock: @escaping @Sendable () -> Int = WallClock.now
    ) {
        gate = WebhookGate(configuration: configuration)
        routing = Routing(repoAllowlist: configuration.repoAllowlist, branchAllowlist: configuration.branchAllowlist)
        planner = JobPlanner(runsOnDefault: configuration.runsOnDefault, runsOnMap: configuration.runsOnMap)
        self.expander = expander
        self.dispatcher = dispatcher
        deliveries = spool.map { (DeliveryRecords(spool: $0), LockStripes(spool: $0)) }
        self.checkRuns = checkRuns
        self.logger = logger
        self.clock = clock
        devMode = configuration.isDevMode
        if devMode {
            logger.log(.error, "no webhook secret configured: dev mode, every request is accepted unsigned")
        }
    }

    /// Answers `request`. `readBody(limit)` returns the raw body, reading at most `limit + 1` bytes, or nil when
    /// the client went away; it is called only after the head passed its checks.
    public func respond(to request: WebhookRequest, readBody: (Int) -> [UInt8]?) -> WebhookResponse {
        let started = MonotonicClock.now()
        var githubMilliseconds = 0.0
        let verdict: Verdict
        do {
            verdict = try pipeline(
                request, readBody: readBody, started: started, githubMilliseconds: &githubMilliseconds)
        } catch {
            verdict = error
        }
        let (response, jobs) = Self.response(for: verdict, delivery: request.delivery)
        if devMode {
            logger.log(
                .warning, "dev mode: request accepted without a signature check",
                ["delivery": .string(request.delivery ?? "-")])
        }
        logger.log(
            response.status >= 500 ? .error : .info, "webhook",
            [
                "delivery": .string(request.delivery ?? "-"), "event": .string(request.event ?? "-"),
                "status": .int(response.status), "jobs": .int(jobs),
                "ms": .double((MonotonicClock.now() - started) * 1000), "github_ms": .double(githubMilliseconds),
            ])
        return response
    }

    /// The work promised by `response` that waits for the answer to be out: its Check Runs.
    public func afterAnswer(_ response: WebhookResponse) {
        if let pending = response.checkRuns { checkRuns?.report(pending) }
    }

    // MARK: - The pipeline

    private func pipeline(
        _ request: WebhookRequest, readBody: (Int) -> [UInt8]?, started: Double, githubMilliseconds: inout Double
    ) throws(Verdict) -> Verdict {
        let delivery = try gate.check(request, readBody: readBody)
        let trigger = try route(try map(delivery))
        let ids = try deliveryIDs(delivery)
        guard let (records, stripes) = deliveries else {
            return try accept(trigger, delivery, ids, started: started, githubMilliseconds: &githubMilliseconds)
        }
        // Copies of one delivery (GitHub's redelivery, or several arriving at once) are answered one at a time:
        // the first publishes and records its answer, the others repeat it (SPEC §7).
        return try stripes.withLock(ids.groupID) { () throws(Verdict) -> Verdict in
            if let recorded = records.answer(groupID: ids.groupID) { return .duplicate(recorded: recorded) }
            let verdict = try accept(trigger, delivery, ids, started: started, githubMilliseconds: &githubMilliseconds)
            if case .accepted(let response, _) = verdict { record(response, ids: ids, records: records) }
            return verdict
        }
    }

    /// EventMapper: what the event asks for; ping and ignored events end here.
    private func map(_ delivery: ValidatedDelivery) throws(Verdict) -> BuildTrigger {
        let outcome: EventOutcome
        do { outcome = try EventMapper.map(event: delivery.event, payload: delivery.payload) } catch {
            throw .rejected(Rejection(status: 400, message: error.message))
        }
        switch outcome {
        case .ping(let zen): throw .ping(zen: zen)
        case .ignored(let reason): throw .ignored(reason)
        case .build(let trigger): return trigger
        }
    }

    /// Routing: the allowlists.
    private func route(_ trigger: BuildTrigger) throws(Verdict) -> BuildTrigger {
        if let reason = routing.ignoredReason(trigger) { throw .ignored(reason) }
        return trigger
    }

    /// The deterministic ids of SPEC §7, derived from `X-GitHub-Delivery`.
    private func deliveryIDs(_ delivery: ValidatedDelivery) throws(Verdict) -> DeliveryIDs {
        guard let deliveryID = delivery.delivery else {
            throw .rejected(
                Rejection(status: 400, message: "missing X-GitHub-Delivery header: job ids are derived from it"))
        }
        return DeliveryIDs(delivery: deliveryID, installationTarget: delivery.installationTarget)
    }

    /// Expand, select, plan, dispatch: the answer of SPEC §3's last rows.
    private func accept(
        _ trigger: BuildTrigger, _ delivery: ValidatedDelivery, _ ids: DeliveryIDs, started: Double,
        githubMilliseconds: inout Double
    ) throws(Verdict) -> Verdict {
        // GitHub waits 10 s for the answer; leave time to publish after asking GitHub for the workflow.
        let expandStarted = MonotonicClock.now()
        let expansion = expander.expand(trigger, deadline: started + 6)
        githubMilliseconds = (MonotonicClock.now() - expandStarted) * 1000
        let jobs = try select(expansion.jobs, for: trigger)
        let now = clock()
        let requests = planner.requests(for: trigger, jobs: jobs, ids: ids, submittedAt: now)
        let deliveryID = ids.delivery
        let spooled: Bool
        switch dispatcher.dispatch(
            requests, groupID: ids.groupID, deliveryID: deliveryID, event: delivery.event, now: now)
        {
        case .published: spooled = false
        case .spooled: spooled = true
        case .failed(let reason): throw .rejected(Rejection(status: 503, message: reason))
        }
        var response = Self.json(
            202,
            [
                ("delivery", .string(deliveryID)), ("event", .string(delivery.event)),
                ("group_id", .string(ids.groupID)),
                ("jobs", .array(requests.map(Self.jobSummary))), ("spooled", .bool(spooled)),
            ])
        if checkRuns != nil && expansion.appInstalled {
            response.checkRuns = PendingCheckRuns(
                deliveryID: deliveryID,
                target: CheckRunTarget(owner: trigger.owner, repo: trigger.name, sha: trigger.commitSHA),
                runs: requests.map { QueuedRun(externalID: $0.requestID, jobID: $0.workflowJobID) },
                workflowJobs: expansion.jobs.count,
                workflowFailure: expansion.workflowError.map {
                    ($0.checkRunFailure(path: WorkflowExpander.path), ids.requestID(jobID: "workflow"))
                },
                acceptedAt: now)
        }
        return .accepted(response, jobs: requests.count)
    }

    /// The jobs to queue: all of them, or for a re-run of one check run only the job that run stands for.
    private func select(_ jobs: [PlannedJob], for trigger: BuildTrigger) throws(Verdict) -> [PlannedJob] {
        guard let runName = trigger.rerunCheckRunName else { return jobs }
        var selected = jobs
        // Bare NAME is the single job; "NAME / workflow" stood for the whole (then broken) workflow.
        if let wanted = checkRuns?.jobID(fromRunName: runName), wanted != "workflow" {
            selected = jobs.filter { $0.workflowJobID == wanted }
        }
        if selected.isEmpty {
            throw .ignored("check run \(runName) matches no job of the workflow at \(trigger.commitSHA)")
        }
        return selected
    }

    /// DeliveryRecords: the answer, so copies and redeliveries repeat it instead of publishing again.
    private func record(_ response: WebhookResponse, ids: DeliveryIDs, records: DeliveryRecords) {
        do { try records.record(groupID: ids.groupID, body: response.body) } catch {
            // The jobs are queued; only a redelivery could now publish them again.
            logger.log(
                .error, "delivery record not written",
                ["delivery": .string(ids.delivery), "error": .string(error.message)])
        }
    }

    // MARK: - Answers

    private static func response(for verdict: Verdict, delivery: String?) -> (WebhookResponse, jobs: Int) {
        switch verdict {
        case .rejected(let rejection):
            var response = json(
                rejection.status, [("error", .string(rejection.message)), ("delivery", .optional(delivery))])
            response.headers += rejection.headers
            return (response, 0)
        case .ping(let zen):
            return (json(200, [("ok", .bool(true)), ("event", "ping"), ("zen", .optional(zen))]), 0)
        case .ignored(let reason):
            return (
                WebhookResponse(status: 204, headers: [.init(name: "X-Solstice-Ignored", value: reason)], body: []), 0
            )
        case .duplicate(let recorded):
            // Records hold only whole objects: the first answer plus `"duplicate": true`.
            return (
                WebhookResponse(
                    status: 200, headers: [], body: recorded.dropLast() + Array(", \"duplicate\": true}".utf8)),
                0
            )
        case .accepted(let response, let jobs):
            return (response, jobs)
        }
    }

    private static func jobSummary(_ job: JobRequest) -> JSONField {
        .object([
            ("request_id", .string(job.requestID)), ("workflow_job_id", .optional(job.workflowJobID)),
            ("runs_on", .optional(job.runsOn)),
        ])
    }

    private static func json(_ status: Int, _ fields: [(String, JSONField)]) -> WebhookResponse {
        WebhookResponse(status: status, headers: [], body: JSONField.object(fields).bytes)
    }
}
