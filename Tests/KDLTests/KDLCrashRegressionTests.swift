import Foundation
import Testing

@testable import KDL

/// Inputs the fuzzer (scripts/fuzz-kdl.sh) once crashed or hung the parser on, kept in Fixtures/kdl-crashes/. Each
/// must parse or fail cleanly, and whatever parses must print canonical text that reads back identically.
@Suite("KDL crash regressions")
struct KDLCrashRegressionTests {
    static let directory = KDLTestSupport.testsDirectory.appendingPathComponent("Fixtures/kdl-crashes")

    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted()
    }()

    @Test("fixture", arguments: names)
    func fixture(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: KDLCrashRegressionTests.directory.appendingPathComponent(name)))
        do {
            let document = try KDLDocument.parse(bytes)
            let printed = document.canonicalText()
            #expect(try KDLDocument.parse(printed, version: .v2).canonicalText() == printed)
        } catch {
            #expect(!error.render(fileName: name).isEmpty)
        }
    }
}
