/// One node of a `KDLDocument`: a cheap view (the document's storage and an index) that reads names and values on
/// demand.
public struct KDLNode: Sendable {
    let storage: KDLStorage
    let index: Int

    private var record: KDLNodeRecord { storage.nodes[index] }

    /// The node name.
    public var name: String { storage.string(record.name) }

    /// Whether the node is named `name`, compared without building a `String`.
    public func isNamed(_ name: String) -> Bool { storage.bytes(record.name).elementsEqual(name.utf8) }

    /// The node's type annotation, as in `(published)date`.
    public var typeAnnotation: String? {
        guard record.offset & KDLNodeRecord.typedFlag != 0 else { return nil }
        return storage.annotation(in: storage.nodeTypes, owner: index).map(storage.string)
    }

    /// The arguments, in order.
    public var arguments: [KDLEntry] { storage.argumentRange(of: index).map(storage.entry(argument:)) }

    /// The properties, each key once with its rightmost value, in source order.
    public var properties: [KDLEntry] { storage.effectiveProperties(of: index).map(storage.entry(property:)) }

    /// The property `key` (its rightmost occurrence), or nil.
    public func property(_ key: String) -> KDLEntry? {
        let range = storage.propertyRange(of: index)
        for i in range.reversed() where storage.bytes(storage.properties[i].key).elementsEqual(key.utf8) {
            return storage.entry(property: i)
        }
        return nil
    }

    /// The child nodes, in order.
    public var children: [KDLNode] { storage.children(ofRange: index + 1, Int(record.end)) }

    /// The child nodes named `name`.
    public func children(named name: String) -> [KDLNode] { children.filter { $0.isNamed(name) } }

    /// Where the node starts (its type annotation or name) in the source. The first location asked of a document
    /// indexes its lines; each one after that costs a binary search and the node's line up to the node.
    public var location: KDLSourceLocation { storage.location(at: offset) }

    /// The 1-based line the node starts on: `location.line` without building the line's text.
    public var line: Int { storage.lineIndex.line(at: offset).line }

    private var offset: Int { Int(record.offset & ~KDLNodeRecord.typedFlag) }
}
