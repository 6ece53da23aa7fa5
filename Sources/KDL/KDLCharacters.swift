/// The code point tables of the KDL spec in one place: whitespace, newlines, and the code points a document may not
/// hold literally (controls, bidirectional-text controls, a BOM after the start). The lexer, the input validator, the
/// canonical printer and error locations all ask here, so the tables cannot drift apart.
enum KDLCharacters {
    /// The byte order mark, allowed only as the first character of a document.
    static let byteOrderMark: UInt32 = 0xFEFF

    /// Unicode-space: tab, space, and the Unicode horizontal spaces.
    @inline(__always) static func isUnicodeSpace(_ s: UInt32) -> Bool {
        s == 0x20 || s == 0x09 || s == 0xA0 || s == 0x1680 || (s >= 0x2000 && s <= 0x200A) || s == 0x202F
            || s == 0x205F || s == 0x3000
    }

    /// A newline code point: LF, VT, FF, CR, NEL, LS or PS (CRLF is one newline: see `newlineLength`).
    @inline(__always) static func isNewline(_ s: UInt32) -> Bool {
        (s >= 0x0A && s <= 0x0D) || s == 0x85 || s == 0x2028 || s == 0x2029
    }

    /// Length in bytes of the UTF-8 newline that starts with the byte `first` (CRLF counts as one), 0 if none.
    /// `next(k)` is the byte `k` places after `first`, 0 past the end; it is asked only when `first` may start one.
    @inline(__always) static func newlineLength(_ first: UInt8, next: (Int) -> UInt8) -> Int {
        switch first {
        case 0x0A, 0x0B, 0x0C: return 1
        case 0x0D: return next(1) == 0x0A ? 2 : 1
        case 0xC2: return next(1) == 0x85 ? 2 : 0
        case 0xE2: return next(1) == 0x80 && (next(2) == 0xA8 || next(2) == 0xA9) ? 3 : 0
        default: return 0
        }
    }

    /// Invisible direction changes (LRM, RLM, embeddings, overrides, isolates): they can make source text read
    /// differently from how it parses, so they may only be written as escapes.
    @inline(__always) static func isDirectionControl(_ s: UInt32) -> Bool {
        (s >= 0x200E && s <= 0x200F) || (s >= 0x202A && s <= 0x202E) || (s >= 0x2066 && s <= 0x2069)
    }

    /// ASCII controls a document may not hold literally: all but tab and the newlines, and DEL.
    @inline(__always) static func isDisallowedControl(_ s: UInt32) -> Bool {
        (s < 0x20 && !(s >= 0x09 && s <= 0x0D)) || s == 0x7F
    }

    /// Whether `s` may not appear literally in a document (a BOM only as its first character). Surrogates, also
    /// disallowed, are not scalars and never reach here: the validator rejects them as invalid UTF-8.
    @inline(__always) static func isDisallowed(_ s: UInt32) -> Bool {
        isDisallowedControl(s) || isDirectionControl(s) || s == byteOrderMark
    }

    /// The name messages give a disallowed non-ASCII code point, nil for an allowed one.
    static func disallowedName(_ s: UInt32) -> String? {
        switch s {
        case 0x200E: return "U+200E (LEFT-TO-RIGHT MARK)"
        case 0x200F: return "U+200F (RIGHT-TO-LEFT MARK)"
        case byteOrderMark: return "U+FEFF (BYTE ORDER MARK)"
        case _ where isDirectionControl(s): return "bidirectional control \(describe(s))"
        default: return nil
        }
    }

    /// How messages show a character: `'x'` for printable ASCII, `U+XXXX` for anything else.
    static func describe(_ s: UInt32) -> String {
        if s >= 0x21 && s < 0x7F, let scalar = Unicode.Scalar(s) { return "'\(Character(scalar))'" }
        let hex = String(s, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// The scalar whose UTF-8 encoding starts at the non-ASCII lead byte `bytes[i]`, and its length. `bytes` must be
    /// valid UTF-8 (copied from validated input, or a decoded string).
    static func scalar(_ bytes: ArraySlice<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
        let b0 = UInt32(bytes[i])
        let n = b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
        var v = b0 & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
        for k in 1..<n where i + k < bytes.endIndex { v = (v << 6) | (UInt32(bytes[i + k]) & 0x3F) }
        return (v, n)
    }
}
