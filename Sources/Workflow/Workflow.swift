/// One job of a `.solstice/workflow.kdl` (SPEC §5): what to run and where.
public struct WorkflowJob: Sendable, Equatable {
    /// Unique within the workflow; letters, digits, `_`, `.` and `-`.
    public var id: String
    /// The runner label the job asks for (`runs_on`/`runs-on`), if any.
    public var runsOn: String?
    /// The script the runner executes (`script`), if any.
    public var scriptPath: String?

    /// Creates a job.
    public init(id: String, runsOn: String? = nil, scriptPath: String? = nil) {
        self.id = id
        self.runsOn = runsOn
        self.scriptPath = scriptPath
    }
}

/// A parsed workflow file: an optional name and at least one job, in file order.
public struct Workflow: Sendable, Equatable {
    /// The `name` of the `workflow` wrapper node, if any.
    public var name: String?
    /// The jobs, in file order.
    public var jobs: [WorkflowJob]

    /// Creates a workflow.
    public init(name: String? = nil, jobs: [WorkflowJob]) {
        self.name = name
        self.jobs = jobs
    }
}
