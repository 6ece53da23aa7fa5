// The byte-level half of the KDL parser. All unsafe pointer use of the KDL code lives in this file: the parser and the
// document only see offsets, `KDLStringRef`s and `KDLToken`s.

/// A syntax error found while scanning: a byte offset into the source and a message for a person.
struct KDLSyntaxError: Error, Sendable {
    var offset: Int
    var message: String
}

/// Where a string's bytes live: a range of the source, or (high bit of `start` set) of the decoded-string buffer
/// that holds strings whose value differs from their source text (escapes, multi-line dedent).
struct KDLStringRef: Sendable, Equatable {
    var start: UInt32
    var count: UInt32

    static let decodedFlag: UInt32 = 1 << 31
    static let empty = KDLStringRef(start: 0, count: 0)

    var isDecoded: Bool { start & KDLStringRef.decodedFlag != 0 }
    var offset: Int { Int(start & ~KDLStringRef.decodedFlag) }
}

/// What a scanned value is. Number kinds keep their radix so the source text can be canonicalised later.
enum KDLValueKind: UInt8, Sendable {
    case string, integer, decimal, hex, octal, binary, trueValue, falseValue, null, infinity, negativeInfinity, nan
}

/// One scanned string, number or keyword. `isBareIdentifier` matters to KDL 1.0, where only quoted strings are values.
struct KDLToken {
    var kind: KDLValueKind
    var ref: KDLStringRef
    var isBareIdentifier = false
}

/// Scans KDL source bytes. Input is checked once up front by `validate` (UTF-8, disallowed code points), so the
/// scanning methods may decode any non-ASCII lead byte without re-checking, and a 0 byte can only mean end of input.
struct KDLLexer {
    private let base: UnsafePointer<UInt8>
    let count: Int
    let isV1: Bool
    /// Offset of the next unread byte.
    var pos: Int = 0
    /// Values of strings that are not a verbatim slice of the source.
    var decoded: [UInt8] = []
    /// Work buffer for multi-line strings, kept to reuse its capacity.
    private var scratch: [UInt8] = []
    private var scratchLineStarts: [Int] = []
    // Bit sets of the ASCII bytes that may appear in an identifier (bit n of low = byte n, of high = byte 64 + n).
    private let identLow: UInt64
    private let identHigh: UInt64

    /// Runs `body` with a lexer over `bytes`. The lexer must not escape `body`: it points into the array's storage.
    static func withLexer<R>(
        over bytes: [UInt8], version: KDLVersion, _ body: (inout KDLLexer) -> R
    ) -> R {
        if bytes.isEmpty {
            // An empty array may have no base address; one readable zero byte stands in (never read: count is 0).
            var zero: UInt8 = 0
            return withUnsafePointer(to: &zero) { pointer in
                var lexer = KDLLexer(base: pointer, count: 0, version: version)
                return body(&lexer)
            }
        }
        return bytes.withUnsafeBufferPointer { buffer in
            var lexer = KDLLexer(base: buffer.baseAddress!, count: buffer.count, version: version)
            return body(&lexer)
        }
    }

    private init(base: UnsafePointer<UInt8>, count: Int, version: KDLVersion) {
        self.base = base
        self.count = count
        self.isV1 = version == .v1
        let excluded: [UInt8] = version == .v1 ? Array(##"\/(){}<>;[]=,""##.utf8) : Array(##"\/(){};[]"#="##.utf8)
        var low: UInt64 = 0
        var high: UInt64 = 0
        for byte in UInt8(0x21)..<UInt8(0x7F) where !excluded.contains(byte) {
            if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
        }
        identLow = low
        identHigh = high
    }

    // MARK: - Reading

    /// The byte at `i`, or 0 past the end.
    @inline(__always) func at(_ i: Int) -> UInt8 { i < count ? base[i] : 0 }

    /// The byte at `pos`, or 0 at the end.
    @inline(__always) var current: UInt8 { pos < count ? base[pos] : 0 }

    /// The source bytes `start..<end` as an array (used for messages and numbers, never in the hot path).
    func bytes(_ start: Int, _ end: Int) -> [UInt8] {
        let lower = min(max(start, 0), count)
        let upper = min(max(end, lower), count)
        return Array(UnsafeBufferPointer(start: base + lower, count: upper - lower))
    }

    /// The scalar at `i` (valid UTF-8 by `validate`).
    @inline(__always) func scalar(at i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(base[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(base[i + 1]) & 0x3F), 2) }
        if b0 < 0xF0 {
            return (((b0 & 0x0F) << 12) | ((UInt32(base[i + 1]) & 0x3F) << 6) | (UInt32(base[i + 2]) & 0x3F), 3)
        }
        let v =
            ((b0 & 0x07) << 18) | ((UInt32(base[i + 1]) & 0x3F) << 12) | ((UInt32(base[i + 2]) & 0x3F) << 6)
            | (UInt32(base[i + 3]) & 0x3F)
        return (v, 4)
    }

