/// The commit a webhook asks us to build, before workflow expansion.
public struct BuildTrigger: Sendable, Equatable, Codable {
    /// The `X-GitHub-Event` that caused the build (`JobRequest.event`).
    public var event: String
    /// Clone URL of the repository holding the commit (the fork's for a fork PR).
    public var repoURL: String
    /// Owner of the repository where the App is installed and Check Runs live (the base repository for PRs).
    public var owner: String
    /// Name of that repository.
    public var name: String
    /// The commit to build.
    public var commitSHA: String
    /// The branch the allowlist is checked against: the pushed branch, or a PR's base branch; nil for tags.
    public var branch: String?
    /// Pull-request labels (`runs-on:LABEL` picks a runner).
    public var labels: [String]
    /// `installation.id` when the payload carries it.
    public var installationID: Int?
    /// Which of the workflow's jobs to queue.
    public var selection: JobSelection
    /// The pull request the build is for (`JobRequest.pull_request_number`).
    public var pullRequestNumber: Int?
    /// What the trust policy reads of a `pull_request` event (SPEC §10); nil for every other event.
    public var pullRequest: PullRequestFacts?
    /// A push's `head_commit.message`, searched for skip markers.
    public var headCommitMessage: String?
    /// The person who approved running this commit (SPEC §10), for `JobRequest.approved_by`.
    public var approvedBy: String?

    /// A trigger building every job of `commitSHA`.
    public init(
        event: String = "push", repoURL: String, owner: String, name: String, commitSHA: String, branch: String?,
        labels: [String] = [], installationID: Int? = nil, selection: JobSelection = .all,
        pullRequestNumber: Int? = nil
    ) {
        self.event = event
        self.repoURL = repoURL
        self.owner = owner
        self.name = name
        self.commitSHA = commitSHA
        self.branch = branch
        self.labels = labels
        self.installationID = installationID
        self.selection = selection
        self.pullRequestNumber = pullRequestNumber
    }

    /// `owner/name`.
    public var fullName: String { "\(owner)/\(name)" }
}

/// Which jobs of the workflow a trigger queues.
public enum JobSelection: Sendable, Equatable, Codable {
    /// Every job (a push, a pull request, "Re-run all checks", `/ok-to-test`, `/test all`).
    case all
    /// The job a re-requested check run of this name stands for.
    case checkRun(name: String)
    /// The jobs named (`/test JOB`), plus, with `failed`, those whose latest run on the commit failed (`/retest`).
    case commands(jobs: [String], failed: Bool)
}

/// The parts of a `pull_request` payload the trust policy and the skip markers read (SPEC §4, §10).
public struct PullRequestFacts: Sendable, Equatable, Codable {
    /// The pull request's number.
    public var number: Int
    /// Its title (searched for skip markers).
    public var title: String
    /// `draft: true`.
    public var draft: Bool
    /// The author's login.
    public var author: String
    /// `author_association` (`OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`, …).
    public var authorAssociation: String
    /// Whether the head repository is the base repository (same repository id): its author could push anyway.
    public var fromBaseRepository: Bool
    /// The pull request's page, the approval run's `details_url`.
    public var htmlURL: String

    /// The facts of pull request `number`.
    public init(
        number: Int, title: String, draft: Bool, author: String, authorAssociation: String,
        fromBaseRepository: Bool, htmlURL: String
    ) {
        self.number = number
        self.title = title
        self.draft = draft
        self.author = author
        self.authorAssociation = authorAssociation
        self.fromBaseRepository = fromBaseRepository
        self.htmlURL = htmlURL
    }
}
