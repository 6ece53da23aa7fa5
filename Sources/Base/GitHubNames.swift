/// The forms of the GitHub identifiers taken from payloads and results (SPEC §4, §8). They end up in URLs, file
/// names and messages, so anything else is refused before use: `..` as a repository name would walk up a URL path.
public enum GitHubNames {
    /// An owner or repository name: 1 to 100 of `A-Z a-z 0-9 _ . -`, and neither `.` nor `..`.
    public static func isRepositoryName(_ s: String) -> Bool {
        (1...100).contains(s.utf8.count) && s != "." && s != ".."
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D
                    || c == 0x2E || c == 0x5F
            }
    }

    /// A commit id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
    public static func isCommitSHA(_ s: String) -> Bool {
        (s.utf8.count == 40 || s.utf8.count == 64)
            && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// A user or App login: 1 to 39 of `A-Z a-z 0-9 -`, optionally followed by `[bot]` (an App's account). Logins
    /// end up in API paths (the permission lookup), so nothing else is accepted.
    public static func isLogin(_ s: String) -> Bool {
        let name = s.hasSuffix("[bot]") ? s.dropLast(5) : Substring(s)
        return (1...39).contains(name.utf8.count)
            && name.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D
            }
    }

    /// A UUID in its 8-4-4-4-12 hex form (either case).
    public static func isUUID(_ s: String) -> Bool {
        let groups = s.split(separator: "-", omittingEmptySubsequences: false)
        return groups.map(\.utf8.count) == [8, 4, 4, 4, 12] && groups.allSatisfy { Hex.decode($0.utf8) != nil }
    }

    /// What `isRepositoryName` accepts, for error messages.
    public static let repositoryNameForm = "1 to 100 of A-Z a-z 0-9 _ . - (not . or ..)"
}
