import Base
import Foundation
import Testing

@testable import Events
@testable import Jobs

@Suite struct JobPlannerTests {
    private func trigger(labels: [String] = [], owner: String = "Org", name: String = "Repo") -> BuildTrigger {
        BuildTrigger(
            repoURL: "https://github.com/org/repo.git", owner: owner, name: name,
            commitSHA: String(repeating: "c", count: 40), branch: "main", labels: labels, installationID: 7)
    }

    @Test func runsOnPrecedence() {
        let planner = JobPlanner(runsOnDefault: "default-label", runsOnMap: ["org/repo": "mapped"])
        let own = PlannedJob(workflowJobID: "b", runsOn: "own", scriptPath: nil, workflowPath: nil)
        #expect(planner.runsOn(job: own, trigger: trigger(labels: ["runs-on:label"])) == "own")
        #expect(planner.runsOn(job: .withoutWorkflow, trigger: trigger(labels: ["bug", "runs-on:label"])) == "label")
        #expect(planner.runsOn(job: .withoutWorkflow, trigger: trigger()) == "mapped")
        #expect(planner.runsOn(job: .withoutWorkflow, trigger: trigger(owner: "other")) == "default-label")
        #expect(JobPlanner(runsOnDefault: nil, runsOnMap: [:]).runsOn(job: .withoutWorkflow, trigger: trigger()) == nil)
    }

    @Test func idsAreDeterministicPerDeliveryAndJob() {
        let planner = JobPlanner(runsOnDefault: nil, runsOnMap: [:])
        let jobs = ["lint", "build"].map {
            PlannedJob(workflowJobID: $0, runsOn: nil, scriptPath: nil, workflowPath: nil)
        }
        let a = planner.requests(
            for: trigger(), jobs: jobs, ids: DeliveryIDs(delivery: "d", installationTarget: nil), submittedAt: 0)
        let b = planner.requests(
            for: trigger(), jobs: jobs, ids: DeliveryIDs(delivery: "d", installationTarget: nil), submittedAt: 99)
        let c = planner.requests(
            for: trigger(), jobs: jobs, ids: DeliveryIDs(delivery: "d", installationTarget: "42"), submittedAt: 0)
        #expect(a.map(\.requestID) == b.map(\.requestID))
        #expect(Set(a.map(\.groupID)).count == 1)
        #expect(a[0].requestID != a[1].requestID)
        #expect(a[0].groupID != c[0].groupID)
        #expect(a[0].requestID != c[0].requestID)
    }

    @Test func uuidV5MatchesPythonsUUID5() {
        // python3 -c "import uuid; ns=uuid.UUID('9c460c2b-5912-46d7-9b55-903df21ea32d'); print(uuid.uuid5(ns, 'd-1'))"
        #expect(DeliveryIDs.uuid5("d-1") == "0fbe4ae1-8447-5233-8d2e-9279743ffb90")
        #expect(DeliveryIDs.uuid5("d-1/default") == "e865bffd-d9a0-5870-883b-e73ae5b0b51f")
        #expect(
            DeliveryIDs(delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958", installationTarget: "123456").groupID
                == "0527b22e-61b3-5bc8-a6a9-07a4d376e123")
    }

    @Test func wireFormatHasEveryFieldWithNulls() throws {
        let planner = JobPlanner(runsOnDefault: nil, runsOnMap: [:])
        let job = planner.requests(
            for: trigger(), jobs: [.withoutWorkflow], ids: DeliveryIDs(delivery: "d", installationTarget: nil),
            submittedAt: 1_795_953_600)[0]
        let object = try JSONSerialization.jsonObject(with: Data(job.jsonBytes())) as! [String: Any]
        #expect(
            Set(object.keys) == [
                "schema_version", "request_id", "group_id", "source", "repo_url", "repo_owner", "repo_name",
                "commit_sha", "workflow_path", "workflow_job_id", "runs_on", "script_path", "event",
                "pull_request_number", "approved_by", "submitted_at",
            ])
        for key in ["workflow_path", "workflow_job_id", "runs_on", "script_path", "pull_request_number", "approved_by"]
        {
            #expect(object[key] is NSNull, "\(key) must be null")
        }
        #expect(object["submitted_at"] as? String == "2026-11-29T12:00:00Z")
        #expect(try JSONDecoder().decode(JobRequest.self, from: Data(job.jsonBytes())) == job)
    }

    @Test(arguments: [
        (0, "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"), (1_795_953_600, "2026-11-29T12:00:00Z"),
        (4_102_444_799, "2099-12-31T23:59:59Z"),
    ])
    func rfc3339(seconds: Int, text: String) {
        #expect(RFC3339.format(secondsSince1970: seconds) == text)
    }
}
