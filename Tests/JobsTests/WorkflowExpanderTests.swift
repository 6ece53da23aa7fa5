import Base
import Crypto
import GitHub
import TestSupport
import Testing
import Workflow

@testable import Events
@testable import Jobs

/// `WorkflowExpander` against a loopback stand-in for GitHub's contents API: a workflow over the SPEC §5 limits is
/// one job and a workflow error (a failed `NAME / workflow` Check Run), never thousands of JobRequests.
@Suite struct WorkflowExpanderTests {
    static let sha = String(repeating: "c", count: 40)

    /// What the expander makes of `file` served as `.solstice/workflow.kdl` of o/r at `sha`.
    static func expand(_ file: [UInt8], limits: WorkflowLimits = WorkflowLimits()) throws -> Expansion {
        let server = try LoopbackHTTPServer { request in
            switch (request.method, request.path) {
            case ("POST", "/app/installations/7/access_tokens"):
                return .json(201, #"{"token": "ghs_t", "expires_at": "2099-01-01T00:00:00Z"}"#)
            case ("GET", "/repos/o/r/contents/.solstice/workflow.kdl") where request.target.hasSuffix("?ref=\(sha)"):
                return .respond(status: 200, body: file)
            default:
                return .json(404, #"{"message": "Not Found"}"#)
            }
        }
        defer { server.stop() }
        let client = GitHubClient(
            credentials: GitHubAppCredentials(appID: "1", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1)),
            apiBase: server.baseURL, logger: Logger(level: .error))
        let trigger = BuildTrigger(
            repoURL: "https://github.com/o/r.git", owner: "o", name: "r", commitSHA: sha, branch: "main", labels: [],
            installationID: 7)
        return WorkflowExpander(client: client, logger: Logger(level: .error), limits: limits)
            .expand(trigger, deadline: MonotonicClock.now() + 10)
    }

    static func jobs(_ count: Int) -> [UInt8] {
        Array((1...count).map { "job \"j\($0)\" runs_on=\"ubuntu-24.04\"\n" }.joined().utf8)
    }

    @Test func workflowWithinTheLimitsIsExpanded() throws {
        let expansion = try Self.expand(Self.jobs(256))
        #expect(expansion.workflowError == nil)
        #expect(expansion.jobs.count == 256)
        #expect(
            expansion.jobs.last
                == PlannedJob(
                    workflowJobID: "j256", runsOn: "ubuntu-24.04", scriptPath: nil,
                    workflowPath: ".solstice/workflow.kdl"))
    }

    @Test func tooManyJobsAreOneJobAndAWorkflowError() throws {
        let expansion = try Self.expand(Self.jobs(5_000))
        #expect(expansion.appInstalled)
        #expect(expansion.jobs == [.withoutWorkflow])
        let error = try #require(expansion.workflowError)
        #expect(error.kind == .workflow && error.line == 257)
        #expect(error.message.contains("WORKFLOW_MAX_JOBS (256)"))
        let failure = error.checkRunFailure(path: WorkflowExpander.path)
        #expect(failure.line == 257 && failure.title == "invalid workflow")
    }

    @Test func tooManyBytesAreOneJobAndAWorkflowError() throws {
        let expansion = try Self.expand(Self.jobs(1) + [UInt8](repeating: 0x0A, count: 262_144))
        #expect(expansion.jobs == [.withoutWorkflow])
        #expect(expansion.workflowError?.message.contains("more than WORKFLOW_MAX_BYTES (262144)") == true)
    }

    @Test func theConfiguredLimitsApply() throws {
        var limits = WorkflowLimits()
        limits.runsOnAllowed = ["omnios-*"]
        let refused = try Self.expand(Self.jobs(1), limits: limits)
        #expect(refused.jobs == [.withoutWorkflow])
        #expect(refused.workflowError?.message.contains("RUNS_ON_ALLOWED is omnios-*") == true)
        limits.runsOnAllowed = nil
        limits.maxJobs = 2
        #expect(try Self.expand(Self.jobs(3), limits: limits).workflowError?.line == 3)
    }
}
