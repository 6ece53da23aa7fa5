/// Builds a `KDLStorage` from source bytes. The nesting of children blocks is kept on an explicit stack, so no input
/// can exhaust the call stack; depth is still capped so that consumers that recurse over the tree are safe too.
struct KDLParser {
    /// Children blocks nested deeper than this are a syntax error.
    static let maxDepth = 256

    private var lexer: KDLLexer
    private var nodes: [KDLNodeRecord] = []
    private var arguments: [KDLValueRecord] = []
    private var properties: [KDLPropertyRecord] = []
    private var nodeTypes: [KDLAnnotationRecord] = []
    private var argumentTypes: [KDLAnnotationRecord] = []
    private var propertyTypes: [KDLAnnotationRecord] = []
    private var isV1: Bool { lexer.isV1 }

    /// Array lengths to roll back to when a slashdashed node, entry or block is done.
    private struct Mark {
        var nodes = 0, arguments = 0, properties = 0, nodeTypes = 0, argumentTypes = 0, propertyTypes = 0, decoded = 0
    }

    /// A node whose entries or children are being read.
    private struct OpenNode {
        var index: Int
        var slashdashed: Bool
        var mark: Mark
        var sawChildren = false
        var sawRealChildren = false
    }

    /// An open `{`: the node it belongs to, and whether it was slashdashed.
    private struct Block {
        var node: OpenNode
        var discarded: Bool
        var mark: Mark
        var open: Int
    }

    /// Parses `bytes` (already validated by `KDLInputValidator`) with one grammar.
    static func parse(_ bytes: [UInt8], version: KDLVersion) -> Result<KDLStorage, KDLSyntaxError> {
        KDLLexer.withLexer(over: bytes, version: version) { lexer -> Result<KDLStorage, KDLSyntaxError> in
            var parser = KDLParser(lexer: lexer)
            // A rough guess from typical documents (a node per ~40 bytes) saves most regrowth copies.
            parser.nodes.reserveCapacity(bytes.count / 48)
            parser.arguments.reserveCapacity(bytes.count / 40)
            do throws(KDLSyntaxError) {
                try parser.parseDocument()
            } catch {
                return .failure(error)
            }
            return .success(
                KDLStorage(
                    version: version,
                    source: bytes,
                    decoded: compacted(parser.lexer.decoded),
                    nodes: compacted(parser.nodes),
                    arguments: compacted(parser.arguments),
                    properties: compacted(parser.properties),
                    nodeTypes: compacted(parser.nodeTypes),
                    argumentTypes: compacted(parser.argumentTypes),
                    propertyTypes: compacted(parser.propertyTypes)
                )
            )
        }
    }

    /// The version named by a leading `/- kdl-version N` marker, if there is one.
    static func versionMarker(in bytes: [UInt8]) -> KDLVersion? {
        KDLLexer.withLexer(over: bytes, version: .v2) { lexer -> KDLVersion? in
            if lexer.at(0) == 0xEF && lexer.at(1) == 0xBB && lexer.at(2) == 0xBF { lexer.pos = 3 }
            guard lexer.current == 0x2F && lexer.at(lexer.pos + 1) == 0x2D else { return nil }
            lexer.pos += 2
            while case let n = lexer.spaceLength(at: lexer.pos), n > 0 { lexer.pos += n }
            let word = Array("kdl-version".utf8)
            for byte in word {
                guard lexer.current == byte else { return nil }
                lexer.pos += 1
            }
            var spaced = false
            while case let n = lexer.spaceLength(at: lexer.pos), n > 0 {
                lexer.pos += n
                spaced = true
            }
            guard spaced else { return nil }
            let digit = lexer.current
            guard digit == 0x31 || digit == 0x32 else { return nil }
            lexer.pos += 1
            while case let n = lexer.spaceLength(at: lexer.pos), n > 0 { lexer.pos += n }
            guard lexer.newlineLength(at: lexer.pos) > 0 || lexer.pos >= lexer.count else { return nil }
            return digit == 0x31 ? .v1 : .v2
        }
    }

    private init(lexer: KDLLexer) {
        self.lexer = lexer
    }

    // MARK: - Document and nodes

