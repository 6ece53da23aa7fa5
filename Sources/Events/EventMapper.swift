import Base
import FoundationEssentials

/// What a webhook asks of us, decided from its event name and payload alone (SPEC §4).
public enum EventOutcome: Sendable, Equatable {
    /// GitHub's `ping` on hook creation.
    case ping(zen: String?)
    /// Nothing to build; the reason goes to `X-Solstice-Ignored`.
    case ignored(String)
    /// A commit to build (still subject to the skip markers, drafts and the trust policy).
    case build(BuildTrigger)
    /// ChatOps commands on a pull request (SPEC §10).
    case comment(PullRequestComment)
    /// A click on a Check Run's action button (SPEC §10).
    case approvalClick(ApprovalClick)
}

/// A payload that is not JSON, or lacks a field SPEC §4 needs; answered 400 with `message`.
public struct PayloadError: Error, Equatable, CustomStringConvertible {
    /// The dotted field path at fault, when one is.
    public var field: String?
    /// A sentence naming the problem and the field.
    public var message: String

    public var description: String { message }

    static func missing(_ field: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) is missing or not a string")
    }

    static func malformed(_ field: String, expected: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) is not \(expected)")
    }

    // The 400s of a payload that does not decode, spelled once for every decoder (`direct` must answer as `tape`).
    static let notJSON = PayloadError(field: nil, message: "payload is not valid JSON")
    static let notAnObject = PayloadError(field: nil, message: "payload is not a JSON object")

    static func wrongType(_ field: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) has the wrong type")
    }

    static func null(_ field: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) is null")
    }

    static func invalid(_ field: String) -> PayloadError {
        PayloadError(field: field, message: "payload field \(field) is invalid")
    }
}

/// Which JSON decoder reads a payload. All give the same payload values and the same errors for any valid JSON; for
/// JSON that breaks RFC 8259, `direct` and `tape` always answer "payload is not valid JSON", where Foundation's
/// lazier checks may let it through (a trailing comma, a bad string in a field nobody reads) or name another field
/// first. `direct` and `tape` give the same answer for every text.
public enum PayloadDecoder: Sendable {
    /// The payload slices read straight from the `JSONTape` (Payloads+Tape.swift), without `Decodable`'s
    /// containers, existentials and coding paths: `tape`'s answers, for less. The responder's.
    case direct
    /// `JSONTapeDecoder`: the whole text checked in one pass, then only the fields SPEC §4 reads are looked up
    /// through the slices' `Decodable` conformances.
    case tape
    /// Foundation's `JSONDecoder`, which `tape` replaced (it builds a dictionary of every key of every object).
    case foundation
}

/// Maps an event name and its JSON payload to an `EventOutcome`: a pure function, no I/O.
public enum EventMapper {
    private static let zeroSHA = String(repeating: "0", count: 40)

    /// Decides what `event` with `payload` asks for. Throws `PayloadError` for invalid JSON or a missing field.
    /// `decoder` is for comparing the JSON decoders (tests, json-bench); the responder uses the default.
    public static func map(event: String, payload: [UInt8], decoder: PayloadDecoder = .direct) throws(PayloadError)
        -> EventOutcome
    {
        switch event {
        case "ping":
            return .ping(zen: try decode(PingPayload.self, payload, decoder).zen)
        case "push":
            return try mapPush(try decode(PushPayload.self, payload, decoder))
        case "pull_request":
            return try mapPullRequest(try decode(PullRequestEventPayload.self, payload, decoder))
        case "check_suite":
            return try mapCheckSuite(try decode(CheckSuiteEventPayload.self, payload, decoder))
        case "check_run":
            return try mapCheckRun(try decode(CheckRunEventPayload.self, payload, decoder))
        case "issue_comment":
            return try mapComment(try decode(IssueCommentEventPayload.self, payload, decoder))
        default:
            // Still must be JSON: a garbled body is a bad request whatever its event.
            _ = try decode(ActionPayload.self, payload, decoder)
            return .ignored("event \(event) is not handled")
        }
    }

    private static func mapPush(_ p: PushPayload) throws(PayloadError) -> EventOutcome {
        guard let after = p.after else { throw .missing("after") }
        if p.deleted == true || after == zeroSHA { return .ignored("push deletes \(p.ref ?? "a ref")") }
        let repository = try repositoryFields(p.repository, prefix: "repository")
        guard let ref = p.ref else { throw .missing("ref") }
        let branch = ref.hasPrefix("refs/heads/") ? String(ref.dropFirst("refs/heads/".count)) : nil
        var trigger = BuildTrigger(
            event: "push", repoURL: try cloneURL(p.repository, prefix: "repository"), owner: repository.owner,
            name: repository.name, commitSHA: try commit(after, field: "after"), branch: branch,
            installationID: try installation(p.installation))
        trigger.headCommitMessage = p.head_commit?.message
        return .build(trigger)
    }