    /// A short, printable description of the character at `i` for messages.
    func describe(at i: Int) -> String {
        if i >= count { return "end of input" }
        let (value, _) = scalar(at: i)
        return KDLLexer.describe(scalar: value)
    }

    static func describe(scalar value: UInt32) -> String {
        if value >= 0x21 && value < 0x7F, let s = Unicode.Scalar(value) { return "'\(Character(s))'" }
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    // MARK: - Character classes

    @inline(__always) static func isUnicodeSpace(_ s: UInt32) -> Bool {
        s == 0x20 || s == 0x09 || s == 0xA0 || s == 0x1680 || (s >= 0x2000 && s <= 0x200A) || s == 0x202F
            || s == 0x205F || s == 0x3000
    }

    @inline(__always) static func isNewlineScalar(_ s: UInt32) -> Bool {
        (s >= 0x0A && s <= 0x0D) || s == 0x85 || s == 0x2028 || s == 0x2029
    }

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    @inline(__always) func isIdentifierASCII(_ c: UInt8) -> Bool {
        c < 64 ? (identLow >> UInt64(c)) & 1 != 0 : (identHigh >> UInt64(c & 63)) & 1 != 0
    }

    /// Length of the unicode-space character at `i`, 0 if there is none.
    @inline(__always) func spaceLength(at i: Int) -> Int {
        let c = at(i)
        if c == 0x20 || c == 0x09 { return 1 }
        if c < 0x80 { return 0 }
        let (s, n) = scalar(at: i)
        return KDLLexer.isUnicodeSpace(s) ? n : 0
    }

    /// Length of the newline sequence at `i` (CRLF counts as one), 0 if there is none.
    @inline(__always) func newlineLength(at i: Int) -> Int {
        switch at(i) {
        case 0x0A, 0x0B, 0x0C: return 1
        case 0x0D: return at(i + 1) == 0x0A ? 2 : 1
        case 0xC2: return at(i + 1) == 0x85 ? 2 : 0
        case 0xE2: return at(i + 1) == 0x80 && (at(i + 2) == 0xA8 || at(i + 2) == 0xA9) ? 3 : 0
        default: return 0
        }
    }

    /// The end of the run of identifier characters starting at `i`.
    func identifierEnd(from i: Int) -> Int {
        var j = i
        while j < count {
            let c = base[j]
            if c < 0x80 {
                if isIdentifierASCII(c) {
                    j += 1
                    continue
                }
                break
            }
            let (s, n) = scalar(at: j)
            if KDLLexer.isUnicodeSpace(s) || KDLLexer.isNewlineScalar(s) { break }
            j += n
        }
        return j
    }

    /// Whether the bytes at `i` spell `word` followed by a non-identifier character.
    func matches(_ word: StaticString, at i: Int, end: Int) -> Bool {
        let n = word.utf8CodeUnitCount
        guard end - i == n else { return false }
        let w = word.utf8Start
        for k in 0..<n where base[i + k] != w[k] { return false }
        return true
    }

    // MARK: - Whitespace and comments

    /// Skips unicode-space and `/* */` comments; true if anything was skipped.
    @inline(__always) mutating func skipWhitespace() throws(KDLSyntaxError) -> Bool {
        let start = pos
        while pos < count {
            let c = base[pos]
            if c == 0x20 || c == 0x09 {
                pos += 1
            } else if c == 0x2F && at(pos + 1) == 0x2A {
                try skipBlockComment()
            } else if c >= 0x80, case let n = spaceLength(at: pos), n > 0 {
                pos += n
            } else {
                break
            }
        }
        return pos != start
    }

    /// Skips a nested `/* */` comment at `pos`. A counter, not recursion, tracks nesting.
    mutating func skipBlockComment() throws(KDLSyntaxError) {
        let open = pos
        pos += 2
        var depth = 1
        while depth > 0 {
            guard pos < count else {
                throw KDLSyntaxError(offset: open, message: "unterminated /* comment; close it with */")
            }
            let c = base[pos]
            if c == 0x2A && at(pos + 1) == 0x2F {
                depth -= 1
                pos += 2
            } else if c == 0x2F && at(pos + 1) == 0x2A {
                depth += 1
                pos += 2
            } else {
                pos += 1
            }
        }
    }

    /// Skips a `//` comment and the newline that ends it.
    mutating func skipLineComment() {
        pos += 2
        while pos < count {
            let c = base[pos]
            if c == 0x0A || c == 0x0B || c == 0x0C || c == 0x0D || c == 0xC2 || c == 0xE2 {
                let n = newlineLength(at: pos)
                if n > 0 {
                    pos += n
                    return
                }
            }
            pos += 1
        }
    }

    /// Skips a line continuation: `\`, whitespace, then a `//` comment, a newline or (2.0) the end of input.
    mutating func skipEscline() throws(KDLSyntaxError) {
        let start = pos
        pos += 1
        _ = try skipWhitespace()
        if current == 0x2F && at(pos + 1) == 0x2F {
            skipLineComment()
            return
        }
        let n = newlineLength(at: pos)
        if n > 0 {
            pos += n
            return
        }
        if pos >= count && !isV1 { return }
        throw KDLSyntaxError(
            offset: start,
            message:
                "'\\' outside a string starts a line continuation and must be followed by a newline or a // comment"
        )
    }

    /// Skips node-space (whitespace, comments and line continuations); true if anything was skipped.
    @inline(__always) mutating func skipNodeSpace() throws(KDLSyntaxError) -> Bool {
        let start = pos
        while true {
            _ = try skipWhitespace()
            if current == 0x5C {
                try skipEscline()
                continue
            }
            break
        }
        return pos != start
    }

    /// Skips line-space: node-space, newlines and `//` comments.
    mutating func skipLineSpace() throws(KDLSyntaxError) {
        while pos < count {
            let c = base[pos]
            if c == 0x0A || c == 0x20 || c == 0x09 || c == 0x0D {
                pos += 1
                continue
            }
            if c == 0x2F {
                let d = at(pos + 1)
                if d == 0x2F {
                    skipLineComment()
                    continue
                }
                if d == 0x2A {
                    try skipBlockComment()
                    continue
                }
                return
            }
            if c == 0x5C && !isV1 {
                try skipEscline()
                continue
            }
            let n = newlineLength(at: pos)
            if n > 0 {
                pos += n
                continue
            }
            let s = spaceLength(at: pos)
            if s > 0 {
                pos += s
                continue
            }
            return
        }
    }

    /// Whether a node terminator that belongs to the node follows: a newline, `;` or a `//` comment.
    /// (The end of input and `}` also end a node but are not consumed with it.)
    @inline(__always) func terminatorAhead() -> Bool {
        let c = current
        if c == 0x3B || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C { return true }
        if c == 0x2F { return at(pos + 1) == 0x2F }
        if c >= 0x80 { return newlineLength(at: pos) > 0 }
        return false
    }

    // MARK: - Values

    /// Scans a string, number or keyword at `pos`; nil (nothing consumed) when no value can start there.
    mutating func scanValue() throws(KDLSyntaxError) -> KDLToken? {
        let c = current
        switch c {
        case 0x22:  // "
            return isV1 ? try scanQuotedV1() : try scanQuoted()
        case 0x23:  // #
            if !isV1 { return try scanHashed() }
        case 0x30...0x39:
            return try scanNumber()
        case 0x2B, 0x2D:  // + -
            let d = at(pos + 1)
            if KDLLexer.isDigit(d) { return try scanNumber() }
            if !isV1 && d == 0x2E && KDLLexer.isDigit(at(pos + 2)) {
                throw KDLSyntaxError(
                    offset: pos,
                    message: "a number needs a digit before the decimal point, like \(Character(Unicode.Scalar(c)))0.5"
                )
            }
        case 0x2E:  // .
            if !isV1 && KDLLexer.isDigit(at(pos + 1)) {
                throw KDLSyntaxError(offset: pos, message: "a number needs a digit before the decimal point, like 0.5")
            }
        case 0x72:  // r: KDL 1.0 raw strings r"..." and r#"..."#
            if isV1 {
                var j = pos + 1
                while at(j) == 0x23 { j += 1 }
                if at(j) == 0x22 { return try scanRawV1() }
            }
        default:
            break
        }
        return try scanIdentifier()
    }

    private mutating func scanIdentifier() throws(KDLSyntaxError) -> KDLToken? {
        let start = pos
        let end = identifierEnd(from: pos)
        if end == start { return nil }
        if isV1 {
            pos = end
            if matches("true", at: start, end: end) {
                return KDLToken(kind: .trueValue, ref: .empty, isBareIdentifier: true)
            }
            if matches("false", at: start, end: end) {
                return KDLToken(kind: .falseValue, ref: .empty, isBareIdentifier: true)
            }
            if matches("null", at: start, end: end) {
                return KDLToken(kind: .null, ref: .empty, isBareIdentifier: true)
            }
            return KDLToken(kind: .string, ref: sourceRef(start, end), isBareIdentifier: true)
        }
        if end - start <= 5, let word = reservedWord(start, end) {
            throw KDLSyntaxError(
                offset: start,
                message: "'\(word)' is a keyword and cannot be a bare identifier; write #\(word) for the value or "
                    + "\"\(word)\" for the string"
            )
        }
        pos = end
        return KDLToken(kind: .string, ref: sourceRef(start, end), isBareIdentifier: true)
    }

    /// The 2.0 keyword spelled by `start..<end` without its `#`, if any: such identifiers are errors.
    private func reservedWord(_ start: Int, _ end: Int) -> String? {
        for word: StaticString in ["true", "false", "null", "inf", "-inf", "nan"]
        where matches(word, at: start, end: end) {
            return word.description
        }
        return nil
    }

    @inline(__always) private func sourceRef(_ start: Int, _ end: Int) -> KDLStringRef {
        KDLStringRef(start: UInt32(truncatingIfNeeded: start), count: UInt32(truncatingIfNeeded: end - start))
    }

    private func decodedRef(from start: Int) -> KDLStringRef {
        KDLStringRef(
            start: UInt32(truncatingIfNeeded: start) | KDLStringRef.decodedFlag,
            count: UInt32(truncatingIfNeeded: decoded.count - start)
        )
    }

    /// `#true`, `#false`, `#null`, `#inf`, `#-inf`, `#nan`, or a raw string `#"…"#`.
    private mutating func scanHashed() throws(KDLSyntaxError) -> KDLToken {
        let start = pos
        var hashes = 0
        while at(pos + hashes) == 0x23 { hashes += 1 }
        if at(pos + hashes) == 0x22 { return try scanRaw(hashes: hashes) }
        let end = identifierEnd(from: pos + 1)
        if hashes == 1 {
            let kind: KDLValueKind? =
                if matches("true", at: start + 1, end: end) {
                    .trueValue
                } else if matches("false", at: start + 1, end: end) {
                    .falseValue
                } else if matches("null", at: start + 1, end: end) {
                    .null
                } else if matches("inf", at: start + 1, end: end) {
                    .infinity
                } else if matches("-inf", at: start + 1, end: end) {
                    .negativeInfinity
                } else if matches("nan", at: start + 1, end: end) {
                    .nan
                } else {
                    nil
                }
            if let kind {
                pos = end
                return KDLToken(kind: kind, ref: .empty)
            }
        }
        let word = String(decoding: bytes(start, max(end, start + hashes)), as: UTF8.self)
        throw KDLSyntaxError(
            offset: start,
            message:
                "unknown keyword \(word.count > 40 ? String(word.prefix(40)) + "…" : word); expected #true, #false, "
                + "#null, #inf, #-inf, #nan or a raw string #\"…\"#"
        )
    }

    // MARK: Numbers

    private mutating func scanNumber() throws(KDLSyntaxError) -> KDLToken {
        let start = pos
        let end = identifierEnd(from: pos)
        var j = start
        if at(j) == 0x2B || at(j) == 0x2D { j += 1 }
        let kind: KDLValueKind
        if at(j) == 0x30, case let r = at(j + 1), r == 0x78 || r == 0x6F || r == 0x62 {
            let (radixKind, name, prefix): (KDLValueKind, String, String) =
                r == 0x78
                ? (.hex, "hexadecimal", "0x") : r == 0x6F ? (.octal, "octal", "0o") : (.binary, "binary", "0b")
            j += 2
            guard j < end, isRadixDigit(at(j), radixKind) else {
                throw KDLSyntaxError(
                    offset: j,
                    message: at(j) == 0x5F
                        ? "\(name) number cannot start with '_' after \(prefix); underscores only go between digits"
                        : "\(name) number needs a digit after \(prefix), found \(describe(at: j))"
                )
            }
            while j < end && (isRadixDigit(at(j), radixKind) || at(j) == 0x5F) { j += 1 }
            if j < end {
                throw KDLSyntaxError(offset: j, message: "\(describe(at: j)) is not a valid \(name) digit")
            }
            kind = radixKind
        } else {
            j = skipDigits(from: j)
            var isDecimal = false
            if at(j) == 0x2E && j < end {
                j += 1
                guard KDLLexer.isDigit(at(j)) else {
                    throw KDLSyntaxError(
                        offset: j,
                        message: "the decimal point in a number must be followed by a digit, found \(describe(at: j))"
                    )
                }
                j = skipDigits(from: j)
                isDecimal = true
            }
            if (at(j) == 0x65 || at(j) == 0x45) && j < end {
                j += 1
                if at(j) == 0x2B || at(j) == 0x2D { j += 1 }
                guard KDLLexer.isDigit(at(j)) else {
                    throw KDLSyntaxError(
                        offset: j, message: "the exponent of a number needs a digit, found \(describe(at: j))"
                    )
                }
                j = skipDigits(from: j)
                isDecimal = true
            }
            if j < end {
                throw KDLSyntaxError(
                    offset: j,
                    message: "unexpected \(describe(at: j)) in a number; a string that starts with a digit must be "
                        + "quoted"
                )
            }
            kind = isDecimal ? .decimal : .integer
        }
        pos = end
        return KDLToken(kind: kind, ref: sourceRef(start, end))
    }

    @inline(__always) private func skipDigits(from i: Int) -> Int {
        var j = i
        while KDLLexer.isDigit(at(j)) || at(j) == 0x5F { j += 1 }
        return j
    }

    @inline(__always) private func isRadixDigit(_ c: UInt8, _ kind: KDLValueKind) -> Bool {
        switch kind {
        case .hex: return KDLLexer.isDigit(c) || (c | 0x20) &- 0x61 < 6
        case .octal: return c &- 0x30 < 8
        default: return c == 0x30 || c == 0x31
        }
    }

    // MARK: Quoted strings

    /// A single-line `"…"` string (2.0), or a multi-line `"""` string.
    private mutating func scanQuoted() throws(KDLSyntaxError) -> KDLToken {
        let open = pos
        if at(pos + 1) == 0x22 && at(pos + 2) == 0x22 {
            let n = newlineLength(at: pos + 3)
            guard n > 0 else {
                throw KDLSyntaxError(
                    offset: open,
                    message: "a multi-line string must start with a newline right after \"\"\"; use \"…\" for a "
                        + "single-line string"
                )
            }
            return try scanMultiline(raw: false, hashes: 0, open: open, bodyStart: pos + 3 + n)
        }
        var j = pos + 1
        // Fast path: no escapes, the value is a slice of the source.
        while j < count {
            let c = base[j]
            if c == 0x22 {
                pos = j + 1
                return KDLToken(kind: .string, ref: sourceRef(open + 1, j))
            }
            if c == 0x5C { break }
            if c < 0x20 || c == 0xC2 || c == 0xE2 {
                if newlineLength(at: j) > 0 { throw literalNewline(at: j) }
            }
            j += 1
        }
        if j >= count { throw unterminatedString(open) }
        let decodedStart = decoded.count
        appendSource(open + 1, j)
        var runStart = j
        while true {
            guard j < count else { throw unterminatedString(open) }
            let c = base[j]
            if c == 0x22 { break }
            if c == 0x5C {
                appendSource(runStart, j)
                j = try decodeEscape(from: base, at: j, end: count, errorOffset: nil, allowWhitespace: true)
                runStart = j
                continue
            }
            if c < 0x20 || c == 0xC2 || c == 0xE2 {
                if newlineLength(at: j) > 0 { throw literalNewline(at: j) }
            }
            j += 1
        }
        appendSource(runStart, j)
        pos = j + 1
        return KDLToken(kind: .string, ref: decodedRef(from: decodedStart))
    }

    /// A KDL 1.0 quoted string: literal newlines allowed, `\/` escape, no `\s` and no whitespace escapes.
    private mutating func scanQuotedV1() throws(KDLSyntaxError) -> KDLToken {
        let open = pos
        var j = pos + 1
        while j < count {
            let c = base[j]
            if c == 0x22 {
                pos = j + 1
                return KDLToken(kind: .string, ref: sourceRef(open + 1, j))
            }
            if c == 0x5C { break }
            j += 1
        }
        if j >= count { throw unterminatedString(open) }
        let decodedStart = decoded.count
        appendSource(open + 1, j)
        var runStart = j
        while true {
            guard j < count else { throw unterminatedString(open) }
            let c = base[j]
            if c == 0x22 { break }
            if c == 0x5C {
                appendSource(runStart, j)
                j = try decodeEscape(from: base, at: j, end: count, errorOffset: nil, allowWhitespace: false)
                runStart = j
                continue
            }
            j += 1
        }
        appendSource(runStart, j)
        pos = j + 1
        return KDLToken(kind: .string, ref: decodedRef(from: decodedStart))
    }

    private func literalNewline(at j: Int) -> KDLSyntaxError {
        KDLSyntaxError(
            offset: j,
            message: "a quoted string cannot contain a literal newline; write \\n, end the line with \\ to continue "
                + "the string, or use a multi-line \"\"\" string"
        )
    }

    private func unterminatedString(_ open: Int) -> KDLSyntaxError {
        KDLSyntaxError(offset: open, message: "unterminated string; add the closing \"")
    }

    @inline(__always) private mutating func appendSource(_ start: Int, _ end: Int) {
        if end > start { decoded.append(contentsOf: UnsafeBufferPointer(start: base + start, count: end - start)) }
    }

    /// Decodes the escape at `p[i]` (a backslash) into `decoded`; returns the index after it. `errorOffset` replaces
    /// positions in `p` for messages when `p` is not the source.
    private mutating func decodeEscape(
        from p: UnsafePointer<UInt8>, at i: Int, end: Int, errorOffset: Int?, allowWhitespace: Bool
    ) throws(KDLSyntaxError) -> Int {
        let e = i + 1 < end ? p[i + 1] : 0
        let replacement: UInt8
        switch e {
        case 0x6E: replacement = 0x0A  // n
        case 0x72: replacement = 0x0D  // r
        case 0x74: replacement = 0x09  // t
        case 0x5C: replacement = 0x5C
        case 0x22: replacement = 0x22
        case 0x62: replacement = 0x08  // b
        case 0x66: replacement = 0x0C  // f
        case 0x73 where !isV1: replacement = 0x20  // s
        case 0x2F where isV1: replacement = 0x2F  // KDL 1.0 only: \/
        case 0x75:  // u{…}
            var j = i + 2
            guard j < end && p[j] == 0x7B else {
                throw KDLSyntaxError(
                    offset: errorOffset ?? i, message: "a unicode escape is written \\u{…} with 1 to 6 hex digits"
                )
            }
            j += 1
            var value: UInt32 = 0
            var digits = 0
            while j < end, let d = KDLLexer.hexValue(p[j]) {
                value = value &* 16 &+ UInt32(d)
                digits += 1
                j += 1
                if digits > 6 { break }
            }
            guard digits >= 1 && digits <= 6 && j < end && p[j] == 0x7D else {
                throw KDLSyntaxError(
                    offset: errorOffset ?? i, message: "a unicode escape is written \\u{…} with 1 to 6 hex digits"
                )
            }
            guard let scalar = Unicode.Scalar(value) else {
                let hex = String(value, radix: 16, uppercase: true)
                throw KDLSyntaxError(
                    offset: errorOffset ?? i,
                    message: value > 0x10FFFF
                        ? "\\u{\(hex)} is above U+10FFFF, the largest Unicode scalar value"
                        : "\\u{\(hex)} is a surrogate code point, which is not a Unicode scalar value"
                )
            }
            decoded.append(contentsOf: UTF8.encode(scalar)!)
            return j + 1
        default:
            if allowWhitespace && !isV1 && p == base {
                // Whitespace escape: the backslash and all following whitespace and newlines vanish.
                var j = i + 1
                var any = false
                while true {
                    let n = spaceLength(at: j)
                    if n > 0 {
                        j += n
                        any = true
                        continue
                    }
                    let m = newlineLength(at: j)
                    if m > 0 {
                        j += m
                        any = true
                        continue
                    }
                    break
                }
                if any { return j }
            }
            let shown =
                i + 1 < end && p == base
                ? describe(at: i + 1) : (e >= 0x21 && e < 0x7F ? "'\(Character(Unicode.Scalar(e)))'" : "this character")
            let valid =
                isV1 ? #"\n \r \t \\ \/ \" \b \f \u{…}"# : #"\n \r \t \\ \" \b \f \s \u{…}"#
            throw KDLSyntaxError(
                offset: errorOffset ?? i,
                message: "invalid escape: \\ cannot be followed by \(shown); valid escapes are \(valid)"
                    + (isV1 ? "" : " and \\ before whitespace")
            )
        }
        decoded.append(replacement)
        return i + 2
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        if c &- 0x30 < 10 { return c &- 0x30 }
        let l = c | 0x20
        if l &- 0x61 < 6 { return l &- 0x61 + 10 }
        return nil
    }

    // MARK: Raw strings

    /// A raw string `#"…"#` (any number of `#`) or a multi-line raw string `#"""…"""#`; `pos` is at the first `#`.
    private mutating func scanRaw(hashes: Int) throws(KDLSyntaxError) -> KDLToken {
        let open = pos
        let quote = pos + hashes
        if at(quote + 1) == 0x22 && at(quote + 2) == 0x22 {
            let n = newlineLength(at: quote + 3)
            guard n > 0 else {
                throw KDLSyntaxError(
                    offset: open,
                    message: "a multi-line raw string must start with a newline right after #\"\"\"; a single-line raw "
                        + "string cannot begin with two quotes"
                )
            }
            return try scanMultiline(raw: true, hashes: hashes, open: open, bodyStart: quote + 3 + n)
        }
        let bodyStart = quote + 1
        var j = bodyStart
        while true {
            guard j < count else {
                throw KDLSyntaxError(
                    offset: open,
                    message: "unterminated raw string; close it with \"" + String(repeating: "#", count: hashes)
                )
            }
            let c = base[j]
            if c == 0x22 && closesRaw(at: j + 1, hashes: hashes) { break }
            if c < 0x20 || c == 0xC2 || c == 0xE2 {
                if newlineLength(at: j) > 0 {
                    throw KDLSyntaxError(
                        offset: j,
                        message: "a single-line raw string cannot contain a newline; use a multi-line raw string "
                            + "#\"\"\"…\"\"\"#"
                    )
                }
            }
            j += 1
        }
        pos = j + 1 + hashes
        return KDLToken(kind: .string, ref: sourceRef(bodyStart, j))
    }

    @inline(__always) private func closesRaw(at i: Int, hashes: Int) -> Bool {
        var k = 0
        while k < hashes {
            if at(i + k) != 0x23 { return false }
            k += 1
        }
        return true
    }

    /// A KDL 1.0 raw string `r"…"` / `r#"…"#`: any content, including newlines, up to the matching close.
    private mutating func scanRawV1() throws(KDLSyntaxError) -> KDLToken {
        let open = pos
        var hashes = 0
        while at(pos + 1 + hashes) == 0x23 { hashes += 1 }
        let bodyStart = pos + 2 + hashes
        var j = bodyStart
        while true {
            guard j < count else {
                throw KDLSyntaxError(offset: open, message: "unterminated raw string")
            }
            if base[j] == 0x22 && closesRaw(at: j + 1, hashes: hashes) { break }
            j += 1
        }
        pos = j + 1 + hashes
        return KDLToken(kind: .string, ref: sourceRef(bodyStart, j))
    }

    // MARK: Multi-line strings

    /// Finds the end of a multi-line string whose body starts at `bodyStart`, then dedents it into `decoded`.
    private mutating func scanMultiline(raw: Bool, hashes: Int, open: Int, bodyStart: Int) throws(KDLSyntaxError)
        -> KDLToken
    {
        var j = bodyStart
        while true {
            guard j < count else {
                throw KDLSyntaxError(
                    offset: open,
                    message: "unterminated multi-line string; close it with \"\"\""
                        + String(repeating: "#", count: hashes) + " on its own line"
                )
            }
            let c = base[j]
            if c == 0x5C && !raw {
                j += 2
                continue
            }
            if c == 0x22 && at(j + 1) == 0x22 && at(j + 2) == 0x22 && closesRaw(at: j + 3, hashes: hashes) { break }
            j += 1
        }
        let close = j
        pos = close + 3 + hashes

        // 1. Resolve whitespace escapes (they may join lines) and normalise newlines to LF; other escapes stay.
        scratch.removeAll(keepingCapacity: true)
        scratchLineStarts.removeAll(keepingCapacity: true)
        scratchLineStarts.append(bodyStart)
        var i = bodyStart
        while i < close {
            let c = base[i]
            if c == 0x5C && !raw {
                let next = i + 1
                if spaceLength(at: next) > 0 || newlineLength(at: next) > 0 {
                    i = next
                    while i < close {
                        let n = spaceLength(at: i)
                        if n > 0 {
                            i += n
                            continue
                        }
                        let m = newlineLength(at: i)
                        if m > 0 {
                            i += m
                            continue
                        }
                        break
                    }
                    continue
                }
                scratch.append(c)
                if next < close { scratch.append(base[next]) }
                i = next + 1
                continue
            }
            if c < 0x20 || c == 0xC2 || c == 0xE2 {
                let n = newlineLength(at: i)
                if n > 0 {
                    scratch.append(0x0A)
                    i += n
                    scratchLineStarts.append(i)
                    continue
                }
            }
            scratch.append(c)
            i += 1
        }

        // 2. The last line holds only whitespace: it is the prefix every other non-blank line must start with.
        let lastNewline = scratch.lastIndex(of: 0x0A)
        let prefixStart = lastNewline.map { $0 + 1 } ?? 0
        guard isAllSpace(scratch, prefixStart, scratch.count) else {
            throw KDLSyntaxError(
                offset: close,
                message: "the closing \"\"\" of a multi-line string must be on its own line, after only whitespace"
            )
        }
        let decodedStart = decoded.count
        guard let lastNewline else { return KDLToken(kind: .string, ref: decodedRef(from: decodedStart)) }
        let prefixLength = scratch.count - prefixStart

        // 3. Strip the prefix from each line, blank out whitespace-only lines, then decode escapes.
        var lineStart = 0
        var lineIndex = 0
        while lineStart <= lastNewline {
            var lineEnd = lineStart
            while scratch[lineEnd] != 0x0A { lineEnd += 1 }
            if lineIndex > 0 { decoded.append(0x0A) }
            if !isAllSpace(scratch, lineStart, lineEnd) {
                var matchesPrefix = lineEnd - lineStart >= prefixLength
                if matchesPrefix {
                    for k in 0..<prefixLength where scratch[lineStart + k] != scratch[prefixStart + k] {
                        matchesPrefix = false
                        break
                    }
                }
                guard matchesPrefix else {
                    throw KDLSyntaxError(
                        offset: scratchLineStarts[lineIndex],
                        message: "every line of a multi-line string must start with the same whitespace as the line "
                            + "of the closing \"\"\" (\(KDLLexer.describeWhitespace(Array(scratch[prefixStart...]))))"
                    )
                }
                let from = lineStart + prefixLength
                if raw {
                    decoded.append(contentsOf: scratch[from..<lineEnd])
                } else {
                    try appendDecodingEscapes(from, lineEnd, errorOffset: scratchLineStarts[lineIndex])
                }
            }
            lineStart = lineEnd + 1
            lineIndex += 1
        }
        return KDLToken(kind: .string, ref: decodedRef(from: decodedStart))
    }

    private mutating func appendDecodingEscapes(_ from: Int, _ to: Int, errorOffset: Int) throws(KDLSyntaxError) {
        let work = scratch
        scratch = []  // hand the buffer over while `decoded` is appended to, so neither is copied
        defer { scratch = work }
        try work.withUnsafeBufferPointer { (buffer) throws(KDLSyntaxError) in
            let p = buffer.baseAddress!
            var i = from
            var runStart = from
            while i < to {
                if p[i] == 0x5C {
                    if i > runStart {
                        decoded.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: i - runStart))
                    }
                    i = try decodeEscape(from: p, at: i, end: to, errorOffset: errorOffset, allowWhitespace: false)
                    runStart = i
                } else {
                    i += 1
                }
            }
            if to > runStart {
                decoded.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: to - runStart))
            }
        }
    }

    private func isAllSpace(_ buffer: [UInt8], _ from: Int, _ to: Int) -> Bool {
        var i = from
        while i < to {
            let c = buffer[i]
            if c == 0x20 || c == 0x09 {
                i += 1
                continue
            }
            if c < 0x80 { return false }
            // Decode the scalar from the buffer (valid UTF-8: it was copied from validated input).
            let b0 = UInt32(c)
            let n = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
            var v = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
            for k in 1..<n { v = (v << 6) | (UInt32(buffer[i + k]) & 0x3F) }
            if !KDLLexer.isUnicodeSpace(v) { return false }
            i += n
        }
        return true
    }

    private static func describeWhitespace(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "no indentation" }
        var parts: [String] = []
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            parts.append(scalar == " " ? "space" : scalar == "\t" ? "tab" : describe(scalar: scalar.value))
        }
        return parts.joined(separator: ", ")
    }
}

