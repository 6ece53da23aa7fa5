import Foundation

@testable import KDL

/// Helpers shared by the test files.
enum KDLTestSupport {
    /// Tests/KDLTests, found from this file's path so tests work from any clone.
    static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    /// The bytes of a fixture under Tests/KDLTests/Fixtures.
    static func fixture(_ relativePath: String) throws -> [UInt8] {
        [UInt8](
            try Data(contentsOf: testsDirectory.appendingPathComponent("Fixtures").appendingPathComponent(relativePath))
        )
    }

    /// Canonical text of `source` parsed with `version` (nil: 2.0 with 1.0 fallback), or the rendered error.
    static func canonical(_ source: String, version: KDLVersion? = .v2) -> String {
        do {
            return try KDLDocument.parse(source, version: version).canonicalText()
        } catch {
            return "error: " + error.description
        }
    }

    /// The error parsing `source` throws, if any.
    static func error(_ source: String, version: KDLVersion? = nil) -> KDLError? {
        do {
            _ = try KDLDocument.parse(source, version: version)
            return nil
        } catch {
            return error
        }
    }

    static func error(_ bytes: [UInt8]) -> KDLError? {
        do {
            _ = try KDLDocument.parse(bytes)
            return nil
        } catch {
            return error
        }
    }
}
