/// A KDL value: a string, a number, a boolean or null.
public enum KDLValue: Sendable, Hashable, CustomStringConvertible {
    /// A string, whichever way it was written (identifier, quoted, raw, multi-line).
    case string(String)
    /// A number, kept in canonical decimal text so nothing is lost to rounding.
    case number(KDLNumber)
    /// `#true` or `#false`.
    case bool(Bool)
    /// `#null`.
    case null

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The boolean, if this is one.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The number, if this is one.
    public var numberValue: KDLNumber? {
        if case .number(let n) = self { return n }
        return nil
    }

    /// The value as KDL 2.0 text, as the canonical printer writes it.
    public var description: String {
        switch self {
        case .string(let s): return KDLCanonicalPrinter.string(s)
        case .number(let n): return n.text
        case .bool(let b): return b ? "#true" : "#false"
        case .null: return "#null"
        }
    }
}

/// An argument (`name` nil) or a property of a node, with its optional type annotation.
public struct KDLEntry: Sendable, Hashable {
    /// The property key; nil for an argument.
    public var name: String?
    /// The value's type annotation, as in `(u8)200`.
    public var typeAnnotation: String?
    /// The value.
    public var value: KDLValue

    /// Creates an entry.
    public init(name: String? = nil, typeAnnotation: String? = nil, value: KDLValue) {
        self.name = name
        self.typeAnnotation = typeAnnotation
        self.value = value
    }
}
