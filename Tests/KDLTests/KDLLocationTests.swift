import Testing

@testable import KDL

/// Locations through a document's line index: the same answers as a rescan from byte 0 (the previous algorithm,
/// kept below as the reference), for any number of locations at the cost of one pass over the source.
@Suite("KDL locations")
struct KDLLocationTests {
    /// The location algorithm before the line index, verbatim: rescan from byte 0, decode the whole line.
    struct Reference: Equatable, CustomStringConvertible {
        var line: Int
        var column: Int
        var lineText: String
        var caretIndent: String

        init(_ location: KDLSourceLocation) {
            (line, column, lineText, caretIndent) =
                (location.line, location.column, location.lineText, location.caretIndent)
        }

        init(offset: Int, in source: [UInt8]) {
            let offset = min(max(offset, 0), source.count)
            func newlineLength(_ i: Int) -> Int {
                KDLCharacters.newlineLength(source[i]) { i + $0 < source.count ? source[i + $0] : 0 }
            }
            func printable(_ bytes: ArraySlice<UInt8>) -> [Unicode.Scalar] {
                String(decoding: bytes, as: UTF8.self).unicodeScalars.map { scalar in
                    let v = scalar.value
                    let unsafe =
                        (v < 0x20 && v != 0x09) || (v >= 0x7F && v < 0xA0) || KDLCharacters.isDirectionControl(v)
                        || v == KDLCharacters.byteOrderMark
                    return unsafe ? "\u{FFFD}" : scalar
                }
            }
            var line = 1
            var lineStart = 0
            var i = 0
            while i < offset {
                let n = newlineLength(i)
                if n > 0 && i + n <= offset {
                    line += 1
                    i += n
                    lineStart = i
                } else {
                    i += 1
                }
            }
            var lineEnd = offset
            while lineEnd < source.count && newlineLength(lineEnd) == 0 { lineEnd += 1 }
            let before = printable(source[lineStart..<offset])
            let after = printable(source[offset..<lineEnd])
            self.line = line
            self.column = before.count + 1
            let half = KDLSourceLocation.maxShownLine / 2
            var shownBefore = before[...]
            var shownAfter = after[...]
            var lead = ""
            var trail = ""
            if before.count + after.count > KDLSourceLocation.maxShownLine {
                if before.count > half {
                    shownBefore = before.suffix(half)
                    lead = "…"
                }
                let room = KDLSourceLocation.maxShownLine - shownBefore.count
                if after.count > room {
                    shownAfter = after.prefix(room)
                    trail = "…"
                }
            }
            var text = lead
            text.unicodeScalars.append(contentsOf: shownBefore)
            text.unicodeScalars.append(contentsOf: shownAfter)
            lineText = text + trail
            var indent = lead.isEmpty ? "" : " "
            for scalar in shownBefore { indent += scalar == "\t" ? "\t" : " " }
            caretIndent = indent
        }

        var description: String { "\(line):\(column) \(lineText.debugDescription) \(caretIndent.debugDescription)" }
    }

    /// Sources with every kind of newline, CRLF, newlines cut in half, invalid UTF-8, tabs and long lines of
    /// multi-byte characters (the window cuts), plus pseudo-random mixes of all of them.
    static let sources: [[UInt8]] = {
        var sources: [[UInt8]] = [
            Array("a\r\nb\r\n\r\nc }".utf8),
            Array("\tnœud \"é\" 1x".utf8),
            Array("a\rb\nc\u{85}d\u{2028}e\u{2029}f\u{0B}g\u{0C}h\r\n\r\r\n".utf8),
            [0x61, 0xE2, 0x80, 0x0A, 0xE2, 0xE2, 0x80, 0xA8, 0x62, 0xC2, 0xC2, 0x85, 0xFF, 0x0D, 0xE2, 0x80],
            Array((String(repeating: "x", count: 150) + String(repeating: "é€😀\t", count: 80) + "\nend").utf8),
            Array(String(repeating: "😀", count: 260).utf8),
            Array(String(repeating: "ab", count: 60).utf8) + [0xF0, 0x9F, 0x98]
                + Array(repeating: Array(String(repeating: "é", count: 24).utf8) + [0xFF], count: 18).joined(),
            [],
        ]
        let pieces: [[UInt8]] = [
            [0x0A], [0x0D], [0x0D, 0x0A], [0xC2, 0x85], [0xE2, 0x80, 0xA8], [0xE2, 0x80, 0xA9], [0x0B], [0x0C],
            Array("é".utf8), Array("😀".utf8), Array("\u{202E}".utf8), [0x09], [0x1B], [0xFF], [0xE2, 0x80], [0xC2],
            Array("node ".utf8), Array("x".utf8), Array(String(repeating: "y", count: 150).utf8),
        ]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for length in [40, 300, 1200] {
            var bytes: [UInt8] = []
            while bytes.count < length {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                bytes += pieces[Int(state >> 33) % pieces.count]
            }
            sources.append(bytes)
        }
        return sources
    }()

    @Test("the line index gives what a rescan from byte 0 gives, at every offset", arguments: sources.indices)
    func indexMatchesRescan(_ sample: Int) {
        let source = KDLLocationTests.sources[sample]
        let index = KDLLineIndex(source)
        var mismatches: [String] = []
        for offset in 0...source.count {
            let expected = Reference(offset: offset, in: source)
            let (line, start) = index.line(at: offset)
            let indexed = KDLSourceLocation(offset: offset, line: line, lineStart: start, in: source)
            let scanned = KDLSourceLocation(offset: offset, in: source)
            if Reference(indexed) != expected || indexed != scanned {
                mismatches.append("offset \(offset): \(Reference(indexed)), rescan \(expected)")
            }
        }
        #expect(mismatches.prefix(3) == [])
    }

    /// About 1 MB: 20,000 nodes over 40,000 lines (CRLF and LF), each with a child.
    static let bigDocument: [UInt8] = {
        var text = ""
        for i in 0..<20_000 {
            text += "node-\(i) \(i) key=\"value \(i)\" {\(i % 2 == 0 ? "\r\n" : "\n")"
            text += "    child \"é\(i)\" 1.5 #true; other (t)x } // comment \(i)\n"
        }
        return Array(text.utf8)
    }()

    @Test("a document indexes its lines once, however many locations are asked")
    func oneIndexPerDocument() throws {
        let document = try KDLDocument.parse(KDLLocationTests.bigDocument)
        #expect(document.totalNodeCount == 60_000)
        #expect(document.storage.lineIndexBuilds == 0)
        for (i, node) in document.nodes.enumerated() {
            #expect(node.line == 2 * i + 1)
            let location = node.location
            #expect(location.line == 2 * i + 1 && location.column == 1)
            let child = node.children[1]
            #expect(child.line == 2 * i + 2)
            #expect(child.location.column == 26 + String(i).count)
        }
        #expect(document.storage.lineIndexBuilds == 1)
    }

    @Test("a 1 MB document with one error near the end reports its line and column")
    func errorNearTheEnd() throws {
        let source = KDLLocationTests.bigDocument + Array("last 1.e5\n".utf8)
        let error = try #require(KDLTestSupport.error(source))
        #expect(error.line == 40_001)
        #expect(error.column == 8)
        #expect(error.sourceLine == "last 1.e5")
    }

    @Test("the start of a document is line 1, column 1, without indexing it")
    func startLocation() throws {
        let document = try KDLDocument.parse("a\nb\n")
        #expect(document.startLocation == KDLSourceLocation(offset: 0, in: Array("a\nb\n".utf8)))
        #expect(document.storage.lineIndexBuilds == 0)
    }
}
