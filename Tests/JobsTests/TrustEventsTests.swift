import TestSupport
import Testing

@testable import Base
@testable import Events
@testable import Jobs

/// SPEC §4 v2 and §10 as far as the payload decides: what pull requests, comments and clicks map to, which
/// comments are commands, whom the policy trusts, which texts skip a build, and the JobRequest's v2 fields.
@Suite struct TrustEventsTests {
    private static let sha = String(repeating: "c", count: 40)
    private static let repository =
        #""repository": {"id": 1, "name": "repo", "clone_url": "https://github.com/org/repo.git", "owner": {"login": "org"}}"#

    private static func pullRequest(
        action: String = "opened", author: String = "stranger", association: String = "NONE", headRepoID: Int = 2,
        draft: Bool = false, title: String = "Fix"
    ) -> [UInt8] {
        let json = """
            {"action": "\(action)", "number": 7, "pull_request": {"number": 7, "title": "\(title)", "draft": \(draft),
              "html_url": "https://github.com/org/repo/pull/7", "user": {"login": "\(author)"},
              "author_association": "\(association)",
              "head": {"sha": "\(sha)", "ref": "topic", "repo": {"id": \(headRepoID), "name": "fork",
                "clone_url": "https://github.com/\(author)/fork.git", "owner": {"login": "\(author)"}}},
              "base": {"ref": "main", "repo": {"id": 1}}},
             "installation": {"id": 5}, \(repository)}
            """
        return Array(json.utf8)
    }

    private func trigger(_ payload: [UInt8], event: String = "pull_request") throws -> BuildTrigger {
        guard case .build(let trigger) = try EventMapper.map(event: event, payload: payload) else {
            Issue.record("not built")
            throw PayloadError(field: nil, message: "not built")
        }
        return trigger
    }

