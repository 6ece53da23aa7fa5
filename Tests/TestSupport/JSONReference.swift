import Base
import Foundation

/// What the JSON decoder tests compare `JSONTapeDecoder` with: Foundation's `JSONDecoder`, an independent RFC 8259
/// checker (to tell which disagreements are Foundation's known leniency), a generic value that decodes every part of
/// a document, and seeded mutations of real payloads.

/// Any JSON value, decoded through the `Decodable` API alone, so that every string, key and number of a document is
/// decoded (Foundation checks those only when they are).
public enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
            return
        }
        if let bool = try? single.decode(Bool.self) {
            self = .bool(bool)
            return
        }
        do {
            self = .string(try single.decode(String.self))
            return
        } catch DecodingError.typeMismatch {}
        var isNumber = true
        do {
            self = .int(try single.decode(Int.self))
            return
        } catch DecodingError.typeMismatch {
            isNumber = false
        } catch {
            // A number that is no Int (1.5, 1e30): both decoders throw something other than a type mismatch.
        }
        if isNumber {
            self = .double(try single.decode(Double.self))
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            var members: [String: JSONValue] = [:]
            for key in object.allKeys { members[key.stringValue] = try object.decode(JSONValue.self, forKey: key) }
            self = .object(members)
            return
        }
        var array = try decoder.unkeyedContainer()
        var elements: [JSONValue] = []
        while !array.isAtEnd { elements.append(try array.decode(JSONValue.self)) }
        self = .array(elements)
    }

    /// Any key.
    public struct AnyKey: CodingKey {
        public var stringValue: String
        public var intValue: Int?
        public init(stringValue: String) { self.stringValue = stringValue }
        public init?(intValue: Int) { nil }
    }
}

/// What a decode came to, in a form two decoders' results can be compared in: the value, or the error's case, coding
/// path (string and int values of each key) and the type it names.
public enum DecodeOutcome<T: Equatable>: Equatable, CustomStringConvertible {
    case value(T)
    case error(String, path: [String], type: String)
    /// An error that is no `DecodingError`: Foundation's internal `JSONError` or the tape's number error, thrown
    /// where a number does not fit and turned into `dataCorrupted` only at the top.
    case otherError

    /// Foundation's `JSONDecoder`.
    public static func foundation(_ text: [UInt8]) -> DecodeOutcome where T: Decodable {
        outcome { try JSONDecoder().decode(T.self, from: Data(text)) }
    }

    /// `JSONTapeDecoder`.
    public static func tape(_ text: [UInt8]) -> DecodeOutcome where T: Decodable {
        outcome { try JSONTapeDecoder().decode(T.self, from: text) }
    }

    /// `dataCorrupted` with an empty coding path: what both decoders throw for a text that is not JSON.
    public static var invalidJSON: DecodeOutcome { .error("dataCorrupted", path: [], type: "") }

    /// Whether the decode failed.
    public var isError: Bool {
        if case .value = self { return false }
        return true
    }

    public var description: String {
        switch self {
        case .value(let value): "value \(value)"
        case .error(let kind, let path, let type): "\(kind)(\(type)) at [\(path.joined(separator: ", "))]"
        case .otherError: "other error"
        }
    }

    /// The outcome of `decode`.
    public static func outcome(_ decode: () throws -> T) -> DecodeOutcome {
        do {
            return .value(try decode())
        } catch let error as DecodingError {
            func path(_ context: DecodingError.Context) -> [String] {
                context.codingPath.map { "\($0.stringValue)/\($0.intValue.map(String.init) ?? "-")" }
            }
            switch error {
            case .typeMismatch(let type, let context):
                return .error("typeMismatch", path: path(context), type: "\(type)")
            case .valueNotFound(let type, let context):
                return .error("valueNotFound", path: path(context), type: "\(type)")
            case .keyNotFound(let key, let context):
                return .error("keyNotFound", path: path(context), type: key.stringValue)
            case .dataCorrupted(let context): return .error("dataCorrupted", path: path(context), type: "")
            @unknown default: return .otherError
            }
        } catch {
            return .otherError
        }
    }
}