    /// `ready_for_review` builds like `opened` (SPEC §4): a draft was skipped until then.
    private static let buildingActions: Set<String> = ["opened", "synchronize", "reopened", "ready_for_review"]

    private static func mapPullRequest(_ p: PullRequestEventPayload) throws(PayloadError) -> EventOutcome {
        guard let action = p.action else { throw .missing("action") }
        guard buildingActions.contains(action) else { return .ignored("pull_request action \(action) is not built") }
        guard let pr = p.pull_request else { throw .missing("pull_request") }
        guard let head = pr.head else { throw .missing("pull_request.head") }
        guard let sha = head.sha else { throw .missing("pull_request.head.sha") }
        guard let headRepo = head.repo else { throw .missing("pull_request.head.repo") }
        guard let forkRepository = headRepo.value else {
            return .ignored("pull_request head repository was deleted")
        }
        // Check Runs live on the base repository, where the App is installed, also for forks.
        let base = try repositoryFields(p.repository, prefix: "repository")
        guard let number = pr.number ?? p.number else { throw .missing("pull_request.number") }
        guard number > 0 else { throw .malformed("pull_request.number", expected: "a positive integer") }
        let author = try login(pr.user?.login, field: "pull_request.user.login")
        var trigger = BuildTrigger(
            event: "pull_request", repoURL: try cloneURL(forkRepository, prefix: "pull_request.head.repo"),
            owner: base.owner, name: base.name, commitSHA: try commit(sha, field: "pull_request.head.sha"),
            branch: pr.base?.ref, labels: (pr.labels ?? []).compactMap(\.name),
            installationID: try installation(p.installation), pullRequestNumber: number)
        // Unknown repository ids count as different repositories: the safe side of the trust decision.
        let headID = forkRepository.id
        trigger.pullRequest = PullRequestFacts(
            number: number, title: pr.title ?? "", draft: pr.draft ?? false, author: author,
            authorAssociation: pr.author_association ?? "NONE",
            fromBaseRepository: headID != nil && headID == pr.base?.repo?.id, htmlURL: pr.html_url ?? "")
        return .build(trigger)
    }

    /// "Re-run all checks": the workflow at the suite's head is expanded and queued again.
    private static func mapCheckSuite(_ p: CheckSuiteEventPayload) throws(PayloadError) -> EventOutcome {
        guard let action = p.action else { throw .missing("action") }
        guard action == "rerequested" else { return .ignored("check_suite action \(action) is not handled") }
        guard let suite = p.check_suite else { throw .missing("check_suite") }
        guard let sha = suite.head_sha else { throw .missing("check_suite.head_sha") }
        let repository = try repositoryFields(p.repository, prefix: "repository")
        return .build(
            BuildTrigger(
                event: "check_suite", repoURL: try cloneURL(p.repository, prefix: "repository"),
                owner: repository.owner, name: repository.name,
                commitSHA: try commit(sha, field: "check_suite.head_sha"), branch: suite.head_branch,
                installationID: try installation(p.installation),
                pullRequestNumber: onlyPullRequest(suite.pull_requests)))
    }

    /// "Re-run" on one check run: only the job that run stands for is queued again. A click on a run's action
    /// button (`requested_action`) may be an approval (SPEC §10).
    private static func mapCheckRun(_ p: CheckRunEventPayload) throws(PayloadError) -> EventOutcome {
        guard let action = p.action else { throw .missing("action") }
        guard action == "rerequested" || action == "requested_action" else {
            return .ignored("check_run action \(action) is not handled")
        }
        guard let run = p.check_run else { throw .missing("check_run") }
        guard let sha = run.head_sha else { throw .missing("check_run.head_sha") }
        let repository = try repositoryFields(p.repository, prefix: "repository")
        let repoURL = try cloneURL(p.repository, prefix: "repository")
        let headSHA = try commit(sha, field: "check_run.head_sha")
        if action == "requested_action" {
            guard let identifier = p.requested_action?.identifier else {
                throw .missing("requested_action.identifier")
            }
            return .approvalClick(
                ApprovalClick(
                    owner: repository.owner, name: repository.name, repoURL: repoURL, headSHA: headSHA,
                    externalID: run.external_id, appID: run.app?.id, identifier: identifier,
                    login: try login(p.sender?.login, field: "sender.login"), conclusion: run.conclusion,
                    branch: run.check_suite?.head_branch, installationID: try installation(p.installation)))
        }
        guard let name = run.name else { throw .missing("check_run.name") }
        return .build(
            BuildTrigger(
                event: "check_run", repoURL: repoURL, owner: repository.owner, name: repository.name,
                commitSHA: headSHA, branch: run.check_suite?.head_branch,
                installationID: try installation(p.installation), selection: .checkRun(name: name),
                pullRequestNumber: onlyPullRequest(run.pull_requests)))
    }