    @Test func pullRequestCarriesWhatTrustReads() throws {
        let trigger = try trigger(Self.pullRequest(draft: true, title: "WIP"))
        #expect(trigger.event == "pull_request")
        #expect(trigger.pullRequestNumber == 7)
        #expect(
            trigger.pullRequest
                == PullRequestFacts(
                    number: 7, title: "WIP", draft: true, author: "stranger", authorAssociation: "NONE",
                    fromBaseRepository: false, htmlURL: "https://github.com/org/repo/pull/7"))
        #expect(try self.trigger(Self.pullRequest(headRepoID: 1)).pullRequest?.fromBaseRepository == true)
    }

    @Test func readyForReviewBuildsLikeOpened() throws {
        #expect(try trigger(Self.pullRequest(action: "ready_for_review")).commitSHA == Self.sha)
        #expect(
            try EventMapper.map(event: "pull_request", payload: Self.pullRequest(action: "converted_to_draft"))
                == .ignored("pull_request action converted_to_draft is not built"))
    }

    @Test func realPayloadFromTheBaseRepositoryByItsOwner() throws {
        let trigger = try trigger(try TestPaths.payload("pull_request.opened.json"))
        #expect(trigger.pullRequest?.fromBaseRepository == true)
        #expect(trigger.pullRequest?.authorAssociation == "OWNER")
        #expect(
            TrustPolicy().decide(trigger.pullRequest!) == .trusted(because: "the head branch is in the base repository")
        )
    }

    @Test(arguments: ["a b", "../x", "", String(repeating: "a", count: 40)])
    func authorLoginsOfAnotherFormAre400(login: String) {
        #expect {
            try EventMapper.map(event: "pull_request", payload: Self.pullRequest(author: login))
        } throws: { error in
            (error as? PayloadError)?.field == "pull_request.user.login"
        }
    }

    @Test func pushKeepsItsHeadCommitMessage() throws {
        let trigger = try trigger(try TestPaths.payload("push.with-new-branch.json"), event: "push")
        #expect(trigger.headCommitMessage == "Initial commit")
        #expect(trigger.event == "push" && trigger.pullRequestNumber == nil)
    }

    @Test func checkSuiteListingOnePullRequestNamesIt() throws {
        let trigger = try trigger(try TestPaths.payload("check_suite.rerequested.json"), event: "check_suite")
        #expect(trigger.pullRequestNumber == 2)
        // The check_run payload lists none (as for a fork's pull request).
        #expect(
            try self.trigger(try TestPaths.payload("check_run.rerequested.json"), event: "check_run").pullRequestNumber
                == nil)
    }

    // MARK: ChatOps

    private static func comment(_ body: String, onPullRequest: Bool = true, action: String = "created") -> [UInt8] {
        let link = onPullRequest ? #", "pull_request": {"url": "https://api.github.com/repos/org/repo/pulls/7"}"# : ""
        let json = """
            {"action": "\(action)", "issue": {"number": 7\(link)}, "comment": {"body": \(JSONText.quote(body)),
              "user": {"login": "maintainer"}}, "installation": {"id": 5}, \(repository)}
            """
        return Array(json.utf8)
    }

    @Test func commandCommentOnPullRequestIsChatOps() throws {
        let outcome = try EventMapper.map(event: "issue_comment", payload: Self.comment("LGTM\n/ok-to-test\n"))
        #expect(
            outcome
                == .comment(
                    PullRequestComment(
                        owner: "org", name: "repo", number: 7, commenter: "maintainer", commands: [.okToTest],
                        installationID: 5)))
    }

    @Test(arguments: [
        (Self.comment("/retest", onPullRequest: false), "comment on an issue, not a pull request"),
        (Self.comment("/retest", action: "edited"), "issue_comment action edited is not handled"),
        (Self.comment("please /retest this"), "comment holds no command"),
        (Self.comment("/rebuild"), "comment holds no command"),
        (Self.comment("> /retest"), "comment holds no command"),
    ])
    func otherCommentsAreIgnored(payload: [UInt8], reason: String) throws {
        #expect(try EventMapper.map(event: "issue_comment", payload: payload) == .ignored(reason))
    }

    @Test func commandsAreWholeLines() {
        #expect(
            ChatOpsCommand.commands(
                in: "  /retest  \r\n/test lint\n/test all\n/test\n/test a b\n/test ../x\n/ok-to-test now")
                == [.retest, .test(job: "lint"), .testAll])
        #expect(
            ChatOpsCommand.selection([.retest, .test(job: "lint"), .test(job: "lint")])
                == .commands(jobs: ["lint"], failed: true))
        #expect(ChatOpsCommand.selection([.test(job: "lint"), .testAll]) == .all)
        #expect(ChatOpsCommand.selection([.okToTest]) == .all)
    }

    // MARK: Approval clicks

    @Test func requestedActionIsAnApprovalClick() throws {
        let json = """
            {"action": "requested_action", "requested_action": {"identifier": "approve"}, "sender": {"login": "maintainer"},
             "check_run": {"id": 9, "name": "Solstice CI", "head_sha": "\(Self.sha)",
               "external_id": "solstice-approval/7", "conclusion": "action_required", "app": {"id": 42},
               "check_suite": {"head_branch": "topic"}},
             "installation": {"id": 5}, \(Self.repository)}
            """
        #expect(
            try EventMapper.map(event: "check_run", payload: Array(json.utf8))
                == .approvalClick(
                    ApprovalClick(
                        owner: "org", name: "repo", repoURL: "https://github.com/org/repo.git", headSHA: Self.sha,
                        externalID: "solstice-approval/7", appID: 42, identifier: "approve", login: "maintainer",
                        conclusion: "action_required", branch: "topic", installationID: 5)))
    }

    // MARK: Trust policy

    private static let stranger = PullRequestFacts(
        number: 7, title: "", draft: false, author: "Stranger", authorAssociation: "CONTRIBUTOR",
        fromBaseRepository: false, htmlURL: "")

    @Test func strangersAreAskedAbout() {
        #expect(TrustPolicy().decide(Self.stranger) == .askPermission(login: "Stranger"))
    }

    @Test(arguments: ["OWNER", "MEMBER", "COLLABORATOR"])
    func associationsThatCanPushAreTrusted(association: String) {
        var pr = Self.stranger
        pr.authorAssociation = association
        #expect(TrustPolicy().decide(pr) == .trusted(because: "author association \(association)"))
    }

    @Test func everyoneAndTrustedUsers() throws {
        #expect(TrustPolicy(everyone: true).decide(Self.stranger) == .trusted(because: "TRUST_POLICY=everyone"))
        let env = Environment(["TRUSTED_USERS": "bot[bot], stranger"])
        let policy = try TrustPolicy.load(env)
        #expect(policy.decide(Self.stranger) == .trusted(because: "Stranger is in TRUSTED_USERS"))
        #expect(throws: ConfigurationError.self) { try TrustPolicy.load(Environment(["TRUST_POLICY": "nobody"])) }
        #expect(throws: ConfigurationError.self) { try TrustPolicy.load(Environment(["TRUSTED_USERS": "a/b"])) }
        #expect(try TrustPolicy.load(Environment([:])) == TrustPolicy())
    }

    // MARK: Skip markers

    @Test(arguments: [
        ("Fix [skip ci]", "[skip ci]"), ("[CI SKIP] docs", "[ci skip]"), ("x [No Ci]", "[no ci]"),
        ("[skip solstice]", "[skip solstice]"), ("skip ci", nil), ("[skip-ci]", nil), ("", nil),
    ])
    func markersAnyCase(text: String, marker: String?) {
        #expect(SkipMarkers.find(in: text) == marker)
    }

    // MARK: JobRequest v2 fields

    @Test func jobRequestCarriesEventPullRequestAndApprover() throws {
        var trigger = try trigger(Self.pullRequest())
        trigger.approvedBy = "maintainer"
        let job = JobPlanner(runsOnDefault: nil, runsOnMap: [:]).requests(
            for: trigger, jobs: [.withoutWorkflow], ids: DeliveryIDs(delivery: "d", installationTarget: nil),
            submittedAt: 0)[0]
        let text = String(decoding: job.jsonBytes(), as: UTF8.self)
        #expect(text.contains(#""event": "pull_request", "pull_request_number": 7, "approved_by": "maintainer""#))
        let push = try self.trigger(try TestPaths.payload("push.with-new-branch.json"), event: "push")
        let pushJob = JobPlanner(runsOnDefault: nil, runsOnMap: [:]).requests(
            for: push, jobs: [.withoutWorkflow], ids: DeliveryIDs(delivery: "d", installationTarget: nil),
            submittedAt: 0)[0]
        #expect(
            String(decoding: pushJob.jsonBytes(), as: UTF8.self).contains(
                #""event": "push", "pull_request_number": null, "approved_by": null"#))
    }
}
