/// A position in KDL source: 1-based line and column (in Unicode scalars), with the text of that line made safe to
/// print (control and bidirectional characters replaced, very long lines cut to a window around the column).
public struct KDLSourceLocation: Sendable, Equatable {
    /// Lines longer than this many scalars are shown as a window around the column.
    static let maxShownLine = 200

    /// Byte offset in the source.
    public let offset: Int
    /// 1-based line number; CRLF, CR, LF, NEL, VT, FF, LS and PS each end a line.
    public let line: Int
    /// 1-based column, counted in Unicode scalars.
    public let column: Int
    /// The line's text, safe to print.
    public let lineText: String
    /// Whitespace that puts a `^` under the column when printed below `lineText` (tabs where the line has tabs).
    public let caretIndent: String

    /// Locates byte `offset` of `source` (which need not be valid UTF-8). This scans the source up to `offset` to
    /// count lines: right for one location (an error); a parsed document answers many through its line index.
    public init(offset: Int, in source: [UInt8]) {
        let offset = min(max(offset, 0), source.count)
        var line = 1
        var lineStart = 0
        var i = 0
        while i < offset {
            let n = KDLSourceLocation.newlineLength(source, i)
            if n > 0 && i + n <= offset {
                line += 1
                i += n
                lineStart = i
            } else {
                i += 1
            }
        }
        self.init(offset: offset, line: line, lineStart: lineStart, in: source)
    }

    /// Locates byte `offset` of `source` with the line already known (from a `KDLLineIndex`). The work is that of
    /// the line up to `offset` (for the column) and a bounded window after it, however long the line.
    init(offset: Int, line: Int, lineStart: Int, in source: [UInt8]) {
        // Enough bytes after the offset for every scalar the window can show, and one more to know it is cut.
        let afterLimit = min(source.count, offset + 4 * (KDLSourceLocation.maxShownLine + 2))
        var lineEnd = offset
        while lineEnd < afterLimit && KDLSourceLocation.newlineLength(source, lineEnd) == 0 { lineEnd += 1 }

        let beforeText = String(decoding: source[lineStart..<offset], as: UTF8.self).unicodeScalars
        let beforeCount = beforeText.count
        let after = KDLSourceLocation.printable(source[offset..<lineEnd])
        self.offset = offset
        self.line = line
        self.column = beforeCount + 1

        // Keep at most a window of the line around the column (`after` holds at most the window and one more
        // scalar, which is enough to decide both cuts).
        let half = KDLSourceLocation.maxShownLine / 2
        var shownBefore = KDLSourceLocation.printable(beforeText.suffix(KDLSourceLocation.maxShownLine))[...]
        var shownAfter = after[...]
        var lead = ""
        var trail = ""
        if beforeCount + after.count > KDLSourceLocation.maxShownLine {
            if beforeCount > half {
                shownBefore = shownBefore.suffix(half)
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

    private static func newlineLength(_ s: [UInt8], _ i: Int) -> Int {
        KDLCharacters.newlineLength(s[i]) { i + $0 < s.count ? s[i + $0] : 0 }
    }

    /// Scalars of `bytes` with invalid UTF-8, controls and invisible direction changes replaced by U+FFFD, so that
    /// printing a line of a hostile file cannot garble a terminal.
    private static func printable(_ bytes: ArraySlice<UInt8>) -> [Unicode.Scalar] {
        printable(String(decoding: bytes, as: UTF8.self).unicodeScalars[...])
    }

    private static func printable(_ scalars: Substring.UnicodeScalarView) -> [Unicode.Scalar] {
        scalars.map { scalar in
            let v = scalar.value
            let unsafe =
                (v < 0x20 && v != 0x09) || (v >= 0x7F && v < 0xA0) || KDLCharacters.isDirectionControl(v)
                || v == KDLCharacters.byteOrderMark
            return unsafe ? "\u{FFFD}" : scalar
        }
    }
}
