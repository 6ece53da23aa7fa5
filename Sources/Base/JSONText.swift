/// Minimal JSON string quoting for log lines and hand-built bodies.
public enum JSONText {
    /// `s` as a JSON string literal, control characters escaped.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 2)
        quote(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as a JSON string literal to `out`: `"` and `\\` escaped, `\n` `\r` `\t` by name, other control
    /// characters and U+2028/U+2029 (line breaks to JavaScript) as `\u00xx`. Works on the UTF-8 bytes: the bodies
    /// are written per request, and a per-scalar String append cost a tenth of the responder's time.
    public static func quote(_ s: String, into out: inout [UInt8]) {
        // Most strings (ids, names, URLs) are printable ASCII with nothing to escape: one check, one copy.
        let plain = s.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x80 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
            else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: bytes)
            out.append(UInt8(ascii: "\""))
            return true
        }
        if plain == true { return }
        out.append(UInt8(ascii: "\""))
        var utf8 = s.utf8.makeIterator()
        var pending: [UInt8] = []  // E2 or E2 80, held until we know whether it starts U+2028/U+2029
        while let byte = utf8.next() {
            if !pending.isEmpty {
                pending.append(byte)
                if pending.count == 2 {
                    if byte == 0x80 { continue }
                } else if byte == 0xA8 || byte == 0xA9 {
                    out.append(contentsOf: byte == 0xA8 ? Array("\\u2028".utf8) : Array("\\u2029".utf8))
                    pending.removeAll(keepingCapacity: true)
                    continue
                }
                out.append(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            case 0xE2: pending.append(byte)
            default: out.append(byte)
            }
        }
        out.append(contentsOf: pending)
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONText {
    /// `text` without the whitespace between tokens, as GitHub sends its payloads (the samples are pretty-printed);
    /// for the benchmarks and tests that read both forms. Strings are copied as they are, escapes included.
    public static func compacted(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in text {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
                continue
            }
            out.append(byte)
        }
        return out
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
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// JSON text.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Appends the JSON of this value to `out`: `, ` between items, `: ` after keys (the bytes every body and
    /// record has always had).
    public func write(into out: inout [UInt8]) {
        switch self {
        case .string(let s): JSONText.quote(s, into: &out)
        case .int(let n): out.append(contentsOf: String(n).utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let fields):
            out.append(UInt8(ascii: "{"))
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")]) }
                JSONText.quote(key, into: &out)
                out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: " ")])
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
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
