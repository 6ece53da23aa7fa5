import Base
import FoundationEssentials

/// The orchestrator's report of one finished job (schema `jobresult.v1`, SPEC §8), validated: every field that
/// reaches a URL, an S3 key or a Check Run is checked here, so later stages never see a malformed value.
public struct JobResult: Sendable, Equatable {
    /// The schema this daemon understands.
    public static let schema = "jobresult.v1"

    /// The job's request id: the Check Run's `external_id` and part of the S3 key.
    public var requestID: String
    /// The repository the Check Run lives on (`repo_owner`/`repo_name`, else parsed from `repo_url`).
    public var owner: String
    /// Repository name.
    public var repo: String
    /// The commit, 40 hex digits, lowercased.
    public var commitSHA: String
    /// Success or failure: the Check Run's conclusion.
    public var success: Bool
    /// The job's exit code, when the orchestrator knows it.
    public var exitCode: Int?
    /// Free text from the orchestrator.
    public var summary: String?
    /// When the job finished, seconds since 1970 (nil: not given; the daemon uses the time it handles the result).
    public var completedAt: Int?

    /// A validated result.
    public init(
        requestID: String, owner: String, repo: String, commitSHA: String, success: Bool, exitCode: Int? = nil,
        summary: String? = nil, completedAt: Int? = nil
    ) {
        self.requestID = requestID
        self.owner = owner
        self.repo = repo
        self.commitSHA = commitSHA
        self.success = success
        self.exitCode = exitCode
        self.summary = summary
        self.completedAt = completedAt
    }

    /// The wire shape; every field optional so that each missing or mistyped one gets its own message.
    private struct Wire: Decodable {
        var schema_version: String?
        var request_id: String?
        var repo_url: String?
        var repo_owner: String?
        var repo_name: String?
        var commit_sha: String?
        var success: Bool?
        var exit_code: Int?
        var summary: String?
        var completed_at: String?
    }

    /// Decodes and validates a message body; the error names the field at fault.
    public static func decode(_ body: [UInt8]) throws(JobResultError) -> JobResult {
        let wire: Wire
        do { wire = try JSONDecoder().decode(Wire.self, from: Data(body)) } catch let error as DecodingError {
            throw JobResultError(message: Self.describe(error))
        } catch {
            throw JobResultError(message: "invalid JSON")
        }
        guard let schema = wire.schema_version else { throw JobResultError(message: "schema_version is missing") }
        guard schema == Self.schema else {
            throw JobResultError(message: "schema_version is \(schema), expected \(Self.schema)")
        }
        guard let requestID = wire.request_id, GitHubNames.isUUID(requestID) else {
            throw JobResultError(message: "request_id is missing or not a UUID")
        }
        guard let sha = wire.commit_sha, GitHubNames.isCommitSHA(sha.lowercased()) else {
            throw JobResultError(message: "commit_sha is missing or not 40 or 64 hex digits")
        }
        guard let success = wire.success else { throw JobResultError(message: "success is missing") }
        let name: (owner: String, repo: String)
        if let owner = wire.repo_owner, let repo = wire.repo_name {
            name = (owner, repo)
        } else if let url = wire.repo_url, let parsed = RepositoryName.parse(url: url) {
            name = parsed
        } else {
            throw JobResultError(message: "repo_owner/repo_name are missing and repo_url names no owner/repo")
        }
        guard GitHubNames.isRepositoryName(name.owner), GitHubNames.isRepositoryName(name.repo) else {
            throw JobResultError(message: "owner/repo \(name.owner)/\(name.repo) is not a GitHub repository name")
        }
        var completedAt: Int?
        if let text = wire.completed_at {
            guard let seconds = RFC3339.parse(text) else {
                throw JobResultError(message: "completed_at is not an RFC 3339 time: \(text.prefix(40))")
            }
            completedAt = seconds
        }
        return JobResult(
            requestID: requestID.lowercased(), owner: name.owner, repo: name.repo, commitSHA: sha.lowercased(),
            success: success,
            exitCode: wire.exit_code, summary: wire.summary, completedAt: completedAt)
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context): return "\(context.fieldPath) has the wrong type"
        case .valueNotFound(_, let context): return "\(context.fieldPath) is null"
        case .keyNotFound(let key, _): return "\(key.stringValue) is missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "invalid JSON" : "\(context.fieldPath) is invalid"
        @unknown default: return "invalid JSON"
        }
    }
}

/// Why a message is not a usable `JobResult`; such messages go to the dead-letter queue.
public struct JobResultError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field at fault and what is wrong with it.
    public var message: String

    public var description: String { message }
}

/// `owner/repo` from a clone URL.
public enum RepositoryName {
    /// `https://github.com/org/repo.git`, `git@github.com:org/repo.git`, `ssh://git@host/org/repo` and
    /// GitHub Enterprise forms: the last two path segments, without `.git`. Nil when there are not two.
    public static func parse(url: String) -> (owner: String, repo: String)? {
        var path = Substring(url.trimmed())
        if let scheme = path.firstRange(of: "://") {
            path = path[scheme.upperBound...]
            guard let slash = path.firstIndex(of: "/") else { return nil }
            path = path[path.index(after: slash)...]
        } else if let colon = path.firstIndex(of: ":") {
            path = path[path.index(after: colon)...]  // scp-like git@host:owner/repo
        } else {
            return nil
        }
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<query] }
        while path.hasSuffix("/") { path = path.dropLast() }
        if path.hasSuffix(".git") { path = path.dropLast(4) }
        let parts = path.split(separator: "/")
        guard parts.count >= 2 else { return nil }
        return (String(parts[parts.count - 2]), String(parts[parts.count - 1]))
    }
}
