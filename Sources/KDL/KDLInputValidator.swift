// The up-front check of a whole KDL document. Its one buffer scan (eight bytes at a time through a raw pointer) is,
// with the lexer's `base` pointer in KDLLexer*.swift, the only unsafe pointer use of the KDL code.

/// Checks a document's bytes once before lexing: valid UTF-8, no disallowed literal code points (`KDLCharacters`), a
/// BOM only at the start. The lexer relies on it: it decodes non-ASCII bytes unchecked and takes a 0 byte for the
/// end of input.
enum KDLInputValidator {
    /// Nil when `bytes` is acceptable, else the first problem.
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
                    if KDLCharacters.isDisallowedControl(UInt32(c)) {
                        let name =
                            c == 0
                            ? "NUL byte (U+0000)" : "control character \(KDLCharacters.describe(UInt32(c)))"
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
                if let name = KDLCharacters.disallowedName(value) {
                    let hex = String(value, radix: 16, uppercase: true)
                    let hint =
                        value == KDLCharacters.byteOrderMark
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

    /// The scalar whose UTF-8 encoding starts at `p[i]` and its length, or nil for invalid UTF-8 (truncated,
    /// overlong, a surrogate, above U+10FFFF).
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
}
