import Testing

@testable import KDL

/// Reading documents through `KDLDocument` and `KDLNode`.
@Suite("KDLNode")
struct KDLNodeTests {
    @Test("names, annotations, arguments, properties, children and locations")
    func reading() throws {
        let document = try KDLDocument.parse(
            """
            // leading comment
            (kind)server "main" port=(u16)8080 port=8081 tls=#true {
                listen "0.0.0.0"
                /- disabled 1
                route "/api" { handler api }
            }
            second #null 1.5
            """
        )
        #expect(document.version == .v2)
        #expect(document.totalNodeCount == 5)
        let server = document.nodes[0]
        #expect(server.name == "server" && server.isNamed("server"))
        #expect(server.typeAnnotation == "kind")
        #expect(server.arguments == [KDLEntry(value: .string("main"))])
        #expect(server.property("port") == KDLEntry(name: "port", value: .number(KDLNumber(8081))))
        #expect(server.property("missing") == nil)
        #expect(server.properties.map(\.name) == ["port", "tls"])
        #expect(server.children.map(\.name) == ["listen", "route"])
        #expect(server.children(named: "route")[0].children[0].arguments[0].value == .string("api"))
        #expect(server.location.line == 2 && server.location.column == 1)
        #expect(server.children[1].location.line == 5 && server.children[1].location.column == 5)
        let second = document.nodes[1]
        #expect(second.arguments.map(\.value) == [.null, .number(KDLNumber(kind: .decimal, text: "1.5"))])
        #expect(second.children.isEmpty)
    }

    @Test("typed property values keep their annotation")
    func typedProperty() throws {
        let node = try KDLDocument.parse("n a=(u8)1 b=2 (x)3").nodes[0]
        #expect(node.property("a")?.typeAnnotation == "u8")
        #expect(node.property("b")?.typeAnnotation == nil)
        #expect(node.arguments[0].typeAnnotation == "x")
    }

    @Test("documents are values that can cross threads")
    func sendable() async throws {
        let document = try KDLDocument.parse("a 1\nb 2")
        let names = await Task.detached { document.nodes.map(\.name) }.value
        #expect(names == ["a", "b"])
    }
}
