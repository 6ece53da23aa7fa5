import Foundation
import TestSupport
import Testing

@testable import Base

/// `JSONTapeDecoder` against Foundation's `JSONDecoder` on the same bytes: the same values, the same error cases and
/// coding paths, except where Foundation lets a text that breaks RFC 8259 through, which the tape refuses.
@Suite struct JSONTapeDecoderTests {
    typealias Outcome<T: Equatable> = DecodeOutcome<T>

    /// Decodes `text` as a `T` with both decoders; returns the tape's outcome after checking it equals Foundation's.
    @discardableResult
    static func alike<T: Decodable & Equatable>(
        _: T.Type, _ text: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) -> Outcome<T> {
        let tape = Outcome<T>.tape(text)
        #expect(
            tape == Outcome<T>.foundation(text), "\(String(decoding: text, as: UTF8.self))",
            sourceLocation: sourceLocation)
        return tape
    }

    // MARK: Which texts are JSON

    @Test(arguments: JSONCases.valid)
    func validTextsDecodeAlike(text: String) {
        let bytes = Array(text.utf8)
        #expect(RFC8259.violation(in: bytes) == nil)
        #expect(!Self.alike(JSONValue.self, bytes).isError)
    }

    /// Texts Foundation refuses too (decoding every value, so its lazy checks all run): `dataCorrupted` at the top.
    @Test(arguments: JSONCases.invalid)
    func invalidTextsAreDataCorruptedForBoth(text: String) {
        let bytes = Array(text.utf8)
        #expect(RFC8259.violation(in: bytes) != nil)
        #expect(Self.alike(JSONValue.self, bytes) == .invalidJSON)
    }

    /// Bytes that are not UTF-8, inside a string: overlong forms, UTF-8 surrogates, beyond U+10FFFF, stray bytes.
    @Test(arguments: JSONCases.invalidUTF8)
    func invalidUTF8InStringsIsDataCorruptedForBoth(sequence: [UInt8]) {
        let text = Array("[\"a".utf8) + sequence + Array("b\"]".utf8)
        #expect(RFC8259.violation(in: text) != nil)
        #expect(Self.alike(JSONValue.self, text) == .invalidJSON)
    }

    /// The tape reads strings eight bytes at a time: a byte that needs a look must stop it at every position in a word.
    @Test(arguments: JSONCases.stringBytes)
    func everyBytePositionInAStringIsChecked(inserted: [UInt8]) {
        for position in 0..<20 {
            var text = Array(#"["abcdefghijklmnopqrstuvwxyz"]"#.utf8)
            text.insert(contentsOf: inserted, at: 2 + position)
            #expect(Self.alike(JSONValue.self, text).isError == (RFC8259.violation(in: text) != nil), "at \(position)")
        }
    }

    @Test func nestingIsLimitedTo512LikeFoundation() {
        for (depth, valid) in [(512, true), (513, false)] {
            let arrays =
                Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
            #expect(Self.alike(JSONValue.self, arrays).isError == !valid)
            let objects =
                Array(String(repeating: "{\"a\":", count: depth).utf8) + [UInt8(ascii: "1")]
                + Array(repeating: UInt8(ascii: "}"), count: depth)
            #expect(Self.alike(JSONValue.self, objects).isError == !valid)
            #expect(((try? JSONTape(validating: arrays)) != nil) == valid)
        }
    }

    struct ReadsA: Decodable, Equatable {
        var a: Int?
    }

    /// Where Foundation's scanner is lenient (trailing commas; strings and numbers it checks only when decoding them,
    /// here in `b`, which nobody reads) the tape is not: the text is not JSON.
    @Test(arguments: JSONCases.lenient)
    func foundationsLeniencyIsInvalidJSONHere(text: String) {
        let bytes = Array(text.utf8)
        #expect(RFC8259.violation(in: bytes) != nil)
        #expect(Outcome<ReadsA>.foundation(bytes) == .value(ReadsA(a: 1)))
        #expect(Outcome<ReadsA>.tape(bytes) == .invalidJSON)
    }

    @Test func foundationsLeniencyCoversUnreadInvalidUTF8() {
        let text = Array(#"{"a":1,"b":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8)
        #expect(Outcome<ReadsA>.foundation(text) == .value(ReadsA(a: 1)))
        #expect(Outcome<ReadsA>.tape(text) == .invalidJSON)
    }

    struct ReadsAB: Decodable, Equatable {
        var a: Int?
        var b: String?
    }

    /// Foundation finds a bad string only when it decodes it, after `a`'s wrong type; the tape refuses the text first.
    @Test func anInvalidTextIsReportedBeforeAWrongType() {
        let text = Array(#"{"a":"x","b":"\x"}"#.utf8)
        #expect(Outcome<ReadsAB>.foundation(text) == .error("typeMismatch", path: ["a/-"], type: "Int"))
        #expect(Outcome<ReadsAB>.tape(text) == .invalidJSON)
    }

    /// RFC 8259 §8.1: JSON between systems is UTF-8. Foundation converts UTF-16 (detected by its zero bytes); the tape
    /// does not.
    @Test func utf16IsNotJSONHere() {
        let text = Array("{\"a\":1}".utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(Outcome<ReadsA>.foundation(text) == .value(ReadsA(a: 1)))
        #expect(Outcome<ReadsA>.tape(text) == .invalidJSON)
    }

    // MARK: Errors while decoding

    struct Leaf: Decodable, Equatable {
        var s: String
        var i: Int
        var b: Bool
    }

    struct Tree: Decodable, Equatable {
        var leaf: Leaf?
        var list: [Leaf]?
        var ints: [Int]?
        var nested: [[Int]]?
        var optionals: [Int?]?
        var flag: Bool?
        var name: String?
    }

    @Test(arguments: [
        #"{"leaf": {"s": "a", "i": 1, "b": true}}"#, #"{"leaf": {"s": 1, "i": 1, "b": true}}"#,
        #"{"leaf": {"s": null, "i": 1, "b": true}}"#, #"{"leaf": {"i": 1, "b": true}}"#,
        #"{"leaf": {"s": "a", "i": 1, "b": null}}"#, #"{"leaf": {"s": "a", "i": 1.5, "b": true}}"#,
        #"{"leaf": {"s": "a", "i": 1e400, "b": true}}"#, #"{"leaf": {"s": "a", "i": "1", "b": true}}"#,
        #"{"leaf": {"s": "a", "i": 2.0, "b": false}}"#, #"{"leaf": []}"#, #"{"leaf": "x"}"#, #"{"leaf": null}"#,
        #"{"list": [{"s": "a", "i": 1, "b": true}, {"s": "a", "i": "1", "b": true}]}"#, #"{"list": [null]}"#,
        #"{"ints": [1, null]}"#, #"{"ints": {}}"#, #"{"ints": [1, 2, 3]}"#, #"{"nested": [[1], [2, "x"]]}"#,
        #"{"optionals": [1, null, 3]}"#, #"{"flag": 1}"#, #"{"flag": "true"}"#, #"{"name": false}"#,
        #"{"name": "\ud83d\ude00 é"}"#, #"{"name": 5, "flag": 5}"#, "[]", "null", "\"x\"", "5", "{}",
    ])
    func decodingErrorsMatchFoundation(text: String) {
        Self.alike(Tree.self, Array(text.utf8))
    }

    @Test(arguments: [#"{"a":1,"a":2}"#, #"{"a":"x","a":1}"#, #"{"a":1,"a":"x"}"#, #"{"a":null,"a":1}"#])
    func aDuplicatedKeyMeansItsFirstValueAsInFoundation(text: String) {
        Self.alike(ReadsA.self, Array(text.utf8))
        Self.alike(JSONValue.self, Array(text.utf8))
    }

    /// `[String: T]` lists the keys and looks each one up: the first of duplicates, and no scan per key (20,000 keys).
    @Test func dictionariesDecodeAsInFoundation() {
        Self.alike([String: Int].self, Array(#"{"b":1,"a":2,"b":3,"\u0062":4}"#.utf8))
        let many = "{" + (0..<20_000).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}"
        #expect(
            Self.alike([String: Int].self, Array(many.utf8))
                == .value(.init(uniqueKeysWithValues: (0..<20_000).map { ("k\($0)", $0) })))
    }

    struct Kelvin: Decodable, Equatable {
        var K: Int?
    }

    /// Foundation keeps keys in a `[String: Value]`, so keys match as Swift strings do, by canonical equivalence:
    /// KELVIN SIGN is `K`. The tape compares bytes only where that is the same thing.
    @Test(arguments: [#"{"K":1}"#, "{\"\u{212A}\":1}", #"{"\u212a":1}"#, #"{"\u004b":1}"#, #"{"k":1}"#])
    func keysMatchAsSwiftStringsDo(text: String) {
        Self.alike(Kelvin.self, Array(text.utf8))
    }

    // MARK: Numbers

    @Test(arguments: JSONCases.numbers)
    func numbersConvertAsFoundationConvertsThem(number: String) {
        let text = Array("[\(number)]".utf8)
        Self.alike([Int].self, text)
        Self.alike([Int8].self, text)
        Self.alike([Int32].self, text)
        Self.alike([Int64].self, text)
        Self.alike([UInt8].self, text)
        Self.alike([UInt64].self, text)
        Self.alike([UInt].self, text)
        Self.alike([Double].self, text)
        Self.alike([Float].self, text)
        Self.alike([Decimal].self, text)
    }

    /// swift-foundation 6.3 traps (`preconditionFailure` in `JSONScanner.validateNumber`) when an integer above 2^53
    /// written with an exponent has more digits than `Decimal` holds: `{"id": 9007199254740993000…000e-200}` brings
    /// the process down. The tape answers that the number is not an `Int`.
    @Test func anIntegerThatCrashesFoundationIsAnError() {
        let number = "9007199254740993" + String(repeating: "0", count: 200) + "e-200"
        #expect(Outcome<ReadsA>.tape(Array("{\"a\":\(number)}".utf8)) == .invalidJSON)
    }

    // MARK: Containers

    /// Every operation of an unkeyed container, recorded, so both decoders' traces can be compared.
    struct UnkeyedTrace: Decodable, Equatable {
        var lines: [String] = []

        init(from decoder: any Decoder) throws {
            var c = try decoder.unkeyedContainer()
            func record(_ what: String, _ result: () throws -> Any?) {
                do {
                    lines.append("\(what) = \(String(describing: try result()))")
                } catch {
                    lines.append("\(what) threw \(DecodeOutcome<Int>.outcome { throw error })")
                }
            }
            record("count") { c.count }
            record("nil?") { try c.decodeNil() }
            record("int") { try c.decode(Int.self) }
            record("index") { c.currentIndex }
            record("nil?") { try c.decodeNil() }
            record("index") { c.currentIndex }
            record("string?") { try c.decodeIfPresent(String.self) }
            record("string?") { try c.decodeIfPresent(String.self) }
            record("bool") { try c.decode(Bool.self) }
            record("keyed") { try c.nestedContainer(keyedBy: JSONValue.AnyKey.self).allKeys.map(\.stringValue) }
            record("unkeyed") { try c.nestedUnkeyedContainer().count }
            record("super") { try c.superDecoder().codingPath.map(\.stringValue) }
            record("atEnd") { c.isAtEnd }
            record("int?") { try c.decodeIfPresent(Int.self) }
            record("index") { c.currentIndex }
            record("int") { try c.decode(Int.self) }
            record("nil?") { try c.decodeNil() }
            record("value") { try c.decode(JSONValue.self) }
            record("index") { c.currentIndex }
        }
    }

    @Test(arguments: [
        #"[null, 1, null, "s", null, true, {"k": 1}, [1, 2], 3]"#, #"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]"#,
        #"[null, "x"]"#, "[]", #"[null, 1, 2, "s", 4]"#, #"[null, 1, null, 7, null, true, 5, 6, 7, 8, 9]"#,
    ])
    func unkeyedContainersBehaveAsFoundations(text: String) {
        Self.alike(UnkeyedTrace.self, Array(text.utf8))
    }

    /// Every operation of a keyed container, recorded.
    struct KeyedTrace: Decodable, Equatable {
        var lines: [String] = []

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: JSONValue.AnyKey.self)
            func key(_ name: String) -> JSONValue.AnyKey { JSONValue.AnyKey(stringValue: name) }
            func record(_ what: String, _ result: () throws -> Any?) {
                do {
                    lines.append("\(what) = \(String(describing: try result()))")
                } catch {
                    lines.append("\(what) threw \(DecodeOutcome<Int>.outcome { throw error })")
                }
            }
            record("keys") { c.allKeys.map(\.stringValue).sorted() }
            record("path") { c.codingPath.count }
            for name in ["n", "absent", "s", "o", "a", "i"] {
                record("contains \(name)") { c.contains(key(name)) }
                record("nil \(name)") { try c.decodeNil(forKey: key(name)) }
                record("string \(name)") { try c.decode(String.self, forKey: key(name)) }
                record("string? \(name)") { try c.decodeIfPresent(String.self, forKey: key(name)) }
                record("int \(name)") { try c.decode(Int.self, forKey: key(name)) }
                record("int? \(name)") { try c.decodeIfPresent(Int.self, forKey: key(name)) }
                record("double? \(name)") { try c.decodeIfPresent(Double.self, forKey: key(name)) }
                record("bool? \(name)") { try c.decodeIfPresent(Bool.self, forKey: key(name)) }
                record("value? \(name)") { try c.decodeIfPresent(JSONValue.self, forKey: key(name)) }
                record("keyed \(name)") {
                    let nested = try c.nestedContainer(keyedBy: JSONValue.AnyKey.self, forKey: key(name))
                    return [nested.codingPath.map(\.stringValue), nested.allKeys.map(\.stringValue).sorted()]
                }
                record("unkeyed \(name)") {
                    let nested = try c.nestedUnkeyedContainer(forKey: key(name))
                    return [nested.codingPath.map(\.stringValue), [String(describing: nested.count)]]
                }
                record("super \(name)") {
                    let superDecoder = try c.superDecoder(forKey: key(name))
                    return [
                        superDecoder.codingPath.map(\.stringValue),
                        [String(describing: try? JSONValue(from: superDecoder))],
                    ]
                }
            }
            record("super") { try JSONValue(from: try c.superDecoder()) }
        }
    }

    @Test(arguments: [
        #"{"n": null, "s": "x", "o": {"k": [1]}, "a": [1, 2], "i": 7}"#, #"{"super": {"z": 1}, "i": 1.5}"#,
        #"{"s": 1, "o": [], "a": {}, "i": "7", "n": false}"#, #"{}"#,
    ])
    func keyedContainersBehaveAsFoundations(text: String) {
        Self.alike(KeyedTrace.self, Array(text.utf8))
    }

    struct FoundationTypes: Decodable, Equatable {
        var url: URL?
        var data: Data?
        var decimal: Decimal?
        var date: Date?
    }

    @Test(arguments: [
        #"{"url": "https://github.com/o/r.git", "data": "aGk=", "decimal": 1.25, "date": 12.5}"#, #"{"url": ""}"#,
        #"{"url": 1}"#, #"{"data": "!"}"#, #"{"data": 1}"#, #"{"decimal": "1"}"#, #"{"decimal": 1e999}"#,
        #"{"date": "2026-01-01"}"#, #"{"url": null, "data": null, "decimal": null, "date": null}"#,
    ])
    func foundationsOwnTypesDecodeAsInFoundation(text: String) {
        Self.alike(FoundationTypes.self, Array(text.utf8))
    }

    @Test func decodingErrorsOfNestedValuesCarryTheirCodingPath() {
        struct Deep: Decodable, Equatable { var a: [[String: [Leaf]]] }
        let text = #"{"a": [{"x": []}, {"y": [{"s": "a", "i": 1, "b": true}, {"s": "a", "i": 1}]}]}"#
        #expect(
            Self.alike(Deep.self, Array(text.utf8))
                == .error("keyNotFound", path: ["a/-", "Index 1/1", "y/-", "Index 1/1"], type: "b"))
    }

    // MARK: Reading the tape without Decodable (JSONTapeValue)

    /// The first element of the array `text`.
    static func firstElement(_ text: [UInt8]) throws -> JSONTapeValue {
        var elements = JSONTapeValue(root: try JSONTape(validating: text)).elements
        let first = elements.next()
        return try #require(first)
    }

    /// `JSONTapeValue`'s integers are the decoder's: the same value, or none where the decoder's number error makes
    /// the text "not valid JSON".
    @Test(arguments: JSONCases.numbers)
    func readIntegersAreTheDecoders(number: String) throws {
        let text = Array("[\(number)]".utf8)
        let element = try Self.firstElement(text)
        func same<T: FixedWidthInteger & Decodable>(_: T.Type) {
            let read = element.integer(as: T.self)
            #expect(Outcome<[T]>.tape(text) == (read.map { .value([$0]) } ?? .invalidJSON), "\(number) as \(T.self)")
        }
        same(Int.self)
        same(Int8.self)
        same(Int32.self)
        same(Int64.self)
        same(UInt8.self)
        same(UInt64.self)
        same(UInt.self)
    }

    /// Strings are the decoder's: escapes, surrogate pairs, characters beyond ASCII, NUL.
    @Test(
        arguments: JSONCases.valid.filter { $0.hasPrefix("\"") } + [
            #""""#, #""plain""#, #""\u212a \u004B \/ \u0000x""#, "\"e\u{301} \u{212A}\"",
        ])
    func readStringsAreTheDecoders(text: String) throws {
        let bytes = Array(text.utf8)
        let value = JSONTapeValue(root: try JSONTape(validating: bytes))
        #expect(Outcome<String>.tape(bytes) == .value(try #require(value.string)))
    }

    /// A scalar as the generic value reads it (nil for containers).
    static func scalar(_ value: JSONTapeValue) -> JSONValue? {
        switch value.kind {
        case .null: .null
        case .true, .false: value.bool.map { .bool($0) }
        case .integer, .number: value.integer(as: Int.self).map { .int($0) }
        case .asciiString, .unicodeString, .escapedString: value.string.map { .string($0) }
        case .array, .object: nil
        }
    }

    /// Members are found as the decoder finds them: the first of duplicated keys, keys compared as Swift strings
    /// (escaped, KELVIN SIGN for `K`).
    @Test(arguments: [
        #"{"a":1,"a":2}"#, #"{"a":"x","a":1}"#, #"{"a":null,"a":1}"#, #"{"\u0061":3,"a":4}"#, #"{"b":1,"K":true}"#,
        "{\"\u{212A}\":1,\"K\":2}", #"{"\u212a":"k"}"#, #"{"k":1}"#, #"{}"#, #"{"b":{"a":1},"a":[]}"#,
    ])
    func readMembersAreTheDecoders(text: String) throws {
        let bytes = Array(text.utf8)
        let object = JSONTapeValue(root: try JSONTape(validating: bytes))
        guard case .value(let decoded) = Outcome<[String: JSONValue]>.tape(bytes) else {
            Issue.record("\(text) did not decode")
            return
        }
        for key in ["a", "b", "K", "k"] {
            let read = object.member(key)
            #expect((read == nil) == (decoded[key] == nil), "\(key) in \(text)")
            if let read, let scalar = Self.scalar(read) { #expect(decoded[key] == scalar, "\(key) in \(text)") }
        }
    }

    /// A value asked for what it is not answers nil (or no elements); elements come in order, nested ones too.
    @Test func aValueAnswersNilForWhatItIsNot() throws {
        let text = #"{"o":{"k":1},"a":[1,"s",null,[2,[]],{"k":2},true],"s":"x","n":5,"t":true,"z":null}"#
        let root = JSONTapeValue(root: try JSONTape(validating: Array(text.utf8)))
        #expect(root.string == nil && root.bool == nil && root.integer(as: Int.self) == nil)
        #expect(Array(root.elements).isEmpty)
        let array = try #require(root.member("a"))
        #expect(array.member("k") == nil)
        #expect(array.elements.map(\.kind) == [.integer, .asciiString, .null, .array, .object, .true])
        #expect(array.elements.map { Self.scalar($0) } == [.int(1), .string("s"), .null, nil, nil, .bool(true)])
        #expect(Array(array.elements)[3].elements.map(\.kind) == [.integer, .array])
        #expect(Array(array.elements)[4].member("k")?.integer(as: Int.self) == 2)
        #expect(root.member("o")?.member("k")?.integer(as: Int.self) == 1)
        #expect(root.member("s")?.integer(as: Int.self) == nil && root.member("s")?.bool == nil)
        #expect(root.member("n")?.string == nil && root.member("n")?.member("k") == nil)
        #expect(root.member("t")?.bool == true && root.member("z")?.kind == .null && root.member("y") == nil)
        #expect(Array(try #require(root.member("o")).elements).isEmpty)
    }

    // MARK: GitHub's payloads

    static let payloads = TestPaths.payloadFiles

    /// Every payload decoded whole (every key, string and number) by both decoders.
    @Test(arguments: JSONTapeDecoderTests.payloads)
    func githubPayloadsDecodeWholeAlike(file: String) throws {
        let text = try TestPaths.payload(file)
        #expect(RFC8259.violation(in: text) == nil)
        guard case .value(let value) = Self.alike(JSONValue.self, text), case .object(let members) = value else {
            Issue.record("\(file) did not decode to an object")
            return
        }
        #expect(members.count > 3)
    }

    /// Seeded mutations of GitHub's payloads, decoded whole by both decoders: where the mutant is JSON by RFC 8259
    /// (checked independently) the outcomes must be equal; where it is not, the tape must say so. Foundation then may
    /// accept it only for its known leniency: a trailing comma. Replay one case with its printed seed.
    @Test func mutatedPayloadsDecodeAlikeOrAreRefused() throws {
        var generator = SeededGenerator(seed: 0x7A9E_2026)
        var counts = (valid: 0, refusedByBoth: 0, onlyTape: 0)
        let mutators = try Self.payloads.map {
            JSONMutator(try TestPaths.payload($0), targets: ["id", "name", "login", "sha", "after", "ref", "number"])
        }
        try #require(!mutators.isEmpty)
        for iteration in 0..<1000 {
            let mutator = mutators[iteration % mutators.count]
            let text = mutator.mutated(using: &generator)
            let tape = Outcome<JSONValue>.tape(text)
            let foundation = Outcome<JSONValue>.foundation(text)
            if let violation = RFC8259.violation(in: text) {
                #expect(tape == .invalidJSON, "iteration \(iteration): \(violation)")
                if foundation.isError {
                    counts.refusedByBoth += 1
                } else {
                    counts.onlyTape += 1
                    #expect(
                        violation.hasPrefix("trailing comma"), "iteration \(iteration): Foundation accepts \(violation)"
                    )
                }
            } else {
                counts.valid += 1
                #expect(tape == foundation, "iteration \(iteration)")
            }
        }
        // Enough of each kind for the comparison to mean something.
        #expect(counts.valid > 100 && counts.refusedByBoth > 400, "\(counts)")
    }
}
