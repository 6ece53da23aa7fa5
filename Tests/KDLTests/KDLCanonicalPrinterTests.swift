import Testing

@testable import KDL

/// The canonical printer: quoting, escaping, ordering, and that its output reads back the same.
@Suite("KDLCanonicalPrinter")
struct KDLCanonicalPrinterTests {
    static let strings: [(String, String)] = [
        ("plain", "plain"), ("", "\"\""), ("a b", "\"a b\""), ("1a", "\"1a\""), ("-1", "\"-1\""), ("+.5", "\"+.5\""),
        (".5", "\".5\""), ("-", "-"), (".", "."), ("-.", "-."), ("true", "\"true\""), ("-inf", "\"-inf\""),
        ("a#b", "\"a#b\""), ("a=b", "\"a=b\""), ("x\"y", "\"x\\\"y\""), ("back\\slash", "\"back\\\\slash\""),
        ("tab\there", "\"tab\\there\""), ("nl\nx", "\"nl\\nx\""), ("\u{0}", "\"\\u{0}\""), ("é", "é"),
        ("a\u{A0}b", "\"a\u{A0}b\""), ("a\u{2028}b", "\"a\\u{2028}b\""), ("<a,b>", "<a,b>"),
    ]

    @Test("strings are bare identifiers when they can be", arguments: strings.indices)
    func stringForm(_ index: Int) {
        let (value, expected) = KDLCanonicalPrinterTests.strings[index]
        #expect(KDLCanonicalPrinter.string(value) == expected, "\(value.debugDescription)")
        #expect(KDLValue.string(value).description == expected)
    }

    @Test("nodes: type, name, arguments in order, properties sorted and deduplicated, children indented")
    func layout() throws {
        let source = "(t)n 1 z=#true (u8)2 a=\"s\" z=#false {\n  c1 { gc }\n  c2\n}\nlast"
        let expected = "(t)n 1 (u8)2 a=s z=#false {\n    c1 {\n        gc\n    }\n    c2\n}\nlast\n"
        #expect(KDLTestSupport.canonical(source) == expected)
    }

    @Test("printed output parses back to the same output")
    func roundTrip() throws {
        let source = try #require(
            String(
                validating: try KDLTestSupport.fixture("../../WorkflowTests/Fixtures/workflow/spec-example.kdl"),
                as: UTF8.self))
        let once = try KDLDocument.parse(source).canonicalText()
        #expect(try KDLDocument.parse(once, version: .v2).canonicalText() == once)
    }

    @Test("an empty document prints as one newline")
    func empty() {
        #expect(KDLTestSupport.canonical("// nothing\n/- x") == "\n")
    }
}
