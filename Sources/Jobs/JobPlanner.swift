import Base
import Events

/// A job before ids and time are attached: what the workflow (or its absence) says.
public struct PlannedJob: Sendable, Equatable {
    /// The workflow job id; nil when the repository has no workflow.
    public var workflowJobID: String?
    /// The job's own `runs_on`, first in the SPEC §5 precedence.
    public var runsOn: String?
    /// The job's script.
    public var scriptPath: String?
    /// The workflow file the job came from.
    public var workflowPath: String?

    /// The single job of a repository without a workflow.
    public static let withoutWorkflow = PlannedJob(workflowJobID: nil, runsOn: nil, scriptPath: nil, workflowPath: nil)

    /// A job described by the workflow.
    public init(workflowJobID: String?, runsOn: String?, scriptPath: String?, workflowPath: String?) {
        self.workflowJobID = workflowJobID
        self.runsOn = runsOn
        self.scriptPath = scriptPath
        self.workflowPath = workflowPath
    }
}

/// Turns a build trigger and its planned jobs into `JobRequest`s with deterministic ids (SPEC §4, §5, §7).
public struct JobPlanner: Sendable {
    /// `RUNS_ON_DEFAULT`.
    public var runsOnDefault: String?
    /// `RUNS_ON_MAP`, keys lowercased `owner/repo`.
    public var runsOnMap: [String: String]

    /// A planner with the runs-on configuration of SPEC §2.
    public init(runsOnDefault: String?, runsOnMap: [String: String]) {
        self.runsOnDefault = runsOnDefault
        self.runsOnMap = runsOnMap
    }

    /// The id a job without workflow gets in its request-id derivation.
    static let defaultJobKey = "default"

    /// One `JobRequest` per planned job.
    public func requests(
        for trigger: BuildTrigger, jobs: [PlannedJob], ids: DeliveryIDs, submittedAt: Int
    ) -> [JobRequest] {
        let groupID = ids.groupID
        let timestamp = RFC3339.format(secondsSince1970: submittedAt)
        return jobs.map { job in
            JobRequest(
                requestID: ids.requestID(jobID: job.workflowJobID ?? Self.defaultJobKey), groupID: groupID,
                repoURL: trigger.repoURL, repoOwner: trigger.owner, repoName: trigger.name,
                commitSHA: trigger.commitSHA, workflowPath: job.workflowPath, workflowJobID: job.workflowJobID,
                runsOn: runsOn(job: job, trigger: trigger), scriptPath: job.scriptPath, event: trigger.event,
                pullRequestNumber: trigger.pullRequestNumber, approvedBy: trigger.approvedBy, submittedAt: timestamp)
        }
    }

    /// SPEC §5: the job's own value; a PR label `runs-on:LABEL`; `RUNS_ON_MAP[owner/repo]`; `RUNS_ON_DEFAULT`.
    public func runsOn(job: PlannedJob, trigger: BuildTrigger) -> String? {
        if let own = job.runsOn { return own }
        for label in trigger.labels where label.hasPrefix("runs-on:") {
            let value = label.dropFirst("runs-on:".count).trimmed()
            if !value.isEmpty { return value }
        }
        return runsOnMap[trigger.fullName.lowercased()] ?? runsOnDefault
    }
}
