// The byte-level half of the KDL parser, split by concern: this file (the lexer, reading, character classes,
// whitespace and comments, value dispatch), KDLLexer+Strings.swift, KDLLexer+Numbers.swift and KDLLexer+V1.swift.
// Unsafe pointer use of the KDL code lives in these lexer files, through the lexer's `base` pointer (and, apart
// from them, only in KDLInputValidator's one buffer scan): the parser and the document only see offsets,
// `KDLStringRef`s and `KDLToken`s.

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

/// Scans KDL source bytes. Input is checked once up front by `KDLInputValidator` (UTF-8, disallowed code points), so
/// the scanning methods may decode any non-ASCII lead byte without re-checking, and a 0 byte can only mean end of
/// input.
struct KDLLexer {
    /// The source bytes. Only the lexer files (KDLLexer*.swift) read through it; everything else goes through
    /// `at`, `current`, `bytes` and the scanning methods.
    let base: UnsafePointer<UInt8>
    let count: Int
    let isV1: Bool
    /// Offset of the next unread byte.
    var pos: Int = 0
    /// Values of strings that are not a verbatim slice of the source.
    var decoded: [UInt8] = []
    /// Work buffer for multi-line strings (KDLLexer+Strings.swift), kept to reuse its capacity.
    var scratch: [UInt8] = []
    /// Where each line of `scratch` starts in the source, for messages.
    var scratchLineStarts: [Int] = []
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

    /// The scalar at `i` (valid UTF-8 by `KDLInputValidator`).
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
        return KDLCharacters.describe(scalar(at: i).value)
    }

    // MARK: - Character classes (the code point tables are `KDLCharacters`)

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt8? {
        if c &- 0x30 < 10 { return c &- 0x30 }
        let l = c | 0x20
        if l &- 0x61 < 6 { return l &- 0x61 + 10 }
        return nil
    }

    @inline(__always) func isIdentifierASCII(_ c: UInt8) -> Bool {
        c < 64 ? (identLow >> UInt64(c)) & 1 != 0 : (identHigh >> UInt64(c & 63)) & 1 != 0
    }

    /// Length of the unicode-space character at `i`, 0 if there is none.
    @inline(__always) func spaceLength(at i: Int) -> Int {
        let c = at(i)
        if c == 0x20 || c == 0x09 { return 1 }
        if c < 0x80 { return 0 }
        let (s, n) = scalar(at: i)
        return KDLCharacters.isUnicodeSpace(s) ? n : 0
    }

    /// Length of the newline sequence at `i` (CRLF counts as one), 0 if there is none.
    @inline(__always) func newlineLength(at i: Int) -> Int {
        KDLCharacters.newlineLength(at(i)) { at(i + $0) }
    }

    /// Whether the byte `c` at `i` is where a newline starts (`c` < 0x20, 0xC2 and 0xE2 are the candidates).
    @inline(__always) func isNewlineStart(_ c: UInt8, at i: Int) -> Bool {
        (c < 0x20 || c == 0xC2 || c == 0xE2) && newlineLength(at: i) > 0
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
            if KDLCharacters.isUnicodeSpace(s) || KDLCharacters.isNewline(s) { break }
            j += n
        }
        return j
    }

    /// Whether the bytes `i..<end` spell `word`.
    @inline(__always) func matches(_ word: StaticString, at i: Int, end: Int) -> Bool {
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
            // One step of `whitespaceEnd`, written out: this is where every node starts, and going through the
            // loop here cost about 25% more instructions in this function.
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

    /// The end of the run of unicode-space and newlines that starts at `i` (`i` itself when there is none).
    @inline(__always) func whitespaceEnd(from i: Int) -> Int {
        var j = i
        while true {
            let n = spaceLength(at: j)
            if n > 0 {
                j += n
                continue
            }
            let m = newlineLength(at: j)
            if m > 0 {
                j += m
                continue
            }
            return j
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
            return try scanQuoted()
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
            if isV1 && rawStringV1Ahead() { return try scanRawV1() }
        default:
            break
        }
        return isV1 ? scanIdentifierV1() : try scanIdentifier()
    }

    /// A bare identifier (KDL 2.0), which is a string; the keywords are errors without their `#`.
    private mutating func scanIdentifier() throws(KDLSyntaxError) -> KDLToken? {
        let start = pos
        let end = identifierEnd(from: pos)
        if end == start { return nil }
        if keyword(start, end) != nil {
            let word = String(decoding: bytes(start, end), as: UTF8.self)
            throw KDLSyntaxError(
                offset: start,
                message: "'\(word)' is a keyword and cannot be a bare identifier; write #\(word) for the value or "
                    + "\"\(word)\" for the string"
            )
        }
        pos = end
        return KDLToken(kind: .string, ref: sourceRef(start, end), isBareIdentifier: true)
    }

    /// The value of the keyword spelled by `start..<end` without its `#` (2.0 writes `#true`, 1.0 bare `true`).
    func keyword(_ start: Int, _ end: Int) -> KDLValueKind? {
        guard end - start >= 3 && end - start <= 5 else { return nil }
        if matches("true", at: start, end: end) { return .trueValue }
        if matches("false", at: start, end: end) { return .falseValue }
        if matches("null", at: start, end: end) { return .null }
        if matches("inf", at: start, end: end) { return .infinity }
        if matches("-inf", at: start, end: end) { return .negativeInfinity }
        if matches("nan", at: start, end: end) { return .nan }
        return nil
    }

    @inline(__always) func sourceRef(_ start: Int, _ end: Int) -> KDLStringRef {
        KDLStringRef(start: UInt32(truncatingIfNeeded: start), count: UInt32(truncatingIfNeeded: end - start))
    }

    /// The part of `decoded` from `start` to its end.
    func decodedRef(from start: Int) -> KDLStringRef {
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
        if hashes == 1, let kind = keyword(start + 1, end) {
            pos = end
            return KDLToken(kind: kind, ref: .empty)
        }
        let word = String(decoding: bytes(start, max(end, start + hashes)), as: UTF8.self)
        throw KDLSyntaxError(
            offset: start,
            message:
                "unknown keyword \(word.count > 40 ? String(word.prefix(40)) + "…" : word); expected #true, #false, "
                + "#null, #inf, #-inf, #nan or a raw string #\"…\"#"
        )
    }
}
