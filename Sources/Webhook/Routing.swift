import Base
import Events

/// The operator's allowlists (`REPO_ALLOWLIST`, `BRANCH_ALLOWLIST`): a pure decision on a build trigger.
public struct Routing: Sendable {
    /// Globs over `owner/repo`; nil allows all.
    public var repoAllowlist: [String]?
    /// Globs over branch names; nil allows all (tags never match a branch glob).
    public var branchAllowlist: [String]?

    /// Routing with the given allowlists.
    public init(repoAllowlist: [String]?, branchAllowlist: [String]?) {
        self.repoAllowlist = repoAllowlist
        self.branchAllowlist = branchAllowlist
    }

    /// Why `trigger` is not built here, or nil when it is.
    public func ignoredReason(_ trigger: BuildTrigger) -> String? {
        if let globs = repoAllowlist, !Glob.matches(trigger.fullName, anyOf: globs) {
            return "repository \(trigger.fullName) is not in REPO_ALLOWLIST"
        }
        if let globs = branchAllowlist, !Glob.matches(trigger.branch ?? "", anyOf: globs) {
            return "branch \(trigger.branch ?? "(tag)") is not in BRANCH_ALLOWLIST"
        }
        return nil
    }
}