    private mutating func parseDocument() throws(KDLSyntaxError) {
        if lexer.at(0) == 0xEF && lexer.at(1) == 0xBB && lexer.at(2) == 0xBF { lexer.pos = 3 }
        var blocks: [Block] = []
        while true {
            try lexer.skipLineSpace()
            if lexer.pos >= lexer.count {
                if let block = blocks.last {
                    throw KDLSyntaxError(offset: block.open, message: "this { is never closed; add the matching }")
                }
                return
            }
            var node: OpenNode
            if lexer.current == 0x7D {
                guard let block = blocks.popLast() else {
                    throw KDLSyntaxError(offset: lexer.pos, message: "unexpected '}': no children block is open")
                }
                lexer.pos += 1
                if block.discarded { rollback(to: block.mark) }
                node = block.node
            } else {
                node = try beginNode()
            }
            if let block = try continueNode(&node) {
                if blocks.count >= KDLParser.maxDepth {
                    throw KDLSyntaxError(
                        offset: block.open,
                        message: "children blocks are nested more than \(KDLParser.maxDepth) levels deep"
                    )
                }
                blocks.append(block)
                lexer.pos += 1
            } else {
                nodes[node.index].end = UInt32(truncatingIfNeeded: nodes.count)
                if node.slashdashed { rollback(to: node.mark) }
            }
        }
    }

    /// Reads an optional slashdash, the type annotation and the name, and appends the node record.
    private mutating func beginNode() throws(KDLSyntaxError) -> OpenNode {
        var slashdashed = false
        var mark = Mark()
        if lexer.current == 0x2F && lexer.at(lexer.pos + 1) == 0x2D {
            try skipSlashdash()
            slashdashed = true
            mark = currentMark()
        }
        let start = lexer.pos
        var type: KDLStringRef?
        if lexer.current == 0x28 {
            type = try parseTypeAnnotation()
            if !isV1 { _ = try lexer.skipNodeSpace() }
        }
        let nameStart = lexer.pos
        guard let token = try lexer.scanValue() else {
            throw KDLSyntaxError(
                offset: nameStart, message: "expected a node name, found \(lexer.describe(at: nameStart))")
        }
        guard token.kind == .string else {
            throw KDLSyntaxError(
                offset: nameStart,
                message: "a node name must be a string; quote it: \"\(text(nameStart, lexer.pos))\""
            )
        }
        let index = nodes.count
        var offset = UInt32(truncatingIfNeeded: start)
        if let type {
            nodeTypes.append(KDLAnnotationRecord(owner: UInt32(truncatingIfNeeded: index), type: type))
            offset |= KDLNodeRecord.typedFlag
        }
        nodes.append(
            KDLNodeRecord(
                name: token.ref,
                offset: offset,
                firstArgument: UInt32(truncatingIfNeeded: arguments.count),
                firstProperty: UInt32(truncatingIfNeeded: properties.count),
                end: 0
            )
        )
        return OpenNode(index: index, slashdashed: slashdashed, mark: mark)
    }

    /// Reads entries and children-block openers until the node ends (nil) or a `{` opens (the block to push; the
    /// lexer is left on the `{`).
    private mutating func continueNode(_ node: inout OpenNode) throws(KDLSyntaxError) -> Block? {
        while true {
            let spaced = try lexer.skipNodeSpace()
            let c = lexer.current
            if lexer.pos >= lexer.count || c == 0x7D { return nil }
            if lexer.terminatorAhead() {
                if c == 0x3B {
                    lexer.pos += 1
                } else if c == 0x2F {
                    lexer.skipLineComment()
                } else {
                    lexer.pos += lexer.newlineLength(at: lexer.pos)
                }
                return nil
            }
            if c == 0x2F && lexer.at(lexer.pos + 1) == 0x2D {
                let at = lexer.pos
                try skipSlashdash()
                if lexer.current == 0x7B {
                    if isV1 && node.sawChildren { throw onlyOneChildrenBlock(lexer.pos) }
                    node.sawChildren = true
                    return Block(node: node, discarded: true, mark: currentMark(), open: lexer.pos)
                }
                if node.sawChildren { throw afterChildren(at) }
                if isV1 && !spaced { throw missingSpace(at) }
                let mark = currentMark()
                try parseEntry()
                rollback(to: mark)
                continue
            }
            if c == 0x7B {
                if node.sawRealChildren || (isV1 && node.sawChildren) { throw onlyOneChildrenBlock(lexer.pos) }
                node.sawChildren = true
                node.sawRealChildren = true
                return Block(node: node, discarded: false, mark: Mark(), open: lexer.pos)
            }
            if node.sawChildren { throw afterChildren(lexer.pos) }
            if !spaced { throw missingSpace(lexer.pos) }
            try parseEntry()
        }
    }

