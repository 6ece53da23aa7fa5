import Base
import Events
import GitHub
import Workflow

/// What the workflow says to build for one trigger (SPEC §5).
public struct Expansion: Sendable {
    /// Whether the App is installed on the repository, so its Check Runs can be written.
    public var appInstalled: Bool
    /// The jobs to queue; one job without workflow fields when there is no usable workflow.
    public var jobs: [PlannedJob]
    /// Why the workflow file was rejected, if it was.
    public var workflowError: WorkflowError?
    /// Why GitHub could not give the workflow (network, 5xx, rate limit, token trouble): no jobs, the delivery is
    /// deferred (SPEC §5, §7). Never guessed around.
    public var readFailure: GitHubError?

    /// An expansion.
    public init(
        appInstalled: Bool, jobs: [PlannedJob], workflowError: WorkflowError? = nil, readFailure: GitHubError? = nil
    ) {
        self.appInstalled = appInstalled
        self.jobs = jobs
        self.workflowError = workflowError
        self.readFailure = readFailure
    }
}

/// Turns a build trigger into the jobs to queue; the seam the responder calls and tests replace.
public protocol JobExpanding: Sendable {
    /// Expands `trigger`, spending at most until `deadline` (monotonic seconds) on GitHub.
    func expand(_ trigger: BuildTrigger, deadline: Double) -> Expansion
}

/// Without App credentials: one job, no workflow fields (SPEC §5).
public struct SingleJobExpander: JobExpanding {
    /// The expander used without App credentials.
    public init() {}

    /// One job without workflow fields.
    public func expand(_ trigger: BuildTrigger, deadline: Double) -> Expansion {
        Expansion(appInstalled: trigger.installationID != nil, jobs: [.withoutWorkflow])
    }
}

/// Reads `.solstice/workflow.kdl` at the exact commit through the App and expands it into jobs.
///
/// A missing file (404) gives one job without workflow fields; a file that does not parse gives that same job
/// plus the error, for a failed `NAME / workflow` Check Run. When GitHub cannot give the file (down, rate limited
/// past the deadline, token trouble), the expansion says so and has no jobs: the responder defers the delivery
/// and asks again later, because building one default job instead would be a different build (SPEC §5, §7).
public final class WorkflowExpander: JobExpanding {
    /// Where the workflow lives in a repository.
    public static let path = ".solstice/workflow.kdl"

    private let client: GitHubClient
    private let logger: Logger
    private let limits: WorkflowLimits

    /// An expander reading through `client`; a workflow over `limits` (SPEC §5) is rejected like one that does
    /// not parse.
    public init(client: GitHubClient, logger: Logger, limits: WorkflowLimits = WorkflowLimits()) {
        self.client = client
        self.logger = logger
        self.limits = limits
    }

    /// The workflow's jobs at the trigger's commit, or one job without it (see the type's note).
    public func expand(_ trigger: BuildTrigger, deadline: Double) -> Expansion {
        if let id = trigger.installationID { client.learnInstallation(id, owner: trigger.owner, repo: trigger.name) }
        var installed = trigger.installationID != nil
        do {
            installed = try client.isInstalled(owner: trigger.owner, repo: trigger.name, deadline: deadline)
            guard installed else {
                logger.log(.warning, "App not installed on repository", ["repo": .string(trigger.fullName)])
                return Expansion(appInstalled: false, jobs: [.withoutWorkflow])
            }
            let response = try client.request(
                "GET", "/repos/\(trigger.owner)/\(trigger.name)/contents/\(Self.path)?ref=\(trigger.commitSHA)",
                accept: "application/vnd.github.raw+json",
                // One byte over the limit is enough for the parser to refuse the file without reading it all.
                maxResponseBytes: Int64(limits.maxBytes) + 1, deadline: deadline)
            if response.status == 404 { return Expansion(appInstalled: true, jobs: [.withoutWorkflow]) }
            try GitHubClient.expect(200, response, "GET \(Self.path) at \(trigger.commitSHA)")
            do {
                let workflow = try WorkflowParser.parse(response.body, limits: limits)
                let jobs = workflow.jobs.map {
                    PlannedJob(
                        workflowJobID: $0.id, runsOn: $0.runsOn, scriptPath: $0.scriptPath, workflowPath: Self.path)
                }
                return Expansion(appInstalled: true, jobs: jobs)
            } catch {
                return Expansion(appInstalled: true, jobs: [.withoutWorkflow], workflowError: error)
            }
        } catch {
            logger.log(
                .warning, "workflow not read: delivery deferred",
                ["repo": .string(trigger.fullName), "sha": .string(trigger.commitSHA), "error": .string(error.message)])
            return Expansion(appInstalled: installed, jobs: [], readFailure: error)
        }
    }
}

extension WorkflowError {
    /// The error as the `NAME / workflow` Check Run shows it.
    public func checkRunFailure(path: String) -> WorkflowFailure {
        WorkflowFailure(
            path: path, line: line, column: column, message: message,
            title: kind == .syntax ? "KDL syntax error" : "invalid workflow", rendered: render(fileName: path))
    }
}
