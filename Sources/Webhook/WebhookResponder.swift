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
    /// Nothing to build (event, allowlist, skip marker, draft, re-run of no job, a command from someone without
    /// permission): 204 with the reason, and for a skip marker the neutral run to write.
    case ignored(String, checkRuns: PendingCheckRuns? = nil)
    /// The same delivery was already accepted: 200 with that answer plus `"duplicate": true`.
    case duplicate(recorded: [UInt8])
    /// Jobs published or spooled: 202, with the Check Runs to write after the answer.
    case accepted(WebhookResponse, jobs: Int)
    /// GitHub could not say what to build (the workflow, whether the author may push): the delivery is written to
    /// the deferred expansions and answered 202 `"deferred": true` (SPEC §7).
    case deferred(reason: String, retryAfter: Double?)
}

/// Answers one webhook request (SPEC §3) and logs one line for it. `respond` is the request as data: one named call
/// per stage, each returning a value (ARCHITECTURE.md "The request, as data"):
///
///     gate (head, body, signature, content type) → EventMapper → [ChatOps, approval click: resolve]
///       → Routing → delivery ids → DeliveryRecords (duplicate?) → [pull request: screen, trust]
///       → expand → select jobs → JobPlanner → JobDispatcher → record → answer
///
/// Transport-neutral and shared by all workers of a process: it holds only immutable configuration and
/// collaborators that serialize their own state (the publisher, the spool's lock stripes).
public final class WebhookResponder: Sendable {
    private let gate: WebhookGate
    private let routing: Routing
    private let planner: JobPlanner
    private let expander: any JobExpanding
    private let dispatcher: JobDispatcher
    let deliveries: (records: DeliveryRecords, stripes: LockStripes)?
    /// The Checks outbox: Check Run writes go there before the answer, and a background thread sends them.
    let checksOutbox: SpoolQueue?
    /// Deliveries whose workflow (or author's permission) GitHub could not give yet.
    let deferredExpansions: SpoolQueue?
    let expansionGiveUp: Int
    /// What the App lets us ask and write on GitHub; nil without App credentials.
    let app: AppAccess?
    let trust: TrustPolicy
    let buildDrafts: Bool
    let logger: Logger
    let clock: @Sendable () -> Int
    private let devMode: Bool
    /// `STATUS_PATH`, `METRICS_PATH` and the host's counters (SPEC §11); nil: neither answered nor counted.
    let operations: OperationsEndpoints?
    private let webhookPath: String

