/// A command in a pull-request comment (SPEC §10), each on its own line.
public enum ChatOpsCommand: Sendable, Equatable {
    /// `/ok-to-test`: approve and build the pull request's head commit.
    case okToTest
    /// `/retest`: the jobs whose latest run on the head commit failed, timed out, was cancelled or went stale.
    case retest
    /// `/test JOB`: that job.
    case test(job: String)
    /// `/test all`: every job.
    case testAll

    /// The commands of `body`: lines that, trimmed, are exactly a command. Anything else — prose, quotes, unknown
    /// commands, `/test` without a job or with a malformed one — is not a command. At most 20 are read.
    public static func commands(in body: String) -> [ChatOpsCommand] {
        var found: [ChatOpsCommand] = []
        for line in body.split(whereSeparator: \.isNewline) where found.count < 20 {
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let first = words.first, first.hasPrefix("/") else { continue }
            switch (first, words.count) {
            case ("/ok-to-test", 1): found.append(.okToTest)
            case ("/retest", 1): found.append(.retest)
            case ("/test", 2) where words[1] == "all": found.append(.testAll)
            case ("/test", 2) where isJobID(words[1]): found.append(.test(job: String(words[1])))
            default: continue
            }
        }
        return found
    }

    /// What the commands select together: every job when one of them asks for all.
    public static func selection(_ commands: [ChatOpsCommand]) -> JobSelection {
        var jobs: [String] = []
        var failed = false
        for command in commands {
            switch command {
            case .okToTest, .testAll: return .all
            case .retest: failed = true
            case .test(let job): if !jobs.contains(job) { jobs.append(job) }
            }
        }
        return .commands(jobs: jobs, failed: failed)
    }

    /// A workflow job id (SPEC §5): `[A-Za-z0-9_.-]{1,100}`.
    static func isJobID(_ s: Substring) -> Bool {
        (1...100).contains(s.utf8.count)
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D
                    || c == 0x2E || c == 0x5F
            }
    }
}

/// An `issue_comment` `created` on a pull request that holds commands (SPEC §10). Who may give them is decided
/// later, through GitHub's permission API, whatever the payload says.
public struct PullRequestComment: Sendable, Equatable {
    /// Owner of the repository (where the App is installed and Check Runs live).
    public var owner: String
    /// Its name.
    public var name: String
    /// The pull request's number.
    public var number: Int
    /// Who wrote the comment.
    public var commenter: String
    /// The commands, in order.
    public var commands: [ChatOpsCommand]
    /// `installation.id` when the payload carries it.
    public var installationID: Int?

    /// `owner/name`.
    public var fullName: String { "\(owner)/\(name)" }
}

/// A click on a Check Run's action button (`check_run` `requested_action`, SPEC §10).
public struct ApprovalClick: Sendable, Equatable {
    /// Owner of the repository.
    public var owner: String
    /// Its name.
    public var name: String
    /// The base repository's clone URL (the fork's comes from the pull request).
    public var repoURL: String
    /// The commit of the clicked run.
    public var headSHA: String
    /// The clicked run's `external_id`.
    public var externalID: String?
    /// The App that owns the clicked run.
    public var appID: Int?
    /// The action's identifier (`approve`).
    public var identifier: String
    /// Who clicked.
    public var login: String
    /// The clicked run's conclusion (an approved run says `success`).
    public var conclusion: String?
    /// The branch of the run's check suite.
    public var branch: String?
    /// `installation.id` when the payload carries it.
    public var installationID: Int?

    /// `owner/name`.
    public var fullName: String { "\(owner)/\(name)" }
}
