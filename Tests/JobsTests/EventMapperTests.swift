import TestSupport
import Testing

@testable import Events
@testable import Jobs

/// Every payload in ../shared/reference/github-payloads, through mapping and planning, with every JobRequest field.
@Suite struct EventMapperTests {
    private let ids = DeliveryIDs(delivery: "72d3162e-cc78-11e3-81ab-4c9367dc0958", installationTarget: nil)
    private let planner = JobPlanner(runsOnDefault: nil, runsOnMap: [:])

    private func request(_ file: String, event: String) throws -> JobRequest {
        guard case .build(let trigger) = try EventMapper.map(event: event, payload: try TestPaths.payload(file)) else {
            Issue.record("\(file) was not built")
            throw PayloadError(field: nil, message: "not built")
        }
        let requests = planner.requests(for: trigger, jobs: [.withoutWorkflow], ids: ids, submittedAt: 1_795_953_600)
        #expect(requests.count == 1)
        return requests[0]
    }

    @Test func pushToNewBranchBecomesOneJob() throws {
        let job = try request("push.with-new-branch.json", event: "push")
        #expect(job.schemaVersion == "jobrequest.v1")
        #expect(job.source == "github")
        #expect(job.repoURL == "https://github.com/Codertocat/Hello-World.git")
        #expect(job.repoOwner == "Codertocat")
        #expect(job.repoName == "Hello-World")
        #expect(job.commitSHA == "6113728f27ae82c7b1a177c8d03f9e96e0adf246")
        #expect(job.workflowPath == nil)
        #expect(job.workflowJobID == nil)
        #expect(job.runsOn == nil)
        #expect(job.scriptPath == nil)
        #expect(job.submittedAt == "2026-11-29T12:00:00Z")
        // python3 -c "import uuid; ns=uuid.UUID('9c460c2b-5912-46d7-9b55-903df21ea32d'); print(uuid.uuid5(ns, K))"
        #expect(job.groupID == DeliveryIDs.uuid5("72d3162e-cc78-11e3-81ab-4c9367dc0958"))
        #expect(job.requestID == DeliveryIDs.uuid5("72d3162e-cc78-11e3-81ab-4c9367dc0958/default"))
    }

    @Test(arguments: ["pull_request.opened.json", "pull_request.synchronize.json"])
    func pullRequestBuildsHeadOnBaseRepository(file: String) throws {
        let job = try request(file, event: "pull_request")
        #expect(job.repoURL == "https://github.com/Codertocat/Hello-World.git")
        #expect(job.repoOwner == "Codertocat")
        #expect(job.repoName == "Hello-World")
        #expect(job.commitSHA == "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        #expect(job.workflowJobID == nil && job.runsOn == nil && job.scriptPath == nil && job.workflowPath == nil)
    }

    @Test(arguments: [
        ("push.json", "push", "push deletes refs/tags/simple-tag"),
        ("push.with-installation.json", "push", "push deletes refs/tags/simple-tag"),
        ("pull_request.closed.json", "pull_request", "pull_request action closed is not built"),
        ("push.with-new-branch.json", "issues", "event issues is not handled"),
    ])
    func ignoredPayloadsSayWhy(file: String, event: String, reason: String) throws {
        #expect(try EventMapper.map(event: event, payload: try TestPaths.payload(file)) == .ignored(reason))
    }

    @Test func checkSuiteRerequestedRebuildsItsHead() throws {
        let outcome = try EventMapper.map(
            event: "check_suite", payload: try TestPaths.payload("check_suite.rerequested.json"))
        guard case .build(let trigger) = outcome else {
            Issue.record("not built: \(outcome)")
            return
        }
        #expect(trigger.commitSHA == "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
        #expect(trigger.fullName == "Codertocat/Hello-World")
        #expect(trigger.repoURL == "https://github.com/Codertocat/Hello-World.git")
        #expect(trigger.branch == "changes")
        #expect(trigger.installationID == 957_387)
        #expect(trigger.selection == .all)
        #expect(trigger.event == "check_suite")
    }

