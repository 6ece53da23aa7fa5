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

extension JSONField: Decodable {
    /// Any JSON value but a fractional number (nothing we write has one), so a reader can tell whole JSON from
    /// torn JSON.
    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var items: [JSONField] = []
            while !array.isAtEnd { items.append(try array.decode(JSONField.self)) }
            self = .array(items)
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try object.allKeys.map { ($0.stringValue, try object.decode(JSONField.self, forKey: $0)) })
        } else {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() {
                self = .null
            } else if let b = try? value.decode(Bool.self) {
                self = .bool(b)
            } else if let n = try? value.decode(Int.self) {
                self = .int(n)
            } else {
                self = .string(try value.decode(String.self))
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
