import Foundation

/// The workflow files under Tests/WorkflowTests/Fixtures, found from this file's path so tests run from any clone.
enum WorkflowFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures")

    /// The bytes of fixture `relativePath`.
    static func bytes(_ relativePath: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(relativePath)))
    }
}
