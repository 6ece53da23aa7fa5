import Events
import Testing

@testable import Results

/// The completed run's output: exit code and summary, the log's last lines within GitHub's 65535 characters.
@Suite struct CheckRunOutputTests {
    static let result = JobResult(
        requestID: "r1", owner: "org", repo: "repo", commitSHA: String(repeating: "a", count: 40), success: false,
        exitCode: 2, summary: "2 tests failed")

    @Test func summaryHasExitCodeSummaryAndLogLink() {
        let output = CheckRunOutput(
            result: Self.result, log: .init(tail: "a\nb\n", url: "https://logs/x", problems: ["The log is odd."]))
        #expect(output.title == "Failed (exit code 2)")
        #expect(output.summary.contains("exit code 2") && output.summary.contains("2 tests failed"))
        #expect(output.summary.contains("The log is odd.") && output.summary.contains("Full log: https://logs/x"))
        #expect(output.text == "The log (2 lines):\n\n```text\na\nb\n```")
    }

    @Test func withoutALogThereIsNoText() {
        let output = CheckRunOutput(result: Self.result, log: .init(problems: ["The log is unavailable: 404."]))
        #expect(output.text == nil && output.summary.contains("unavailable"))
    }

    @Test(arguments: [1, 100, 5_000])
    func longLogsKeepTheirLastWholeLinesWithinTheLimit(lineLength: Int) throws {
        let lines = (0..<(150_000 / lineLength + 10)).map { "\($0) " + String(repeating: "é", count: lineLength) }
        let output = CheckRunOutput(result: Self.result, log: .init(tail: lines.joined(separator: "\n") + "\n"))
        let text = try #require(output.text)
        #expect(text.unicodeScalars.count <= CheckRunOutput.limit)
        #expect(text.unicodeScalars.count > CheckRunOutput.limit - 200 - lineLength)
        #expect(text.hasSuffix(lines.last! + "\n```"))
        #expect(text.contains("The last "))
        let whole = Set(lines)
        let body = text.split(separator: "\n").dropFirst(3).dropLast()
        #expect(body.allSatisfy { whole.contains(String($0)) })  // only whole lines
    }

    @Test func aPartialFirstLineIsDropped() {
        let last = CheckRunOutput.lastLines("ial line\nwhole 1\nwhole 2\n", budget: 100, dropFirstPartialLine: true)
        #expect(last.text == "whole 1\nwhole 2" && last.count == 2 && !last.complete)
    }

    @Test func oneHugeLineKeepsItsEnd() {
        let last = CheckRunOutput.lastLines(String(repeating: "x", count: 100) + "END", budget: 10)
        #expect(last.text == "xxxxxxxEND" && last.count == 1)
    }

    @Test func summaryIsCappedToo() {
        var result = Self.result
        result.summary = String(repeating: "s", count: 70_000)
        #expect(CheckRunOutput(result: result, log: .init()).summary.unicodeScalars.count == CheckRunOutput.limit)
    }
}
