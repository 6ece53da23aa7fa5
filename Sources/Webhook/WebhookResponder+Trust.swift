import Base
import Delivery
import Events
import FoundationEssentials
import GitHub
import Jobs

/// What the responder asks of GitHub through the App (SPEC §10): permissions, pull requests, commit messages,
/// the commit's runs, and the Check Run writes after each answer.
public struct AppAccess: Sendable {
    /// The App's REST client.
    public let client: GitHubClient
    /// Permissions (cached), pull requests, commit messages.
    public let repositories: RepositoryQueries
    /// Makes the Check Run writes an answer promises.
    public let writer: CheckRunWriter

    /// Access through `client`, with runs named `checkName` linking to `logsBaseURL`; the queued runs created are
    /// indexed in `runIndex` for the reconciler (SPEC §7).
    public init(
        client: GitHubClient, checkName: String, logsBaseURL: String?, runIndex: RunIndex? = nil, logger: Logger
    ) {
        self.client = client
        repositories = RepositoryQueries(client: client)
        writer = CheckRunWriter(
            checkRuns: CheckRuns(client: client, checkName: checkName, logsBaseURL: logsBaseURL), runIndex: runIndex,
            logger: logger)
    }

    /// The Checks API.
    public var checkRuns: CheckRuns { writer.checkRuns }
}

/// A ChatOps command or an approval click turned into what to build: the trigger (with `approved_by`), the key
/// of the commit's approval when it approves one, and the approval run to mark approved.
struct ResolvedCommand {
    var trigger: BuildTrigger
    var approvalKey: String?
    var writes: [CheckRunWrite]
}

// MARK: - Pull requests: skip markers, drafts, trust (SPEC §4, §10)

extension WebhookResponder {
    /// What stands between a build trigger and its jobs: skip markers (the neutral run), drafts, and for a
    /// stranger's pull request the approval (SPEC §10) — answered 202 `approval_required` with the approval run
    /// when the App can show one. Sets `approved_by` when the commit was approved before.
    func screen(_ trigger: inout BuildTrigger, ids: DeliveryIDs, deadline: Double) throws(Verdict) -> [CheckRunWrite] {
        if let marker = skipMarker(trigger, deadline: deadline) {
            var skipRun: PendingCheckRuns?
            if app != nil && trigger.installationID != nil {
                skipRun = pending(
                    trigger, ids, [.skipped(externalID: ids.requestID(jobID: "skip"), marker: marker)], now: clock())
            }
            throw .ignored("skip marker \(marker)", checkRuns: skipRun)
        }
        guard let pr = trigger.pullRequest else { return [] }
        if pr.draft && !buildDrafts { throw .ignored("draft pull request (BUILD_DRAFTS=0)") }
        switch trust.decide(pr) {
        case .trusted: return []
        case .askPermission(let login):
            if let app, try mayPush(login, owner: trigger.owner, repo: trigger.name, app: app, deadline: deadline) {
                return []
            }
        }
        if let approver = approver(of: trigger, pullRequest: pr.number, deadline: deadline) {
            trigger.approvedBy = approver
            return []
        }
        guard app != nil, trigger.installationID != nil else {
            throw .ignored("untrusted author \(pr.author): no GitHub App to approve the pull request with")
        }
        logger.log(
            .info, "pull request waits for approval",
            [
                "repo": .string(trigger.fullName), "pull_request": .int(pr.number), "author": .string(pr.author),
                "sha": .string(trigger.commitSHA),
            ])
        var response = Self.json(
            202,
            [
                ("delivery", .string(ids.delivery)), ("event", .string(trigger.event)),
                ("group_id", .string(ids.groupID)), ("jobs", .array([])), ("spooled", .bool(false)),
                ("approval_required", .bool(true)),
            ])
        let url =
            pr.htmlURL.isEmpty ? "https://github.com/\(trigger.fullName)/pull/\(pr.number)" : pr.htmlURL
        response.checkRuns = pending(
            trigger, ids,
            [
                .approvalRequired(
                    externalID: CheckRuns.approvalExternalID(pullRequest: pr.number), author: pr.author,
                    pullRequestURL: url)
            ], now: clock())
        throw .accepted(response, jobs: 0)
    }

