import Base
import HTTP
import TestSupport
import Testing

@testable import Results

#if canImport(Glibc)
    import Glibc
#endif

/// SPEC v2 §8: the log download stops at LOG_MAX_BYTES; what was read is kept, with a last line saying it was cut.
@Suite struct LogCapTests {
    static let log: [UInt8] = Array((0..<50_000).map { "line \($0)\n" }.joined().utf8)

    @Test(arguments: [false, true])
    func aBodyLongerThanTheLimitIsCutThere(toFile: Bool) throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 200, body: Self.log) }
        defer { server.stop() }
        var request = HTTPRequest(method: "GET", url: server.baseURL + "/log")
        request.maxResponseBytes = 10_000
        var template = Array("/tmp/solstice-cap-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        defer {
            close(fd)
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        if toFile { request.responseFile = fd }
        let response = try HTTPClient().send(request)
        #expect(response.status == 200 && response.truncated)
        lseek(fd, 0, SEEK_SET)
        let kept = toFile ? Posix.readAll(fd) : response.body
        #expect(kept == Array(Self.log.prefix(10_000)))
    }

    @Test func aBodyWithinTheLimitIsWhole() throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 200, body: Self.log) }
        defer { server.stop() }
        var request = HTTPRequest(method: "GET", url: server.baseURL + "/log")
        request.maxResponseBytes = Int64(Self.log.count)
        let response = try HTTPClient().send(request)
        #expect(!response.truncated && response.body == Self.log)
    }

    @Test func aCutLogEndsWithALineSayingSo() throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 200, body: Self.log) }
        defer { server.stop() }
        let uploader = LogUploader(logsBaseURL: server.baseURL, s3: nil, http: HTTPClient(), maxBytes: 4096)
        let file = try uploader.fetch(requestID: "7f1c0b9e-1d2a-5c3b-8e4f-0123456789ab")
        let note = "\n[solstice: the log was cut here, at 4096 bytes (LOG_MAX_BYTES)]\n"
        #expect(file.size == Int64(4096 + note.utf8.count))
        let tail = file.tail(maxBytes: 200)
        #expect(tail.partial && tail.text.hasSuffix(note))
    }
}
