import Synchronization

/// One node: its name, where it starts in the source, where its entries start, and where its subtree ends. Nodes are
/// stored in document (pre-)order, so a node's children follow it and its entries end where the next node's begin.
struct KDLNodeRecord: Sendable {
    /// Set in `offset` when the node has a type annotation (documents are smaller than 2 GiB).
    static let typedFlag: UInt32 = 1 << 31

    var name: KDLStringRef
    var offset: UInt32
    var firstArgument: UInt32
    var firstProperty: UInt32
    /// Index one past the node's last descendant.
    var end: UInt32
}

/// An argument, or the value of a property. Strings point at their text; numbers at their source token.
struct KDLValueRecord: Sendable {
    var ref: KDLStringRef
    var kind: KDLValueKind
    var hasType: Bool
}

/// A property: its key and value, duplicates included (the rightmost wins when read).
struct KDLPropertyRecord: Sendable {
    var key: KDLStringRef
    var value: KDLValueRecord
}

/// A type annotation of the node, argument or property with index `owner`. Tables of these are sorted by owner.
struct KDLAnnotationRecord: Sendable {
    var owner: UInt32
    var type: KDLStringRef
}

/// The tables of a parsed document. Immutable once built, so it can be shared between threads; the one thing added
/// later, the line index, is built under a lock the first time a location is asked for.
final class KDLStorage: Sendable {
    let version: KDLVersion
    let source: [UInt8]
    let decoded: [UInt8]
    let nodes: [KDLNodeRecord]
    let arguments: [KDLValueRecord]
    let properties: [KDLPropertyRecord]
    let nodeTypes: [KDLAnnotationRecord]
    let argumentTypes: [KDLAnnotationRecord]
    let propertyTypes: [KDLAnnotationRecord]
    /// Where lines start, built on the first location asked for (most parses never need one); and how many times it
    /// was built, which tests hold at one.
    private let lines = Mutex<(index: KDLLineIndex?, builds: Int)>((nil, 0))

    init(
        version: KDLVersion, source: [UInt8], decoded: [UInt8], nodes: [KDLNodeRecord], arguments: [KDLValueRecord],
        properties: [KDLPropertyRecord], nodeTypes: [KDLAnnotationRecord], argumentTypes: [KDLAnnotationRecord],
        propertyTypes: [KDLAnnotationRecord]
    ) {
        self.version = version
        self.source = source
        self.decoded = decoded
        self.nodes = nodes
        self.arguments = arguments
        self.properties = properties
        self.nodeTypes = nodeTypes
        self.argumentTypes = argumentTypes
        self.propertyTypes = propertyTypes
    }

    /// The line index, built once.
    var lineIndex: KDLLineIndex {
        lines.withLock { lines in
            if let index = lines.index { return index }
            let index = KDLLineIndex(source)
            lines = (index, lines.builds + 1)
            return index
        }
    }

    /// How many times the line index was built (0 or 1).
    var lineIndexBuilds: Int { lines.withLock { $0.builds } }

    /// The location of byte `offset` of the source, through the line index.
    func location(at offset: Int) -> KDLSourceLocation {
        let offset = min(max(offset, 0), source.count)
        let (line, start) = lineIndex.line(at: offset)
        return KDLSourceLocation(offset: offset, line: line, lineStart: start, in: source)
    }

    var memoryFootprint: Int {
        source.capacity + decoded.capacity + nodes.capacity * MemoryLayout<KDLNodeRecord>.stride
            + arguments.capacity * MemoryLayout<KDLValueRecord>.stride
            + properties.capacity * MemoryLayout<KDLPropertyRecord>.stride
            + (nodeTypes.capacity + argumentTypes.capacity + propertyTypes.capacity)
            * MemoryLayout<KDLAnnotationRecord>.stride
    }

    /// The bytes of a string.
    @inline(__always) func bytes(_ ref: KDLStringRef) -> ArraySlice<UInt8> {
        let start = ref.offset
        return ref.isDecoded ? decoded[start..<start + Int(ref.count)] : source[start..<start + Int(ref.count)]
    }

    func string(_ ref: KDLStringRef) -> String {
        String(decoding: bytes(ref), as: UTF8.self)
    }

    /// The nodes directly inside the index range `start..<end` (a subtree's descendants, or the whole document).
    func children(ofRange start: Int, _ end: Int) -> [KDLNode] {
        var result: [KDLNode] = []
        var i = start
        while i < end {
            result.append(KDLNode(storage: self, index: i))
            i = Int(nodes[i].end)
        }
        return result
    }

    func argumentRange(of node: Int) -> Range<Int> {
        let end = node + 1 < nodes.count ? Int(nodes[node + 1].firstArgument) : arguments.count
        return Int(nodes[node].firstArgument)..<end
    }

    func propertyRange(of node: Int) -> Range<Int> {
        let end = node + 1 < nodes.count ? Int(nodes[node + 1].firstProperty) : properties.count
        return Int(nodes[node].firstProperty)..<end
    }

    /// The annotation of `owner` in a table sorted by owner.
    func annotation(in table: [KDLAnnotationRecord], owner: Int) -> KDLStringRef? {
        var low = 0
        var high = table.count
        let key = UInt32(truncatingIfNeeded: owner)
        while low < high {
            let mid = (low + high) / 2
            if table[mid].owner < key { low = mid + 1 } else { high = mid }
        }
        return low < table.count && table[low].owner == key ? table[low].type : nil
    }

    func value(_ record: KDLValueRecord) -> KDLValue {
        switch record.kind {
        case .string: return .string(string(record.ref))
        case .trueValue: return .bool(true)
        case .falseValue: return .bool(false)
        case .null: return .null
        case .infinity: return .number(KDLNumber(kind: .infinity, text: "#inf"))
        case .negativeInfinity: return .number(KDLNumber(kind: .negativeInfinity, text: "#-inf"))
        case .nan: return .number(KDLNumber(kind: .nan, text: "#nan"))
        case .integer, .decimal, .hex, .octal, .binary:
            return .number(KDLNumber(token: bytes(record.ref), kind: record.kind))
        }
    }

    func entry(argument index: Int) -> KDLEntry {
        let record = arguments[index]
        let type = record.hasType ? annotation(in: argumentTypes, owner: index).map(string) : nil
        return KDLEntry(name: nil, typeAnnotation: type, value: value(record))
    }

    func entry(property index: Int) -> KDLEntry {
        let record = properties[index]
        let type = record.value.hasType ? annotation(in: propertyTypes, owner: index).map(string) : nil
        return KDLEntry(name: string(record.key), typeAnnotation: type, value: value(record.value))
    }

    /// Indices of a node's effective properties: for each key only the rightmost, in source order.
    func effectiveProperties(of node: Int) -> [Int] {
        let range = propertyRange(of: node)
        if range.count <= 1 { return Array(range) }
        var result: [Int] = []
        result.reserveCapacity(range.count)
        if range.count <= 16 {
            for i in range {
                let key = bytes(properties[i].key)
                if !((i + 1)..<range.upperBound).contains(where: { bytes(properties[$0].key) == key }) {
                    result.append(i)
                }
            }
        } else {
            // Many properties: a hash of the last index per key keeps this linear.
            var last: [ArraySlice<UInt8>: Int] = [:]
            for i in range { last[bytes(properties[i].key)] = i }
            for i in range where last[bytes(properties[i].key)] == i { result.append(i) }
        }
        return result
    }
}
