/// A JSON text checked against RFC 8259 in one pass, with the kind and position of every value in one flat array (the
/// tape), so a decoder finds the few values it wants without building a tree (`JSONTapeDecoder`).
///
/// Stricter than Foundation's `JSONScanner`, which checks strings and numbers only when they are decoded and accepts
/// trailing commas: here the whole text is checked before anything is decoded. Rejected: invalid UTF-8 (overlong
/// forms, surrogates, beyond U+10FFFF), control characters in strings, unknown escapes, `\u` escapes of lone or
/// misordered surrogates (Foundation rejects those too, when it decodes them), numbers outside RFC 8259's grammar
/// (`01`, `1.`, `.5`, `+1`, `NaN`), trailing commas, anything but whitespace after the value, and more than
/// `maximumDepth` nested arrays and objects (Foundation's limit). A UTF-8 byte order mark is skipped, as Foundation
/// does; UTF-16 and UTF-32 texts, which Foundation converts, are rejected (RFC 8259 §8.1: JSON exchanged between
/// systems is UTF-8).
///
/// Each call makes its own tape; nothing is shared between threads.
public struct JSONTape: Sendable {
    /// What a tape entry stands for.
    public enum Kind: UInt8, Sendable {
        case null
        case `true`
        case `false`
        /// A number of digits only, with an optional minus sign.
        case integer
        /// A number with a fraction or an exponent.
        case number
        /// A string of ASCII characters without escapes: its bytes are its value.
        case asciiString
        /// A string without escapes that holds characters beyond ASCII (valid UTF-8, checked).
        case unicodeString
        /// A string with at least one escape sequence.
        case escapedString
        case array
        case object

        /// Whether the value is a string.
        public var isString: Bool { self == .asciiString || self == .unicodeString || self == .escapedString }
        /// Whether the value is a number.
        public var isNumber: Bool { self == .integer || self == .number }
    }

    /// One value. An object's entries follow it as key, value, key, value…; an array's as its elements; `next` skips
    /// them all.
    public struct Entry: Sendable, Equatable {
        /// What the value is.
        public var kind: Kind
        /// Byte offset where it starts: a string's first byte after the quote, a container's bracket.
        public var start: UInt32
        /// Byte offset after its end: a string's closing quote, the byte after a container's closing bracket.
        public var end: UInt32
        /// The tape index after the value and everything inside it.
        public var next: UInt32
    }

    /// How deeply arrays and objects may nest: 512, as Foundation's `JSONDecoder` (a 513th level is an error).
    public static let maximumDepth = 512

    /// The JSON text, without its byte order mark if it had one (offsets count from here).
    public let bytes: [UInt8]
    /// The values in document order; the top-level value is entry 0.
    public let entries: [Entry]

    /// Checks `text` and records its values; throws at the first violation of RFC 8259.
    public init(validating text: [UInt8]) throws(JSONSyntaxError) {
        let hasBOM = text.count >= 3 && text[0] == 0xEF && text[1] == 0xBB && text[2] == 0xBF
        bytes = hasBOM ? Array(text[3...]) : text
        guard bytes.count < Int(UInt32.max) else {
            throw JSONSyntaxError(offset: 0, message: "the text is longer than 4 GiB")
        }
        // A stored closure cannot throw typed errors through withUnsafeBufferPointer, hence the Result.
        let scanned = bytes.withUnsafeBufferPointer { buffer in
            var scanner = JSONTapeScanner(buffer)
            return Result { () throws(JSONSyntaxError) in try scanner.scan() }.map { scanner.entries }
        }
        entries = try scanned.get()
    }
}

/// Why a text is not JSON, and where.
public struct JSONSyntaxError: Error, Equatable, CustomStringConvertible {
    /// Byte offset of the fault.
    public var offset: Int
    /// What is wrong there.
    public var message: String

    public var description: String { "\(message) at byte \(offset)" }
}

