import FoundationEssentials

/// The message one job becomes on `AMQP_QUEUE` (schema `jobrequest.v1`, SPEC §4). Every field is always present
/// on the wire, `null` where it has no value.
public struct JobRequest: Sendable, Equatable, Codable {
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
    /// When the webhook was accepted, RFC 3339 UTC.
    public var submittedAt: String

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", requestID = "request_id", groupID = "group_id", source
        case repoURL = "repo_url", repoOwner = "repo_owner", repoName = "repo_name", commitSHA = "commit_sha"
        case workflowPath = "workflow_path", workflowJobID = "workflow_job_id", runsOn = "runs_on"
        case scriptPath = "script_path", submittedAt = "submitted_at"
    }

    /// Encodes every key, writing `null` for absent values (the synthesized encoder would drop them).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(groupID, forKey: .groupID)
        try c.encode(source, forKey: .source)
        try c.encode(repoURL, forKey: .repoURL)
        try c.encode(repoOwner, forKey: .repoOwner)
        try c.encode(repoName, forKey: .repoName)
        try c.encode(commitSHA, forKey: .commitSHA)
        try c.encode(workflowPath, forKey: .workflowPath)
        try c.encode(workflowJobID, forKey: .workflowJobID)
        try c.encode(runsOn, forKey: .runsOn)
        try c.encode(scriptPath, forKey: .scriptPath)
        try c.encode(submittedAt, forKey: .submittedAt)
    }

    /// The JSON body published to the broker: every key in SPEC §4's order, `null` where empty. Written directly
    /// (JSONEncoder cost 4% of a webhook's CPU for this flat object); `Codable` above is the reading side.
    public func jsonBytes() -> [UInt8] {
        JSONField.object([
            ("schema_version", .string(schemaVersion)), ("request_id", .string(requestID)),
            ("group_id", .string(groupID)), ("source", .string(source)), ("repo_url", .string(repoURL)),
            ("repo_owner", .string(repoOwner)), ("repo_name", .string(repoName)), ("commit_sha", .string(commitSHA)),
            ("workflow_path", .optional(workflowPath)), ("workflow_job_id", .optional(workflowJobID)),
            ("runs_on", .optional(runsOn)), ("script_path", .optional(scriptPath)),
            ("submitted_at", .string(submittedAt)),
        ]).bytes
    }
}

/// RFC 3339 timestamps in UTC with whole seconds (`2026-11-24T12:00:00Z`).
public enum RFC3339 {
    /// Formats `secondsSince1970` as RFC 3339 UTC.
    public static func format(secondsSince1970 t: Int) -> String {
        // Civil-from-days (Howard Hinnant), so no C time API or locale is involved.
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = t - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secs / 3600)):\(two(secs % 3600 / 60)):\(two(secs % 60))Z"
    }
}
