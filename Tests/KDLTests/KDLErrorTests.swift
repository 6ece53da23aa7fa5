import Testing

@testable import KDL

/// Positions and rendering of syntax errors.
@Suite("KDLError")
struct KDLErrorTests {
    @Test("render gives FILE:LINE:COL: message, the line, and a caret")
    func render() throws {
        let error = try #require(KDLTestSupport.error("node 1\nother \"a\" 1.e7\n"))
        #expect(error.line == 2)
        #expect(error.column == 13)
        #expect(error.sourceLine == "other \"a\" 1.e7")
        #expect(
            error.render(fileName: "wf.kdl")
                == "wf.kdl:2:13: the decimal point in a number must be followed by a digit, found 'e'\n"
                + "other \"a\" 1.e7\n            ^"
        )
    }

    @Test("columns count Unicode scalars, and the caret follows tabs")
    func columnsAndTabs() throws {
        let error = try #require(KDLTestSupport.error("\tnœud \"é\" 1x"))
        #expect(error.column == 12)
        #expect(error.render(fileName: "f").hasSuffix("\n\tnœud \"é\" 1x\n\t          ^"))
    }

    @Test("errors after CRLF lines count lines once")
    func crlf() throws {
        let error = try #require(KDLTestSupport.error("a\r\nb\r\n\r\nc }"))
        #expect(error.line == 4)
        #expect(error.column == 3)
        #expect(error.sourceLine == "c }")
    }

    @Test("control and direction characters never reach the printed line")
    func sanitisedLine() throws {
        let error = try #require(KDLTestSupport.error("node \"a\u{202E}b\" x=\u{1B}[31m"))
        #expect(!error.sourceLine.unicodeScalars.contains { $0.value == 0x202E || $0.value == 0x1B })
    }

    @Test("long lines are shown as a window around the column")
    func longLine() throws {
        let source = "node " + String(repeating: "x", count: 5000) + " 1.e " + String(repeating: "y", count: 5000)
        let error = try #require(KDLTestSupport.error(source))
        #expect(error.column == 5009)
        #expect(error.sourceLine.count <= KDLSourceLocation.maxShownLine + 2)
        let lines = error.render(fileName: "f").split(separator: "\n", omittingEmptySubsequences: false)
        let caret = lines[2]
        let shown = Array(lines[1])
        #expect(caret.hasSuffix("^"))
        #expect(shown[caret.count - 1] == "e")
    }

    @Test("an error at the end of input points past the last character")
    func endOfInput() throws {
        let error = try #require(KDLTestSupport.error("a {\n  b"))
        #expect(error.line == 1)
        #expect(error.column == 3)
        let eof = try #require(KDLTestSupport.error("node a="))
        #expect(eof.column == 8)
    }
}
