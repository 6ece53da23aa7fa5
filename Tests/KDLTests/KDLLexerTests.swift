import Testing

@testable import KDL

/// Input checks and scanning: UTF-8, disallowed code points, every whitespace and newline, large inputs.
@Suite("KDLLexer")
struct KDLLexerTests {
    static let whitespace: [UInt32] = [
        0x09, 0x20, 0xA0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
        0x200A, 0x202F, 0x205F, 0x3000,
    ]

    @Test("every unicode-space separates entries", arguments: whitespace)
    func whitespaceSeparates(_ code: UInt32) {
        let space = String(Character(Unicode.Scalar(code)!))
        #expect(KDLTestSupport.canonical("node\(space)1\(space)\(space)2") == "node 1 2\n")
        #expect(KDLCharacters.isUnicodeSpace(code))
    }

    static let newlines: [String] = ["\r\n", "\r", "\n", "\u{85}", "\u{0B}", "\u{0C}", "\u{2028}", "\u{2029}"]

    @Test("every newline ends a node and counts as one line", arguments: newlines)
    func newlineEndsNode(_ newline: String) {
        #expect(KDLTestSupport.canonical("a\(newline)b\(newline)") == "a\nb\n")
        #expect(KDLTestSupport.error("a\(newline)b\(newline)\"x")?.line == 3)
    }

    static let disallowed: [UInt32] = [
        0x01, 0x08, 0x0E, 0x1F, 0x7F, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068,
        0x2069, 0xFEFF,
    ]

    @Test("disallowed code points are rejected anywhere, even in comments", arguments: disallowed)
    func disallowedCodePoints(_ code: UInt32) {
        let c = String(Character(Unicode.Scalar(code)!))
        for source in ["node \(c)x", "node \"\(c)\"", "// \(c)\nnode", "node #\"\(c)\"#"] {
            let error = KDLTestSupport.error(source)
            #expect(error != nil, "\(source.debugDescription) parsed")
            #expect(error?.message.contains("not allowed") == true)
        }
        // As escapes they are fine (except where no escape exists).
        let hex = String(code, radix: 16)
        #expect(KDLTestSupport.error("node \"\\u{\(hex)}\"") == nil)
    }

    @Test("NUL bytes are an error with a position")
    func nulByte() {
        let error = KDLTestSupport.error([UInt8]("node a\n b".utf8) + [0] + [UInt8]("x".utf8))
        #expect(error?.line == 2)
        #expect(error?.column == 3)
        #expect(error?.message.contains("NUL") == true)
    }

    @Test(
        "invalid UTF-8 is an error with a position",
        arguments: [
            [0xFF], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC3], [0x80],
            [0xE2, 0x82],
        ] as [[UInt8]])
    func invalidUTF8(_ bad: [UInt8]) {
        let error = KDLTestSupport.error([UInt8]("node \"ok\" \"".utf8) + bad + [UInt8]("\"".utf8))
        #expect(error?.message.contains("UTF-8") == true)
        #expect(error?.line == 1)
        #expect(error?.column == 12)
    }

    @Test("a BOM is allowed only first")
    func byteOrderMark() {
        #expect(KDLTestSupport.error("\u{FEFF}node") == nil)
        #expect(KDLTestSupport.error("node\u{FEFF}")?.message.contains("byte order mark") == true)
    }

    @Test("megabyte strings, escaped or not, parse in one piece")
    func megabyteStrings() throws {
        let big = String(repeating: "abcdefgh", count: 131_072)
        let plain = try KDLDocument.parse("node \"\(big)\"")
        #expect(plain.nodes[0].arguments[0].value.stringValue?.utf8.count == big.utf8.count)
        let escaped = try KDLDocument.parse("node \"\(big)\\n\(big)\"")
        #expect(escaped.nodes[0].arguments[0].value.stringValue?.utf8.count == 2 * big.utf8.count + 1)
        let raw = try KDLDocument.parse("node #\"\"\"\n\(big)\n\"\"\"#")
        #expect(raw.nodes[0].arguments[0].value.stringValue == big)
        let unterminated = KDLTestSupport.error("node \"\(big)")
        #expect(unterminated?.column == 6)
        #expect((unterminated?.sourceLine.count ?? .max) <= KDLSourceLocation.maxShownLine + 2)
    }

    @Test("deeply nested comments and slashdashed blocks do not recurse")
    func deepInput() {
        let comments = String(repeating: "/*", count: 200_000)
        #expect(KDLTestSupport.error(comments)?.message.contains("unterminated /*") == true)
        let nested = String(repeating: "/*", count: 200_000) + String(repeating: "*/", count: 200_000) + "node"
        #expect(KDLTestSupport.canonical(nested) == "node\n")
        let braces = String(repeating: "a{", count: 500_000)
        #expect(KDLTestSupport.error(braces)?.message.contains("nested") == true)
        let slashdashed = "/-" + String(repeating: "a{", count: 500_000)
        #expect(KDLTestSupport.error(slashdashed) != nil)
    }

    @Test("many properties with one key are deduplicated in linear time")
    func manyProperties() throws {
        let source = "node " + (0..<50_000).map { "k=\($0)" }.joined(separator: " ") + " a=1"
        let document = try KDLDocument.parse(source)
        #expect(document.nodes[0].properties.map(\.name) == ["k", "a"])
        #expect(document.canonicalText() == "node a=1 k=49999\n")
    }
}
