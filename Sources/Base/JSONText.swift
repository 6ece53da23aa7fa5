/// Minimal JSON string quoting for log lines and hand-built bodies.
public enum JSONText {
    /// `s` as a JSON string literal, control characters escaped.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// A JSON value for bodies built field by field (response bodies, Checks requests), written in the order given.
public enum JSONField: Sendable, ExpressibleByStringLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case null
    case array([JSONField])
    case object([(String, JSONField)])

    public init(stringLiteral value: String) { self = .string(value) }

    /// A string, or `null` for nil.
    public static func optional(_ s: String?) -> JSONField { s.map { .string($0) } ?? .null }

    /// An object from a dictionary, keys sorted so equal objects give equal bytes.
    public static func object(_ fields: [String: JSONField]) -> JSONField {
        .object(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// JSON bytes.
    public var bytes: [UInt8] { Array(text.utf8) }

    /// JSON text.
    public var text: String {
        switch self {
        case .string(let s): JSONText.quote(s)
        case .int(let n): String(n)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let fields):
            "{" + fields.map { JSONText.quote($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }
}
