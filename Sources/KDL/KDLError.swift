/// A KDL syntax error: where it is (1-based line and column), what is wrong, and the offending line.
public struct KDLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the error is.
    public let location: KDLSourceLocation
    /// What is wrong, phrased so a person can fix it.
    public let message: String

    /// 1-based line.
    public var line: Int { location.line }
    /// 1-based column, in Unicode scalars.
    public var column: Int { location.column }
    /// The offending line, safe to print.
    public var sourceLine: String { location.lineText }

    /// `LINE:COL: message`.
    public var description: String { "\(line):\(column): \(message)" }

    /// Creates an error at `location`.
    public init(message: String, location: KDLSourceLocation) {
        self.message = message
        self.location = location
    }

    init(_ failure: KDLSyntaxError, in source: [UInt8]) {
        self.init(message: failure.message, location: KDLSourceLocation(offset: failure.offset, in: source))
    }

    /// `FILE:LINE:COL: message`, then the line, then a caret under the column.
    public func render(fileName: String) -> String {
        "\(fileName):\(line):\(column): \(message)\n\(location.lineText)\n\(location.caretIndent)^"
    }
}