    /// Consumes `/-` and the space after it, and checks that something follows that it can comment out.
    private mutating func skipSlashdash() throws(KDLSyntaxError) {
        let at = lexer.pos
        lexer.pos += 2
        if isV1 { _ = try lexer.skipNodeSpace() } else { try lexer.skipLineSpace() }
        if lexer.pos >= lexer.count || lexer.current == 0x7D || lexer.current == 0x3B {
            throw KDLSyntaxError(
                offset: at, message: "'/-' must be followed by the node, entry or children block it comments out"
            )
        }
        if lexer.current == 0x2F && lexer.at(lexer.pos + 1) == 0x2D {
            throw KDLSyntaxError(offset: lexer.pos, message: "'/-' cannot be followed by another '/-'")
        }
    }

    // MARK: - Entries

    /// Reads one argument or property.
    private mutating func parseEntry() throws(KDLSyntaxError) {
        let start = lexer.pos
        if lexer.current == 0x28 {
            let type = try parseTypeAnnotation()
            if !isV1 { _ = try lexer.skipNodeSpace() }
            let token = try expectValue(after: "the type annotation")
            if token.kind == .string {
                let save = lexer.pos
                if !isV1 { _ = try lexer.skipNodeSpace() }
                if lexer.current == 0x3D {
                    throw KDLSyntaxError(
                        offset: start,
                        message: "a property name cannot have a type annotation; annotate the value: key=(type)value"
                    )
                }
                lexer.pos = save
            }
            try checkV1Value(token, at: start)
            appendArgument(token, type: type)
            return
        }
        guard let token = try lexer.scanValue() else {
            throw KDLSyntaxError(offset: start, message: "unexpected \(lexer.describe(at: start))")
        }
        if token.kind == .string {
            let save = lexer.pos
            if !isV1 { _ = try lexer.skipNodeSpace() }
            if lexer.current == 0x3D {
                lexer.pos += 1
                if !isV1 { _ = try lexer.skipNodeSpace() }
                var type: KDLStringRef?
                let valueStart = lexer.pos
                if lexer.current == 0x28 {
                    type = try parseTypeAnnotation()
                    if !isV1 { _ = try lexer.skipNodeSpace() }
                }
                let value = try expectValue(after: type == nil ? "'='" : "the type annotation")
                try checkV1Value(value, at: valueStart)
                let index = UInt32(truncatingIfNeeded: properties.count)
                if let type { propertyTypes.append(KDLAnnotationRecord(owner: index, type: type)) }
                properties.append(
                    KDLPropertyRecord(
                        key: token.ref, value: KDLValueRecord(ref: value.ref, kind: value.kind, hasType: type != nil)
                    )
                )
                return
            }
            lexer.pos = save
        }
        try checkV1Value(token, at: start)
        appendArgument(token, type: nil)
    }

    @inline(__always) private mutating func appendArgument(_ token: KDLToken, type: KDLStringRef?) {
        if let type {
            argumentTypes.append(KDLAnnotationRecord(owner: UInt32(truncatingIfNeeded: arguments.count), type: type))
        }
        arguments.append(KDLValueRecord(ref: token.ref, kind: token.kind, hasType: type != nil))
    }

    /// KDL 1.0 has no bare-identifier values: `node foo` must be `node "foo"`.
    @inline(__always) private func checkV1Value(_ token: KDLToken, at start: Int) throws(KDLSyntaxError) {
        if isV1 && token.isBareIdentifier && token.kind == .string {
            throw KDLSyntaxError(
                offset: start,
                message: "a bare identifier is not a value in KDL 1.0; quote it: \"\(text(start, lexer.pos))\""
            )
        }
    }