/// A deliberately plain RFC 8259 checker, written apart from `JSONTape` (recursive, whole-text UTF-8 check by the
/// standard library), to judge texts the two decoders disagree on. Policy as `JSONTape`'s: a UTF-8 byte order mark
/// is skipped, and nesting deeper than 512 is refused (Foundation's limit).
public enum RFC8259 {
    /// Why `text` is not a JSON text, or nil when it is one.
    public static func violation(in text: [UInt8]) -> String? {
        var bytes = text[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard String(validating: bytes, as: UTF8.self) != nil else { return "invalid UTF-8" }
        var checker = Checker(bytes: Array(bytes))
        do throws(Violation) {
            checker.whitespace()
            try checker.value(depth: 0)
            checker.whitespace()
            guard checker.offset == checker.bytes.count else { throw Violation("text after the value") }
            return nil
        } catch {
            return "\(error.reason) at \(checker.offset)"
        }
    }

    struct Violation: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    struct Checker {
        let bytes: [UInt8]
        var offset = 0

        var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func whitespace() {
            while let byte = current, [0x20, 0x09, 0x0A, 0x0D].contains(byte) { offset += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(Violation) {
            guard current == byte else { throw Violation("expected \(Character(Unicode.Scalar(byte)))") }
            offset += 1
        }

        mutating func value(depth: Int) throws(Violation) {
            switch current {
            case UInt8(ascii: "{"):
                guard depth < 512 else { throw Violation("too deep") }
                offset += 1
                whitespace()
                if current == UInt8(ascii: "}") {
                    offset += 1
                    return
                }
                while true {
                    whitespace()
                    if current == UInt8(ascii: "}") { throw Violation("trailing comma") }
                    try string()
                    whitespace()
                    try expect(UInt8(ascii: ":"))
                    whitespace()
                    try value(depth: depth + 1)
                    whitespace()
                    if current == UInt8(ascii: ",") {
                        offset += 1
                        continue
                    }
                    try expect(UInt8(ascii: "}"))
                    return
                }
            case UInt8(ascii: "["):
                guard depth < 512 else { throw Violation("too deep") }
                offset += 1
                whitespace()
                if current == UInt8(ascii: "]") {
                    offset += 1
                    return
                }
                while true {
                    whitespace()
                    if current == UInt8(ascii: "]") { throw Violation("trailing comma") }
                    try value(depth: depth + 1)
                    whitespace()
                    if current == UInt8(ascii: ",") {
                        offset += 1
                        continue
                    }
                    try expect(UInt8(ascii: "]"))
                    return
                }
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try word("true")
            case UInt8(ascii: "f"): try word("false")
            case UInt8(ascii: "n"): try word("null")
            default: try number()
            }
        }

        mutating func word(_ word: String) throws(Violation) {
            for byte in word.utf8 { try expect(byte) }
        }

        mutating func digits() throws(Violation) {
            guard let byte = current, (0x30...0x39).contains(byte) else { throw Violation("digit expected") }
            while let byte = current, (0x30...0x39).contains(byte) { offset += 1 }
        }

        mutating func number() throws(Violation) {
            if current == UInt8(ascii: "-") { offset += 1 }
            if current == UInt8(ascii: "0") {
                offset += 1
            } else {
                guard let byte = current, (0x31...0x39).contains(byte) else { throw Violation("not a value") }
                try digits()
            }
            if current == UInt8(ascii: ".") {
                offset += 1
                try digits()
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                offset += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
                try digits()
            }
        }

        mutating func string() throws(Violation) {
            try expect(UInt8(ascii: "\""))
            // The UTF-16 of the string's \u escapes in a row, checked for pairing whenever the row ends.
            var units: [UInt16] = []
            func pairs(_ units: [UInt16]) -> Bool {
                var decoder = UTF16()
                var iterator = units.makeIterator()
                while true {
                    switch decoder.decode(&iterator) {
                    case .scalarValue: continue
                    case .emptyInput: return true
                    case .error: return false
                    }
                }
            }
            while true {
                guard let byte = current else { throw Violation("unterminated string") }
                if byte == UInt8(ascii: "\\") && offset + 1 < bytes.count && bytes[offset + 1] == UInt8(ascii: "u") {
                    let hex = bytes.dropFirst(offset + 2).prefix(4)
                    guard hex.count == 4, hex.allSatisfy({ $0 < 0x80 && Character(Unicode.Scalar($0)).isHexDigit }),
                        let unit = UInt16(String(decoding: hex, as: UTF8.self), radix: 16)
                    else { throw Violation("bad \\u escape") }
                    units.append(unit)
                    offset += 6
                    continue
                }
                guard pairs(units) else { throw Violation("unpaired surrogate") }
                units = []
                switch byte {
                case UInt8(ascii: "\""):
                    offset += 1
                    return
                case UInt8(ascii: "\\"):
                    guard offset + 1 < bytes.count, Array(#""\/bfnrt"#.utf8).contains(bytes[offset + 1]) else {
                        throw Violation("bad escape")
                    }
                    offset += 2
                case 0..<0x20: throw Violation("control character")
                default: offset += 1
                }
            }
        }
    }
}

/// Texts the JSON decoder tests share: BaseTests compares JSONTapeDecoder with Foundation on them, EventsTests the
/// payload readers (`PayloadDecoder.direct` with `.tape`) on payloads made of them.
public enum JSONCases {
    /// Texts that are JSON by RFC 8259: every kind of value, escapes, surrogate pairs, number forms, a byte
    /// order mark, a duplicated key, nesting.
    public static let valid: [String] = [
        "{}", "[]", "0", "-0", "\"x\"", "true", "false", "null", " \t\r\n{\"a\" : [ 1 , 2.5 , -3e2 , \"b\" ] } \n",
        #"{"a":{"b":{"c":[[],{},[{}]]}},"d":[null,true,false]}"#, #""\"\\\/\b\f\n\r\t""#,
        #""\u00e9\u00E9\u20ac\ud83d\ude00\uD83D\uDE00""#, #""\u0000""#, "\"é€😀\u{7F}\"", #"{"":1,"\u212a":2}"#,
        #"[0,-0,0.0,1E+2,1e-2,123456789,-9223372036854775808,1.5,9007199254740993,1e308,2.5E-3]"#,
        "\u{FEFF}{\"bom\":\"is skipped, as Foundation does\"}", #"{"a":1,"a":2}"#, #"[[[[[[[[[[1]]]]]]]]]]"#,
    ]

    /// Texts that are not JSON, and that Foundation refuses too: broken structure, literals and numbers out of
    /// the grammar, bad escapes and lone surrogates, control characters, text after the value.
    public static let invalid: [String] = [
        "", " ", "{", "}", "[1 2]", "{\"a\"}", "{\"a\":}", "{,}", "[,]", "[1,,2]", "nul", "True", "NaN", "Infinity",
        "-Infinity", "+1", ".5", "[01]", "[-01]", "[1.]", "[1.e5]", "[1e]", "[1e+]", "[-]", "[0x1]", "{\"a\":1}x",
        "{\"a\":1}}", "\"abc", "'a'", "{a:1}", "[\"\\x\"]", "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]",
        "[\"\\ud800\\ud800\"]", "[\"\\u12\"]", "[\"\\u00g0\"]", "[\"a\u{01}\"]", "[\"tab\there\"]", "{\"a\":1 \"b\":2}",
        "[1]\u{0}", "\u{0}",
    ]

    /// Byte sequences that are not UTF-8, for inside a string: overlong forms, UTF-8 surrogates, beyond
    /// U+10FFFF, stray bytes.
    public static let invalidUTF8: [[UInt8]] = [
        [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xF8, 0x88, 0x80, 0x80, 0x80],
        [0x80], [0xBF], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xFE], [0xFF], [0xC3, 0x28],
    ]

    /// Bytes that make a string scanner look (quotes, escapes, controls, non-ASCII, broken UTF-8) and plain
    /// neighbours, for inserting at every position of a string.
    public static let stringBytes: [[UInt8]] = [
        [0x22], [0x5C, 0x6E], [0x5C, 0x75, 0x30, 0x30, 0x65, 0x39], [0x01], [0x1F], [0x7F], [0xC3, 0xA9],
        [0xF0, 0x9F, 0x98, 0x80], [0xC3], [0xFF], [0x5C, 0x71], [0x20], [0x21], [0x23], [0x5B], [0x5D],
    ]

    /// Texts that are not JSON but that Foundation decodes when only `a` is read: trailing commas, and bad
    /// strings and numbers in `b`.
    public static let lenient: [String] = [
        #"{"a":1,}"#, #"{"a":1,"b":[1,2,]}"#, #"{"a":1,"b":"\x"}"#, #"{"a":1,"b":"\ud800"}"#, #"{"a":1,"b":"\udc00x"}"#,
        #"{"a":1,"b":01}"#, #"{"a":1,"b":1.}"#, #"{"a":1,"b":-}"#, #"{"a":1,"b":1e}"#, #"{"a":1,"b":1.2.3}"#,
        #"{"a":1,"b":1-2}"#, "{\"a\":1,\"b\":\"\u{1F}\"}", #"{"a":1,"b":{"\x":1}}"#, #"{"a":1,"b":{"c":1,}}"#,
    ]

    /// Numbers at the edges of the integer and floating-point types and of Foundation's conversions (`Double`,
    /// then `Decimal`).
    public static let numbers: [String] = [
        "0", "-0", "1.0", "1e2", "1E+2", "1.5", "-1", "1e-999", "1e999", "0.1e1", "100e-2", "12345678901234567890e-2",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "-9223372036854775808.0", "9223372036854775807.0", "1e18", "-1e18", "9007199254740993", "9007199254740993.0",
        "9007199254740993e0", "18446744073709551615", "18446744073709551616", "184467440737095516150e-1", "255", "256",
        "-128", "-129", "127.0", "3.4e38", "3.5e38", "1e-46", "0e-999", "0.000", "-0.0", "4.9e-324", "2e-324",
        "1.7976931348623157e308", "1.7976931348623159e308", "123456789012345678901234567890123456789012e-30",
        "1234567890123456789012345678901234567890123456789e-40", "0.00000000000000000000000000000000000000000001e60",
        "92233720368547758070e-1", "9223372036854775806.9", "4611686018427387904.5e1", "1e19", "1.8446744073709552e19",
    ]
}

/// A small seeded generator (SplitMix64), so a failing mutation can be replayed.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4D9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte-level mutations of a JSON text: flips, replacements, deletions and insertions of bytes and of fragments that
/// sit at the edges of the grammar (escapes, surrogates, number forms, broken UTF-8, commas), aimed half of the time
/// just after the keys the payload slices read, so the values that are decoded get hit too.
public struct JSONMutator {
    /// The text mutated.
    public let original: [UInt8]
    /// Offsets of the target keys' opening quotes in `original`.
    let aims: [Int]

    /// Mutates `text`, aiming at the keys `targets`.
    public init(_ text: [UInt8], targets: [String]) {
        original = text
        let needles = targets.map { Array("\"\($0)\"".utf8) }
        aims = text.indices.filter { offset in
            text[offset] == UInt8(ascii: "\"") && needles.contains { text[offset...].starts(with: $0) }
        }
    }

    static let bytes: [UInt8] =
        Array(#""\,:{}[]019-+.eEntfux /"#.utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xFF]
    static let fragments: [[UInt8]] =
        [
            ",", "\"", "\\", "\\u", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\u00e9", "\\n", "\\x", "1e999", "-0",
            "01", "1.", "1.0", "1e2", "-", "null", "true", "[]", "{}", "[1,]", "{\"a\":1,}", "é", "😀", "\u{212A}",
            "9223372036854775808", "\"\"", "\\\"",
        ].map { Array($0.utf8) } + [
            [0x00], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82],
        ]

    /// `original` with one to three mutations.
    public func mutated(using generator: inout SeededGenerator) -> [UInt8] {
        var text = original
        for _ in 0..<Int.random(in: 1...3, using: &generator) where !text.isEmpty {
            let position = aim(text, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0: text[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
            case 1: text[position] = Self.bytes.randomElement(using: &generator)!
            case 2: text[position] = UInt8.random(in: 0...255, using: &generator)
            case 3: text.removeSubrange(position..<min(text.count, position + Int.random(in: 1...8, using: &generator)))
            case 4: text.insert(contentsOf: Self.fragments.randomElement(using: &generator)!, at: position)
            default:
                let length = Int.random(in: 1...32, using: &generator)
                let source = Int.random(in: 0..<text.count, using: &generator)
                text.insert(contentsOf: text[source..<min(text.count, source + length)], at: position)
            }
        }
        return text
    }

    /// A position: half of the time within 24 bytes after a target key's quote, else anywhere.
    func aim(_ text: [UInt8], using generator: inout SeededGenerator) -> Int {
        if Bool.random(using: &generator), let hit = aims.randomElement(using: &generator) {
            return min(text.count - 1, hit + Int.random(in: 0..<32, using: &generator))
        }
        return Int.random(in: 0..<text.count, using: &generator)
    }
}
