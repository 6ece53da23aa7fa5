import Base
import FoundationEssentials
import Synchronization

/// A pull request as `GET /repos/{o}/{r}/pulls/{n}` describes it: what ChatOps and approvals build.
public struct PullRequestDetails: Sendable, Equatable {
    /// Its number.
    public var number: Int
    /// The head commit now.
    public var headSHA: String
    /// The head repository's clone URL; nil when the fork was deleted.
    public var headRepoURL: String?
    /// The base branch.
    public var baseRef: String?
    /// Label names (`runs-on:LABEL`).
    public var labels: [String]
    /// The title (skip markers).
    public var title: String
    /// `open` or `closed`.
    public var state: String

    /// A pull request's details.
    public init(
        number: Int, headSHA: String, headRepoURL: String?, baseRef: String?, labels: [String], title: String,
        state: String
    ) {
        self.number = number
        self.headSHA = headSHA
        self.headRepoURL = headRepoURL
        self.baseRef = baseRef
        self.labels = labels
        self.title = title
        self.state = state
    }
}

/// The repository questions of SPEC §10 asked through the App: may this person push, what is this pull request's
/// head now, what does this commit's message say. Permission answers are cached per repository and login for
/// `cacheSeconds` (a burst of pull requests from one author asks once), shared by every worker of the process.
public final class RepositoryQueries: Sendable {
    private let client: GitHubClient
    private let cacheSeconds: Double
    /// `owner/repo/login` (lowercased) → whether that login may push, and when it was asked (monotonic).
    private let permissions = Mutex<[String: (canWrite: Bool, at: Double)]>([:])

    /// Queries through `client`, remembering permissions for `cacheSeconds`.
    public init(client: GitHubClient, cacheSeconds: Double = 300) {
        self.client = client
        self.cacheSeconds = cacheSeconds
    }

    /// Whether `login` has `admin`, `maintain` or `write` permission on `owner/repo`
    /// (`GET /repos/{o}/{r}/collaborators/{login}/permission`); a login GitHub does not know may not. A failure to
    /// ask throws: it never decides either way.
    public func canWrite(_ login: String, owner: String, repo: String, deadline: Double) throws(GitHubError) -> Bool {
        let key = "\(owner)/\(repo)/\(login)".lowercased()
        let now = MonotonicClock.now()
        if let cached = permissions.withLock({ $0[key] }), now - cached.at < cacheSeconds { return cached.canWrite }
        let path = "/repos/\(owner)/\(repo)/collaborators/\(login)/permission"
        let response = try client.request("GET", path, deadline: deadline)
        let canWrite: Bool
        if response.status == 404 {
            canWrite = false
        } else {
            try GitHubClient.expect(200, response, "GET \(path)")
            struct Permission: Decodable {
                var permission: String?
                var role_name: String?
            }
            let answer = try GitHubClient.decode(Permission.self, response)
            let writers: Set<String> = ["admin", "maintain", "write"]
            canWrite = writers.contains(answer.permission ?? "") || writers.contains(answer.role_name ?? "")
        }
        permissions.withLock { cache in
            // Bounded: a flood of strangers' logins must not grow the cache without end.
            if cache.count >= 10_000 { cache.removeAll() }
            cache[key] = (canWrite, MonotonicClock.now())
        }
        return canWrite
    }

    /// Pull request `number` of `owner/repo` as it is now (`GET /repos/{o}/{r}/pulls/{n}`).
    public func pullRequest(_ number: Int, owner: String, repo: String, deadline: Double) throws(GitHubError)
        -> PullRequestDetails
    {
        let path = "/repos/\(owner)/\(repo)/pulls/\(number)"
        let response = try client.request("GET", path, deadline: deadline)
        try GitHubClient.expect(200, response, "GET \(path)")
        struct Repo: Decodable {
            var clone_url: String?
            var ssh_url: String?
        }
        struct Ref: Decodable {
            var sha: String?
            var ref: String?
            var repo: Repo?
        }
        struct Label: Decodable { var name: String? }
        struct Pull: Decodable {
            var number: Int
            var title: String?
            var state: String?
            var head: Ref
            var base: Ref?
            var labels: [Label]?
        }
        let pull = try GitHubClient.decode(Pull.self, response)
        guard let sha = pull.head.sha, GitHubNames.isCommitSHA(sha) else {
            throw GitHubError(.invalidResponse, status: 200, message: "GET \(path): head.sha is not a commit id")
        }
        return PullRequestDetails(
            number: pull.number, headSHA: sha, headRepoURL: pull.head.repo.flatMap { $0.clone_url ?? $0.ssh_url },
            baseRef: pull.base?.ref, labels: (pull.labels ?? []).compactMap(\.name), title: pull.title ?? "",
            state: pull.state ?? "open")
    }

    /// The message of commit `sha` (`GET /repos/{o}/{r}/commits/{sha}`), for skip markers in a pull request's
    /// head commit.
    public func commitMessage(_ sha: String, owner: String, repo: String, deadline: Double) throws(GitHubError)
        -> String
    {
        let path = "/repos/\(owner)/\(repo)/commits/\(sha)"
        let response = try client.request("GET", path, deadline: deadline)
        try GitHubClient.expect(200, response, "GET \(path)")
        struct Commit: Decodable {
            struct Inner: Decodable { var message: String? }
            var commit: Inner?
        }
        return try GitHubClient.decode(Commit.self, response).commit?.message ?? ""
    }
}
