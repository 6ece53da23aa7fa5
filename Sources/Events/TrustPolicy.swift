import Base

/// Who may make the runners run code (SPEC §10): a pure decision on what the payload says. What it cannot decide
/// from the payload it hands on as a permission question for GitHub.
public struct TrustPolicy: Sendable, Equatable {
    /// `TRUST_POLICY=everyone`: every pull request builds at once.
    public var everyone = false
    /// `TRUSTED_USERS`, lowercased (GitHub logins ignore case).
    public var trustedUsers: Set<String> = []

    /// The default policy: collaborators, nobody named.
    public init(everyone: Bool = false, trustedUsers: Set<String> = []) {
        self.everyone = everyone
        self.trustedUsers = Set(trustedUsers.map { $0.lowercased() })
    }

    /// The variables of this part.
    public static let variables = [
        ConfigVariable(
            "TRUST_POLICY", "collaborators",
            "collaborators: a stranger's pull request waits for approval; everyone: every pull request builds"),
        ConfigVariable("TRUSTED_USERS", nil, "comma-separated logins whose pull requests build without approval"),
    ]

    /// Reads `TRUST_POLICY` and `TRUSTED_USERS`.
    public static func load(_ env: Environment) throws(ConfigurationError) -> TrustPolicy {
        var policy = TrustPolicy()
        switch env.value("TRUST_POLICY")?.lowercased() {
        case nil, "collaborators": policy.everyone = false
        case "everyone": policy.everyone = true
        default:
            throw ConfigurationError(variable: "TRUST_POLICY", message: "expected collaborators or everyone")
        }
        for login in env.list("TRUSTED_USERS") ?? [] {
            guard GitHubNames.isLogin(login) else {
                throw ConfigurationError(variable: "TRUSTED_USERS", message: "'\(login)' is not a GitHub login")
            }
            policy.trustedUsers.insert(login.lowercased())
        }
        return policy
    }

    /// How a pull request is trusted, or which login GitHub must be asked about.
    public enum Decision: Sendable, Equatable {
        /// It builds; the reason is logged.
        case trusted(because: String)
        /// The payload does not decide: ask GitHub for `login`'s permission on the repository.
        case askPermission(login: String)
    }

    /// SPEC §10 in its order: the policy, the same repository, the author's association, `TRUSTED_USERS`; then
    /// the permission API (private organisation membership does not show in the payload).
    public func decide(_ pr: PullRequestFacts) -> Decision {
        if everyone { return .trusted(because: "TRUST_POLICY=everyone") }
        if pr.fromBaseRepository { return .trusted(because: "the head branch is in the base repository") }
        if ["OWNER", "MEMBER", "COLLABORATOR"].contains(pr.authorAssociation) {
            return .trusted(because: "author association \(pr.authorAssociation)")
        }
        if trustedUsers.contains(pr.author.lowercased()) {
            return .trusted(because: "\(pr.author) is in TRUSTED_USERS")
        }
        return .askPermission(login: pr.author)
    }
}
