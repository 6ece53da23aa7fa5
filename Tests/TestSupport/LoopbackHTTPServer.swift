import Base

/// A tiny HTTP/1.1 server on 127.0.0.1 and an ephemeral port, answering what its handler says: the stand-in for
/// GitHub's API (and any other HTTP peer) in unit tests. It records every request with the TCP connection that
/// carried it, keeps connections alive as HTTP/1.1 does, and `stop()` closes everything and joins its threads.
///
/// Each connection's thread reads requests (`Content-Length` or chunked bodies) and writes the handler's answers in
/// order.
public final class LoopbackHTTPServer: Sendable {
    /// One request as the server read it.
    public struct Request: Sendable {
        /// `GET`, `POST`, ...
        public var method: String
        /// The request target: path and query, as sent.
        public var target: String
        /// Header values by lowercased name.
        public var headers: [String: String]
        /// The body, de-chunked.
        public var body: [UInt8]
        /// Which TCP connection carried it, numbered from 0 in accept order.
        public var connection: Int

        /// The target without its query.
        public var path: String { String(target.prefix { $0 != "?" }) }
        /// The body as UTF-8 text.
        public var text: String { String(decoding: body, as: UTF8.self) }
        /// `METHOD target`, for readable expectations.
        public var line: String { "\(method) \(target)" }
    }

    /// What the handler answers.
    public enum Reply: Sendable {
        /// A response with `Content-Length`.
        case respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = [])
        /// No answer at all: the connection stays open and silent (for client timeouts).
        case hang

        /// A JSON response.
        public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> Reply {
            .respond(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
        }
    }

    private let server: LoopbackServer
    private let seen: Mutexed<[Request]>

    /// Starts a server answering with `handler` (called on the connection's thread, one request at a time per
    /// connection).
    public init(handler: @escaping @Sendable (Request) -> Reply) throws(SocketError) {
        let seen = Mutexed<[Request]>([])
        self.seen = seen
        server = try LoopbackServer { connection in
            Self.serve(connection, handler: handler) { request in seen.mutate { $0.append(request) } }
        }
    }

    /// The port the server listens on.
    public var port: Int { server.port }
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// Every request seen so far, in arrival order.
    public var requests: [Request] { seen.value }
    /// `METHOD target` of every request so far.
    public var lines: [String] { requests.map(\.line) }
    /// How many TCP connections were accepted.
    public var connections: Int { server.connections }

    /// Stops accepting, closes every connection and joins every thread; idempotent.
    public func stop() { server.stop() }

    /// Reads requests from `connection` until the peer closes it (or `stop` shuts it down) and answers each.
    private static func serve(
        _ connection: LoopbackConnection, handler: (Request) -> Reply, record: (Request) -> Void
    ) {
        let crlf: [UInt8] = [13, 10]
        while let head = connection.read(until: crlf + crlf) {
            let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n").map(String.init)
            guard let requestLine = lines.first else { return }
            let parts = requestLine.split(separator: " ").map(String.init)
            guard parts.count == 3 else { return }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmed()
            }
            if headers["expect"]?.lowercased() == "100-continue" {
                guard connection.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
            }
            var body: [UInt8] = []
            if headers["transfer-encoding"]?.lowercased() == "chunked" {
                while true {
                    guard let sizeLine = connection.read(until: crlf),
                        let size = Int(String(decoding: sizeLine, as: UTF8.self).prefix { $0 != ";" }, radix: 16)
                    else { return }
                    if size == 0 {
                        _ = connection.read(until: crlf)
                        break
                    }
                    guard let chunk = connection.read(size), connection.read(2) != nil else { return }
                    body += chunk
                }
            } else if let length = headers["content-length"].flatMap(Int.init), length > 0 {
                guard let bytes = connection.read(length) else { return }
                body = bytes
            }
            let request = Request(
                method: parts[0], target: parts[1], headers: headers, body: body, connection: connection.index)
            record(request)
            switch handler(request) {
            case .hang:
                continue
            case .respond(let status, let extra, let payload):
                var text = "HTTP/1.1 \(status) \(reason(status))\r\nContent-Length: \(payload.count)\r\n"
                for (name, value) in extra { text += "\(name): \(value)\r\n" }
                text += "\r\n"
                guard connection.write(Array(text.utf8) + (parts[0] == "HEAD" ? [] : payload)) else { return }
            }
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 422: "Unprocessable Entity"
        case 500: "Internal Server Error"
        default: "Status"
        }
    }
}
