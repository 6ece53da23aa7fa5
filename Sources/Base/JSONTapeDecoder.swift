import FoundationEssentials

/// Decodes `Decodable` values from JSON as Foundation's `JSONDecoder` does with its default options — the same values,
/// the same `DecodingError` cases and coding paths — over a `JSONTape` instead of Foundation's `JSONMap`.
///
/// The difference is in what it costs and what it accepts. Keys are looked up lazily: a keyed container scans its
/// object's entries on the tape comparing raw key bytes, where Foundation first makes a `[String: Value]` dictionary
/// of every key of every object it decodes; no String is made for a key or value nobody asks for. And the whole text
/// is checked before decoding (`JSONTape`): a text that breaks RFC 8259 is `dataCorrupted` with an empty coding path
/// even where Foundation would decode it (trailing commas, an invalid string or number in a value never decoded) or
/// would first report a wrong type found earlier in decoding order. For a valid text both decoders agree.
///
/// As in Foundation, a number that fits no value of the type asked for (`1.5` or `1e400` as `Int`) is
/// `dataCorrupted` with an empty coding path, and a duplicated key means its first value. `URL`, `Data` (Base64) and
/// `Decimal` are decoded as `JSONDecoder`'s default strategies do; `Date` through its own `Decodable` conformance
/// (the default `.deferredToDate`). There are no strategies to choose.
public struct JSONTapeDecoder: Sendable {
    public init() {}

    /// Decodes a `T` from the JSON `text`.
    public func decode<T: Decodable>(_ type: T.Type, from text: [UInt8]) throws -> T {
        let tape: JSONTape
        do {
            tape = try JSONTape(validating: text)
        } catch {
            throw Self.invalid(error.description, error)
        }
        do {
            return try JSONTapeValues(tape).unwrap(T.self, at: 0, path: nil, key: nil)
        } catch let error as JSONNumberError {
            // Thrown where a number is converted and passed through any init(from:) untouched, as Foundation's own
            // JSONError is: it reaches here, and only here becomes a DecodingError without a coding path.
            throw Self.invalid(error.message, error)
        }
    }

    private static func invalid(_ reason: String, _ error: any Error) -> DecodingError {
        .dataCorrupted(
            DecodingError.Context(
                codingPath: [], debugDescription: "The given data was not valid JSON: \(reason).",
                underlyingError: error))
    }
}

/// A number that fits no value of the type asked for (Foundation's `JSONError.numberIsNotRepresentableInSwift`).
struct JSONNumberError: Error {
    var message: String
}

/// A coding path as a chain from the innermost key out, made into an array only when someone asks (errors, mostly).
final class JSONCodingPath: Sendable {
    let parent: JSONCodingPath?
    let key: any CodingKey

    init(_ parent: JSONCodingPath?, _ key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    /// `path` with `key` appended, or `path` itself without one.
    static func appending(_ path: JSONCodingPath?, _ key: (any CodingKey)?) -> JSONCodingPath? {
        guard let key else { return path }
        return JSONCodingPath(path, key)
    }

    /// The keys from the top-level value down to `path`, then `key` if given.
    static func keys(_ path: JSONCodingPath?, _ key: (any CodingKey)? = nil) -> [any CodingKey] {
        var keys: [any CodingKey] = key.map { [$0] } ?? []
        var node = path
        while let current = node {
            keys.append(current.key)
            node = current.parent
        }
        return keys.reversed()
    }
}

/// An array index in a coding path, or a key made up by the decoder (`super`); spelled as Foundation's `_CodingKey`.
struct JSONIndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }

    init(intValue: Int) {
        stringValue = "\(intValue)"
        self.intValue = intValue
    }

    init(index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }
}

/// The tape shared by the decoder and every container made from it, with the conversions that report errors as
/// Foundation does.
final class JSONTapeValues {
    let tape: JSONTape
    /// Objects whose keys were all listed (`allKeys`), each key to its first value: whoever lists the keys is about
    /// to look each one up (a `[String: T]` does), which would cost a scan of the object per key.
    private var indexedObjects: [Int: [String: Int]] = [:]

    init(_ tape: JSONTape) {
        self.tape = tape
    }

    @inline(__always) func kind(_ index: Int) -> JSONTape.Kind { tape.entries[index].kind }
    @inline(__always) func next(_ index: Int) -> Int { Int(tape.entries[index].next) }

    /// The tape index of the value of `key` in the object at `object`: its first occurrence, as Foundation keeps the
    /// first of duplicated keys.
    func value(forKey key: some CodingKey, inObject object: Int) -> Int? {
        if !indexedObjects.isEmpty, let index = indexedObjects[object] { return index[key.stringValue] }
        return tape.member(key.stringValue, inObject: object)
    }

