/// A KDL number in canonical decimal text: hexadecimal, octal and binary converted to decimal, underscores and a `+`
/// sign dropped, exponents written `E+n`/`E-n`. Keeping text rather than a machine number loses nothing.
public struct KDLNumber: Sendable, Hashable, CustomStringConvertible {
    /// What sort of number this is.
    public enum Kind: Sendable, Hashable {
        /// No fraction or exponent.
        case integer
        /// With a fraction or exponent.
        case decimal
        /// `#inf`.
        case infinity
        /// `#-inf`.
        case negativeInfinity
        /// `#nan`.
        case nan
    }

    /// Radix-prefixed integers with more digits than this keep their radix form (still valid KDL) rather than being
    /// converted, which is quadratic in the number of digits.
    static let maxConvertedDigits = 4096

    /// The sort of number.
    public let kind: Kind
    /// Canonical text: `-12`, `1.5E+10`, `#inf`.
    public let text: String

    /// The text.
    public var description: String { text }

    /// The value as an `Int64`, if it is an integer in range.
    public var int64Value: Int64? { kind == .integer ? Int64(text) : nil }

    /// The value as a `Double` (rounded; infinite when out of range).
    public var doubleValue: Double {
        switch kind {
        case .infinity: return .infinity
        case .negativeInfinity: return -.infinity
        case .nan: return .nan
        case .integer, .decimal: return Double(text) ?? .nan
        }
    }

    /// An integer.
    public init(_ value: Int64) {
        kind = .integer
        text = String(value)
    }

    init(kind: Kind, text: String) {
        self.kind = kind
        self.text = text
    }

    /// Canonicalises a validated number token (sign, radix prefix and underscores included).
    init(token: ArraySlice<UInt8>, kind tokenKind: KDLValueKind) {
        var i = token.startIndex
        var negative = false
        if token[i] == UInt8(ascii: "+") || token[i] == UInt8(ascii: "-") {
            negative = token[i] == UInt8(ascii: "-")
            i += 1
        }
        switch tokenKind {
        case .hex, .octal, .binary:
            let radix: UInt64 = tokenKind == .hex ? 16 : tokenKind == .octal ? 8 : 2
            let digits = token[(i + 2)...].filter { $0 != UInt8(ascii: "_") }
            let magnitude = KDLNumber.decimalText(digits: digits, radix: radix, prefix: token[i..<(i + 2)])
            kind = .integer
            text = (negative && magnitude != "0" ? "-" : "") + magnitude
        case .decimal:
            var mantissa: [UInt8] = []
            var exponent: [UInt8] = []
            var exponentNegative = false
            var seenExponent = false
            var j = i
            while j < token.endIndex {
                let c = token[j]
                j += 1
                if c == UInt8(ascii: "_") { continue }
                if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    seenExponent = true
                    if j < token.endIndex && (token[j] == UInt8(ascii: "+") || token[j] == UInt8(ascii: "-")) {
                        exponentNegative = token[j] == UInt8(ascii: "-")
                        j += 1
                    }
                    continue
                }
                if seenExponent { exponent.append(c) } else { mantissa.append(c) }
            }
            let point = mantissa.firstIndex(of: UInt8(ascii: ".")) ?? mantissa.count
            var out = negative ? "-" : ""
            out += KDLNumber.strippingLeadingZeros(mantissa[..<point])
            if point < mantissa.count { out += String(decoding: mantissa[point...], as: UTF8.self) }
            if seenExponent {
                out += exponentNegative ? "E-" : "E+"
                out += KDLNumber.strippingLeadingZeros(exponent[...])
            }
            kind = .decimal
            text = out
        default:
            let digits = KDLNumber.strippingLeadingZeros(token[i...].filter { $0 != UInt8(ascii: "_") }[...])
            kind = .integer
            text = (negative && digits != "0" ? "-" : "") + digits
        }
    }

    private static func strippingLeadingZeros(_ digits: ArraySlice<UInt8>) -> String {
        let first = digits.firstIndex { $0 != UInt8(ascii: "0") } ?? digits.endIndex
        return first == digits.endIndex ? "0" : String(decoding: digits[first...], as: UTF8.self)
    }

    /// Decimal text of an unsigned number written in `radix`.
    private static func decimalText(digits: [UInt8], radix: UInt64, prefix: ArraySlice<UInt8>) -> String {
        let significant = digits.drop { $0 == UInt8(ascii: "0") }
        if significant.isEmpty { return "0" }
        if significant.count > maxConvertedDigits {
            return String(decoding: prefix, as: UTF8.self) + String(decoding: significant, as: UTF8.self)
        }
        let bitsPerDigit = radix == 16 ? 4 : radix == 8 ? 3 : 1
        if significant.count * bitsPerDigit <= 64 {
            var value: UInt64 = 0
            for d in significant { value = value &* radix &+ UInt64(KDLLexer.hexValue(d)!) }
            return String(value)
        }
        // Base-10⁹ limbs, least significant first.
        var limbs: [UInt32] = [0]
        for d in significant {
            var carry = UInt64(KDLLexer.hexValue(d)!)
            for k in limbs.indices {
                let v = UInt64(limbs[k]) * radix + carry
                limbs[k] = UInt32(v % 1_000_000_000)
                carry = v / 1_000_000_000
            }
            if carry > 0 { limbs.append(UInt32(carry)) }
        }
        var out = String(limbs.last!)
        for limb in limbs.dropLast().reversed() {
            let part = String(limb)
            out += String(repeating: "0", count: 9 - part.count) + part
        }
        return out
    }
}
