/// The grammar a document is read with.
public enum KDLVersion: Int, Sendable, Equatable, CustomStringConvertible {
    /// KDL 1.0 (2021): bare `true`/`null`, `r"raw"` strings, no multi-line strings.
    case v1 = 1
    /// KDL 2.0 (2024): `#true`/`#null`, `#"raw"#` strings, multi-line strings.
    case v2 = 2

    /// "KDL 1.0" or "KDL 2.0".
    public var description: String { "KDL \(rawValue).0" }
}
