/// Writes documents in the canonical form of the KDL test suite (test_cases/README.md): no comments, 4-space
/// indentation, properties deduplicated and sorted, strings as identifiers when they can be, numbers in decimal.
public enum KDLCanonicalPrinter {
    /// The canonical text of `document`; an empty document prints as a single newline.
    public static func print(_ document: KDLDocument) -> String {
        let storage = document.storage
        var out: [UInt8] = []
        out.reserveCapacity(storage.source.count + 64)
        var ends: [Int] = []  // subtree ends of the open parents: explicit, so depth cannot overflow the stack
        var i = 0
        let count = storage.nodes.count
        while i < count {
            while let end = ends.last, end == i {
                ends.removeLast()
                indent(&out, ends.count)
                out.append(contentsOf: "}\n".utf8)
            }
            indent(&out, ends.count)
            writeNode(i, storage, &out)
            let end = Int(storage.nodes[i].end)
            if end > i + 1 {
                out.append(contentsOf: " {\n".utf8)
                ends.append(end)
            } else {
                out.append(0x0A)
            }
            i += 1
        }
        while !ends.isEmpty {
            ends.removeLast()
            indent(&out, ends.count)
            out.append(contentsOf: "}\n".utf8)
        }
        if out.isEmpty { out.append(0x0A) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `string` as an identifier if it may be one, else quoted with escapes.
    public static func string(_ string: String) -> String {
        var out: [UInt8] = []
        writeString(Array(string.utf8)[...], &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func indent(_ out: inout [UInt8], _ depth: Int) {
        out.append(contentsOf: repeatElement(0x20, count: depth * 4))
    }

    private static func writeNode(_ index: Int, _ storage: KDLStorage, _ out: inout [UInt8]) {
        let node = storage.nodes[index]
        if node.offset & KDLNodeRecord.typedFlag != 0,
            let type = storage.annotation(in: storage.nodeTypes, owner: index)
        {
            writeType(type, storage, &out)
        }
        writeString(storage.bytes(node.name), &out)
        for a in storage.argumentRange(of: index) {
            out.append(0x20)
            let record = storage.arguments[a]
            if record.hasType, let type = storage.annotation(in: storage.argumentTypes, owner: a) {
                writeType(type, storage, &out)
            }
            writeValue(record, storage, &out)
        }
        let props = storage.effectiveProperties(of: index).sorted {
            storage.bytes(storage.properties[$0].key).lexicographicallyPrecedes(
                storage.bytes(storage.properties[$1].key))
        }
        for p in props {
            let record = storage.properties[p]
            out.append(0x20)
            writeString(storage.bytes(record.key), &out)
            out.append(UInt8(ascii: "="))
            if record.value.hasType, let type = storage.annotation(in: storage.propertyTypes, owner: p) {
                writeType(type, storage, &out)
            }
            writeValue(record.value, storage, &out)
        }
    }

    private static func writeType(_ type: KDLStringRef, _ storage: KDLStorage, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "("))
        writeString(storage.bytes(type), &out)
        out.append(UInt8(ascii: ")"))
    }

    private static func writeValue(_ record: KDLValueRecord, _ storage: KDLStorage, _ out: inout [UInt8]) {
        switch record.kind {
        case .string: writeString(storage.bytes(record.ref), &out)
        case .trueValue: out.append(contentsOf: "#true".utf8)
        case .falseValue: out.append(contentsOf: "#false".utf8)
        case .null: out.append(contentsOf: "#null".utf8)
        case .infinity: out.append(contentsOf: "#inf".utf8)
        case .negativeInfinity: out.append(contentsOf: "#-inf".utf8)
        case .nan: out.append(contentsOf: "#nan".utf8)
        case .integer, .decimal, .hex, .octal, .binary:
            out.append(contentsOf: KDLNumber(token: storage.bytes(record.ref), kind: record.kind).text.utf8)
        }
    }

    /// Writes a string value (valid UTF-8) as a bare identifier when the 2.0 grammar allows, else quoted.
    static func writeString(_ bytes: ArraySlice<UInt8>, _ out: inout [UInt8]) {
        if isIdentifier(bytes) {
            out.append(contentsOf: bytes)
            return
        }
        out.append(0x22)
        var runStart = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            var escape: String?
            var length = 1
            if c < 0x80 {
                switch c {
                case 0x22: escape = "\\\""
                case 0x5C: escape = "\\\\"
                case 0x0A: escape = "\\n"
                case 0x0D: escape = "\\r"
                case 0x09: escape = "\\t"
                case 0x08: escape = "\\b"
                case 0x0C: escape = "\\f"
                case 0x00..<0x20, 0x7F: escape = "\\u{\(String(c, radix: 16, uppercase: true))}"
                default: break
                }
            } else {
                let (v, n) = KDLCharacters.scalar(bytes, at: i)
                length = n
                if KDLCharacters.isNewline(v) || KDLCharacters.isDisallowed(v) {
                    escape = "\\u{\(String(v, radix: 16, uppercase: true))}"
                }
            }
            if let escape {
                out.append(contentsOf: bytes[runStart..<i])
                out.append(contentsOf: escape.utf8)
                runStart = i + length
            }
            i += length
        }
        out.append(contentsOf: bytes[runStart..<bytes.endIndex])
        out.append(0x22)
    }

    /// Whether `bytes` may be written as a KDL 2.0 identifier string.
    static func isIdentifier(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let first = bytes.first else { return false }
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c < 0x80 {
                if c <= 0x20 || c == 0x7F { return false }
                switch c {
                case UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"),
                    UInt8(ascii: "}"), UInt8(ascii: ";"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\""),
                    UInt8(ascii: "#"), UInt8(ascii: "="):
                    return false
                default: i += 1
                }
            } else {
                let (v, n) = KDLCharacters.scalar(bytes, at: i)
                if KDLCharacters.isUnicodeSpace(v) || KDLCharacters.isNewline(v) || KDLCharacters.isDisallowed(v) {
                    return false
                }
                i += n
            }
        }
        func at(_ k: Int) -> UInt8 { bytes.startIndex + k < bytes.endIndex ? bytes[bytes.startIndex + k] : 0 }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        if isDigit(first) { return false }
        if first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            if isDigit(at(1)) || (at(1) == UInt8(ascii: ".") && isDigit(at(2))) { return false }
        }
        if first == UInt8(ascii: ".") && isDigit(at(1)) { return false }
        for keyword in ["true", "false", "null", "inf", "-inf", "nan"] where bytes.elementsEqual(keyword.utf8) {
            return false
        }
        return true
    }
}

extension KDLDocument {
    /// The document in canonical KDL 2.0 text (see `KDLCanonicalPrinter`).
    public func canonicalText() -> String { KDLCanonicalPrinter.print(self) }
}
