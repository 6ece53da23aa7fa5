/// The slices of GitHub's webhook payloads that SPEC §4 reads; everything else in the JSON is skipped.
/// Fields are optional here so that a missing one is reported by its dotted name (`repository.clone_url`) by
/// `EventMapper`, not as a decoder error. Equatable so tests can compare what the two JSON decoders make of a payload.
struct RepositoryPayload: Decodable, Equatable {
    var id: Int?
    var name: String?
    var clone_url: String?
    var ssh_url: String?
    var owner: OwnerPayload?
}

struct OwnerPayload: Decodable, Equatable {
    var login: String?
    var name: String?
}

struct InstallationPayload: Decodable, Equatable {
    var id: Int?
}

struct UserPayload: Decodable, Equatable {
    var login: String?
}

struct HeadCommitPayload: Decodable, Equatable {
    var message: String?
}

struct NumberPayload: Decodable, Equatable {
    var number: Int?
}

struct PushPayload: Decodable, Equatable {
    var ref: String?
    var after: String?
    var deleted: Bool?
    var head_commit: HeadCommitPayload?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct PullRequestEventPayload: Decodable, Equatable {
    var action: String?
    var number: Int?
    var pull_request: PullRequestPayload?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct PullRequestPayload: Decodable, Equatable {
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
struct BaseRefPayload: Decodable, Equatable {
    struct Repo: Decodable, Equatable { var id: Int? }
    var ref: String?
    var repo: Repo?
}

struct PullRequestRefPayload: Decodable, Equatable {
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

struct LabelPayload: Decodable, Equatable {
    var name: String?
}

struct CheckSuiteEventPayload: Decodable, Equatable {
    struct Suite: Decodable, Equatable {
        var head_sha: String?
        var head_branch: String?
        var pull_requests: [NumberPayload]?
    }
    var action: String?
    var check_suite: Suite?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct CheckRunEventPayload: Decodable, Equatable {
    struct Run: Decodable, Equatable {
        struct App: Decodable, Equatable { var id: Int? }
        var head_sha: String?
        var name: String?
        var external_id: String?
        var conclusion: String?
        var app: App?
        var pull_requests: [NumberPayload]?
        var check_suite: CheckSuiteEventPayload.Suite?
    }
    struct RequestedAction: Decodable, Equatable { var identifier: String? }
    var action: String?
    var check_run: Run?
    var requested_action: RequestedAction?
    var sender: UserPayload?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct IssueCommentEventPayload: Decodable, Equatable {
    struct Issue: Decodable, Equatable {
        /// Present (an object) only when the issue is a pull request.
        struct PullRequestLink: Decodable, Equatable { var url: String? }
        var number: Int?
        var pull_request: PullRequestLink?
    }
    struct Comment: Decodable, Equatable {
        var body: String?
        var user: UserPayload?
    }
    var action: String?
    var issue: Issue?
    var comment: Comment?
    var repository: RepositoryPayload?
    var installation: InstallationPayload?
}

struct PingPayload: Decodable, Equatable {
    var zen: String?
}

struct ActionPayload: Decodable, Equatable {
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

extension Nullable: Equatable where T: Equatable {}
