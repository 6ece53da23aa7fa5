// Strings for the KDL lexer (KDLLexer.swift): quoted, raw and multi-line strings and their escapes, for both
// grammars. Unsafe pointer use of the KDL code lives in the lexer files, through the lexer's `base` pointer (and
// here also the scratch buffer's, while its escapes are decoded).

extension KDLLexer {
    /// What differs between the strings of KDL 2.0 and 1.0, so that each scanner is written once. (Which one-letter
    /// escapes exist, `\s` in 2.0 and `\/` in 1.0, follows `isV1` in `decodeEscape`.)
    struct StringRules {
        /// A literal newline belongs to a quoted or raw string (1.0) instead of being an error (2.0, which has
        /// `\n` and multi-line strings for that).
        let literalNewlines: Bool
        /// `\` before whitespace removes it together with the whitespace and newlines that follow (2.0).
        let whitespaceEscapes: Bool

        static var v2: StringRules { StringRules(literalNewlines: false, whitespaceEscapes: true) }
        static var v1: StringRules { StringRules(literalNewlines: true, whitespaceEscapes: false) }
    }

    // MARK: Quoted strings

    /// A quoted string at `pos`: `"…"`, or (2.0) a multi-line `"""` string.
    mutating func scanQuoted() throws(KDLSyntaxError) -> KDLToken {
        if isV1 { return try scanQuotedString(.v1) }
        if let bodyStart = try multilineBodyStart(quote: pos, open: pos, raw: false) {
            return try scanMultiline(raw: false, hashes: 0, open: pos, bodyStart: bodyStart)
        }
        return try scanQuotedString(.v2)
    }

    /// Where the body of a multi-line string starts when `"""` opens at `quote` (after the newline that must follow
    /// it); nil when a single-line string opens there.
    private func multilineBodyStart(quote: Int, open: Int, raw: Bool) throws(KDLSyntaxError) -> Int? {
        guard at(quote + 1) == 0x22 && at(quote + 2) == 0x22 else { return nil }
        let n = newlineLength(at: quote + 3)
        guard n > 0 else {
            throw KDLSyntaxError(
                offset: open,
                message: raw
                    ? "a multi-line raw string must start with a newline right after #\"\"\"; a single-line raw "
                        + "string cannot begin with two quotes"
                    : "a multi-line string must start with a newline right after \"\"\"; use \"…\" for a "
                        + "single-line string"
            )
        }
        return quote + 3 + n
    }

    /// The quoted string `"…"` whose opening quote is at `pos`. Inlined into each caller so that `rules` is a
    /// constant there and the loops carry no test for it.
    @inline(__always)
    private mutating func scanQuotedString(_ rules: StringRules) throws(KDLSyntaxError) -> KDLToken {
        let open = pos
        var j = pos + 1
        // Fast path: no escapes, the value is a slice of the source.
        while j < count {
            let c = base[j]
            if c == 0x22 {
                pos = j + 1
                return KDLToken(kind: .string, ref: sourceRef(open + 1, j))
            }
            if c == 0x5C { break }
            if !rules.literalNewlines && isNewlineStart(c, at: j) { throw literalNewline(at: j) }
            j += 1
        }
        if j >= count { throw unterminatedString(open) }
        // From the first escape on, the value is built in `decoded`.
        let decodedStart = decoded.count
        var runStart = open + 1
        while true {
            guard j < count else { throw unterminatedString(open) }
            let c = base[j]
            if c == 0x22 { break }
            if c == 0x5C {
                appendSource(runStart, j)
                j = try decodeEscape(
                    from: base, at: j, end: count, errorOffset: nil, whitespaceEscapes: rules.whitespaceEscapes)
                runStart = j
                continue
            }
            if !rules.literalNewlines && isNewlineStart(c, at: j) { throw literalNewline(at: j) }
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
    /// positions in `p` for messages when `p` is not the source. `whitespaceEscapes` applies only when `p` is the
    /// source (multi-line strings resolve theirs before dedenting).
    private mutating func decodeEscape(
        from p: UnsafePointer<UInt8>, at i: Int, end: Int, errorOffset: Int?, whitespaceEscapes: Bool
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
            if whitespaceEscapes && p == base {
                // Whitespace escape: the backslash and all following whitespace and newlines vanish.
                let j = whitespaceEnd(from: i + 1)
                if j > i + 1 { return j }
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

    // MARK: Raw strings

    /// A raw string `#"…"#` (any number of `#`) or a multi-line raw string `#"""…"""#`; `pos` is at the first `#`.
    mutating func scanRaw(hashes: Int) throws(KDLSyntaxError) -> KDLToken {
        let open = pos
        let quote = pos + hashes
        if let bodyStart = try multilineBodyStart(quote: quote, open: open, raw: true) {
            return try scanMultiline(raw: true, hashes: hashes, open: open, bodyStart: bodyStart)
        }
        return try scanRawString(open: open, bodyStart: quote + 1, hashes: hashes, .v2)
    }

    /// The raw string that opens at `open` (`#` in 2.0, `r` in 1.0) and whose body starts at `bodyStart`: the body
    /// runs to the first `"` followed by `hashes` `#`s. Inlined into each caller so that `rules` is a constant there.
    @inline(__always)
    mutating func scanRawString(open: Int, bodyStart: Int, hashes: Int, _ rules: StringRules) throws(KDLSyntaxError)
        -> KDLToken
    {
        var j = bodyStart
        while true {
            guard j < count else {
                throw KDLSyntaxError(
                    offset: open,
                    message: isV1
                        ? "unterminated raw string"
                        : "unterminated raw string; close it with \"" + String(repeating: "#", count: hashes)
                )
            }
            let c = base[j]
            if c == 0x22 && closesRaw(at: j + 1, hashes: hashes) { break }
            if !rules.literalNewlines && isNewlineStart(c, at: j) {
                throw KDLSyntaxError(
                    offset: j,
                    message: "a single-line raw string cannot contain a newline; use a multi-line raw string "
                        + "#\"\"\"…\"\"\"#"
                )
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
                // The run cannot pass `close`: it stops at the closing quote.
                let end = whitespaceEnd(from: next)
                if end > next {
                    i = end
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
        guard isAllSpace(scratch[prefixStart...]) else {
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
            if !isAllSpace(scratch[lineStart..<lineEnd]) {
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
                    i = try decodeEscape(from: p, at: i, end: to, errorOffset: errorOffset, whitespaceEscapes: false)
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

    /// Whether `bytes` (valid UTF-8) hold only unicode-space.
    private func isAllSpace(_ bytes: ArraySlice<UInt8>) -> Bool {
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == 0x20 || c == 0x09 {
                i += 1
                continue
            }
            if c < 0x80 { return false }
            let (v, n) = KDLCharacters.scalar(bytes, at: i)
            if !KDLCharacters.isUnicodeSpace(v) { return false }
            i += n
        }
        return true
    }

    private static func describeWhitespace(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "no indentation" }
        var parts: [String] = []
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            parts.append(scalar == " " ? "space" : scalar == "\t" ? "tab" : KDLCharacters.describe(scalar.value))
        }
        return parts.joined(separator: ", ")
    }
}