    /// A skip marker in a push's head commit message, a pull request's title, or (with the App) its head commit's
    /// message. A commit message GitHub cannot give is logged and counts as none: the commit builds.
    private func skipMarker(_ trigger: BuildTrigger, deadline: Double) -> String? {
        if let marker = SkipMarkers.find(in: trigger.headCommitMessage)
            ?? SkipMarkers.find(in: trigger.pullRequest?.title)
        {
            return marker
        }
        guard trigger.pullRequest != nil, let app, let installation = trigger.installationID else { return nil }
        app.client.learnInstallation(installation, owner: trigger.owner, repo: trigger.name)
        do {
            return SkipMarkers.find(
                in: try app.repositories.commitMessage(
                    trigger.commitSHA, owner: trigger.owner, repo: trigger.name, deadline: deadline))
        } catch {
            logger.log(
                .warning, "head commit message not read: skip markers in it are not seen",
                ["repo": .string(trigger.fullName), "sha": .string(trigger.commitSHA), "error": .string(error.message)])
            return nil
        }
    }

    /// Whether `login` may push to the repository, asked through the permission API (cached). A failure to ask
    /// defers the delivery (a comment or click: 503): it never decides either way by default.
    func mayPush(_ login: String, owner: String, repo: String, app: AppAccess, deadline: Double) throws(Verdict)
        -> Bool
    {
        do { return try app.repositories.canWrite(login, owner: owner, repo: repo, deadline: deadline) } catch {
            throw .deferred(
                reason: "cannot ask GitHub whether \(login) may push: \(error.message)", retryAfter: error.retryAfter)
        }
    }

    /// Who approved the trigger's commit, if anyone did: this host's record of the approval, else the approval
    /// run on GitHub marked `Approved by LOGIN` (another host may have taken the approval).
    private func approver(of trigger: BuildTrigger, pullRequest number: Int, deadline: Double) -> String? {
        struct Answer: Decodable { var approved_by: String? }
        let key = DeliveryIDs.approvalKey(owner: trigger.owner, repo: trigger.name, sha: trigger.commitSHA)
        if let recorded = deliveries?.records.answer(groupID: key),
            let approver = try? JSONDecoder().decode(Answer.self, from: Data(recorded)).approved_by
        {
            return approver
        }
        guard let app, trigger.installationID != nil else { return nil }
        let target = CheckRunTarget(owner: trigger.owner, repo: trigger.name, sha: trigger.commitSHA)
        let approvalID = CheckRuns.approvalExternalID(pullRequest: number)
        guard let runs = try? app.checkRuns.runs(target, deadline: deadline),
            let run = runs.first(where: { $0.externalID == approvalID && $0.conclusion == "success" }),
            let title = run.title, title.hasPrefix("Approved by ")
        else { return nil }
        return String(title.dropFirst("Approved by ".count))
    }
}

// MARK: - ChatOps and approval clicks (SPEC §10)