    /// The keys of the object at `object` in document order, each once (as Swift compares strings); indexes them.
    func keys(ofObject object: Int) -> [String] {
        var keys: [String] = []
        var index: [String: Int] = [:]
        var entry = object + 1
        while entry < next(object) {
            let key = tape.string(at: entry)
            if index[key] == nil {
                index[key] = entry + 1
                keys.append(key)
            }
            entry = next(entry + 1)
        }
        indexedObjects[object] = index
        return keys
    }

    /// How Foundation names the kind of value it found in its error messages.
    func found(_ index: Int) -> String {
        switch kind(index) {
        case .asciiString, .unicodeString, .escapedString: "a string"
        case .integer, .number: "number"
        case .true, .false: "bool"
        case .null: "null"
        case .object: "a dictionary"
        case .array: "an array"
        }
    }

    func typeMismatch(_ type: Any.Type, at index: Int, _ path: [any CodingKey]) -> DecodingError {
        .typeMismatch(
            type,
            DecodingError.Context(
                codingPath: path, debugDescription: "Expected to decode \(type) but found \(found(index)) instead."))
    }

    func valueNotFound(_ type: Any.Type, _ path: [any CodingKey]) -> DecodingError {
        .valueNotFound(
            type,
            DecodingError.Context(
                codingPath: path, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
    }

    // Each conversion gets the path of the container and the key within it, and makes the coding path only to throw.

    func bool(at index: Int, path: JSONCodingPath?, key: (any CodingKey)?) throws -> Bool {
        switch kind(index) {
        case .true: return true
        case .false: return false
        // Foundation checks a Bool for the right type only: a null is a type mismatch, not a missing value.
        default: throw typeMismatch(Bool.self, at: index, JSONCodingPath.keys(path, key))
        }
    }

    func string(at index: Int, path: JSONCodingPath?, key: (any CodingKey)?) throws -> String {
        switch kind(index) {
        case .asciiString, .unicodeString, .escapedString: return tape.string(at: index)
        case .null: throw valueNotFound(String.self, JSONCodingPath.keys(path, key))
        default: throw typeMismatch(String.self, at: index, JSONCodingPath.keys(path, key))
        }
    }

    func integer<T: FixedWidthInteger>(_: T.Type, at index: Int, path: JSONCodingPath?, key: (any CodingKey)?) throws
        -> T
    {
        switch kind(index) {
        case .integer, .number:
            guard let value = tape.integer(at: index, as: T.self) else {
                throw JSONNumberError(message: "number \(tape.text(at: index)) is not representable as \(T.self)")
            }
            return value
        case .null: throw valueNotFound(T.self, JSONCodingPath.keys(path, key))
        default: throw typeMismatch(T.self, at: index, JSONCodingPath.keys(path, key))
        }
    }

    func floatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(
        _: T.Type, at index: Int, path: JSONCodingPath?, key: (any CodingKey)?
    ) throws -> T {
        switch kind(index) {
        case .integer, .number:
            guard let value = tape.floatingPoint(at: index, as: T.self) else {
                throw JSONNumberError(message: "number \(tape.text(at: index)) is not representable as \(T.self)")
            }
            return value
        case .null: throw valueNotFound(T.self, JSONCodingPath.keys(path, key))
        default: throw typeMismatch(T.self, at: index, JSONCodingPath.keys(path, key))
        }
    }

    /// A `T` from the value at `index`, which is at `key` in the container at `path` (or is the container's own value
    /// when `key` is nil). `URL`, `Data` and `Decimal` as `JSONDecoder` decodes them by default; anything else by
    /// its `init(from:)`.
    func unwrap<T: Decodable>(_: T.Type, at index: Int, path: JSONCodingPath?, key: (any CodingKey)?) throws -> T {
        if T.self == URL.self || T.self == Data.self || T.self == Decimal.self {
            return try foundationValue(T.self, at: index, path: path, key: key)
        }
        return try T(from: JSONTapeValueDecoder(values: self, index: index, path: JSONCodingPath.appending(path, key)))
    }

    private func foundationValue<T: Decodable>(_: T.Type, at index: Int, path: JSONCodingPath?, key: (any CodingKey)?)
        throws -> T
    {
        if kind(index) == .null { throw valueNotFound(T.self, JSONCodingPath.keys(path, key)) }
        if T.self == Decimal.self {
            guard kind(index).isNumber else {
                throw DecodingError.typeMismatch(
                    Decimal.self,
                    DecodingError.Context(codingPath: JSONCodingPath.keys(path, key), debugDescription: ""))
            }
            guard let decimal = Decimal(string: tape.text(at: index)) else {
                throw JSONNumberError(message: "number \(tape.text(at: index)) is not representable as Decimal")
            }
            return decimal as! T
        }
        let text = try string(at: index, path: path, key: key)
        if T.self == URL.self {
            guard let url = URL(string: text) else {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(
                        codingPath: JSONCodingPath.keys(path, key), debugDescription: "Invalid URL string."))
            }
            return url as! T
        }
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: JSONCodingPath.keys(path, key),
                    debugDescription: "Encountered Data is not valid Base64."))
        }
        return data as! T
    }
}
