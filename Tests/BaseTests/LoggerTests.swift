import Foundation
import Testing

@testable import Base

@Suite struct LoggerTests {
    @Test func textLinesQuoteOnlyWhatNeedsIt() {
        let line = Logger(format: .text).line(
            .info, "webhook", ["delivery": "d-1", "event": "push", "status": 202, "ms": .double(1.234), "note": "a b"])
        #expect(line == #"solstice level=info msg=webhook delivery=d-1 event=push status=202 ms=1.23 note="a b""#)
    }

    @Test func jsonLinesAreJSON() throws {
        let line = Logger(format: .json).line(
            .error, "check runs not created", ["error": "quote \" and\nnewline", "jobs": 3, "spooled": .bool(true)])
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        #expect(object["level"] as? String == "error")
        #expect(object["msg"] as? String == "check runs not created")
        #expect(object["error"] as? String == "quote \" and\nnewline")
        #expect(object["jobs"] as? Int == 3)
        #expect(object["spooled"] as? Bool == true)
        #expect(!line.contains("\n"))
    }

    @Test func levelsFilter() {
        #expect(LogLevel.debug < .info && LogLevel.info < .warning && LogLevel.warning < .error)
    }
}