// MARK: - Input validation

extension KDLLexer {
    /// Checks the whole input once: valid UTF-8, no disallowed literal code points, a BOM only at the start.
    /// Returns nil when the input is acceptable.
    static func validate(_ bytes: [UInt8]) -> KDLSyntaxError? {
        if bytes.count >= Int(KDLStringRef.decodedFlag) {
            return KDLSyntaxError(offset: 0, message: "document is larger than 2 GiB")
        }
        return bytes.withUnsafeBufferPointer { buffer -> KDLSyntaxError? in
            guard let p = buffer.baseAddress else { return nil }
            let n = buffer.count
            var i = 0
            if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { i = 3 }
            let raw = UnsafeRawPointer(p)
            while i < n {
                // Eight printable ASCII bytes at a time; anything else (controls, DEL, non-ASCII) is checked singly.
                if i + 8 <= n {
                    let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let high: UInt64 = 0x8080_8080_8080_8080
                    let ones: UInt64 = 0x0101_0101_0101_0101
                    let below20 = (w &- ones &* 0x20) & ~w & high
                    let del = w ^ (ones &* 0x7F)
                    let isDel = (del &- ones) & ~del & high
                    if (w & high) | below20 | isDel == 0 {
                        i += 8
                        continue
                    }
                }
                let c = p[i]
                if c < 0x80 {
                    if (c < 0x20 && !(c >= 0x09 && c <= 0x0D)) || c == 0x7F {
                        let name = c == 0 ? "NUL byte (U+0000)" : "control character \(describe(scalar: UInt32(c)))"
                        return KDLSyntaxError(
                            offset: i,
                            message:
                                "\(name) is not allowed in a KDL document; write it as "
                                + "\\u{\(String(c, radix: 16, uppercase: true))} inside a quoted string"
                        )
                    }
                    i += 1
                    continue
                }
                guard let (value, length) = decodeChecked(p, i, n) else {
                    return KDLSyntaxError(
                        offset: i,
                        message:
                            "invalid UTF-8 (byte 0x\(String(c, radix: 16, uppercase: true))); KDL documents must be "
                            + "UTF-8 encoded"
                    )
                }
                if let name = disallowedName(value) {
                    let hex = String(value, radix: 16, uppercase: true)
                    let hint =
                        value == 0xFEFF
                        ? "a byte order mark is only allowed at the very start"
                        : "write it as \\u{\(hex)} inside a quoted string"
                    return KDLSyntaxError(
                        offset: i, message: "\(name) is not allowed literally in a KDL document; \(hint)")
                }
                i += length
            }
            return nil
        }
    }

