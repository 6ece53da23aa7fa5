/// A parsed KDL document: its top-level nodes, read from UTF-8 bytes as KDL 2.0, or as KDL 1.0 when the bytes are
/// not valid 2.0 but valid 1.0.
///
/// The document is stored compactly (flat tables that point into the source bytes, which it keeps), so a parsed
/// document costs a small multiple of its source size; `KDLNode` values are cheap views into it.
public struct KDLDocument: Sendable {
    let storage: KDLStorage

    /// The grammar the document was read with.
    public var version: KDLVersion { storage.version }

    /// The top-level nodes, in document order.
    public var nodes: [KDLNode] { storage.children(ofRange: 0, storage.nodes.count) }

    /// The number of nodes at every level.
    public var totalNodeCount: Int { storage.nodes.count }

    /// Bytes held by the document, the source bytes it keeps included.
    public var memoryFootprint: Int { storage.memoryFootprint }

    /// Line 1, column 1 of the source: where an error about the whole document points.
    public var startLocation: KDLSourceLocation {
        KDLSourceLocation(offset: 0, line: 1, lineStart: 0, in: storage.source)
    }

    /// Parses UTF-8 `bytes`. With `version` nil: as KDL 2.0, falling back to KDL 1.0 if that fails (a leading
    /// `/- kdl-version N` marker picks one grammar instead); when both fail, the 2.0 error is thrown.
    public static func parse(_ bytes: [UInt8], version: KDLVersion? = nil) throws(KDLError) -> KDLDocument {
        if let failure = KDLInputValidator.validate(bytes) { throw KDLError(failure, in: bytes) }
        let chosen = version ?? KDLParser.versionMarker(in: bytes)
        switch KDLParser.parse(bytes, version: chosen ?? .v2) {
        case .success(let storage):
            return KDLDocument(storage: storage)
        case .failure(let failure):
            if chosen == nil, case .success(let storage) = KDLParser.parse(bytes, version: .v1) {
                return KDLDocument(storage: storage)
            }
            throw KDLError(failure, in: bytes)
        }
    }

    /// Parses `text`; see `parse(_:version:)` for bytes.
    public static func parse(_ text: String, version: KDLVersion? = nil) throws(KDLError) -> KDLDocument {
        try parse(Array(text.utf8), version: version)
    }
}
