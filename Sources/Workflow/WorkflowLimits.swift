import Base

/// What a repository's workflow file may ask for (SPEC §5, v2). Anyone who can open a pull request writes this file,
/// so its size, its number of jobs (each one a JobRequest and a Check Run), its ids, its nesting and the runners it
/// names are bounded before anything is queued.
public struct WorkflowLimits: Sendable, Equatable {
    /// Larger files are refused before they are parsed (`WORKFLOW_MAX_BYTES`) [262144].
    public var maxBytes = 262_144
    /// More jobs are refused; reading stops at the first job over (`WORKFLOW_MAX_JOBS`) [256].
    public var maxJobs = 256
    /// Globs a job's own `runs_on` must match (`RUNS_ON_ALLOWED`); nil allows every label [allow all].
    public var runsOnAllowed: [String]?
    /// Longest job id, in characters [100]; a SPEC constant, not a variable.
    public var maxIDLength = 100
    /// Deepest nesting of nodes, top-level nodes being at depth 1 [64]; a SPEC constant, not a variable. The KDL
    /// parser's own cap (256 children blocks) stays underneath as a safety net.
    public var maxDepth = 64

    /// The defaults of SPEC §2.
    public init() {}

    /// The variables of this part, with their defaults.
    public static let variables = [
        ConfigVariable("WORKFLOW_MAX_BYTES", "262144", "larger workflow files are refused before parsing"),
        ConfigVariable("WORKFLOW_MAX_JOBS", "256", "workflows with more jobs are refused"),
        ConfigVariable(
            "RUNS_ON_ALLOWED", "allow all", "comma-separated globs; a job asking for another label is refused"),
    ]

    /// Reads `WORKFLOW_MAX_BYTES`, `WORKFLOW_MAX_JOBS` and `RUNS_ON_ALLOWED`.
    public static func load(_ env: Environment) throws(ConfigurationError) -> WorkflowLimits {
        var limits = WorkflowLimits()
        // A parsed document addresses its source with 31-bit offsets; 1 GiB keeps well inside that.
        if let n = try env.integer(
            "WORKFLOW_MAX_BYTES", in: 1...(1 << 30), "expected a number of bytes from 1 to 1073741824")
        {
            limits.maxBytes = n
        }
        if let n = try env.integer("WORKFLOW_MAX_JOBS", in: 1...100_000, "expected a number of jobs from 1 to 100000") {
            limits.maxJobs = n
        }
        if let globs = env.list("RUNS_ON_ALLOWED") {
            guard !globs.isEmpty else {
                throw ConfigurationError(
                    variable: "RUNS_ON_ALLOWED", message: "expected comma-separated globs, e.g. ubuntu-*,omnios-*")
            }
            limits.runsOnAllowed = globs
        }
        return limits
    }

    /// Whether a job may ask for runner `label`. With globs set, a label holding a NUL is refused: `fnmatch` would
    /// read it only up to the NUL, so `ubuntu-24.04\u{0}-gpu` would pass as `ubuntu-24.04`.
    public func allows(runsOn label: String) -> Bool {
        guard let globs = runsOnAllowed else { return true }
        return !label.utf8.contains(0) && Glob.matches(label, anyOf: globs)
    }
}
