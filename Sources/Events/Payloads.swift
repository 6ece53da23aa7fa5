/// The slices of GitHub's webhook payloads that SPEC §4 reads; everything else in the JSON is skipped.
/// Fields are optional here so that a missing one is reported by its dotted name (`repository.clone_url`) by
/// `EventMapper`, not as a decoder error.
struct RepositoryPayload: Decodable {
    var id: Int?
    var name: String?
    var clone_url: String?
    var ssh_url: String?
    var owner: OwnerPayload?
}

struct OwnerPayload: Decodable {
    var login: String?
    var name: String?
}

struct InstallationPayload: Decodable {
    var id: Int?
}

struct UserPayload: Decodable {
    var login: String?
}

struct HeadCommitPayload: Decodable {
    var message: String?
}

struct NumberPayload: Decodable {
    var number: Int?
}

struct PushPayload: Decodable {
    var ref: String?
    var after: String?
    var deleted: Bool?
    var head_commit: HeadCommitPayload?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct PullRequestEventPayload: Decodable {
    var action: String?
    var number: Int?
    var pull_request: PullRequestPayload?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct PullRequestPayload: Decodable {
    var number: Int?
    var title: String?
    var draft: Bool?
    var html_url: String?
    var user: UserPayload?
    var author_association: String?
    var head: PullRequestRefPayload?
    var base: BaseRefPayload?
    var labels: [LabelPayload]?
}

/// The base branch and the base repository's id only: decoding all of `base.repo` would cost a third full
/// repository object per request.
struct BaseRefPayload: Decodable {
    struct Repo: Decodable { var id: Int? }
    var ref: String?
    var repo: Repo?
}

struct PullRequestRefPayload: Decodable {
    var sha: String?
    var ref: String?
    /// `.null` when the fork was deleted, nil when the key is absent.
    var repo: Nullable<RepositoryPayload>?

    private enum CodingKeys: String, CodingKey { case sha, ref, repo }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sha = try c.decodeIfPresent(String.self, forKey: .sha)
        ref = try c.decodeIfPresent(String.self, forKey: .ref)
        // decodeIfPresent folds null into absent; a deleted fork must stay distinguishable.
        repo = c.contains(.repo) ? try c.decode(Nullable<RepositoryPayload>.self, forKey: .repo) : nil
    }
}

struct LabelPayload: Decodable {
    var name: String?
}

struct CheckSuiteEventPayload: Decodable {
    struct Suite: Decodable {
        var head_sha: String?
        var head_branch: String?
        var pull_requests: [NumberPayload]?
    }
    var action: String?
    var check_suite: Suite?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct CheckRunEventPayload: Decodable {
    struct Run: Decodable {
        struct App: Decodable { var id: Int? }
        var head_sha: String?
        var name: String?
        var external_id: String?
        var conclusion: String?
        var app: App?
        var pull_requests: [NumberPayload]?
        var check_suite: CheckSuiteEventPayload.Suite?
    }
    struct RequestedAction: Decodable { var identifier: String? }
    var action: String?
    var check_run: Run?
    var requested_action: RequestedAction?
    var sender: UserPayload?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct IssueCommentEventPayload: Decodable {
    struct Issue: Decodable {
        /// Present (an object) only when the issue is a pull request.
        struct PullRequestLink: Decodable { var url: String? }
        var number: Int?
        var pull_request: PullRequestLink?
    }
    struct Comment: Decodable {
        var body: String?
        var user: UserPayload?
    }
    var action: String?
    var issue: Issue?
    var comment: Comment?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct PingPayload: Decodable {
    var zen: String?
}

struct ActionPayload: Decodable {
    var action: String?
}

/// A JSON value that may be `null`, distinguished from an absent key (which decodes as `nil` of the outer optional).
enum Nullable<T: Decodable>: Decodable {
    case null
    case value(T)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = container.decodeNil() ? .null : .value(try container.decode(T.self))
    }

    var value: T? {
        if case .value(let v) = self { return v }
        return nil
    }
}