    private mutating func expectValue(after what: String) throws(KDLSyntaxError) -> KDLToken {
        let start = lexer.pos
        guard let token = try lexer.scanValue() else {
            throw KDLSyntaxError(
                offset: start, message: "expected a value after \(what), found \(lexer.describe(at: start))")
        }
        return token
    }

    /// Reads `(type)`, with optional space inside the parentheses in 2.0.
    private mutating func parseTypeAnnotation() throws(KDLSyntaxError) -> KDLStringRef {
        let open = lexer.pos
        lexer.pos += 1
        if !isV1 { _ = try lexer.skipNodeSpace() }
        let start = lexer.pos
        guard let token = try lexer.scanValue() else {
            if lexer.current == 0x29 {
                throw KDLSyntaxError(offset: open, message: "empty type annotation; put a type name between ( and )")
            }
            throw KDLSyntaxError(
                offset: start, message: "expected a type name after '(', found \(lexer.describe(at: start))"
            )
        }
        guard token.kind == .string else {
            throw KDLSyntaxError(
                offset: start, message: "a type annotation must be a string; quote it: (\"\(text(start, lexer.pos))\")"
            )
        }
        if !isV1 { _ = try lexer.skipNodeSpace() }
        guard lexer.current == 0x29 else {
            throw KDLSyntaxError(
                offset: lexer.pos,
                message: "expected ')' to close the type annotation, found \(lexer.describe(at: lexer.pos))"
            )
        }
        lexer.pos += 1
        return token.ref
    }

    // MARK: - Errors

    private func onlyOneChildrenBlock(_ at: Int) -> KDLSyntaxError {
        KDLSyntaxError(
            offset: at,
            message: isV1
                ? "a node can have only one children block in KDL 1.0"
                : "a node can have only one children block; comment out extra ones with /-"
        )
    }

    private func afterChildren(_ at: Int) -> KDLSyntaxError {
        KDLSyntaxError(
            offset: at,
            message: "unexpected \(lexer.describe(at: at)) after a children block; arguments and properties go before "
                + "the { and a node ends with a newline or ';'"
        )
    }

    private func missingSpace(_ at: Int) -> KDLSyntaxError {
        KDLSyntaxError(
            offset: at,
            message: "unexpected \(lexer.describe(at: at)); separate entries with whitespace, or quote the string if "
                + "it is part of the name"
        )
    }

    /// Source text for messages, shortened.
    private func text(_ start: Int, _ end: Int) -> String {
        let s = String(decoding: lexer.bytes(start, min(end, start + 60)), as: UTF8.self)
        return end - start > 60 ? s + "…" : s
    }

    // MARK: - Slashdash bookkeeping

    private func currentMark() -> Mark {
        Mark(
            nodes: nodes.count,
            arguments: arguments.count,
            properties: properties.count,
            nodeTypes: nodeTypes.count,
            argumentTypes: argumentTypes.count,
            propertyTypes: propertyTypes.count,
            decoded: lexer.decoded.count
        )
    }

    private mutating func rollback(to mark: Mark) {
        if nodes.count > mark.nodes { nodes.removeSubrange(mark.nodes...) }
        if arguments.count > mark.arguments { arguments.removeSubrange(mark.arguments...) }
        if properties.count > mark.properties { properties.removeSubrange(mark.properties...) }
        if nodeTypes.count > mark.nodeTypes { nodeTypes.removeSubrange(mark.nodeTypes...) }
        if argumentTypes.count > mark.argumentTypes { argumentTypes.removeSubrange(mark.argumentTypes...) }
        if propertyTypes.count > mark.propertyTypes { propertyTypes.removeSubrange(mark.propertyTypes...) }
        if lexer.decoded.count > mark.decoded { lexer.decoded.removeSubrange(mark.decoded...) }
    }
}

/// `array` with its spare capacity dropped when that saves much, so a parsed document holds little slack.
private func compacted<T>(_ array: [T]) -> [T] {
    guard array.capacity > array.count + array.count / 8 + 16 else { return array }
    var copy: [T] = []
    copy.reserveCapacity(array.count)
    copy.append(contentsOf: array)
    return copy
}
