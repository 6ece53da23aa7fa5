import Base
import Testing

/// `JSONText` and `JSONField` write bytes directly (issue 16); the bytes must stay what every body, record and
/// spool file has always held. The oracle is the former String-based writer, kept here.
@Suite struct JSONTextTests {
    static func oracleQuote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func oracleText(_ field: JSONField) -> String {
        switch field {
        case .string(let s): oracleQuote(s)
        case .int(let n): String(n)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array(let items): "[" + items.map(oracleText).joined(separator: ", ") + "]"
        case .object(let fields):
            "{" + fields.map { oracleQuote($0.0) + ": " + oracleText($0.1) }.joined(separator: ", ") + "}"
        }
    }

    @Test(arguments: [
        "", "plain", "quote \" and backslash \\", "line\nbreak\r\ttab", "\u{0}\u{1}\u{1f}\u{7f}", "é ü 日本 🚀",
        "\u{2028}\u{2029}", "\u{2027}\u{202a}\u{20ac}", "a\u{2028}b\u{2029}c", "\u{e2}\u{80}", "€\u{2028}€",
    ])
    func quoteMatchesTheFormerWriter(text: String) {
        #expect(JSONText.quote(text) == Self.oracleQuote(text))
    }

    @Test(arguments: [
        (2.345, 2, "2.35"), (7, 0, "7"), (0.05, 1, "0.1"), (12.5, 3, "12.500"), (-1.25, 1, "-1.3"), (-0.001, 2, "0.00"),
    ])
    func decimalsAsTheBenchesPrintThem(value: Double, places: Int, text: String) {
        #expect(DecimalText.fixed(value, places) == text)
    }

    @Test func compactedDropsWhitespaceOutsideStringsOnly() {
        let text = Array("{ \"a b\" :\t\"c \\\" d\" ,\r\n \"e\": [ 1, 2 ] }".utf8)
        #expect(String(decoding: JSONText.compacted(text), as: UTF8.self) == "{\"a b\":\"c \\\" d\",\"e\":[1,2]}")
    }

    @Test func randomStringsQuoteAsBefore() {
        // Scalars drawn from the interesting ranges: ASCII controls and specials, Latin-1, the U+20xx block around
        // the line separators, CJK and astral planes.
        let pools: [ClosedRange<UInt32>] = [0...0x7f, 0x80...0xff, 0x2000...0x20ff, 0x3000...0x30ff, 0x1f600...0x1f64f]
        var generator = SplitMix(seed: 16)
        for _ in 0..<2000 {
            var text = ""
            for _ in 0..<Int(generator.next() % 24) {
                let pool = pools[Int(generator.next() % UInt64(pools.count))]
                let value = pool.lowerBound + UInt32(generator.next() % UInt64(pool.count))
                if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
            }
            #expect(JSONText.quote(text) == Self.oracleQuote(text), "\(Array(text.unicodeScalars))")
        }
    }

    @Test func nestedFieldsWriteTheSameBytes() {
        let field = JSONField.object([
            ("delivery", "d-1"), ("n", .int(-42)), ("ok", .bool(true)), ("none", .null),
            ("jobs", .array([.object([("request_id", "r\u{2028}"), ("runs_on", .null)]), .array([]), .object([])])),
            ("text", "multi\nline \"quoted\""),
        ])
        #expect(field.text == Self.oracleText(field))
        #expect(field.bytes == Array(Self.oracleText(field).utf8))
    }
}

/// A small deterministic generator (SplitMix64), so a failure is reproducible.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
