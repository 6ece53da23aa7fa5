import FoundationEssentials

// The containers of JSONTapeDecoder (JSONTapeDecoder.swift): the value decoder and its single-value container,
// the keyed and the unkeyed containers.

/// The decoder handed to `init(from:)`: one value on the tape and its coding path; also its single-value container,
/// as in Foundation. A struct of three words, so passing it as `any Decoder` allocates nothing.
struct JSONTapeValueDecoder: Decoder, SingleValueDecodingContainer {
    let values: JSONTapeValues
    let index: Int
    let path: JSONCodingPath?

    var codingPath: [any CodingKey] { JSONCodingPath.keys(path) }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy _: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch values.kind(index) {
        case .object:
            return KeyedDecodingContainer(JSONTapeKeyedContainer<Key>(values: values, object: index, path: path))
        case .null:
            throw DecodingError.valueNotFound(
                [String: Any].self,
                DecodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "Cannot get keyed decoding container -- found null value instead"))
        default:
            throw values.typeMismatch([String: Any].self, at: index, codingPath)
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch values.kind(index) {
        case .array:
            return JSONTapeUnkeyedContainer(values: values, array: index, path: path)
        case .null:
            throw DecodingError.valueNotFound(
                [Any].self,
                DecodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "Cannot get unkeyed decoding container -- found null value instead"))
        default:
            throw values.typeMismatch([Any].self, at: index, codingPath)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    private var none: (any CodingKey)? { nil }

    func decodeNil() -> Bool { values.kind(index) == .null }
    func decode(_: Bool.Type) throws -> Bool { try values.bool(at: index, path: path, key: none) }
    func decode(_: String.Type) throws -> String { try values.string(at: index, path: path, key: none) }
    func decode(_: Double.Type) throws -> Double { try float() }
    func decode(_: Float.Type) throws -> Float { try float() }
    func decode(_: Int.Type) throws -> Int { try integer() }
    func decode(_: Int8.Type) throws -> Int8 { try integer() }
    func decode(_: Int16.Type) throws -> Int16 { try integer() }
    func decode(_: Int32.Type) throws -> Int32 { try integer() }
    func decode(_: Int64.Type) throws -> Int64 { try integer() }
    func decode(_: Int128.Type) throws -> Int128 { try integer() }
    func decode(_: UInt.Type) throws -> UInt { try integer() }
    func decode(_: UInt8.Type) throws -> UInt8 { try integer() }
    func decode(_: UInt16.Type) throws -> UInt16 { try integer() }
    func decode(_: UInt32.Type) throws -> UInt32 { try integer() }
    func decode(_: UInt64.Type) throws -> UInt64 { try integer() }
    func decode(_: UInt128.Type) throws -> UInt128 { try integer() }
    func decode<T: Decodable>(_: T.Type) throws -> T { try values.unwrap(T.self, at: index, path: path, key: none) }

    private func integer<T: FixedWidthInteger>() throws -> T {
        try values.integer(T.self, at: index, path: path, key: none)
    }

    private func float<T: BinaryFloatingPoint & LosslessStringConvertible>() throws -> T {
        try values.floatingPoint(T.self, at: index, path: path, key: none)
    }
}