/// The single pass over the bytes: a loop with an explicit stack of open containers, so deep nesting costs no native
/// stack. Works on an `UnsafeBufferPointer` for speed (and unaligned 8-byte loads in `skipPlainASCII`); every read is
/// preceded by a check of its offset against `count`, most through `byte(at:)`.
private struct JSONTapeScanner {
    let buffer: UnsafeBufferPointer<UInt8>
    let count: Int
    var index = 0
    var entries: [JSONTape.Entry] = []
    /// Tape indices of the arrays and objects not yet closed, innermost last.
    var open: [Int] = []

    init(_ buffer: UnsafeBufferPointer<UInt8>) {
        self.buffer = buffer
        count = buffer.count
        // A tape entry per 16 bytes is about what GitHub's payloads need (a pull_request: 28 kB, 978 values and keys).
        entries.reserveCapacity(count / 16 + 8)
    }

    /// The byte at `offset`, or nil past the end.
    @inline(__always) func byte(at offset: Int) -> UInt8? {
        offset < count ? buffer[offset] : nil
    }

    func fail(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? index, message: message)
    }

    func unexpected(_ context: String) -> JSONSyntaxError {
        guard let byte = byte(at: index) else { return fail("unexpected end of text \(context)") }
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(byte))"
        return fail("unexpected \(shown) \(context)")
    }

    mutating func scan() throws(JSONSyntaxError) {
        value: while true {
            // false: an array or object was opened, its first value (or key) has been read up to the value
            guard try scanValue() else { continue value }
            // After a value: close what ends here, then find the next value or the end of the text.
            while let container = open.last {
                skipWhitespace()
                let isObject = entries[container].kind == .object
                switch byte(at: index) {
                case UInt8(ascii: ","):
                    index += 1
                    if isObject {
                        try scanKey(afterComma: true)
                    } else {
                        skipWhitespace()
                        if byte(at: index) == UInt8(ascii: "]") { throw fail("trailing comma before ']'") }
                    }
                    continue value
                case UInt8(ascii: "}") where isObject, UInt8(ascii: "]") where !isObject:
                    index += 1
                    close(container)
                default:
                    throw unexpected(
                        isObject ? "after an object member (',' or '}' expected)" : "in an array (',' or ']' expected)")
                }
            }
            break
        }
        skipWhitespace()
        guard index == count else { throw unexpected("after the top-level value") }
    }

    /// One value at `index` (after whitespace): true when it is complete, false when an array or object was opened
    /// (an object's first key is read too) and its elements follow.
    mutating func scanValue() throws(JSONSyntaxError) -> Bool {
        skipWhitespace()
        guard let first = byte(at: index) else { throw fail("unexpected end of text where a value was expected") }
        switch first {
        case UInt8(ascii: "\""):
            try scanString()
        case UInt8(ascii: "{"):
            try openContainer(.object)
            skipWhitespace()
            guard byte(at: index) == UInt8(ascii: "}") else {
                try scanKey(afterComma: false)
                return false
            }
            index += 1
            close(entries.count - 1)
        case UInt8(ascii: "["):
            try openContainer(.array)
            skipWhitespace()
            guard byte(at: index) == UInt8(ascii: "]") else { return false }
            index += 1
            close(entries.count - 1)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
        case UInt8(ascii: "t"):
            try scanLiteral("true", .true)
        case UInt8(ascii: "f"):
            try scanLiteral("false", .false)
        case UInt8(ascii: "n"):
            try scanLiteral("null", .null)
        default:
            throw unexpected("where a value was expected")
        }
        return true
    }

    /// A member's key and its colon; the value follows.
    mutating func scanKey(afterComma: Bool) throws(JSONSyntaxError) {
        skipWhitespace()
        guard byte(at: index) == UInt8(ascii: "\"") else {
            if afterComma && byte(at: index) == UInt8(ascii: "}") { throw fail("trailing comma before '}'") }
            throw unexpected("where an object key was expected")
        }
        try scanString()
        skipWhitespace()
        guard byte(at: index) == UInt8(ascii: ":") else { throw unexpected("after an object key (':' expected)") }
        index += 1
    }

    mutating func openContainer(_ kind: JSONTape.Kind) throws(JSONSyntaxError) {
        guard open.count < JSONTape.maximumDepth else {
            throw fail("more than \(JSONTape.maximumDepth) nested arrays and objects")
        }
        open.append(entries.count)
        append(kind, start: index, end: index)
        index += 1
    }

    /// Closes the innermost container, which ends before `index`.
    mutating func close(_ container: Int) {
        entries[container].end = UInt32(truncatingIfNeeded: index)
        entries[container].next = UInt32(truncatingIfNeeded: entries.count)
        open.removeLast()
    }

    @inline(__always) mutating func append(_ kind: JSONTape.Kind, start: Int, end: Int) {
        let next = UInt32(truncatingIfNeeded: entries.count + 1)
        entries.append(
            JSONTape.Entry(
                kind: kind, start: UInt32(truncatingIfNeeded: start), end: UInt32(truncatingIfNeeded: end), next: next))
    }

    /// Moves over spaces, tabs, CRs and LFs (a local offset, so the loop keeps it in a register).
    @inline(__always) mutating func skipWhitespace() {
        var offset = index
        while offset < count {
            let byte = buffer[offset]
            guard byte <= 0x20 && (byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09) else { break }
            offset &+= 1
        }
        index = offset
    }

    mutating func scanLiteral(_ word: StaticString, _ kind: JSONTape.Kind) throws(JSONSyntaxError) {
        let start = index
        let length = word.utf8CodeUnitCount
        for offset in 0..<length {
            guard byte(at: start + offset) == word.utf8Start[offset] else {
                index = start + offset
                throw unexpected("in '\(word)'")
            }
        }
        index = start + length
        append(kind, start: start, end: index)
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 §6); what follows is checked by the caller.
    mutating func scanNumber() throws(JSONSyntaxError) {
        let start = index
        if byte(at: index) == UInt8(ascii: "-") { index += 1 }
        switch byte(at: index) {
        case UInt8(ascii: "0"):
            index += 1
            if let next = byte(at: index), isDigit(next) { throw fail("number with a leading zero", at: start) }
        case (UInt8(ascii: "1")...UInt8(ascii: "9"))?:
            skipDigits()
        default:
            throw unexpected("in a number (a digit expected)")
        }
        var kind = JSONTape.Kind.integer
        if byte(at: index) == UInt8(ascii: ".") {
            index += 1
            guard let next = byte(at: index), isDigit(next) else {
                throw unexpected("after a decimal point (a digit expected)")
            }
            skipDigits()
            kind = .number
        }
        if let e = byte(at: index), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            index += 1
            if let sign = byte(at: index), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard let next = byte(at: index), isDigit(next) else {
                throw unexpected("in an exponent (a digit expected)")
            }
            skipDigits()
            kind = .number
        }
        append(kind, start: start, end: index)
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always) mutating func skipDigits() {
        var offset = index
        while offset < count && isDigit(buffer[offset]) { offset &+= 1 }
        index = offset
    }

    /// A string from its opening quote: UTF-8 checked, escapes checked, control characters refused.
    mutating func scanString() throws(JSONSyntaxError) {
        index += 1
        let start = index
        var kind = JSONTape.Kind.asciiString
        while true {
            // The common case first: printable ASCII up to the next quote, backslash, control or non-ASCII byte,
            // eight bytes at a time (SWAR), then byte by byte to the one that stopped it.
            skipPlainASCII()
            var offset = index
            while offset < count {
                let byte = buffer[offset]
                guard byte >= 0x20 && byte < 0x80 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") else {
                    break
                }
                offset &+= 1
            }
            index = offset
            guard let byte = byte(at: index) else { throw fail("unterminated string", at: start - 1) }
            switch byte {
            case UInt8(ascii: "\""):
                append(kind, start: start, end: index)
                index += 1
                return
            case UInt8(ascii: "\\"):
                kind = .escapedString
                try scanEscape()
            case 0x80...:
                if kind == .asciiString { kind = .unicodeString }
                try scanUTF8Sequence()
            default:
                throw fail("unescaped control character 0x\(hex(byte)) in a string")
            }
        }
    }

    /// Moves `index` over whole 8-byte words of string content that need no look: no quote, backslash, control
    /// character or byte of 0x80 and above. Per byte of a little-endian word, `(w - 0x01…) & ~w & 0x80…` flags a
    /// zero byte (applied to `w ^ 0x22…` for quotes and `w ^ 0x5C…` for backslashes) and `(w - 0x20…) & ~w & 0x80…`
    /// a byte below 0x20; borrows run only upwards from a flagged byte, so the lowest flag is the first such byte.
    @inline(__always) mutating func skipPlainASCII() {
        guard let base = buffer.baseAddress else { return }
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        // A local offset, so the loop keeps it in a register; `index + 8 <= count` keeps the load in bounds.
        var offset = index
        while offset &+ 8 <= count {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let quotes = word ^ 0x2222_2222_2222_2222
            let backslashes = word ^ 0x5C5C_5C5C_5C5C_5C5C
            let flags =
                (((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes)
                    | ((word &- 0x2020_2020_2020_2020) & ~word) | word) & highs
            guard flags == 0 else {
                index = offset &+ flags.trailingZeroBitCount >> 3
                return
            }
            offset &+= 8
        }
        index = offset
    }

    /// `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t` or `\uXXXX`; a high surrogate must be followed by an escaped low
    /// surrogate, and a low one must not stand alone, since neither makes a Unicode scalar (Foundation rejects them).
    mutating func scanEscape() throws(JSONSyntaxError) {
        let start = index
        switch byte(at: index + 1) {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 2
        case UInt8(ascii: "u"):
            let unit = try hexEscape(at: index)
            index += 6
            if unit & 0xFC00 == 0xD800 {
                guard byte(at: index) == UInt8(ascii: "\\") && byte(at: index + 1) == UInt8(ascii: "u"),
                    try hexEscape(at: index) & 0xFC00 == 0xDC00
                else { throw fail("high surrogate escape without a low surrogate escape after it", at: start) }
                index += 6
            } else if unit & 0xFC00 == 0xDC00 {
                throw fail("low surrogate escape without a high surrogate before it", at: start)
            }
        case nil:
            throw fail("unterminated string")
        case let other?:
            let shown = other >= 0x20 && other < 0x7F ? "\\\(Character(Unicode.Scalar(other)))" : "0x\(hex(other))"
            throw fail("invalid escape \(shown) in a string")
        }
    }

    /// The four hex digits after the `\u` at `offset`.
    func hexEscape(at offset: Int) throws(JSONSyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for position in offset + 2..<offset + 6 {
            guard let byte = byte(at: position) else { throw fail("unterminated \\u escape", at: offset) }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("invalid hex digit in a \\u escape", at: position)
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// One well-formed UTF-8 sequence of two to four bytes (Unicode §3.9, table 3-7): no overlong forms, no
    /// surrogates, nothing beyond U+10FFFF.
    mutating func scanUTF8Sequence() throws(JSONSyntaxError) {
        let lead = buffer[index]
        let length: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            second = 0x80...0x9F
        case 0xF0:
            length = 4
            second = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            second = 0x80...0x8F
        default: throw fail("invalid UTF-8 byte 0x\(hex(lead)) in a string")
        }
        for position in index + 1..<index + length {
            guard let byte = byte(at: position), (position == index + 1 ? second : 0x80...0xBF).contains(byte) else {
                throw fail("invalid UTF-8 sequence in a string")
            }
        }
        index += length
    }
}

/// Two lowercase hex digits.
private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}
