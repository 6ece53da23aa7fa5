import FoundationEssentials

/// Where Check Runs of one delivery go: the base repository's commit, through its installation.
public struct CheckRunTarget: Sendable, Equatable {
    /// The App installation whose token is used.
    public var installation: Int
    /// Repository owner.
    public var owner: String
    /// Repository name.
    public var repo: String
    /// The commit the runs are on.
    public var sha: String
}

/// Keeps GitHub's Checks tab truthful for queued jobs (SPEC §5, §7): one `queued` run per job with
/// `external_id` = request id, reusing a run that already has that external id on the commit, and a failed
/// `NAME / workflow` run with an annotation when the workflow file does not parse.
public final class CheckRunReporter: Sendable {
    private let app: GitHubApp
    private let checkName: String
    private let logsBaseURL: String?
    private let logger: Logger

    /// A reporter naming runs `checkName` (`NAME / JOB_ID` when a delivery has several jobs).
    public init(app: GitHubApp, checkName: String, logsBaseURL: String?, logger: Logger) {
        self.app = app
        self.checkName = checkName
        self.logsBaseURL = logsBaseURL
        self.logger = logger
    }

    /// The run name of a job: `NAME` alone for a single job, `NAME / JOB_ID` otherwise.
    public func runName(jobID: String?, jobCount: Int) -> String {
        guard let jobID, jobCount > 1 else { return checkName }
        return "\(checkName) / \(jobID)"
    }

    /// The job a run name stands for: the suffix after `NAME / `, nil for the bare name (the single job).
    public func jobID(fromRunName name: String) -> String? {
        let prefix = "\(checkName) / "
        return name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : nil
    }

    /// The job log's address, when an orchestrator log service is configured.
    public func detailsURL(requestID: String) -> String? {
        logsBaseURL.map { "\($0)/jobs/\(requestID)/logs" }
    }

    /// Creates a queued run per job, skipping jobs whose request id already has a run on the commit. Names
    /// follow the workflow's job count (`workflowJobs`), so a re-run of one job keeps its `NAME / JOB_ID`.
    /// Returns the number created.
    @discardableResult
    public func reportQueued(
        _ jobs: [JobRequest], workflowJobs: Int, target: CheckRunTarget, deadline: Double
    ) throws(GitHubError) -> Int {
        let existing = try runIDsByExternalID(target, deadline: deadline)
        var created = 0
        for job in jobs where existing[job.requestID] == nil {
            var body: [String: JSONField] = [
                "name": .string(runName(jobID: job.workflowJobID, jobCount: workflowJobs)),
                "head_sha": .string(target.sha), "external_id": .string(job.requestID), "status": .string("queued"),
            ]
            if let url = detailsURL(requestID: job.requestID) { body["details_url"] = .string(url) }
            try create(body, target, deadline: deadline)
            created += 1
        }
        return created
    }

    /// Creates the completed `NAME / workflow` run that shows why the workflow file was rejected, annotated on
    /// the failing line, unless a run with `externalID` already exists.
    public func reportWorkflowError(
        _ error: WorkflowError, path: String, externalID: String, target: CheckRunTarget, now: Int, deadline: Double
    ) throws(GitHubError) {
        if try runIDsByExternalID(target, deadline: deadline)[externalID] != nil { return }
        let rendered = error.render(fileName: path)
        var annotation: [String: JSONField] = [
            "path": .string(path), "start_line": .int(error.line), "end_line": .int(error.line),
            "annotation_level": .string("failure"), "message": .string(error.message),
            "title": .string(error.kind == .syntax ? "KDL syntax error" : "invalid workflow"),
        ]
        // GitHub accepts columns only on single-line annotations, which this is.
        annotation["start_column"] = .int(error.column)
        annotation["end_column"] = .int(error.column)
        let output: [String: JSONField] = [
            "title": .string("\(path): line \(error.line), column \(error.column)"),
            "summary": .string(
                "The workflow file could not be used, so the commit runs as one job without it.\n\n"
                    + "`\(path):\(error.line):\(error.column)`: \(error.message)"),
            "text": .string("```\n\(String(rendered.prefix(60_000)))\n```"),
            "annotations": .array([.object(annotation)]),
        ]
        try create(
            [
                "name": .string("\(checkName) / workflow"), "head_sha": .string(target.sha),
                "external_id": .string(externalID), "status": .string("completed"),
                "conclusion": .string("failure"), "completed_at": .string(RFC3339.format(secondsSince1970: now)),
                "output": .object(output),
            ], target, deadline: deadline)
    }

    private func create(_ body: [String: JSONField], _ target: CheckRunTarget, deadline: Double) throws(GitHubError) {
        let response = try app.request(
            installation: target.installation, method: "POST", path: "/repos/\(target.owner)/\(target.repo)/check-runs",
            body: JSONField.object(body).bytes, deadline: deadline)
        try GitHubApp.expect(201, response, "POST /repos/\(target.owner)/\(target.repo)/check-runs")
    }

    /// Every run on the commit (`filter=all`: the default `latest` hides older runs of the same name), all pages,
    /// by external id.
    public func runIDsByExternalID(_ target: CheckRunTarget, deadline: Double) throws(GitHubError) -> [String: Int] {
        struct Page: Decodable {
            struct Run: Decodable {
                var id: Int
                var external_id: String?
            }
            var check_runs: [Run]
        }
        var result: [String: Int] = [:]
        var next: String? =
            "/repos/\(target.owner)/\(target.repo)/commits/\(target.sha)/check-runs?filter=all&per_page=100"
        var pages = 0
        while let path = next, pages < 50 {
            pages += 1
            let response = try app.request(
                installation: target.installation, method: "GET", path: path, deadline: deadline)
            try GitHubApp.expect(200, response, "GET check runs of \(target.sha)")
            for run in try GitHubApp.decode(Page.self, response).check_runs {
                if let id = run.external_id { result[id] = run.id }
            }
            next = response.headers["link"].flatMap(Self.nextLink)
        }
        return result
    }

    /// The `rel="next"` URL of a `Link` header.
    static func nextLink(_ header: String) -> String? {
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";").map { $0.trimmed() }
            guard pieces.count >= 2, pieces.dropFirst().contains(where: { $0 == "rel=\"next\"" }) else { continue }
            let url = pieces[0]
            guard url.hasPrefix("<"), url.hasSuffix(">") else { continue }
            return String(url.dropFirst().dropLast())
        }
        return nil
    }
}

/// A JSON value for bodies built field by field (response bodies, Checks requests), written in the order given.
public enum JSONField: Sendable, ExpressibleByStringLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    case array([JSONField])
    case object([(String, JSONField)])

    public init(stringLiteral value: String) { self = .string(value) }

    /// A string, or `null` for nil.
    static func optional(_ s: String?) -> JSONField { s.map { .string($0) } ?? .null }

    /// An object from a dictionary, keys sorted so equal objects give equal bytes.
    static func object(_ fields: [String: JSONField]) -> JSONField {
        .object(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// JSON bytes.
    public var bytes: [UInt8] { Array(text.utf8) }

    var text: String {
        switch self {
        case .string(let s): JSONText.quote(s)
        case .int(let n): String(n)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let fields):
            "{" + fields.map { JSONText.quote($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }
}