    /// A responder for `configuration`. `expander` reads workflows (one job per commit without it), `dispatcher`
    /// publishes and spools, `spool` (nil: no duplicate detection) holds the delivery records, `app` asks GitHub
    /// what the trust policy and ChatOps need, `checksOutbox` takes the Check Run writes before each answer
    /// (nil: they are written after the answer, by `afterAnswer`), `deferred` the deliveries GitHub could not
    /// expand yet (nil: those are answered 503); `clock` gives seconds since 1970.
    public init(
        configuration: WebhookConfiguration, dispatcher: JobDispatcher,
        expander: any JobExpanding = SingleJobExpander(), app: AppAccess? = nil,
        spool: SpoolDirectory? = nil, checksOutbox: SpoolQueue? = nil, deferred: SpoolQueue? = nil,
        operations: OperationsEndpoints? = nil, logger: Logger, clock: @escaping @Sendable () -> Int = WallClock.now
    ) {
        self.operations = operations
        webhookPath = configuration.webhookPath
        gate = WebhookGate(configuration: configuration)
        routing = Routing(repoAllowlist: configuration.repoAllowlist, branchAllowlist: configuration.branchAllowlist)
        planner = JobPlanner(runsOnDefault: configuration.runsOnDefault, runsOnMap: configuration.runsOnMap)
        self.expander = expander
        self.dispatcher = dispatcher
        deliveries = spool.map { (DeliveryRecords(spool: $0), LockStripes(spool: $0)) }
        self.checksOutbox = checksOutbox
        deferredExpansions = deferred
        expansionGiveUp = configuration.expansionGiveUp
        self.app = app
        trust = configuration.trust
        buildDrafts = configuration.buildDrafts
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
        // SPEC §3's first row: the operations endpoints answer before the gate's path check.
        if let answer = operations?.answer(request) { return answer }
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
        if let counters = operations?.counters {
            count(verdict, request: request, status: response.status, seconds: MonotonicClock.now() - started, counters)
        }
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

    /// Counts a request to `WEBHOOK_PATH` (SPEC §11: only those) and whether it was a duplicate; jobs are counted
    /// where they are dispatched (`accept`), so deferred expansions count too.
    private func count(
        _ verdict: Verdict, request: WebhookRequest, status: Int, seconds: Double, _ counters: SharedCounters
    ) {
        guard request.path == webhookPath else { return }
        counters.countWebhook(event: request.event, status: status, seconds: seconds)
        if case .duplicate = verdict { counters.countDuplicate() }
    }

    /// The work promised by `response` that waits for the answer to be out: its Check Runs, when there is no
    /// Checks outbox to send them (a responder without `SPOOL_DIR`, in tests).
    public func afterAnswer(_ response: WebhookResponse) {
        if let pending = response.checkRuns { _ = app?.writer.write(pending) }
    }

    // MARK: - The pipeline

    private func pipeline(
        _ request: WebhookRequest, readBody: (Int) -> [UInt8]?, started: Double, githubMilliseconds: inout Double
    ) throws(Verdict) -> Verdict {
        let delivery = try gate.check(request, readBody: readBody)
        // GitHub waits 10 s for the answer; leave time to publish after asking GitHub.
        let deadline = started + 6
        // Time spent asking GitHub before publishing (trust, ChatOps, the workflow), for the log line.
        let githubStarted = MonotonicClock.now()
        var asked: Double?
        defer { githubMilliseconds = (asked ?? MonotonicClock.now() - githubStarted) * 1000 }
        switch try map(delivery) {
        case .build(let trigger):
            let trigger = try route(trigger)
            let ids = try deliveryIDs(delivery)
            return try once(ids, lockKey: ids.groupID) { () throws(Verdict) -> Verdict in
                do throws(Verdict) {
                    return try build(trigger, ids, deadline: deadline) { asked = MonotonicClock.now() - githubStarted }
                } catch {
                    guard case .deferred(let reason, let retryAfter) = error else { throw error }
                    return try deferExpansion(trigger, ids, reason: reason, retryAfter: retryAfter)
                }
            }
        case .comment(let comment):
            let resolved = try answerableNow { () throws(Verdict) in try resolve(comment, deadline: deadline) }
            return try acceptApproval(resolved, delivery, deadline: deadline) {
                asked = MonotonicClock.now() - githubStarted
            }
        case .approvalClick(let click):
            let resolved = try answerableNow { () throws(Verdict) in try resolve(click, deadline: deadline) }
            return try acceptApproval(resolved, delivery, deadline: deadline) {
                asked = MonotonicClock.now() - githubStarted
            }
        }
    }

    /// Screen, expand, select, plan, dispatch: what a build trigger becomes, now or when a deferred expansion is
    /// tried again.
    func build(_ trigger: BuildTrigger, _ ids: DeliveryIDs, deadline: Double, askedGitHub: () -> Void = {})
        throws(Verdict) -> Verdict
    {
        var trigger = trigger
        let extra = try screen(&trigger, ids: ids, deadline: deadline)
        return try accept(trigger, ids, extraWrites: extra, deadline: deadline, askedGitHub: askedGitHub)
    }

    /// Comments and clicks are not deferred (their answers depend on the moment): what GitHub cannot answer now
    /// is a 503, which GitHub's redelivery or gap repair brings back.
    private func answerableNow<T>(_ body: () throws(Verdict) -> T) throws(Verdict) -> T {
        do { return try body() } catch {
            guard case .deferred(let reason, _) = error else { throw error }
            throw .rejected(Rejection(status: 503, message: "\(reason); redeliver later"))
        }
    }

    /// A ChatOps command or an approval click, resolved into a trigger: built once per delivery, and an approval
    /// once per commit (approving twice repeats the first answer).
    private func acceptApproval(
        _ resolved: ResolvedCommand, _ delivery: ValidatedDelivery, deadline: Double, askedGitHub: () -> Void
    ) throws(Verdict) -> Verdict {
        let trigger = try route(resolved.trigger)
        let ids = try deliveryIDs(delivery)
        return try once(ids, lockKey: resolved.approvalKey ?? ids.groupID, alsoRecordAs: resolved.approvalKey) {
            () throws(Verdict) -> Verdict in
            try accept(trigger, ids, extraWrites: resolved.writes, deadline: deadline, askedGitHub: askedGitHub)
        }
    }

    /// Runs `body` once per delivery (and per `alsoRecordAs`, an approval's key): copies of one delivery
    /// (GitHub's redelivery, or several arriving at once) are answered one at a time under `lockKey`'s stripe;
    /// the first publishes and records its answer, the others repeat it (SPEC §7).
    private func once(
        _ ids: DeliveryIDs, lockKey: String, alsoRecordAs extraKey: String? = nil,
        _ body: () throws(Verdict) -> Verdict
    ) throws(Verdict) -> Verdict {
        guard let (records, stripes) = deliveries else { return try body() }
        return try stripes.withLock(lockKey) { () throws(Verdict) -> Verdict in
            for key in [ids.groupID] + (extraKey.map { [$0] } ?? []) {
                if let recorded = records.answer(groupID: key) { return .duplicate(recorded: recorded) }
            }
            // A stage may end the request with an answer to record (a pull request waiting for approval).
            var verdict: Verdict
            do throws(Verdict) { verdict = try body() } catch { verdict = error }
            verdict = persistCheckRuns(verdict)
            if case .accepted(let response, _) = verdict {
                record(response, key: ids.groupID, delivery: ids.delivery, records: records)
                if let extraKey { record(response, key: extraKey, delivery: ids.delivery, records: records) }
            }
            return verdict
        }
    }

    /// What a delivery asks for, once ping and ignored events have been answered.
    private enum Ask {
        case build(BuildTrigger)
        case comment(PullRequestComment)
        case approvalClick(ApprovalClick)
    }

    /// EventMapper: what the event asks for; ping and ignored events end here.
    private func map(_ delivery: ValidatedDelivery) throws(Verdict) -> Ask {
        let outcome: EventOutcome
        do { outcome = try EventMapper.map(event: delivery.event, payload: delivery.payload) } catch {
            throw .rejected(Rejection(status: 400, message: error.message))
        }
        switch outcome {
        case .ping(let zen): throw .ping(zen: zen)
        case .ignored(let reason): throw .ignored(reason)
        case .build(let trigger): return .build(trigger)
        case .comment(let comment): return .comment(comment)
        case .approvalClick(let click): return .approvalClick(click)
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

    /// Expand, select, plan, dispatch: the answer of SPEC §3's last rows. `extraWrites` (an approval run marked
    /// approved) are written with the queued runs.
    private func accept(
        _ trigger: BuildTrigger, _ ids: DeliveryIDs, extraWrites: [CheckRunWrite], deadline: Double,
        askedGitHub: () -> Void
    ) throws(Verdict) -> Verdict {
        let expansion = expander.expand(trigger, deadline: deadline)
        if let failure = expansion.readFailure {
            throw .deferred(
                reason: "the workflow could not be read: \(failure.message)", retryAfter: failure.retryAfter)
        }
        let jobs = try select(expansion.jobs, for: trigger, deadline: deadline)
        askedGitHub()
        let now = clock()
        let requests = planner.requests(for: trigger, jobs: jobs, ids: ids, submittedAt: now)
        let deliveryID = ids.delivery
        let spooled: Bool
        switch dispatcher.dispatch(
            requests, groupID: ids.groupID, deliveryID: deliveryID, event: trigger.event, now: now)
        {
        case .published: spooled = false
        case .spooled: spooled = true
        case .failed(let reason): throw .rejected(Rejection(status: 503, message: reason))
        }
        operations?.counters.countJobs(requests.count, spooled: spooled)
        var fields: [(String, JSONField)] = [
            ("delivery", .string(deliveryID)), ("event", .string(trigger.event)), ("group_id", .string(ids.groupID)),
            ("jobs", .array(requests.map(Self.jobSummary))), ("spooled", .bool(spooled)),
        ]
        if let approver = trigger.approvedBy { fields.append(("approved_by", .string(approver))) }
        var response = Self.json(202, fields)
        if app != nil && expansion.appInstalled {
            var writes: [CheckRunWrite] = [
                .queued(
                    requests.map { QueuedRun(externalID: $0.requestID, jobID: $0.workflowJobID) },
                    workflowJobs: expansion.jobs.count)
            ]
            if let error = expansion.workflowError {
                writes.append(
                    .workflowError(
                        error.checkRunFailure(path: WorkflowExpander.path), externalID: ids.requestID(jobID: "workflow")
                    ))
            }
            response.checkRuns = pending(trigger, ids, writes + extraWrites, now: now)
        }
        return .accepted(response, jobs: requests.count)
    }

    /// The Check Run writes `writes` on the trigger's commit, for the delivery `ids`.
    func pending(_ trigger: BuildTrigger, _ ids: DeliveryIDs, _ writes: [CheckRunWrite], now: Int) -> PendingCheckRuns {
        PendingCheckRuns(
            deliveryID: ids.delivery, installationID: trigger.installationID,
            target: CheckRunTarget(owner: trigger.owner, repo: trigger.name, sha: trigger.commitSHA), writes: writes,
            acceptedAt: now)
    }

    /// The jobs to queue: all of them; for a re-run of one check run only the job that run stands for; for ChatOps
    /// the jobs named and, for `/retest`, those whose latest run on the commit failed.
    private func select(_ jobs: [PlannedJob], for trigger: BuildTrigger, deadline: Double) throws(Verdict)
        -> [PlannedJob]
    {
        let selected: [PlannedJob]
        switch trigger.selection {
        case .all:
            return jobs
        case .checkRun(let runName):
            // Bare NAME is the single job; "NAME / workflow" stood for the whole (then broken) workflow.
            if let wanted = app?.checkRuns.jobID(fromRunName: runName), wanted != "workflow" {
                selected = jobs.filter { $0.workflowJobID == wanted }
            } else {
                selected = jobs
            }
            if selected.isEmpty {
                throw .ignored("check run \(runName) matches no job of the workflow at \(trigger.commitSHA)")
            }
        case .commands(let named, let failed):
            var wanted = Set(named)
            var bareRunFailed = false
            if failed, let app {
                for name in try failedRunNames(trigger, app: app, deadline: deadline) {
                    if let job = app.checkRuns.jobID(fromRunName: name) {
                        wanted.insert(job)
                    } else {
                        bareRunFailed = true
                    }
                }
            }
            // A bare NAME run stands for the only job there is.
            selected = jobs.filter { job in
                job.workflowJobID.map(wanted.contains) == true || (bareRunFailed && jobs.count == 1)
            }
            if selected.isEmpty {
                let asked = (named + (failed ? ["failed jobs"] : [])).joined(separator: ", ")
                throw .ignored("nothing to run at \(trigger.commitSHA): no job matches \(asked)")
            }
        }
        return selected
    }

    /// `/retest`: the names of this App's job runs on the commit whose latest run concluded `failure`,
    /// `timed_out`, `cancelled` or `stale` (SPEC §10); queued and running ones are left alone.
    private func failedRunNames(_ trigger: BuildTrigger, app: AppAccess, deadline: Double) throws(Verdict) -> [String] {
        let target = CheckRunTarget(owner: trigger.owner, repo: trigger.name, sha: trigger.commitSHA)
        let runs: [CheckRuns.Run]
        do { runs = try app.checkRuns.runs(target, deadline: deadline) } catch {
            throw .rejected(Rejection(status: 503, message: "cannot read the check runs for /retest: \(error.message)"))
        }
        var latest: [String: CheckRuns.Run] = [:]
        for run in runs where CheckRuns.pullRequest(fromApprovalExternalID: run.externalID) == nil {
            if latest[run.name] == nil { latest[run.name] = run }  // newest first
        }
        let failing: Set<String> = ["failure", "timed_out", "cancelled", "stale"]
        return latest.values.filter { failing.contains($0.conclusion ?? "") }.map(\.name).sorted()
    }

    /// DeliveryRecords: the answer, so copies and redeliveries repeat it instead of publishing again.
    private func record(_ response: WebhookResponse, key: String, delivery: String, records: DeliveryRecords) {
        do { try records.record(groupID: key, body: response.body) } catch {
            // The jobs are queued; only a redelivery could now publish them again.
            logger.log(
                .error, "delivery record not written", ["delivery": .string(delivery), "error": .string(error.message)])
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
        case .ignored(let reason, let checkRuns):
            var response = WebhookResponse(
                status: 204, headers: [.init(name: "X-Solstice-Ignored", value: reason)], body: [])
            response.checkRuns = checkRuns
            return (response, 0)
        case .duplicate(let recorded):
            // Records hold only whole objects: the first answer plus `"duplicate": true`.
            return (
                WebhookResponse(
                    status: 200, headers: [], body: recorded.dropLast() + Array(", \"duplicate\": true}".utf8)),
                0
            )
        case .accepted(let response, let jobs):
            return (response, jobs)
        case .deferred(let reason, _):
            // Only a responder without a deferred queue gets here: GitHub's redelivery is the retry.
            return (
                json(503, [("error", .string("\(reason); redeliver later")), ("delivery", .optional(delivery))]), 0
            )
        }
    }

    private static func jobSummary(_ job: JobRequest) -> JSONField {
        .object([
            ("request_id", .string(job.requestID)), ("workflow_job_id", .optional(job.workflowJobID)),
            ("runs_on", .optional(job.runsOn)),
        ])
    }

    static func json(_ status: Int, _ fields: [(String, JSONField)]) -> WebhookResponse {
        WebhookResponse(status: status, headers: [], body: JSONField.object(fields).bytes)
    }
}
