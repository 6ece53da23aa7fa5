import Base

/// What the stuck-run reconciler (SPEC §7) asks of the Checks API: one run by id, and its completion as
/// `timed_out`.
extension CheckRuns {
    /// A run as `GET /repos/{o}/{r}/check-runs/{id}` shows it.
    public struct RunState: Sendable, Equatable {
        /// `queued`, `in_progress`, `completed`, ….
        public var status: String
        /// The conclusion, once completed.
        public var conclusion: String?
    }

    /// Run `id` of `owner/repo`, or nil when GitHub answers 404 (deleted, or the App lost the repository).
    public func run(owner: String, repo: String, id: Int, deadline: Double) throws(GitHubError) -> RunState? {
        let path = "/repos/\(owner)/\(repo)/check-runs/\(id)"
        let response = try client.request("GET", path, deadline: deadline)
        if response.status == 404 { return nil }
        try GitHubClient.expect(200, response, "GET \(path)")
        struct Run: Decodable {
            var status: String?
            var conclusion: String?
        }
        let run = try GitHubClient.decode(Run.self, response)
        return RunState(status: run.status ?? "", conclusion: run.conclusion)
    }

    /// Completes run `id` of `owner/repo` as `timed_out` at `now`, with an output saying that no result came within
    /// `jobTimeout` seconds of the job being queued and how to run it again. Returns false when GitHub answers 404.
    public func timeOut(owner: String, repo: String, id: Int, jobTimeout: Int, now: Int, deadline: Double)
        throws(GitHubError) -> Bool
    {
        let path = "/repos/\(owner)/\(repo)/check-runs/\(id)"
        let body: [String: JSONField] = [
            "status": "completed", "conclusion": "timed_out",
            "completed_at": .string(RFC3339.format(secondsSince1970: now)),
            "output": .object([
                ("title", .string("No result within \(DurationText.format(jobTimeout))")),
                ("summary", .string(Self.timedOutSummary(jobTimeout: jobTimeout))),
            ]),
        ]
        let response = try client.request("PATCH", path, body: JSONField.object(body).bytes, deadline: deadline)
        if response.status == 404 { return false }
        try GitHubClient.expect(200, response, "PATCH \(path)")
        return true
    }

    /// The summary of a run completed as `timed_out` by the reconciler.
    static func timedOutSummary(jobTimeout: Int) -> String {
        let limit = DurationText.format(jobTimeout)
        return """
            No result came for this job within \(limit) (`JOB_TIMEOUT`) of its being queued, so Solstice CI \
            marked it timed out: the job may never have started (no runner for its label, a lost message) or its \
            result was lost. A result that still arrives replaces this one.

            To run it again: press **Re-run** on this check, **Re-run all checks**, or comment `/retest` on the \
            pull request.
            """
    }
}
