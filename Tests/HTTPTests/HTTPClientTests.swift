import Base
import HTTP
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `HTTPClient` (libcurl) against a loopback server: what it sends, what it returns, how it fails.
@Suite struct HTTPClientTests {
    /// Every byte value, several times: a body that text handling anywhere on the way would damage.
    static let binary: [UInt8] = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }

    @Test func statusHeadersAndBodyAsTheServerSentThem() throws {
        let server = try LoopbackHTTPServer { _ in
            .respond(
                status: 201, headers: [("X-GitHub-Request-Id", "AB:CD"), ("Link", "<http://x/?page=2>; rel=\"next\"")],
                body: Array("{\"id\": 7}".utf8))
        }
        defer { server.stop() }
        let response = try HTTPClient().send(
            HTTPRequest(
                method: "GET", url: server.baseURL + "/repos/o/r?per_page=100",
                headers: [("Accept", "application/vnd.github+json"), ("X-Extra", "1")]))
        #expect(response.status == 201)
        #expect(response.headers["x-github-request-id"] == "AB:CD")
        #expect(response.headers["link"] == "<http://x/?page=2>; rel=\"next\"")
        #expect(response.headers["content-length"] == "9")
        #expect(response.text == "{\"id\": 7}")
        let seen = try #require(server.requests.first)
        #expect(seen.line == "GET /repos/o/r?per_page=100")
        #expect(seen.headers["accept"] == "application/vnd.github+json")
        #expect(seen.headers["x-extra"] == "1")
    }

    @Test(arguments: ["POST", "PATCH", "PUT"])
    func aRequestBodyArrivesIntact(method: String) throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 200) }
        defer { server.stop() }
        let response = try HTTPClient().send(
            HTTPRequest(
                method: method, url: server.baseURL + "/upload", headers: [("Content-Type", "application/json")],
                body: Self.binary))
        #expect(response.status == 200)
        let seen = try #require(server.requests.first)
        #expect(seen.method == method)
        #expect(seen.body == Self.binary)
        #expect(seen.headers["content-type"] == "application/json")
    }

    @Test func anEmptyPostBodyIsSentAsEmpty() throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 201) }
        defer { server.stop() }
        _ = try HTTPClient().send(HTTPRequest(method: "POST", url: server.baseURL + "/tokens", body: []))
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST" && seen.body.isEmpty && seen.headers["content-length"] == "0")
    }

    @Test func aServerThatNeverAnswersTimesOut() throws {
        let server = try LoopbackHTTPServer { _ in .hang }
        defer { server.stop() }
        #expect {
            try HTTPClient().send(HTTPRequest(method: "GET", url: server.baseURL + "/slow", timeout: 0.3))
        } throws: { error in
            guard let error = error as? HTTPError else { return false }
            // CURLE_OPERATION_TIMEDOUT: worth another attempt.
            return error.code == 28 && error.isTransient && error.message.contains("GET \(server.baseURL)/slow")
        }
        #expect(server.lines == ["GET /slow"])
    }

    @Test func aRefusedConnectionIsATransientHTTPError() throws {
        let refusing = try RefusingPort()
        #expect {
            try HTTPClient().send(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(refusing.port)/"))
        } throws: { error in
            guard let error = error as? HTTPError else { return false }
            // CURLE_COULDNT_CONNECT.
            return error.code == 7 && error.isTransient
        }
    }

    @Test(arguments: ["gopher2://127.0.0.1/", "http://[::1"])
    func aURLThatCanNeverWorkIsNotTransient(url: String) {
        #expect {
            try HTTPClient().send(HTTPRequest(method: "GET", url: url))
        } throws: { error in
            (error as? HTTPError)?.isTransient == false
        }
    }

    @Test func aResponseStreamedToAFileLeavesTheBodyEmpty() throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 200, body: Self.binary) }
        defer { server.stop() }
        let directory = TemporaryDirectory("http")
        defer { directory.remove() }
        let path = directory.path + "/log"
        let fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        var request = HTTPRequest(method: "GET", url: server.baseURL + "/log")
        request.responseFile = fd
        let response = try HTTPClient().send(request)
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        #expect(try FileDescriptor(path: path, flags: O_RDONLY).readAll() == Self.binary)
    }

    @Test func aBodyStreamedFromAFileArrivesIntact() throws {
        let server = try LoopbackHTTPServer { _ in .respond(status: 200) }
        defer { server.stop() }
        let directory = TemporaryDirectory("http")
        defer { directory.remove() }
        let fd = open(directory.path + "/upload", O_CREAT | O_RDWR | O_TRUNC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try Posix.writeAll(fd, Self.binary)
        var request = HTTPRequest(method: "PUT", url: server.baseURL + "/bucket/key")
        request.bodyFile = HTTPFileBody(fd: fd, size: Int64(Self.binary.count))
        #expect(try HTTPClient().send(request).status == 200)
        let seen = try #require(server.requests.first)
        #expect(seen.method == "PUT" && seen.body == Self.binary)
    }

    @Test func sequentialRequestsReuseOneConnection() throws {
        let server = try LoopbackHTTPServer { request in .respond(status: 200, body: Array(request.target.utf8)) }
        defer { server.stop() }
        let client = HTTPClient()
        #expect(try client.send(HTTPRequest(method: "GET", url: server.baseURL + "/one")).text == "/one")
        #expect(
            try client.send(HTTPRequest(method: "POST", url: server.baseURL + "/two", body: Array("x".utf8))).text
                == "/two")
        #expect(server.lines == ["GET /one", "POST /two"])
        #expect(server.connections == 1)
        #expect(server.requests.map(\.connection) == [0, 0])
    }
}
