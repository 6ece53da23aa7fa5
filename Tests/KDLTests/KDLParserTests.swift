import Testing

@testable import KDL

/// The grammar, case by case beyond the shared suite: what parses to what, and what must fail.
@Suite("KDLParser")
struct KDLParserTests {
    /// Input → canonical output, parsed strictly as 2.0.
    static let valid: [(String, String)] = [
        ("node \"a\\u{1F600}b\"", "node a😀b\n"),
        ("node \"\\s\\b\\f\\r\"", "node \" \\b\\f\\r\"\n"),
        ("node \"a\\   b\"", "node ab\n"),
        ("node \"a\\\n\n   b\"", "node ab\n"),
        ("node ###\"a\"##b\"###", "node \"a\\\"##b\"\n"),
        ("node #\"\"#", "node \"\"\n"),
        ("node \"\"\"\r\n  a\r\n\r\n  b\r\n  \"\"\"", "node \"a\\n\\nb\"\n"),
        ("node \"\"\"\n\"\"\"", "node \"\"\n"),
        ("node \"\"\"\n  a \\\n  b\n  \"\"\"", "node \"a b\"\n"),
        ("node \"\"\"\n\t\ta\n\t\t\\tb\n\t\t\"\"\"", "node \"a\\n\\tb\"\n"),
        ("node ##\"\"\"\n  \"\"\"# x\n  \"\"\"##", "node \"\\\"\\\"\\\"# x\"\n"),
        ("node #inf #-inf #nan", "node #inf #-inf #nan\n"),
        ("node ( u8 ) 1 k=( f32 )2.5", "node (u8)1 k=(f32)2.5\n"),
        ("node 1 \\ /* c */ // x\n 2", "node 1 2\n"),
        ("node /-(t)1 2", "node 2\n"),
        ("node /-a=1 b=2", "node b=2\n"),
        ("node /-{a} {b}", "node {\n    b\n}\n"),
        ("node {a} /-{b} /-{c}", "node {\n    a\n}\n"),
        ("node /-\n  // comment\n  arg b", "node b\n"),
        ("/- kdl-version 2\nnode", "node\n"),
        ("\u{FEFF}node", "node\n"),
        ("node\u{3000}1\u{1680}2\u{A0}3", "node 1 2 3\n"),
        ("a\u{85}b\u{2028}c\u{2029}d\u{0C}e\u{0B}f\rg\r\nh", "a\nb\nc\nd\ne\nf\ng\nh\n"),
        ("\"a b\" \"#x\" \"\"=1 \"=\"=2", "\"a b\" \"#x\" \"\"=1 \"=\"=2\n"),
        ("node z=1 a=2 z=3", "node a=2 z=3\n"),
        (
            "node \"true\" \"-1\" \".5\" \"+.5\" \"inf\" -. .x +x",
            "node \"true\" \"-1\" \".5\" \"+.5\" \"inf\" -. .x +x\n"
        ),
        ("a { b { c { d } } }", "a {\n    b {\n        c {\n            d\n        }\n    }\n}\n"),
        ("a {\n}\nb {}", "a\nb\n"),
        ("a; b; c", "a\nb\nc\n"),
        ("a 1 // comment\nb", "a 1\nb\n"),
        ("a /* x /* nested */ y */ 1", "a 1\n"),
        ("(t)a", "(t)a\n"),
        ("a \"\\u{0}\\u{7F}\\u{85}\\u{2028}\\u{202E}\"", "a \"\\u{0}\\u{7F}\\u{85}\\u{2028}\\u{202E}\"\n"),
        ("node a=b", "node a=b\n"),
        ("a \\", "a\n"),
        ("a {\n    b\n    /- c\n}", "a {\n    b\n}\n"),
        // The spec's examples of multi-line strings.
        ("n \"\"\"\n  foo \\\nbar\n  baz\n  \\   \"\"\"", "n \"foo bar\\nbaz\"\n"),
        (
            "n \"\"\"\n        foo\n    This is no longer on the left edge\n            bar\n  \"\"\"",
            "n \"      foo\\n  This is no longer on the left edge\\n          bar\"\n"
        ),
        ("n \"\"\"\n    \\r\\n\r\n    foo\r\n    \"\"\"", "n \"\\r\\n\\nfoo\"\n"),
    ]

    @Test("valid 2.0", arguments: valid.indices)
    func parsesValid(_ index: Int) {
        let (input, expected) = KDLParserTests.valid[index]
        #expect(KDLTestSupport.canonical(input) == expected, "input: \(input.debugDescription)")
    }