    /// A comment on a pull request: ChatOps when it holds commands (SPEC §10); everything else is ignored, never
    /// answered with a comment.
    private static func mapComment(_ p: IssueCommentEventPayload) throws(PayloadError) -> EventOutcome {
        guard let action = p.action else { throw .missing("action") }
        guard action == "created" else { return .ignored("issue_comment action \(action) is not handled") }
        guard let issue = p.issue else { throw .missing("issue") }
        guard issue.pull_request != nil else { return .ignored("comment on an issue, not a pull request") }
        let commands = ChatOpsCommand.commands(in: p.comment?.body ?? "")
        guard !commands.isEmpty else { return .ignored("comment holds no command") }
        guard let number = issue.number else { throw .missing("issue.number") }
        guard number > 0 else { throw .malformed("issue.number", expected: "a positive integer") }
        let repository = try repositoryFields(p.repository, prefix: "repository")
        return .comment(
            PullRequestComment(
                owner: repository.owner, name: repository.name, number: number,
                commenter: try login(p.comment?.user?.login, field: "comment.user.login"), commands: commands,
                installationID: try installation(p.installation)))
    }

    /// The pull request a check suite or run belongs to, when the payload lists exactly one (SPEC §4).
    private static func onlyPullRequest(_ list: [NumberPayload]?) -> Int? {
        guard let list, list.count == 1, let number = list[0].number, number > 0 else { return nil }
        return number
    }

    /// A login as GitHub forms them; it ends up in an API path.
    private static func login(_ value: String?, field: String) throws(PayloadError) -> String {
        guard let value else { throw .missing(field) }
        guard GitHubNames.isLogin(value) else { throw .malformed(field, expected: "a GitHub login") }
        return value
    }

    private static func repositoryFields(_ r: RepositoryPayload?, prefix: String) throws(PayloadError) -> (
        owner: String, name: String
    ) {
        guard let r else { throw .missing(prefix) }
        guard let name = r.name, !name.isEmpty else { throw .missing("\(prefix).name") }
        guard let owner = r.owner?.login ?? r.owner?.name, !owner.isEmpty else {
            throw .missing("\(prefix).owner.login")
        }
        guard GitHubNames.isRepositoryName(name) else {
            throw .malformed("\(prefix).name", expected: "a repository name (\(GitHubNames.repositoryNameForm))")
        }
        guard GitHubNames.isRepositoryName(owner) else {
            throw .malformed(
                "\(prefix).owner.login", expected: "an owner name (\(GitHubNames.repositoryNameForm))")
        }
        return (owner, name)
    }

    /// A commit id as SPEC §4 requires it: 40 or 64 lowercase hex digits.
    private static func commit(_ sha: String?, field: String) throws(PayloadError) -> String {
        guard let sha else { throw .missing(field) }
        guard GitHubNames.isCommitSHA(sha) else {
            throw .malformed(field, expected: "a commit id (40 or 64 lowercase hex digits)")
        }
        return sha
    }

    /// `installation.id`, when sent: a positive integer.
    private static func installation(_ i: InstallationPayload?) throws(PayloadError) -> Int? {
        guard let id = i?.id else { return nil }
        guard id > 0 else { throw .malformed("installation.id", expected: "a positive integer") }
        return id
    }

    private static func cloneURL(_ r: RepositoryPayload?, prefix: String) throws(PayloadError) -> String {
        guard let url = r?.clone_url ?? r?.ssh_url, !url.isEmpty else { throw .missing("\(prefix).clone_url") }
        return url
    }

    /// The payload slice `T`; a decoder's error becomes the 400 naming the field (SPEC §3). Internal, not private,
    /// so tests compare the decoders slice by slice, also on fields the outcome does not show.
    static func decode<T: Decodable & TapeReadable>(_ type: T.Type, _ payload: [UInt8], _ decoder: PayloadDecoder)
        throws(PayloadError) -> T
    {
        switch decoder {
        case .direct: return try T.read(payload: payload)
        case .tape: return try decodable { try JSONTapeDecoder().decode(T.self, from: payload) }
        case .foundation: return try decodable { try JSONDecoder().decode(T.self, from: Data(payload)) }
        }
    }

    /// Runs a `Decodable` decoder; its `DecodingError` becomes the 400 naming the field
    /// (`PayloadFieldError.payloadError` spells the same 400s for `direct`).
    private static func decodable<T>(_ decode: () throws -> T) throws(PayloadError) -> T {
        do {
            return try decode()
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw .notAnObject
        } catch let DecodingError.typeMismatch(_, context) {
            throw .wrongType(context.fieldPath)
        } catch let DecodingError.valueNotFound(_, context) {
            throw .null(context.fieldPath)
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            throw .invalid(context.fieldPath)
        } catch {
            throw .notJSON
        }
    }
}

extension DecodingError.Context {
    /// The field at fault as a dotted path (`pull_request.head.sha`; array elements by index), for error messages.
    var fieldPath: String {
        codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }
}
