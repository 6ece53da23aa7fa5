// The KDL 1.0 variants of the lexer (KDLLexer.swift): bare `true`/`false`/`null` and `r"…"` raw strings. The
// other differences are small enough to stay inline, keyed on `isV1`: identifier characters (the initialiser),
// quoted strings (`StringRules.v1`), the `\/` escape, line continuations. Unsafe pointer use of the KDL code lives
// in the lexer files, through the lexer's `base` pointer; this one reads only through `at` and the shared scanners.

extension KDLLexer {
    /// A bare identifier (KDL 1.0): `true`, `false` and `null` are keywords, anything else is a string that may name
    /// a node or a property but is not a value (the parser checks `isBareIdentifier`).
    mutating func scanIdentifierV1() -> KDLToken? {
        let start = pos
        let end = identifierEnd(from: pos)
        if end == start { return nil }
        pos = end
        switch keyword(start, end) {
        case let kind? where kind == .trueValue || kind == .falseValue || kind == .null:
            return KDLToken(kind: kind, ref: .empty, isBareIdentifier: true)
        default:
            return KDLToken(kind: .string, ref: sourceRef(start, end), isBareIdentifier: true)
        }
    }

    /// Whether a 1.0 raw string `r"…"` / `r#"…"#` starts at `pos` (at an `r`).
    func rawStringV1Ahead() -> Bool {
        var j = pos + 1
        while at(j) == 0x23 { j += 1 }
        return at(j) == 0x22
    }

    /// A KDL 1.0 raw string `r"…"` / `r#"…"#`: any content, including newlines, up to the matching close.
    mutating func scanRawV1() throws(KDLSyntaxError) -> KDLToken {
        var hashes = 0
        while at(pos + 1 + hashes) == 0x23 { hashes += 1 }
        return try scanRawString(open: pos, bodyStart: pos + 2 + hashes, hashes: hashes, .v1)
    }
}