extension WebhookResponder {
    /// `/ok-to-test`, `/retest`, `/test JOB`, `/test all` from a person who may push: the pull request's current
    /// head commit (`GET pulls/{n}`), built with `approved_by` = the commenter. Anyone else's commands are ignored
    /// without a reply.
    func resolve(_ comment: PullRequestComment, deadline: Double) throws(Verdict) -> ResolvedCommand {
        guard let app else { throw .ignored("ChatOps needs the GitHub App (GITHUB_APP_ID)") }
        if let installation = comment.installationID {
            app.client.learnInstallation(installation, owner: comment.owner, repo: comment.name)
        }
        try requirePusher(comment.commenter, owner: comment.owner, repo: comment.name, app: app, deadline: deadline)
        let pr = try pullRequest(comment.number, owner: comment.owner, repo: comment.name, app: app, deadline: deadline)
        guard pr.state == "open" else { throw .ignored("pull request #\(comment.number) is \(pr.state)") }
        guard let url = pr.headRepoURL else { throw .ignored("pull request head repository was deleted") }
        var trigger = BuildTrigger(
            event: "issue_comment", repoURL: url, owner: comment.owner, name: comment.name, commitSHA: pr.headSHA,
            branch: pr.baseRef, labels: pr.labels, installationID: comment.installationID,
            selection: ChatOpsCommand.selection(comment.commands), pullRequestNumber: comment.number)
        trigger.approvedBy = comment.commenter
        guard comment.commands.contains(.okToTest) else {
            return ResolvedCommand(trigger: trigger, approvalKey: nil, writes: [])
        }
        return ResolvedCommand(
            trigger: trigger,
            approvalKey: DeliveryIDs.approvalKey(owner: comment.owner, repo: comment.name, sha: pr.headSHA),
            writes: [
                .approved(externalID: CheckRuns.approvalExternalID(pullRequest: comment.number), by: comment.commenter)
            ])
    }

    /// "Approve and run" on this App's approval run, by a person who may push: the jobs of that run's commit,
    /// with `approved_by` = the clicker, and the run marked approved.
    func resolve(_ click: ApprovalClick, deadline: Double) throws(Verdict) -> ResolvedCommand {
        guard let app else { throw .ignored("approvals need the GitHub App (GITHUB_APP_ID)") }
        guard click.identifier == "approve" else { throw .ignored("check run action \(click.identifier) is not ours") }
        guard click.appID.map(String.init) == app.client.appID else {
            throw .ignored("the clicked check run belongs to another App")
        }
        guard let number = CheckRuns.pullRequest(fromApprovalExternalID: click.externalID),
            let externalID = click.externalID
        else { throw .ignored("the clicked check run is not an approval run") }
        if let installation = click.installationID {
            app.client.learnInstallation(installation, owner: click.owner, repo: click.name)
        }
        try requirePusher(click.login, owner: click.owner, repo: click.name, app: app, deadline: deadline)
        let pr = try pullRequest(number, owner: click.owner, repo: click.name, app: app, deadline: deadline)
        guard let url = pr.headRepoURL else { throw .ignored("pull request head repository was deleted") }
        var trigger = BuildTrigger(
            event: "check_run", repoURL: url, owner: click.owner, name: click.name, commitSHA: click.headSHA,
            branch: pr.baseRef, labels: pr.labels, installationID: click.installationID, pullRequestNumber: number)
        trigger.approvedBy = click.login
        return ResolvedCommand(
            trigger: trigger,
            approvalKey: DeliveryIDs.approvalKey(owner: click.owner, repo: click.name, sha: click.headSHA),
            writes: [.approved(externalID: externalID, by: click.login)])
    }

    /// Ends the request (204, logged) unless `login` may push to the repository.
    private func requirePusher(_ login: String, owner: String, repo: String, app: AppAccess, deadline: Double)
        throws(Verdict)
    {
        guard try mayPush(login, owner: owner, repo: repo, app: app, deadline: deadline) else {
            logger.log(
                .info, "command or approval ignored: no write permission",
                ["repo": .string("\(owner)/\(repo)"), "login": .string(login)])
            throw .ignored("\(login) has no write permission on \(owner)/\(repo)")
        }
    }

    private func pullRequest(_ number: Int, owner: String, repo: String, app: AppAccess, deadline: Double)
        throws(Verdict) -> PullRequestDetails
    {
        do { return try app.repositories.pullRequest(number, owner: owner, repo: repo, deadline: deadline) } catch {
            if error.kind == .client { throw .ignored("pull request #\(number) not found: \(error.message)") }
            throw .rejected(
                Rejection(
                    status: 503, message: "cannot read pull request #\(number): \(error.message); redeliver later"))
        }
    }
}
