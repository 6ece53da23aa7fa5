#if canImport(Glibc)
    import Glibc
#endif

/// Shell-style globs (`org/*`, `release/*`) for the allowlists, matched with `fnmatch(3)`.
public enum Glob {
    /// True when `name` matches any of `patterns`. `*` does not cross `/` in owner/repo patterns, so `org/*`
    /// matches `org/repo`; in branch patterns `release/*` matches `release/1.0` but not `release/1.0/hotfix`.
    public static func matches(_ name: String, anyOf patterns: [String]) -> Bool {
        patterns.contains { fnmatch($0, name, FNM_PATHNAME) == 0 }
    }
}