    private static func decodeChecked(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> (UInt32, Int)? {
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int) -> UInt32? {
            guard i + k < n, p[i + k] & 0xC0 == 0x80 else { return nil }
            return UInt32(p[i + k] & 0x3F)
        }
        switch b0 {
        case 0xC2...0xDF:
            guard let c1 = cont(1) else { return nil }
            return ((UInt32(b0) & 0x1F) << 6 | c1, 2)
        case 0xE0...0xEF:
            guard let c1 = cont(1), let c2 = cont(2) else { return nil }
            let v = (UInt32(b0) & 0x0F) << 12 | c1 << 6 | c2
            if v < 0x800 || (v >= 0xD800 && v <= 0xDFFF) { return nil }  // overlong or surrogate
            return (v, 3)
        case 0xF0...0xF4:
            guard let c1 = cont(1), let c2 = cont(2), let c3 = cont(3) else { return nil }
            let v = (UInt32(b0) & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            if v < 0x10000 || v > 0x10FFFF { return nil }
            return (v, 4)
        default:
            return nil
        }
    }

    private static func disallowedName(_ v: UInt32) -> String? {
        switch v {
        case 0x200E: return "U+200E (LEFT-TO-RIGHT MARK)"
        case 0x200F: return "U+200F (RIGHT-TO-LEFT MARK)"
        case 0x202A...0x202E, 0x2066...0x2069: return "bidirectional control \(describe(scalar: v))"
        case 0xFEFF: return "U+FEFF (BYTE ORDER MARK)"
        default: return nil
        }
    }
}
