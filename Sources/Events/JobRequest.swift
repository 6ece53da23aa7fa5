import Base
import FoundationEssentials

/// The message one job becomes on `AMQP_QUEUE` (schema `jobrequest.v1`, SPEC §4). Every field is always present
/// on the wire, `null` where it has no value.
public struct JobRequest: Sendable, Equatable, Decodable {
    /// The schema of this message.
    public static let schema = "jobrequest.v1"

    /// Always `jobrequest.v1`.
    public var schemaVersion = JobRequest.schema
    /// UUIDv5 of the delivery key and the job id (SPEC §7).
    public var requestID: String
    /// UUIDv5 of the delivery key: shared by all jobs of one delivery.
    public var groupID: String
    /// Always `github`.
    public var source = "github"
    /// Where to clone from (the fork's URL for a fork PR).
    public var repoURL: String
    /// Owner of the repository where Check Runs live.
    public var repoOwner: String
    /// Name of that repository.
    public var repoName: String
    /// The commit to build.
    public var commitSHA: String
    /// `.solstice/workflow.kdl` when the job came from it.
    public var workflowPath: String?
    /// The workflow's job id.
    public var workflowJobID: String?
    /// Runner label (SPEC §5 precedence).
    public var runsOn: String?
    /// The job's script.
    public var scriptPath: String?
    /// The `X-GitHub-Event` that caused the job.
    public var event: String
    /// The pull request the job builds: a `pull_request` or comment's own, the one a check suite or run lists;
    /// nil for pushes.
    public var pullRequestNumber: Int?
    /// Who approved running a stranger's commit, or gave the ChatOps command (SPEC §10); nil otherwise.
    public var approvedBy: String?
    /// When the webhook was accepted, RFC 3339 UTC.
    public var submittedAt: String

    /// A request with every field given (`schema_version` and `source` are fixed).
    public init(
        requestID: String, groupID: String, repoURL: String, repoOwner: String, repoName: String, commitSHA: String,
        workflowPath: String?, workflowJobID: String?, runsOn: String?, scriptPath: String?, event: String,
        pullRequestNumber: Int?, approvedBy: String?, submittedAt: String
    ) {
        self.requestID = requestID
        self.groupID = groupID
        self.repoURL = repoURL
        self.repoOwner = repoOwner
        self.repoName = repoName
        self.commitSHA = commitSHA
        self.workflowPath = workflowPath
        self.workflowJobID = workflowJobID
        self.runsOn = runsOn
        self.scriptPath = scriptPath
        self.event = event
        self.pullRequestNumber = pullRequestNumber
        self.approvedBy = approvedBy
        self.submittedAt = submittedAt
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", requestID = "request_id", groupID = "group_id", source
        case repoURL = "repo_url", repoOwner = "repo_owner", repoName = "repo_name", commitSHA = "commit_sha"
        case workflowPath = "workflow_path", workflowJobID = "workflow_job_id", runsOn = "runs_on"
        case scriptPath = "script_path", event, pullRequestNumber = "pull_request_number"
        case approvedBy = "approved_by", submittedAt = "submitted_at"
    }

    /// The JSON body published to the broker: every key in SPEC §4's order, `null` where empty. Written directly
    /// (JSONEncoder cost 4% of a webhook's CPU for this flat object); `Decodable` is the reading side (tests,
    /// consumers written in Swift).
    public func jsonBytes() -> [UInt8] {
        JSONField.object([
            ("schema_version", .string(schemaVersion)), ("request_id", .string(requestID)),
            ("group_id", .string(groupID)), ("source", .string(source)), ("repo_url", .string(repoURL)),
            ("repo_owner", .string(repoOwner)), ("repo_name", .string(repoName)), ("commit_sha", .string(commitSHA)),
            ("workflow_path", .optional(workflowPath)), ("workflow_job_id", .optional(workflowJobID)),
            ("runs_on", .optional(runsOn)), ("script_path", .optional(scriptPath)), ("event", .string(event)),
            ("pull_request_number", pullRequestNumber.map { .int($0) } ?? .null),
            ("approved_by", .optional(approvedBy)), ("submitted_at", .string(submittedAt)),
        ]).bytes
    }
}
