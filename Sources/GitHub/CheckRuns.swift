import Base
import FoundationEssentials
import HTTP

/// The commit Check Runs are written on: the base repository's, where the App is installed (also for forks).
public struct CheckRunTarget: Sendable, Equatable, Codable {
    /// Repository owner.
    public var owner: String
    /// Repository name.
    public var repo: String
    /// The commit the runs are on.
    public var sha: String

    /// The commit `sha` of `owner/repo`.
    public init(owner: String, repo: String, sha: String) {
        self.owner = owner
        self.repo = repo
        self.sha = sha
    }

    var runsPath: String { "/repos/\(owner)/\(repo)/check-runs" }
}

/// A queued job's run: its `external_id` (the request id) and the workflow job it stands for.
public struct QueuedRun: Sendable, Equatable, Codable {
    /// `external_id`: the job's request id.
    public var externalID: String
    /// The workflow job id; nil for the single job of a repository without a workflow.
    public var jobID: String?

    /// The run of job `jobID` with request id `externalID`.
    public init(externalID: String, jobID: String?) {
        self.externalID = externalID
        self.jobID = jobID
    }
}

/// A workflow file that could not be used, as the `NAME / workflow` run shows it: where, what, and the rendered
/// error with the line and a caret.
public struct WorkflowFailure: Sendable, Equatable, Codable {
    /// The file (`.solstice/workflow.kdl`).
    public var path: String
    /// 1-based line.
    public var line: Int
    /// 1-based column.
    public var column: Int
    /// What is wrong.
    public var message: String
    /// The annotation's title (`KDL syntax error`, `invalid workflow`).
    public var title: String
    /// The error as `solstice-fcgi workflow` prints it.
    public var rendered: String

    /// A failure at `line`:`column` of `path`.
    public init(path: String, line: Int, column: Int, message: String, title: String, rendered: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        self.title = title
        self.rendered = rendered
    }
}

/// The one owner of GitHub's Checks API, for both daemons (SPEC §5, §7, §8): queued runs per job with
/// `external_id` = request id (reusing a run that already has that external id on the commit), the failed
/// `NAME / workflow` run, and the completion of a job's run with its result.
public final class CheckRuns: Sendable {
    /// The REST client the runs are written through.
    public let client: GitHubClient
    let checkName: String
    private let logsBaseURL: String?

