/// Where each line of a source starts, found in one pass, so that a document answers any number of locations in
/// O(log lines) each instead of rescanning from byte 0 for every one (a workflow asks one per job).
///
/// Lines end exactly as `KDLSourceLocation` counts them: CRLF, CR, LF, NEL, VT, FF, LS and PS, CRLF once; a newline
/// belongs to the line it ends, so an offset inside a multi-byte newline stays on that line.
struct KDLLineIndex: Sendable {
    /// Byte offsets at which lines start, ascending; the first is 0.
    let starts: [Int]

    /// Indexes every line of `source` (which need not be valid UTF-8).
    init(_ source: [UInt8]) {
        var starts = [0]
        source.withUnsafeBufferPointer { bytes in
            let count = bytes.count
            var i = 0
            while i < count {
                let byte = bytes[i]
                i += 1
                // Every newline starts with one of these bytes; the common case is one comparison.
                if byte > 0x0D && byte != 0xC2 && byte != 0xE2 { continue }
                let n = KDLCharacters.newlineLength(byte) { i - 1 + $0 < count ? bytes[i - 1 + $0] : 0 }
                if n > 0 {
                    i += n - 1
                    starts.append(i)
                }
            }
        }
        self.starts = starts
    }

    /// The 1-based line holding byte `offset`, and the offset where that line starts.
    func line(at offset: Int) -> (line: Int, start: Int) {
        // The number of line starts at or before `offset` is the line number.
        var low = 0
        var high = starts.count
        while low < high {
            let mid = (low + high) / 2
            if starts[mid] <= offset { low = mid + 1 } else { high = mid }
        }
        return (low, starts[max(low - 1, 0)])
    }
}
