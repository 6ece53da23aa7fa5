// libFuzzer entry point for the KDL parser (and the workflow model on top), linked against the KDL and Workflow
// modules (and Base below them) that scripts/fuzz-kdl.sh builds with coverage and ASan.
// Besides "no crash, no hang", it checks a round trip: whatever parses must print canonical text that parses again
// as KDL 2.0 and prints identically.

import KDL
import Workflow

@_cdecl("LLVMFuzzerTestOneInput")
public func kdlFuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = WorkflowCommand.run(fileName: "fuzz.kdl", bytes: bytes)
    do {
        let document = try KDLDocument.parse(bytes)
        let printed = document.canonicalText()
        for node in document.nodes.prefix(8) {
            _ = node.name
            _ = node.arguments
            _ = node.properties
            _ = node.children.count
            _ = node.location
        }
        let reparsed: KDLDocument
        do {
            reparsed = try KDLDocument.parse(Array(printed.utf8), version: .v2)
        } catch {
            fatalError("canonical output does not parse: \(error)\n--- printed:\n\(printed)")
        }
        let again = reparsed.canonicalText()
        if again != printed { fatalError("round trip differs:\n\(printed)\n--- vs:\n\(again)") }
    } catch {
        _ = error.render(fileName: "fuzz.kdl")
    }
    return 0
}