    /// Runs named `checkName` (`NAME / JOB_ID` when a delivery has several jobs), linking to `logsBaseURL`.
    public init(client: GitHubClient, checkName: String, logsBaseURL: String?) {
        self.client = client
        self.checkName = checkName
        self.logsBaseURL = logsBaseURL
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

    /// The body of the completed `NAME / workflow` run that shows why the workflow file was rejected, annotated
    /// on the failing line.
    func workflowErrorBody(_ failure: WorkflowFailure, externalID: String, target: CheckRunTarget, now: Int)
        -> [String: JSONField]
    {
        // GitHub accepts columns only on single-line annotations, which this is.
        let annotation: [String: JSONField] = [
            "path": .string(failure.path), "start_line": .int(failure.line), "end_line": .int(failure.line),
            "start_column": .int(failure.column), "end_column": .int(failure.column),
            "annotation_level": .string("failure"), "message": .string(failure.message),
            "title": .string(failure.title),
        ]
        let output: [String: JSONField] = [
            "title": .string("\(failure.path): line \(failure.line), column \(failure.column)"),
            "summary": .string(
                "The workflow file could not be used, so the commit runs as one job without it.\n\n"
                    + "`\(failure.path):\(failure.line):\(failure.column)`: \(failure.message)"),
            "text": .string("```\n\(String(failure.rendered.prefix(60_000)))\n```"),
            "annotations": .array([.object(annotation)]),
        ]
        return [
            "name": .string("\(checkName) / workflow"), "head_sha": .string(target.sha),
            "external_id": .string(externalID), "status": .string("completed"),
            "conclusion": .string("failure"), "completed_at": .string(RFC3339.format(secondsSince1970: now)),
            "output": .object(output),
        ]
    }

    /// How `complete` found the run.
    public enum Completion: Sendable, Equatable {
        /// The run with that external id was patched.
        case patched(runID: Int)
        /// None existed: a completed run was created.
        case created(runID: Int)
    }

    /// Completes the run whose `external_id` is `externalID` (SPEC §8): PATCHed to `completed` with
    /// `fields` (conclusion, completed_at, output, details_url), or created already completed under the check
    /// name when there is none.
    public func complete(externalID: String, target: CheckRunTarget, fields: [String: JSONField], deadline: Double)
        throws(GitHubError) -> Completion
    {
        var body = fields
        body["status"] = .string("completed")
        if let runID = try runIDsByExternalID(target, deadline: deadline)[externalID] {
            let path = "\(target.runsPath)/\(runID)"
            let response = try client.request("PATCH", path, body: JSONField.object(body).bytes, deadline: deadline)
            try GitHubClient.expect(200, response, "PATCH \(path)")
            return .patched(runID: runID)
        }
        body["name"] = .string(checkName)
        body["head_sha"] = .string(target.sha)
        body["external_id"] = .string(externalID)
        let response = try create(body, target, deadline: deadline)
        struct Run: Decodable { var id: Int }
        return .created(runID: (try? GitHubClient.decode(Run.self, response).id) ?? 0)
    }

    @discardableResult
    func create(_ body: [String: JSONField], _ target: CheckRunTarget, deadline: Double) throws(GitHubError)
        -> HTTPResponse
    {
        let response = try client.request(
            "POST", target.runsPath, body: JSONField.object(body).bytes, deadline: deadline)
        try GitHubClient.expect(201, response, "POST \(target.runsPath)")
        return response
    }

    /// A run `write` created.
    public struct CreatedRun: Sendable, Equatable {
        /// GitHub's id of the run.
        public var id: Int
        /// Its `external_id`.
        public var externalID: String
        /// Its name.
        public var name: String
        /// Its status as created (`queued`, or `completed` for the workflow, skip and approval runs).
        public var status: String
    }

    /// One of this App's runs on a commit, as the list of runs shows it.
    public struct Run: Sendable, Equatable {
        /// The run's id.
        public var id: Int
        /// Its name (`NAME`, `NAME / JOB_ID`, `NAME / workflow`).
        public var name: String
        /// `external_id`.
        public var externalID: String?
        /// `queued`, `in_progress`, `completed`, ….
        public var status: String
        /// The conclusion, once completed.
        public var conclusion: String?
        /// `output.title`.
        public var title: String?
    }

    /// Every run of this App on the commit (`filter=all`: the default `latest` hides older runs of the same name),
    /// all pages, newest first. Runs of other Apps are skipped: another App may use the same external id, and a
    /// PATCH of its run would be refused (SPEC §8).
    public func runs(_ target: CheckRunTarget, deadline: Double) throws(GitHubError) -> [Run] {
        struct Page: Decodable {
            struct Run: Decodable {
                struct App: Decodable { var id: Int }
                struct Output: Decodable { var title: String? }
                var id: Int
                var name: String?
                var external_id: String?
                var status: String?
                var conclusion: String?
                var output: Output?
                var app: App?
            }
            var check_runs: [Run]
        }
        let ours = Int(client.appID)
        var result: [Run] = []
        let first = "/repos/\(target.owner)/\(target.repo)/commits/\(target.sha)/check-runs?filter=all&per_page=100"
        for page in try client.pages(first, what: "GET check runs of \(target.sha)", deadline: deadline) {
            for run in try GitHubClient.decode(Page.self, page).check_runs where run.app?.id == ours {
                result.append(
                    Run(
                        id: run.id, name: run.name ?? "", externalID: run.external_id, status: run.status ?? "",
                        conclusion: run.conclusion, title: run.output?.title))
            }
        }
        return result.sorted { $0.id > $1.id }
    }

    /// This App's runs on the commit by external id (the newest, where several share one).
    public func runIDsByExternalID(_ target: CheckRunTarget, deadline: Double) throws(GitHubError) -> [String: Int] {
        var result: [String: Int] = [:]
        for run in try runs(target, deadline: deadline) {
            if let id = run.externalID, result[id] == nil { result[id] = run.id }
        }
        return result
    }
}
