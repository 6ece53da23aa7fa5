#if canImport(Glibc)
    import Glibc
#endif

/// Answers one webhook request: gate → map → plan → publish → respond (SPEC §3), and logs one line for it.
///
/// Transport-neutral and shared by all workers of a process: it holds only immutable configuration and the
/// publisher, which serializes its own state.
public final class WebhookResponder: Sendable {
    private let gate: WebhookGate
    private let planner: JobPlanner
    private let publisher: any MessagePublishing
    private let expander: any JobExpanding
    private let reporter: CheckRunReporter?
    private let spool: Spool?
    private let logger: Logger
    private let repoAllowlist: [String]?
    private let branchAllowlist: [String]?
    private let routingSchema = JobRequest.schema
    private let clock: @Sendable () -> Int

    /// A responder for `configuration` publishing through `publisher`; `expander` reads workflows (one job per
    /// commit without it), `reporter` creates Check Runs once the jobs are queued; `clock` gives seconds since 1970.
    public init(
        configuration: Configuration, publisher: any MessagePublishing,
        expander: any JobExpanding = SingleJobExpander(),
        reporter: CheckRunReporter? = nil, spool: Spool? = nil, logger: Logger,
        clock: @escaping @Sendable () -> Int = { Int(time(nil)) }
    ) {
        self.expander = expander
        self.reporter = reporter
        self.spool = spool
        gate = WebhookGate(configuration: configuration)
        planner = JobPlanner(runsOnDefault: configuration.runsOnDefault, runsOnMap: configuration.runsOnMap)
        self.publisher = publisher
        self.logger = logger
        repoAllowlist = configuration.repoAllowlist
        branchAllowlist = configuration.branchAllowlist
        self.clock = clock
        if configuration.isDevMode {
            logger.log(.warning, "no webhook secret configured: dev mode, every request is accepted unsigned")
        }
    }

    /// Answers `request`. `readBody(limit)` returns the raw body, reading at most `limit + 1` bytes, or nil when
    /// the client went away; it is called only after the head passed its checks.
    public func respond(to request: WebhookRequest, readBody: (Int) -> [UInt8]?) -> WebhookResponse {
        let started = Clock.now()
        var jobs = 0
        var githubMilliseconds = 0.0
        let response: WebhookResponse
        do {
            let (r, n) = try answer(
                request, started: started, githubMilliseconds: &githubMilliseconds, readBody: readBody)
            response = r
            jobs = n
        } catch {
            response = Self.json(
                error.status, ["error": .string(error.message), "delivery": .optional(request.delivery)]
            )
            .with(headers: error.headers)
        }
        let ms = (Clock.now() - started) * 1000
        logger.log(
            response.status >= 500 ? .error : .info, "webhook",
            [
                "delivery": .string(request.delivery ?? "-"), "event": .string(request.event ?? "-"),
                "status": .int(response.status), "jobs": .int(jobs), "ms": .double(ms),
                "github_ms": .double(githubMilliseconds),
            ])
        return response
    }

    private func answer(
        _ request: WebhookRequest, started: Double, githubMilliseconds: inout Double, readBody: (Int) -> [UInt8]?
    ) throws(Rejection) -> (
        WebhookResponse, Int
    ) {
        if let rejection = gate.checkHead(request) { throw rejection }
        guard let body = readBody(gate.maxBodyBytes) else {
            throw Rejection(status: 400, message: "the request body could not be read")
        }
        if body.count > gate.maxBodyBytes { throw gate.tooLarge(body.count) }
        let delivery = try gate.checkBody(request, body: body).get()

        let outcome: EventOutcome
        do { outcome = try EventMapper.map(event: delivery.event, payload: delivery.payload) } catch {
            throw Rejection(status: 400, message: error.message)
        }
        let trigger: BuildTrigger
        switch outcome {
        case .ping(let zen):
            return (Self.json(200, ["ok": .bool(true), "event": "ping", "zen": .optional(zen)]), 0)
        case .ignored(let reason):
            return (Self.ignored(reason), 0)
        case .build(let t):
            trigger = t
        }
        if let globs = repoAllowlist, !Glob.matches(trigger.fullName, anyOf: globs) {
            return (Self.ignored("repository \(trigger.fullName) is not in REPO_ALLOWLIST"), 0)
        }
        if let globs = branchAllowlist, !Glob.matches(trigger.branch ?? "", anyOf: globs) {
            return (Self.ignored("branch \(trigger.branch ?? "(tag)") is not in BRANCH_ALLOWLIST"), 0)
        }
        guard let deliveryID = delivery.delivery else {
            throw Rejection(status: 400, message: "missing X-GitHub-Delivery header: job ids are derived from it")
        }

        let ids = DeliveryIDs(delivery: deliveryID, installationTarget: delivery.installationTarget)
        guard let spool else {
            return try accept(
                trigger, event: delivery.event, deliveryID: deliveryID, ids: ids, started: started,
                githubMilliseconds: &githubMilliseconds)
        }
        // Copies of one delivery (GitHub's redelivery, or several arriving at once) are answered one at a time:
        // the first publishes and records its answer, the others repeat it (SPEC §7).
        return try spool.withDeliveryLock(groupID: ids.groupID) { () throws(Rejection) -> (WebhookResponse, Int) in
            if let recorded = spool.record(groupID: ids.groupID) {
                return (Self.duplicate(of: recorded), 0)
            }
            return try accept(
                trigger, event: delivery.event, deliveryID: deliveryID, ids: ids, started: started,
                githubMilliseconds: &githubMilliseconds)
        }
    }

