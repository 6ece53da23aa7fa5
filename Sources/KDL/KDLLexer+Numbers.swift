// Numbers for the KDL lexer (KDLLexer.swift): decimal, hexadecimal, octal and binary, checked but not converted
// (KDLNumber converts the source text when asked). Unsafe pointer use of the KDL code lives in the lexer files,
// through the lexer's `base` pointer; this one reads only through `at`.

extension KDLLexer {
    /// A number at `pos`: decimal (with fraction and exponent) or hexadecimal, octal or binary, underscores between
    /// digits. It runs to the end of the identifier-like word, so `1a` is an error rather than a number and a string.
    mutating func scanNumber() throws(KDLSyntaxError) -> KDLToken {
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
}
