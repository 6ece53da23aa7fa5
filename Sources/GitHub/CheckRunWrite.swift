import Base

/// One Check Run write solstice-fcgi owes GitHub for a delivery (SPEC §4, §5, §10): a value, so that it can be
/// handed back with the answer, and kept until GitHub accepted it.
public enum CheckRunWrite: Sendable, Equatable, Codable {
    /// A queued run per job; names follow the workflow's job count (`workflowJobs`).
    case queued([QueuedRun], workflowJobs: Int)
    /// The failed `NAME / workflow` run of a workflow file that could not be used.
    case workflowError(WorkflowFailure, externalID: String)
    /// The neutral `NAME` run of a commit that asked not to be built, naming the marker.
    case skipped(externalID: String, marker: String)
    /// The `action_required` run with the "Approve and run" button on a stranger's pull request.
    case approvalRequired(externalID: String, author: String, pullRequestURL: String)
    /// The approval run, marked approved by `by` (its button gone).
    case approved(externalID: String, by: String)
    /// The failed `NAME / workflow` run of a delivery whose workflow GitHub could not give since `since` (seconds
    /// since 1970) until `EXPANSION_GIVE_UP`: nothing was built.
    case unreadableWorkflow(externalID: String, since: Int, reason: String)
}

extension CheckRuns {
    /// The `external_id` of the approval run of pull request `number`: the pull request is read back from it when
    /// its button is clicked (a fork's pull request is not listed in the `check_run` payload).
    public static func approvalExternalID(pullRequest number: Int) -> String { "solstice-approval/\(number)" }

    /// The pull request an approval run's `external_id` names, or nil when it is not one.
    public static func pullRequest(fromApprovalExternalID id: String?) -> Int? {
        guard let id, id.hasPrefix("solstice-approval/") else { return nil }
        return Int(id.dropFirst("solstice-approval/".count)).flatMap { $0 > 0 ? $0 : nil }
    }

    /// The action of the approval run; GitHub requires all three fields (label ≤ 20, description ≤ 40,
    /// identifier ≤ 20 characters).
    public static let approveAction: [String: JSONField] = [
        "label": "Approve and run", "description": "Run the jobs of this commit", "identifier": "approve",
    ]

    /// Makes `writes` on `target`, reading the commit's runs once, so that each run whose external id is already
    /// there is left alone (SPEC §7) and a repeated write does nothing. `pace` is asked before each write
    /// (POST or PATCH: what GitHub's secondary limit counts) and may throw to stop here; the next call finds the
    /// runs made so far. Appends the runs it creates to `created`, also when it throws part-way.
    public func write(
        _ writes: [CheckRunWrite], target: CheckRunTarget, now: Int, deadline: Double,
        created: inout [CreatedRun], pace: () throws(GitHubError) -> Void = {}
    ) throws(GitHubError) {
        var existing = try runIDsByExternalID(target, deadline: deadline)
        /// Creates the run `body` describes and remembers it.
        func make(_ body: [String: JSONField]) throws(GitHubError) {
            try pace()
            let response = try self.create(body, target, deadline: deadline)
            struct Run: Decodable {
                var id: Int
                var name: String
                var status: String
                var external_id: String?
            }
            let run = try GitHubClient.decode(Run.self, response)
            existing[run.external_id ?? ""] = run.id
            created.append(
                CreatedRun(id: run.id, externalID: run.external_id ?? "", name: run.name, status: run.status))
        }
        let completedAt = JSONField.string(RFC3339.format(secondsSince1970: now))
        for write in writes {
            switch write {
            case .queued(let runs, let workflowJobs):
                for run in runs where existing[run.externalID] == nil {
                    var body: [String: JSONField] = [
                        "name": .string(runName(jobID: run.jobID, jobCount: workflowJobs)),
                        "head_sha": .string(target.sha), "external_id": .string(run.externalID),
                        "status": .string("queued"),
                    ]
                    if let url = detailsURL(requestID: run.externalID) { body["details_url"] = .string(url) }
                    try make(body)
                }
            case .workflowError(let failure, let externalID):
                guard existing[externalID] == nil else { continue }
                try make(workflowErrorBody(failure, externalID: externalID, target: target, now: now))
            case .skipped(let externalID, let marker):
                guard existing[externalID] == nil else { continue }
                try make([
                    "name": .string(checkName), "head_sha": .string(target.sha),
                    "external_id": .string(externalID), "status": "completed", "conclusion": "neutral",
                    "completed_at": completedAt,
                    "output": .object([
                        ("title", "Skipped"),
                        ("summary", .string("Not built: the commit asks for no build with `\(marker)`.")),
                    ]),
                ])
            case .approvalRequired(let externalID, let author, let url):
                guard existing[externalID] == nil else { continue }
                try make([
                    "name": .string(checkName), "head_sha": .string(target.sha),
                    "external_id": .string(externalID), "status": "completed", "conclusion": "action_required",
                    "completed_at": completedAt, "details_url": .string(url),
                    "output": .object([
                        ("title", "Approval required"),
                        ("summary", .string(Self.approvalSummary(author: author, sha: target.sha))),
                    ]),
                    "actions": .array([.object(Self.approveAction)]),
                ])
            case .approved(let externalID, let login):
                // The run may be another host's or not written yet; without one there is nothing to mark.
                guard let runID = existing[externalID], runID != 0 else { continue }
                let path = "\(target.runsPath)/\(runID)"
                // No `actions`: a PATCH without them removes the button.
                let body: [String: JSONField] = [
                    "status": "completed", "conclusion": "success", "completed_at": completedAt,
                    "output": .object([
                        ("title", .string("Approved by \(login)")),
                        ("summary", .string("\(login) approved running the jobs of commit `\(target.sha)`.")),
                    ]),
                ]
                try pace()
                let response = try client.request("PATCH", path, body: JSONField.object(body).bytes, deadline: deadline)
                try GitHubClient.expect(200, response, "PATCH \(path)")
            case .unreadableWorkflow(let externalID, let since, let reason):
                guard existing[externalID] == nil else { continue }
                let summary = """
                    GitHub could not give `.solstice/workflow.kdl` at this commit from \
                    \(RFC3339.format(secondsSince1970: since)) until \(RFC3339.format(secondsSince1970: now)) \
                    (the last answer: \(reason)), so nothing was built: the commit's jobs are unknown, and building a \
                    different set would be a different build. "Re-run all checks" tries again.
                    """
                try make([
                    "name": .string("\(checkName) / workflow"), "head_sha": .string(target.sha),
                    "external_id": .string(externalID), "status": "completed", "conclusion": "failure",
                    "completed_at": completedAt,
                    "output": .object([("title", "Workflow could not be read"), ("summary", .string(summary))]),
                ])
            }
        }
    }

    static func approvalSummary(author: String, sha: String) -> String {
        """
        This pull request comes from @\(author), who cannot push to this repository, so its jobs have not run: \
        they would run code from the pull request on this repository's runners.

        Someone with write permission can press **Approve and run** above, or comment `/ok-to-test` on the pull \
        request, to run the jobs of commit `\(sha)` — that commit only: a new push needs a new approval.
        """
    }
}
