import Testing

@testable import KDL

/// Canonical number text and conversions.
@Suite("KDLNumber")
struct KDLNumberTests {
    static let canonical: [(String, String)] = [
        ("0", "0"), ("-0", "0"), ("+7", "7"), ("007", "7"), ("1_000", "1000"), ("12____", "12"),
        ("1.0", "1.0"), ("-1.50", "-1.50"), ("00.5", "0.5"), ("1e10", "1E+10"), ("1.0e-10_0", "1.0E-100"),
        ("1.23E+1000", "1.23E+1000"), ("2E007", "2E+7"), ("0x10", "16"), ("-0xFF", "-255"), ("0o777", "511"),
        ("0b1111_1111", "255"), ("0x0", "0"), ("0xabcdef1234567890", "12379813812177893520"),
        ("0xFFFFFFFFFFFFFFFFFFFF", "1208925819614629174706175"),
        (
            "-0b" + String(repeating: "1", count: 70),
            "-1180591620717411303423"
        ),
    ]

    @Test("canonical text", arguments: canonical.indices)
    func canonicalText(_ index: Int) throws {
        let (source, expected) = KDLNumberTests.canonical[index]
        let document = try KDLDocument.parse("n \(source)")
        #expect(document.nodes[0].arguments[0].value.numberValue?.text == expected, "\(source)")
    }

    @Test("conversions")
    func conversions() throws {
        let values = try KDLDocument.parse("n 42 -0x10 1.5e2 #inf #-inf #nan 0x7FFFFFFFFFFFFFFFF").nodes[0].arguments
            .map { $0.value.numberValue! }
        #expect(values[0].int64Value == 42)
        #expect(values[1].int64Value == -16)
        #expect(values[2].int64Value == nil)
        #expect(values[2].doubleValue == 150)
        #expect(values[3].doubleValue == .infinity)
        #expect(values[4].doubleValue == -.infinity)
        #expect(values[5].doubleValue.isNaN)
        #expect(values[6].int64Value == nil)
        #expect(values[0].kind == .integer && values[2].kind == .decimal && values[5].kind == .nan)
        #expect(KDLNumber(-3).text == "-3")
    }

    @Test("huge radix numbers are not converted, so printing stays linear")
    func hugeRadix() throws {
        let digits = String(repeating: "f", count: 100_000)
        let number = try KDLDocument.parse("n 0x\(digits)").nodes[0].arguments[0].value.numberValue
        #expect(number?.text == "0x" + digits)
        #expect(try KDLDocument.parse("n \(number!.text)").canonicalText() == "n 0x\(digits)\n")
    }
}
