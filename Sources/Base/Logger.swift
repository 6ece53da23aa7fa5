import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// Severity of a log line (`LOG_LEVEL`).
public enum LogLevel: String, Sendable, Comparable {
    case debug, info, warning, error

    private var rank: Int {
        switch self {
        case .debug: 0
        case .info: 1
        case .warning: 2
        case .error: 3
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rank < rhs.rank }
}

/// Shape of a log line (`LOG_FORMAT`).
public enum LogFormat: String, Sendable {
    case text, json
}

/// Writes one line per event to stderr (the web server's error log under FastCGI).
///
/// Each line goes out in a single `write(2)`, so lines from concurrent workers never interleave. Callers pass
/// fields explicitly: nothing here logs a request's headers or any secret.
public struct Logger: Sendable {
    /// Least severe level written.
    public var level: LogLevel
    /// Text (`key=value`) or JSON lines.
    public var format: LogFormat

    /// A logger writing `level` and above in `format`.
    public init(level: LogLevel = .info, format: LogFormat = .text) {
        self.level = level
        self.format = format
    }

    /// Writes `message` with `fields` when `severity` is at or above the configured level.
    public func log(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, LogValue> = [:]) {
        guard severity >= level else { return }
        var line = self.line(severity, message, fields)
        line.append("\n")
        line.withUTF8 { buffer in
            _ = Glibc.write(2, buffer.baseAddress, buffer.count)
        }
    }

    /// The line `log` writes, without its newline.
    func line(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, LogValue>) -> String {
        format == .json ? jsonLine(severity, message, fields) : textLine(severity, message, fields)
    }

    private func textLine(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, LogValue>) -> String
    {
        var line = "solstice level=\(severity.rawValue) msg=\(Self.quoteIfNeeded(message))"
        for (key, value) in fields {
            switch value {
            case .string(let s): line += " \(key)=\(Self.quoteIfNeeded(s))"
            case .int(let n): line += " \(key)=\(n)"
            case .double(let d): line += " \(key)=\(Self.format(d))"
            case .bool(let b): line += " \(key)=\(b)"
            }
        }
        return line
    }

    private func jsonLine(_ severity: LogLevel, _ message: String, _ fields: KeyValuePairs<String, LogValue>) -> String
    {
        var line = "{\"level\":\(JSONText.quote(severity.rawValue)),\"msg\":\(JSONText.quote(message))"
        for (key, value) in fields {
            line += ",\(JSONText.quote(key)):"
            switch value {
            case .string(let s): line += JSONText.quote(s)
            case .int(let n): line += String(n)
            case .double(let d): line += Self.format(d)
            case .bool(let b): line += b ? "true" : "false"
            }
        }
        return line + "}"
    }

    private static func format(_ d: Double) -> String {
        let rounded = (d * 100).rounded() / 100
        return String(rounded)
    }

    private static func quoteIfNeeded(_ s: String) -> String {
        if !s.isEmpty && !s.utf8.contains(where: { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") })
        {
            return s
        }
        return JSONText.quote(s)
    }
}

/// A field value in a log line.
public enum LogValue: Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
}