    @Test func checkRunRerequestedRebuildsOneRun() throws {
        let outcome = try EventMapper.map(
            event: "check_run", payload: try TestPaths.payload("check_run.rerequested.json"))
        guard case .build(let trigger) = outcome else {
            Issue.record("not built: \(outcome)")
            return
        }
        #expect(trigger.commitSHA == "d6fde92930d4715a2b49857d24b940956b26d2d3")
        #expect(trigger.fullName == "github/hello-world")
        #expect(trigger.selection == .checkRun(name: "randscape"))
        #expect(trigger.event == "check_run")
        #expect(trigger.installationID == 1)
    }

    @Test(arguments: ["requested", "completed", "created"])
    func otherCheckActionsAreIgnored(action: String) throws {
        for event in ["check_suite", "check_run"] {
            let json = #"{"action": "\#(action)"}"#
            #expect(
                try EventMapper.map(event: event, payload: Array(json.utf8))
                    == .ignored("\(event) action \(action) is not handled"))
        }
    }

    @Test func pingCarriesZen() throws {
        let outcome = try EventMapper.map(event: "ping", payload: try TestPaths.payload("ping.json"))
        guard case .ping(let zen) = outcome else {
            Issue.record("not a ping: \(outcome)")
            return
        }
        #expect(zen?.isEmpty == false)
    }

    @Test func forkPullRequestClonesForkButReportsOnBase() throws {
        let json = """
            {"action": "opened", "pull_request": {"number": 3, "user": {"login": "someone"},
              "head": {"sha": "\(String(repeating: "a", count: 40))", "ref": "x",
              "repo": {"name": "fork", "clone_url": "https://github.com/someone/fork.git", "owner": {"login": "someone"}}},
              "base": {"ref": "main"}, "labels": [{"name": "runs-on:omnios"}]},
             "repository": {"name": "repo", "clone_url": "https://github.com/org/repo.git", "owner": {"login": "org"}}}
            """
        guard case .build(let trigger) = try EventMapper.map(event: "pull_request", payload: Array(json.utf8)) else {
            Issue.record("fork PR was not built")
            return
        }
        #expect(trigger.repoURL == "https://github.com/someone/fork.git")
        #expect(trigger.fullName == "org/repo")
        #expect(trigger.branch == "main")
        #expect(trigger.labels == ["runs-on:omnios"])
        #expect(trigger.pullRequestNumber == 3)
        // No repository ids in the payload: not known to be the base repository, so not trusted for it.
        #expect(trigger.pullRequest?.fromBaseRepository == false)
        #expect(trigger.pullRequest?.authorAssociation == "NONE")
    }

    @Test func deletedForkIsIgnored() throws {
        let json = """
            {"action": "synchronize", "pull_request": {"head": {"sha": "abc", "repo": null}, "base": {"ref": "main"}},
             "repository": {"name": "repo", "clone_url": "https://github.com/org/repo.git", "owner": {"login": "org"}}}
            """
        #expect(
            try EventMapper.map(event: "pull_request", payload: Array(json.utf8))
                == .ignored("pull_request head repository was deleted"))
    }

    @Test func sshURLAndOwnerNameAreFallbacks() throws {
        let json = """
            {"ref": "refs/heads/main", "after": "\(String(repeating: "b", count: 40))",
             "repository": {"name": "repo", "ssh_url": "git@github.com:org/repo.git", "owner": {"name": "org"}}}
            """
        guard case .build(let trigger) = try EventMapper.map(event: "push", payload: Array(json.utf8)) else {
            Issue.record("push was not built")
            return
        }
        #expect(trigger.repoURL == "git@github.com:org/repo.git")
        #expect(trigger.owner == "org")
        #expect(trigger.branch == "main")
    }

    @Test(arguments: [
        ("push", #"{"ref": "refs/heads/main", "repository": {}}"#, "after"),
        ("push", #"{"ref": "refs/heads/main", "after": "abc"}"#, "repository"),
        (
            "push", #"{"ref": "refs/heads/main", "after": "abc", "repository": {"owner": {"login": "o"}}}"#,
            "repository.name"
        ),
        (
            "push",
            #"{"ref": "refs/heads/main", "after": "abc", "repository": {"name": "r", "owner": {"login": "o"}}}"#,
            "repository.clone_url"
        ),
        (
            "push", #"{"ref": "refs/heads/main", "after": "abc", "repository": {"name": "r", "clone_url": "u"}}"#,
            "repository.owner.login"
        ),
        ("push", #"{"ref": "refs/heads/main", "after": 12, "repository": {}}"#, "after"),
        ("push", #"{"after": "abc", "repository": {"name": "r", "clone_url": "u", "owner": {"login": "o"}}}"#, "ref"),
        ("pull_request", #"{"action": "opened"}"#, "pull_request"),
        ("pull_request", #"{"action": "opened", "pull_request": {"head": {"repo": null}}}"#, "pull_request.head.sha"),
        ("pull_request", #"{"action": "opened", "pull_request": {"head": {"sha": 5}}}"#, "pull_request.head.sha"),
    ])
    func missingOrMistypedFieldIsNamed(event: String, json: String, field: String) {
        #expect(throws: PayloadError.self) { try EventMapper.map(event: event, payload: Array(json.utf8)) }
        do {
            _ = try EventMapper.map(event: event, payload: Array(json.utf8))
        } catch {
            #expect(error.field == field)
            #expect(error.message.contains(field))
        }
    }

    @Test(arguments: ["", "{", "not json", "[1, 2]", "\"string\"", "{\"after\": \"x\"", "\u{0}"])
    func invalidJSONIsAPayloadError(text: String) {
        #expect(throws: PayloadError.self) { try EventMapper.map(event: "push", payload: Array(text.utf8)) }
    }

    /// SPEC §4 v2: fields that end up in URLs, file names and messages are checked for their form.
    @Test(arguments: [
        (#""name": "..""#, "repository.name"), (#""name": ".""#, "repository.name"),
        (#""name": "a/../b""#, "repository.name"), (#""name": "r?x=1""#, "repository.name"),
        (#""name": "\#(String(repeating: "r", count: 101))""#, "repository.name"),
        (#""owner": {"login": "o o"}"#, "repository.owner.login"),
        (#""owner": {"login": ".."}"#, "repository.owner.login"),
    ])
    func repositoryNamesOfAnotherFormAre400(replacement: String, field: String) throws {
        var fields = [#""name": "r""#, #""clone_url": "https://github.com/o/r.git""#, #""owner": {"login": "o"}"#]
        let key = replacement.prefix { $0 != ":" }
        fields.removeAll { $0.hasPrefix(key) }
        fields.append(replacement)
        let json =
            #"{"ref": "refs/heads/main", "after": "\#(String(repeating: "a", count: 40))", "repository": {"#
            + fields.joined(separator: ", ") + "}}"
        #expect {
            try EventMapper.map(event: "push", payload: Array(json.utf8))
        } throws: { error in
            (error as? PayloadError)?.field == field && (error as? PayloadError)?.message.contains(field) == true
        }
    }

    @Test(arguments: [
        ("abc", false), (String(repeating: "a", count: 40), true), (String(repeating: "b", count: 64), true),
        (String(repeating: "A", count: 40), false), (String(repeating: "a", count: 41), false),
        (String(repeating: "g", count: 40), false), ("../" + String(repeating: "0", count: 37), false),
    ])
    func commitIdsAreFortyOrSixtyFourLowercaseHex(sha: String, valid: Bool) throws {
        let json =
            #"{"ref": "refs/heads/main", "after": "\#(sha)", "repository": {"name": "r", "#
            + #""clone_url": "https://github.com/o/r.git", "owner": {"login": "o"}}}"#
        if valid {
            guard case .build(let trigger) = try EventMapper.map(event: "push", payload: Array(json.utf8)) else {
                Issue.record("not built")
                return
            }
            #expect(trigger.commitSHA == sha)
        } else {
            #expect {
                try EventMapper.map(event: "push", payload: Array(json.utf8))
            } throws: { error in
                (error as? PayloadError)?.field == "after"
            }
        }
    }

    @Test(arguments: [0, -7])
    func installationIdsArePositive(id: Int) {
        let json =
            #"{"ref": "refs/heads/main", "after": "\#(String(repeating: "a", count: 40))", "#
            + #""installation": {"id": \#(id)}, "repository": {"name": "r", "#
            + #""clone_url": "https://github.com/o/r.git", "owner": {"login": "o"}}}"#
        #expect {
            try EventMapper.map(event: "push", payload: Array(json.utf8))
        } throws: { error in
            (error as? PayloadError)?.field == "installation.id"
        }
    }
}