    /// Input → a fragment of the error message; each fails with and without the 1.0 fallback.
    static let invalid: [(String, String)] = [
        ("node \"\\u{}\"", "unicode escape"),
        ("node \"\\u{1234567}\"", "unicode escape"),
        ("node \"\\u{D800}\"", "surrogate"),
        ("node \"\\x\"", "invalid escape"),
        ("node 1.", "decimal point"),
        ("node 1e", "exponent"),
        ("node 0x", "hexadecimal"),
        ("node 0b12", "binary digit"),
        ("node 1abc", "quoted"),
        ("node +.5", "digit before the decimal point"),
        ("node \"unterminated", "unterminated string"),
        ("node /* unterminated", "unterminated /*"),
        ("a {", "never closed"),
        ("}", "unexpected '}'"),
        ("node #\"abc", "unterminated raw string"),
        ("node #\"a\nb\"#", "newline"),
        ("node \"\"\"\n  a\n b\n  \"\"\"", "same whitespace"),
        ("node \"\"\"\n  a\"\"\"", "own line"),
        ("node \"\"\"a\n\"\"\"", "must start with a newline"),
        ("node \"a\"b", "whitespace"),
        ("node a=", "expected a value"),
        ("node =1", "unexpected '='"),
        ("node \\ x", "line continuation"),
        ("node /- /- a", "another '/-'"),
        ("node {} {}", "only one children block"),
        ("node #truex", "unknown keyword"),
        ("node (a)(b)c", "value"),
        ("123 a", "node name must be a string"),
        ("#true a", "node name must be a string"),
        ("node ()1", "empty type annotation"),
        ("node (t", "expected ')'"),
        ("a;;", "expected a node name"),
        ("node /-", "must be followed"),
        ("a {} b", "after a children block"),
    ]

    @Test("invalid", arguments: invalid.indices)
    func rejectsInvalid(_ index: Int) {
        let (input, fragment) = KDLParserTests.invalid[index]
        let error = KDLTestSupport.error(input)
        #expect(error != nil, "input: \(input.debugDescription) parsed")
        #expect(
            error?.message.contains(fragment) == true, "input: \(input.debugDescription): \(String(describing: error))")
    }

    @Test("1.0 documents parse through the fallback")
    func fallsBackToV1() throws {
        let document = try KDLDocument.parse("node true null r\"raw\\n\" r#\"x\"y\"# key=false \"\\/\" 0x10\n")
        #expect(document.version == .v1)
        #expect(document.canonicalText() == "node #true #null \"raw\\\\n\" \"x\\\"y\" \"/\" 16 key=#false\n")
        let multiline = try KDLDocument.parse("node \"a\nb\"")
        #expect(multiline.version == .v1)
        #expect(multiline.nodes[0].arguments[0].value == .string("a\nb"))
        #expect(KDLTestSupport.canonical("(t)node (u8)1 { child; }", version: .v1) == "(t)node (u8)1 {\n    child\n}\n")
    }

    @Test("2.0 documents are read as 2.0 even when 1.0 would accept them")
    func prefersV2() throws {
        let document = try KDLDocument.parse("node \"a\" 1 { child }")
        #expect(document.version == .v2)
    }

    @Test("when 2.0 and 1.0 both fail, the 2.0 error is reported")
    func reportsV2Error() {
        let error = KDLTestSupport.error("node true #true")
        #expect(error?.message.contains("'true' is a keyword") == true)
        #expect(error?.column == 6)
    }

    @Test("a version marker picks the grammar")
    func versionMarker() throws {
        #expect(try KDLDocument.parse("/- kdl-version 1\nnode true").version == .v1)
        #expect(KDLTestSupport.error("/- kdl-version 2\nnode true") != nil)
        #expect(KDLTestSupport.error("/- kdl-version 1\nnode #true") != nil)
        #expect(try KDLDocument.parse("\u{FEFF}/- kdl-version 2\nnode #true").version == .v2)
    }

    @Test("1.0-only rules are not applied to 2.0 and vice versa")
    func versionDifferences() {
        #expect(KDLTestSupport.canonical("node a<b>,c", version: .v2) == "node a<b>,c\n")
        #expect(KDLTestSupport.canonical("node \"x\" /-\n1", version: .v1).hasPrefix("error"))
        #expect(KDLTestSupport.canonical("node x", version: .v1).hasPrefix("error: 1:6: a bare identifier"))
        #expect(KDLTestSupport.canonical("node \"\"\"\n  a\n  \"\"\"", version: .v1).hasPrefix("error"))
    }

    @Test("children nest to the depth limit and no further")
    func depthLimit() {
        let depth = KDLParser.maxDepth
        let ok = String(repeating: "a {", count: depth) + String(repeating: "}", count: depth)
        #expect(KDLTestSupport.error(ok) == nil)
        let deep = String(repeating: "a {", count: depth + 1) + String(repeating: "}", count: depth + 1)
        #expect(KDLTestSupport.error(deep)?.message.contains("nested more than \(depth) levels") == true)
    }
}