    /// Expands, publishes (or spools) and records one delivery; the answer of SPEC §3's last rows.
    private func accept(
        _ trigger: BuildTrigger, event: String, deliveryID: String, ids: DeliveryIDs, started: Double,
        githubMilliseconds: inout Double
    ) throws(Rejection) -> (WebhookResponse, Int) {
        // GitHub waits 10 s for the answer; leave time to publish after asking GitHub for the workflow.
        let expandStarted = Clock.now()
        let expansion = expander.expand(trigger, deadline: started + 6)
        githubMilliseconds = (Clock.now() - expandStarted) * 1000
        var jobs = expansion.jobs
        if let runName = trigger.rerunCheckRunName {
            // Bare NAME is the single job; "NAME / workflow" stood for the whole (then broken) workflow.
            if let wanted = reporter?.jobID(fromRunName: runName), wanted != "workflow" {
                jobs = jobs.filter { $0.workflowJobID == wanted }
            }
            if jobs.isEmpty {
                return (Self.ignored("check run \(runName) matches no job of the workflow at \(trigger.commitSHA)"), 0)
            }
        }
        let now = clock()
        let requests = planner.requests(for: trigger, jobs: jobs, ids: ids, submittedAt: now)
        let messages = requests.map { job in
            AMQPMessage(
                body: job.jsonBytes(), messageID: job.requestID, type: routingSchema, timestamp: UInt64(now),
                headers: [("x-github-delivery", deliveryID), ("x-github-event", event)])
        }
        var spooled = false
        if case .failed(let reason, let unconfirmed) = publisher.publish(messages) {
            // Only what the broker did not ack goes to the spool: an acked message must not be published twice.
            guard let spool else {
                throw Rejection(status: 503, message: "jobs not queued, redeliver later: \(reason)")
            }
            do {
                try spool.enqueue(groupID: ids.groupID, messages: unconfirmed.map { messages[$0] })
                spooled = true
                logger.log(
                    .warning, "jobs spooled", ["delivery": .string(deliveryID), "reason": .string(reason)])
            } catch {
                throw Rejection(
                    status: 503,
                    message: "jobs neither queued (\(reason)) nor spooled (\(error.message)); redeliver later")
            }
        }
        let jobList: [JSONField] = requests.map { job in
            .object([
                ("request_id", .string(job.requestID)), ("workflow_job_id", .optional(job.workflowJobID)),
                ("runs_on", .optional(job.runsOn)),
            ])
        }
        let fields: KeyValuePairs<String, JSONField> = [
            "delivery": .string(deliveryID), "event": .string(event), "group_id": .string(ids.groupID),
            "jobs": .array(jobList), "spooled": .bool(spooled),
        ]
        var response = Self.json(202, fields)
        if let spool {
            do { try spool.writeRecord(groupID: ids.groupID, body: response.body) } catch {
                // The jobs are queued; only a redelivery could now publish them again.
                logger.log(
                    .error, "delivery record not written",
                    ["delivery": .string(deliveryID), "error": .string(error.message)])
            }
        }
        if let reporter, let installation = expansion.installationID {
            let target = CheckRunTarget(
                installation: installation, owner: trigger.owner, repo: trigger.name, sha: trigger.commitSHA)
            let workflowError = expansion.workflowError
            let logger = self.logger
            // After the answer: GitHub is not kept waiting on Checks, and a Checks failure cannot fail the webhook.
            response.followUp = {
                let followUpStarted = Clock.now()
                let deadline = followUpStarted + 20
                do throws(GitHubError) {
                    let created = try reporter.reportQueued(
                        requests, workflowJobs: expansion.jobs.count, target: target, deadline: deadline)
                    if let workflowError {
                        try reporter.reportWorkflowError(
                            workflowError, path: WorkflowExpander.path, externalID: ids.requestID(jobID: "workflow"),
                            target: target, now: now, deadline: deadline)
                    }
                    logger.log(
                        .info, "check runs",
                        [
                            "delivery": .string(deliveryID), "created": .int(created),
                            "github_ms": .double((Clock.now() - followUpStarted) * 1000),
                        ])
                } catch {
                    logger.log(
                        .error, "check runs not created",
                        ["delivery": .string(deliveryID), "sha": .string(target.sha), "error": .string(error.message)])
                }
            }
        }
        return (response, requests.count)
    }

    /// 200 with the first answer's body plus `"duplicate": true` (`Spool.record` returns only whole objects).
    private static func duplicate(of recorded: [UInt8]) -> WebhookResponse {
        WebhookResponse(status: 200, headers: [], body: recorded.dropLast() + Array(", \"duplicate\": true}".utf8))
    }

    private static func ignored(_ reason: String) -> WebhookResponse {
        WebhookResponse(status: 204, headers: [.init(name: "X-Solstice-Ignored", value: reason)], body: [])
    }

    private static func json(_ status: Int, _ fields: KeyValuePairs<String, JSONField>) -> WebhookResponse {
        WebhookResponse(
            status: status, headers: [], body: JSONField.object(fields.map { ($0.key, $0.value) }).bytes)
    }
}

extension WebhookResponse {
    fileprivate func with(headers extra: [Header]) -> WebhookResponse {
        var copy = self
        copy.headers += extra
        return copy
    }
}