/// An object's members, found by scanning its entries on the tape for the key asked for.
struct JSONTapeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let values: JSONTapeValues
    let object: Int
    let path: JSONCodingPath?

    var codingPath: [any CodingKey] { JSONCodingPath.keys(path) }
    var allKeys: [Key] { values.keys(ofObject: object).compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { values.value(forKey: key, inObject: object) != nil }

    /// The value of `key`, which must be there.
    private func value(_ key: some CodingKey) throws -> Int {
        guard let index = values.value(forKey: key, inObject: object) else {
            throw DecodingError.keyNotFound(
                key,
                DecodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."))
        }
        return index
    }

    /// The value of `key` unless it is absent or null.
    private func present(_ key: Key) -> Int? {
        guard let index = values.value(forKey: key, inObject: object), values.kind(index) != .null else { return nil }
        return index
    }

    func decodeNil(forKey key: Key) throws -> Bool { values.kind(try value(key)) == .null }

    func decode(_: Bool.Type, forKey key: Key) throws -> Bool {
        try values.bool(at: try value(key), path: path, key: key)
    }
    func decode(_: String.Type, forKey key: Key) throws -> String {
        try values.string(at: try value(key), path: path, key: key)
    }
    func decode(_: Double.Type, forKey key: Key) throws -> Double { try float(key) }
    func decode(_: Float.Type, forKey key: Key) throws -> Float { try float(key) }
    func decode(_: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_: Int128.Type, forKey key: Key) throws -> Int128 { try integer(key) }
    func decode(_: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }
    func decode(_: UInt128.Type, forKey key: Key) throws -> UInt128 { try integer(key) }
    func decode<T: Decodable>(_: T.Type, forKey key: Key) throws -> T {
        try values.unwrap(T.self, at: try value(key), path: path, key: key)
    }

    // One lookup each: the standard library's defaults would look the key up twice (contains, then decodeNil).

    func decodeIfPresent(_: Bool.Type, forKey key: Key) throws -> Bool? {
        try present(key).map { try values.bool(at: $0, path: path, key: key) }
    }
    func decodeIfPresent(_: String.Type, forKey key: Key) throws -> String? {
        try present(key).map { try values.string(at: $0, path: path, key: key) }
    }
    func decodeIfPresent(_: Double.Type, forKey key: Key) throws -> Double? { try floatIfPresent(key) }
    func decodeIfPresent(_: Float.Type, forKey key: Key) throws -> Float? { try floatIfPresent(key) }
    func decodeIfPresent(_: Int.Type, forKey key: Key) throws -> Int? { try integerIfPresent(key) }
    func decodeIfPresent(_: Int8.Type, forKey key: Key) throws -> Int8? { try integerIfPresent(key) }
    func decodeIfPresent(_: Int16.Type, forKey key: Key) throws -> Int16? { try integerIfPresent(key) }
    func decodeIfPresent(_: Int32.Type, forKey key: Key) throws -> Int32? { try integerIfPresent(key) }
    func decodeIfPresent(_: Int64.Type, forKey key: Key) throws -> Int64? { try integerIfPresent(key) }
    func decodeIfPresent(_: Int128.Type, forKey key: Key) throws -> Int128? { try integerIfPresent(key) }
    func decodeIfPresent(_: UInt.Type, forKey key: Key) throws -> UInt? { try integerIfPresent(key) }
    func decodeIfPresent(_: UInt8.Type, forKey key: Key) throws -> UInt8? { try integerIfPresent(key) }
    func decodeIfPresent(_: UInt16.Type, forKey key: Key) throws -> UInt16? { try integerIfPresent(key) }
    func decodeIfPresent(_: UInt32.Type, forKey key: Key) throws -> UInt32? { try integerIfPresent(key) }
    func decodeIfPresent(_: UInt64.Type, forKey key: Key) throws -> UInt64? { try integerIfPresent(key) }
    func decodeIfPresent(_: UInt128.Type, forKey key: Key) throws -> UInt128? { try integerIfPresent(key) }
    func decodeIfPresent<T: Decodable>(_: T.Type, forKey key: Key) throws -> T? {
        try present(key).map { try values.unwrap(T.self, at: $0, path: path, key: key) }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try decoder(at: try value(key), key: key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder(at: try value(key), key: key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { superDecoder(JSONIndexKey(stringValue: "super")) }
    func superDecoder(forKey key: Key) throws -> any Decoder { superDecoder(key) }

    /// As Foundation: the value of `key`, or a null when it is absent.
    private func superDecoder(_ key: some CodingKey) -> JSONTapeValueDecoder {
        guard let index = values.value(forKey: key, inObject: object) else {
            return JSONTapeValueDecoder(values: Self.null, index: 0, path: JSONCodingPath.appending(path, key))
        }
        return decoder(at: index, key: key)
    }

    /// A tape of one `null`, for `superDecoder` of an absent key.
    private static var null: JSONTapeValues {
        JSONTapeValues(try! JSONTape(validating: Array("null".utf8)))
    }

    private func decoder(at index: Int, key: some CodingKey) -> JSONTapeValueDecoder {
        JSONTapeValueDecoder(values: values, index: index, path: JSONCodingPath.appending(path, key))
    }

    private func integer<T: FixedWidthInteger>(_ key: Key) throws -> T {
        try values.integer(T.self, at: try value(key), path: path, key: key)
    }

    private func integerIfPresent<T: FixedWidthInteger>(_ key: Key) throws -> T? {
        try present(key).map { try values.integer(T.self, at: $0, path: path, key: key) }
    }

    private func float<T: BinaryFloatingPoint & LosslessStringConvertible>(_ key: Key) throws -> T {
        try values.floatingPoint(T.self, at: try value(key), path: path, key: key)
    }

    private func floatIfPresent<T: BinaryFloatingPoint & LosslessStringConvertible>(_ key: Key) throws -> T? {
        try present(key).map { try values.floatingPoint(T.self, at: $0, path: path, key: key) }
    }
}

/// An array's elements in order; as Foundation's, `decodeIfPresent` past the end answers nil and still counts up.
struct JSONTapeUnkeyedContainer: UnkeyedDecodingContainer {
    let values: JSONTapeValues
    let array: Int
    let path: JSONCodingPath?
    /// The tape index of the next element.
    private var cursor: Int
    private let end: Int
    private(set) var currentIndex = 0

    init(values: JSONTapeValues, array: Int, path: JSONCodingPath?) {
        self.values = values
        self.array = array
        self.path = path
        cursor = array + 1
        end = values.next(array)
    }

    var codingPath: [any CodingKey] { JSONCodingPath.keys(path) }

    var count: Int? {
        var count = 0
        var index = array + 1
        while index < end {
            count += 1
            index = values.next(index)
        }
        return count
    }

    var isAtEnd: Bool { cursor >= end }

    private var key: JSONIndexKey { JSONIndexKey(index: currentIndex) }

    /// The next element, which must be there.
    private func element(_ type: Any.Type) throws -> Int {
        guard cursor < end else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(
                    codingPath: JSONCodingPath.keys(path, key), debugDescription: "Unkeyed container is at end."))
        }
        return cursor
    }

    private mutating func advance() {
        if cursor < end { cursor = values.next(cursor) }
        currentIndex += 1
    }

    /// Decodes the next element with `convert` and moves past it; at the end or on null, nil (and moves on).
    private mutating func ifPresent<T>(_ convert: (Int) throws -> T) rethrows -> T? {
        guard cursor < end, values.kind(cursor) != .null else {
            advance()
            return nil
        }
        let value = try convert(cursor)
        advance()
        return value
    }

    /// Decodes the next element, which must be there, with `convert` and moves past it.
    private mutating func next<T>(_ type: T.Type, _ convert: (Int) throws -> T) throws -> T {
        let value = try convert(try element(type))
        advance()
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard values.kind(try element(Never.self)) == .null else { return false }
        advance()
        return true
    }

    mutating func decode(_: Bool.Type) throws -> Bool {
        let (path, key) = (path, key)
        return try next(Bool.self) { [values] in try values.bool(at: $0, path: path, key: key) }
    }
    mutating func decode(_: String.Type) throws -> String {
        let (path, key) = (path, key)
        return try next(String.self) { [values] in try values.string(at: $0, path: path, key: key) }
    }
    mutating func decode(_: Double.Type) throws -> Double { try float() }
    mutating func decode(_: Float.Type) throws -> Float { try float() }
    mutating func decode(_: Int.Type) throws -> Int { try integer() }
    mutating func decode(_: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_: Int128.Type) throws -> Int128 { try integer() }
    mutating func decode(_: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_: UInt64.Type) throws -> UInt64 { try integer() }
    mutating func decode(_: UInt128.Type) throws -> UInt128 { try integer() }
    mutating func decode<T: Decodable>(_: T.Type) throws -> T {
        let (path, key) = (path, key)
        return try next(T.self) { [values] in try values.unwrap(T.self, at: $0, path: path, key: key) }
    }

    mutating func decodeIfPresent(_: Bool.Type) throws -> Bool? {
        let (path, key) = (path, key)
        return try ifPresent { [values] in try values.bool(at: $0, path: path, key: key) }
    }
    mutating func decodeIfPresent(_: String.Type) throws -> String? {
        let (path, key) = (path, key)
        return try ifPresent { [values] in try values.string(at: $0, path: path, key: key) }
    }
    mutating func decodeIfPresent(_: Double.Type) throws -> Double? { try floatIfPresent() }
    mutating func decodeIfPresent(_: Float.Type) throws -> Float? { try floatIfPresent() }
    mutating func decodeIfPresent(_: Int.Type) throws -> Int? { try integerIfPresent() }
    mutating func decodeIfPresent(_: Int8.Type) throws -> Int8? { try integerIfPresent() }
    mutating func decodeIfPresent(_: Int16.Type) throws -> Int16? { try integerIfPresent() }
    mutating func decodeIfPresent(_: Int32.Type) throws -> Int32? { try integerIfPresent() }
    mutating func decodeIfPresent(_: Int64.Type) throws -> Int64? { try integerIfPresent() }
    mutating func decodeIfPresent(_: Int128.Type) throws -> Int128? { try integerIfPresent() }
    mutating func decodeIfPresent(_: UInt.Type) throws -> UInt? { try integerIfPresent() }
    mutating func decodeIfPresent(_: UInt8.Type) throws -> UInt8? { try integerIfPresent() }
    mutating func decodeIfPresent(_: UInt16.Type) throws -> UInt16? { try integerIfPresent() }
    mutating func decodeIfPresent(_: UInt32.Type) throws -> UInt32? { try integerIfPresent() }
    mutating func decodeIfPresent(_: UInt64.Type) throws -> UInt64? { try integerIfPresent() }
    mutating func decodeIfPresent(_: UInt128.Type) throws -> UInt128? { try integerIfPresent() }
    mutating func decodeIfPresent<T: Decodable>(_: T.Type) throws -> T? {
        let (path, key) = (path, key)
        return try ifPresent { [values] in try values.unwrap(T.self, at: $0, path: path, key: key) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let container = try decoder(at: try element(KeyedDecodingContainer<NestedKey>.self)).container(keyedBy: type)
        advance()
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try decoder(at: try element((any UnkeyedDecodingContainer).self)).unkeyedContainer()
        advance()
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = decoder(at: try element((any Decoder).self))
        advance()
        return decoder
    }

    private func decoder(at index: Int) -> JSONTapeValueDecoder {
        JSONTapeValueDecoder(values: values, index: index, path: JSONCodingPath(path, key))
    }

    private mutating func integer<T: FixedWidthInteger>() throws -> T {
        let (path, key) = (path, key)
        return try next(T.self) { [values] in try values.integer(T.self, at: $0, path: path, key: key) }
    }

    private mutating func integerIfPresent<T: FixedWidthInteger>() throws -> T? {
        let (path, key) = (path, key)
        return try ifPresent { [values] in try values.integer(T.self, at: $0, path: path, key: key) }
    }

    private mutating func float<T: BinaryFloatingPoint & LosslessStringConvertible>() throws -> T {
        let (path, key) = (path, key)
        return try next(T.self) { [values] in try values.floatingPoint(T.self, at: $0, path: path, key: key) }
    }

    private mutating func floatIfPresent<T: BinaryFloatingPoint & LosslessStringConvertible>() throws -> T? {
        let (path, key) = (path, key)
        return try ifPresent { [values] in try values.floatingPoint(T.self, at: $0, path: path, key: key) }
    }
}
