/// One value of a validated `JSONTape`, for code that reads a shape it knows straight from the tape instead of
/// through `Decodable`: `JSONTapeDecoder`'s keyed containers, existential decoders and coding paths cost more than
/// the lookups themselves (EventMapper's payloads, `PayloadDecoder.direct`).
///
/// Member lookup, strings and numbers are the tape's own (`JSONTape+Values.swift`), so the values are the ones
/// `JSONTapeDecoder` gives: the first of duplicated keys, keys matched as Swift strings, escapes resolved, integers
/// converted as Foundation converts them. A value can be made only for an entry of its own tape (the top level, a
/// member, an element), so no index is ever out of range; asking a value for what it is not answers nil.
public struct JSONTapeValue: Sendable {
    /// The tape the value is on.
    public let tape: JSONTape
    /// Its entry on the tape.
    public let index: Int

    /// The top-level value of `tape`.
    public init(root tape: JSONTape) {
        self.tape = tape
        index = 0
    }

    private init(_ tape: JSONTape, _ index: Int) {
        self.tape = tape
        self.index = index
    }

    /// What the value is.
    public var kind: JSONTape.Kind { tape.entries[index].kind }

    /// The value of the first member whose key is `name`, as `JSONTapeDecoder` finds it; nil when there is none or
    /// this is no object.
    public func member(_ name: String) -> JSONTapeValue? {
        guard kind == .object, let found = tape.member(name, inObject: index) else { return nil }
        return JSONTapeValue(tape, found)
    }

    /// The string, escapes resolved; nil when this is no string.
    public var string: String? { kind.isString ? tape.string(at: index) : nil }

    /// The boolean; nil when this is neither `true` nor `false`.
    public var bool: Bool? {
        switch kind {
        case .true: true
        case .false: false
        default: nil
        }
    }

    /// The number as a `T`, as Foundation's `JSONDecoder` converts it (`1.0` and `1e2` are integers, `1.5` and
    /// `1e400` are not); nil when it is no `T`, or no number.
    public func integer<T: FixedWidthInteger>(as _: T.Type = T.self) -> T? {
        kind.isNumber ? tape.integer(at: index, as: T.self) : nil
    }

    /// The elements in order when this is an array; none otherwise.
    public var elements: Elements {
        kind == .array
            ? Elements(tape: tape, cursor: index + 1, end: Int(tape.entries[index].next))
            : Elements(tape: tape, cursor: 0, end: 0)
    }

    /// An array's elements, each found by its predecessor's `next` link.
    public struct Elements: Sequence, IteratorProtocol, Sendable {
        let tape: JSONTape
        var cursor: Int
        let end: Int

        public mutating func next() -> JSONTapeValue? {
            guard cursor < end else { return nil }
            let element = JSONTapeValue(tape, cursor)
            cursor = Int(tape.entries[cursor].next)
            return element
        }
    }
}
