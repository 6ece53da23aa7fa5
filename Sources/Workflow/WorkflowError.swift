import KDL

/// Why a workflow file was rejected: a KDL syntax error, or a KDL document that is not a valid workflow. Either way it
/// has a 1-based line and column and the offending line, for the `NAME / workflow` Check Run and the CLI.
public struct WorkflowError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which stage rejected the file.
    public enum Kind: Sendable, Equatable {
        /// The file is not valid KDL 2.0 (nor 1.0).
        case syntax
        /// Valid KDL, but not a valid workflow (no jobs, a job without id, a duplicate id, ...).
        case workflow
    }

    /// Which stage rejected the file.
    public let kind: Kind
    /// What is wrong, phrased so a person can fix it.
    public let message: String
    /// Where it is wrong.
    public let location: KDLSourceLocation

    /// 1-based line.
    public var line: Int { location.line }
    /// 1-based column, in Unicode scalars.
    public var column: Int { location.column }
    /// The offending line, safe to print.
    public var sourceLine: String { location.lineText }

    /// `LINE:COL: message`.
    public var description: String { "\(line):\(column): \(message)" }

    /// Creates an error.
    public init(kind: Kind, message: String, location: KDLSourceLocation) {
        self.kind = kind
        self.message = message
        self.location = location
    }

    /// Wraps a KDL syntax error.
    public init(_ error: KDLError) {
        self.init(kind: .syntax, message: error.message, location: error.location)
    }

    /// `FILE:LINE:COL: message`, then the line, then a caret under the column.
    public func render(fileName: String) -> String {
        "\(fileName):\(line):\(column): \(message)\n\(location.lineText)\n\(location.caretIndent)^"
    }
}
