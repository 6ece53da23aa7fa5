import Testing

@testable import Events

/// `jobresult.v1` decoding and validation (SPEC §8): what reaches a URL, an S3 key or a Check Run is checked.
@Suite struct JobResultTests {
    static let sha = "0123456789abcdef0123456789abcdef01234567"

    static func body(_ fields: [String: String]) -> [UInt8] {
        var all = [
            "schema_version": "\"jobresult.v1\"", "request_id": "\"7f1c0b9e-1d2a-5c3b-8e4f-0123456789ab\"",
            "repo_owner": "\"org\"",
            "repo_name": "\"repo\"", "repo_url": "\"https://github.com/org/repo.git\"", "commit_sha": "\"\(sha)\"",
            "success": "true", "exit_code": "0", "summary": "\"ok\"", "completed_at": "\"2026-11-24T12:00:00Z\"",
        ]
        for (key, value) in fields { all[key] = value }
        let pairs = all.filter { $0.value != "-" }.map { "\"\($0.key)\": \($0.value)" }
        return Array("{\(pairs.joined(separator: ", "))}".utf8)
    }

    @Test func fullResultDecodes() throws {
        let result = try JobResult.decode(Self.body([:]))
        #expect(
            result
                == JobResult(
                    requestID: "7f1c0b9e-1d2a-5c3b-8e4f-0123456789ab", owner: "org", repo: "repo", commitSHA: Self.sha,
                    success: true, exitCode: 0,
                    summary: "ok", completedAt: 1_795_521_600))
    }

    @Test func ownerAndRepoComeFromTheURLWhenAbsent() throws {
        let result = try JobResult.decode(
            Self.body(["repo_owner": "-", "repo_name": "-", "repo_url": "\"git@github.com:Octo/Hello.World.git\""]))
        #expect(result.owner == "Octo" && result.repo == "Hello.World")
    }

    @Test func optionalFieldsMayBeNullOrAbsent() throws {
        let result = try JobResult.decode(
            Self.body(["exit_code": "null", "summary": "-", "completed_at": "-", "success": "false"]))
        #expect(result.exitCode == nil && result.summary == nil && result.completedAt == nil && !result.success)
    }

    @Test(arguments: [
        (["schema_version": "\"jobresult.v2\""], "schema_version is jobresult.v2"),
        (["schema_version": "-"], "schema_version is missing"),
        (["request_id": "\"../../etc\""], "request_id"),
        (["request_id": "-"], "request_id"),
        (["request_id": "\"..\""], "request_id is missing or not a UUID"),
        (["request_id": "\"7f1c-1\""], "request_id is missing or not a UUID"),
        (["commit_sha": "\"\(String(repeating: "a", count: 41))\""], "commit_sha"),
        (["repo_owner": "\"..\""], "is not a GitHub repository name"),
        (["repo_name": "\".\""], "is not a GitHub repository name"),
        (["commit_sha": "\"main\""], "commit_sha"),
        (["success": "\"yes\""], "success has the wrong type"),
        (["success": "-"], "success is missing"),
        (["exit_code": "\"0\""], "exit_code has the wrong type"),
        (["repo_owner": "-", "repo_url": "\"not a url\""], "repo_owner/repo_name are missing"),
        (["repo_owner": "\"o/x\""], "is not a GitHub repository name"),
        (["completed_at": "\"yesterday\""], "completed_at is not an RFC 3339 time"),
    ])
    func invalidResultsNameTheField(fields: [String: String], message: String) {
        #expect {
            try JobResult.decode(Self.body(fields))
        } throws: { error in
            (error as? JobResultError)?.message.contains(message) == true
        }
    }

    @Test(arguments: ["{not json", "[]", "", "null"])
    func malformedJSONIsRejected(text: String) {
        #expect(throws: JobResultError.self) { try JobResult.decode(Array(text.utf8)) }
    }

    @Test(arguments: [
        ("https://github.com/org/repo.git", "org", "repo"),
        ("https://github.com/org/repo", "org", "repo"),
        ("https://github.com/org/repo/", "org", "repo"),
        ("git@github.com:org/repo.git", "org", "repo"),
        ("ssh://git@github.com/org/repo.git", "org", "repo"),
        ("https://ghe.example.com/team/proj.git?x=1", "team", "proj"),
    ])
    func repositoryNameFromURL(url: String, owner: String, repo: String) throws {
        let parsed = try #require(RepositoryName.parse(url: url))
        #expect(parsed.owner == owner && parsed.repo == repo)
    }

    @Test(arguments: ["https://github.com/org", "org/repo", "https://github.com/"])
    func urlsWithoutOwnerAndRepo(url: String) {
        #expect(RepositoryName.parse(url: url) == nil)
    }
}
