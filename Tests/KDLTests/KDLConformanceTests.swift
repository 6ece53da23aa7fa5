import Foundation
import Testing

@testable import KDL

/// The shared KDL test suite (test_cases/README.md): `input/X.kdl` parsed and printed canonically must equal
/// `expected_kdl/X.kdl`; `input/X_fail.kdl` must not parse. Read from `KDL_SUITE_DIR`, else from
/// `../shared/reference/kdl/test_cases` beside the package root; never copied into the project.
enum KDLSuite {
    static let directory: URL = {
        if let path = ProcessInfo.processInfo.environment["KDL_SUITE_DIR"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return packageRoot.appendingPathComponent("../shared/reference/kdl/test_cases").standardizedFileURL
    }()

    /// Case names (input file names without `.kdl`), sorted.
    static let caseNames: [String] = {
        let input = directory.appendingPathComponent("input")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: input.path)) ?? []
        return files.filter { $0.hasSuffix(".kdl") }.map { String($0.dropLast(4)) }.sorted()
    }()

    static func bytes(_ folder: String, _ name: String) -> [UInt8]? {
        let url = directory.appendingPathComponent(folder).appendingPathComponent(name + ".kdl")
        return (try? Data(contentsOf: url)).map { [UInt8]($0) }
    }

    /// nil when the case passes, else why it fails.
    static func failure(of name: String) -> String? {
        guard let input = bytes("input", name) else { return "cannot read input/\(name).kdl" }
        if name.hasSuffix("_fail") {
            if let document = try? KDLDocument.parse(input, version: .v2) {
                return "parsed, but must fail; printed:\n\(document.canonicalText())"
            }
            return nil
        }
        guard let expectedBytes = bytes("expected_kdl", name) else { return "cannot read expected_kdl/\(name).kdl" }
        let expected = String(decoding: expectedBytes, as: UTF8.self)
        do {
            let strict = try KDLDocument.parse(input, version: .v2).canonicalText()
            if strict != expected { return "printed:\n\(strict)\nexpected:\n\(expected)" }
            // The product's entry point (2.0 with 1.0 fallback) must read valid 2.0 the same way.
            let document = try KDLDocument.parse(input)
            if document.version != .v2 || document.canonicalText() != expected {
                return "default parse differs: \(document.version)\n\(document.canonicalText())"
            }
            return nil
        } catch {
            return "does not parse: \(error.render(fileName: "input/\(name).kdl"))"
        }
    }
}

@Suite("KDL conformance")
struct KDLConformanceTests {
    @Test("case", arguments: KDLSuite.caseNames)
    func conformanceCase(_ name: String) {
        if let failure = KDLSuite.failure(of: name) { Issue.record(Comment(rawValue: "\(name): \(failure)")) }
    }

    @Test("summary")
    func summary() {
        let names = KDLSuite.caseNames
        #expect(!names.isEmpty, "no KDL test cases found in \(KDLSuite.directory.path); set KDL_SUITE_DIR")
        let failed = names.filter { KDLSuite.failure(of: $0) != nil }
        print("kdl conformance: \(names.count - failed.count) passed, \(failed.count) failed")
        if !failed.isEmpty { print("kdl conformance failures: " + failed.joined(separator: ", ")) }
        // _fail cases that are valid KDL 1.0 are accepted by the default (fallback) parse, as SPEC §5 wants.
        let v1Valid = names.filter { $0.hasSuffix("_fail") }.filter { name in
            KDLSuite.bytes("input", name).flatMap { try? KDLDocument.parse($0) } != nil
        }
        print(
            "kdl 1.0 fallback: \(v1Valid.count) of the _fail cases are valid KDL 1.0: "
                + v1Valid.joined(separator: ", "))
        #expect(failed.isEmpty)
    }
}
