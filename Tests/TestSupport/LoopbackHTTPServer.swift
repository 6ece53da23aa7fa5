import Base

#if canImport(Glibc)
    import Glibc
#endif

/// A tiny threaded HTTP/1.1 server on 127.0.0.1 and an ephemeral port, answering what its handler says: the stand-in
/// for GitHub's API (and any other HTTP peer) in unit tests. It records every request with the TCP connection that
/// carried it, keeps connections alive as HTTP/1.1 does, and `stop()` closes everything and joins its threads.
///
/// One thread accepts; one thread per connection reads requests (`Content-Length` or chunked bodies) and writes
/// the handler's answers in order.
public final class LoopbackHTTPServer: @unchecked Sendable {
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

    /// The port the server listens on.
    public let port: Int
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let listener: Int32
    private let handler: @Sendable (Request) -> Reply
    private let lock = NSLockLike()
    private var _requests: [Request] = []
    private var connectionFDs: [Int32] = []
    private var threads: [pthread_t] = []
    private var acceptThread = pthread_t()
    private var stopped = false

    /// Starts a server answering with `handler` (called on the connection's thread, one request at a time per
    /// connection).
    public init(handler: @escaping @Sendable (Request) -> Reply) throws(SocketError) {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let error = SocketError("bind/listen")
            close(fd)
            throw error
        }
        listener = fd
        port = Self.localPort(fd)
        acceptThread = Self.spawn { [self] in acceptLoop() }
    }

    deinit { stop() }

    /// Every request seen so far, in arrival order.
    public var requests: [Request] { lock.locked { _requests } }
    /// `METHOD target` of every request so far.
    public var lines: [String] { requests.map(\.line) }
    /// How many TCP connections were accepted.
    public var connections: Int { lock.locked { connectionFDs.count } }

    /// Stops accepting, closes every connection and joins every thread; idempotent.
    public func stop() {
        let first = lock.locked { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        pthread_join(acceptThread, nil)
        close(listener)
        // No connection is accepted any more: wake every reader and wait for it.
        let (fds, joinable) = lock.locked { (connectionFDs, threads) }
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        for thread in joinable { pthread_join(thread, nil) }
        for fd in fds { close(fd) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let accepted = lock.locked { () -> Int? in
                guard !stopped else { return nil }
                connectionFDs.append(fd)
                return connectionFDs.count - 1
            }
            guard let index = accepted else {
                close(fd)
                return
            }
            let thread = Self.spawn { [self] in serve(fd, connection: index) }
            lock.locked { threads.append(thread) }
        }
    }

    /// Reads requests from `fd` until the peer closes it (or `stop` shuts it down) and answers each.
    private func serve(_ fd: Int32, connection: Int) {
        var reader = Reader(fd: fd)
        while let head = reader.line(until: [13, 10, 13, 10]) {
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
                guard Self.write(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return }
            }
            var body: [UInt8] = []
            if headers["transfer-encoding"]?.lowercased() == "chunked" {
                while true {
                    guard let sizeLine = reader.line(until: [13, 10]),
                        let size = Int(
                            String(decoding: sizeLine, as: UTF8.self).prefix { $0 != ";" }, radix: 16),
                        size >= 0
                    else { return }
                    if size == 0 {
                        _ = reader.line(until: [13, 10])
                        break
                    }
                    guard let chunk = reader.bytes(size), reader.bytes(2) != nil else { return }
                    body += chunk
                }
            } else if let length = headers["content-length"].flatMap(Int.init), length > 0 {
                guard let bytes = reader.bytes(length) else { return }
                body = bytes
            }
            let request = Request(
                method: parts[0], target: parts[1], headers: headers, body: body, connection: connection)
            lock.locked { _requests.append(request) }
            switch handler(request) {
            case .hang:
                continue
            case .respond(let status, let extra, let payload):
                var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(payload.count)\r\n"
                for (name, value) in extra { text += "\(name): \(value)\r\n" }
                text += "\r\n"
                guard Self.write(fd, Array(text.utf8) + (parts[0] == "HEAD" ? [] : payload)) else { return }
            }
        }
    }

    /// Buffered reads from one socket.
    private struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []

        /// Bytes up to `terminator` (excluded, consumed), or nil when the connection ended first.
        mutating func line(until terminator: [UInt8]) -> [UInt8]? {
            var searchFrom = 0
            while true {
                if buffer.count >= terminator.count {
                    for start in searchFrom...(buffer.count - terminator.count)
                    where buffer[start..<start + terminator.count].elementsEqual(terminator) {
                        let line = Array(buffer[..<start])
                        buffer.removeFirst(start + terminator.count)
                        return line
                    }
                    searchFrom = buffer.count - terminator.count + 1
                }
                guard fill() else { return nil }
            }
        }

        /// Exactly `count` bytes, or nil when the connection ended first.
        mutating func bytes(_ count: Int) -> [UInt8]? {
            while buffer.count < count { guard fill() else { return nil } }
            defer { buffer.removeFirst(count) }
            return Array(buffer[..<count])
        }

        private mutating func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = recv(fd, &chunk, chunk.count, 0)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                buffer += chunk[..<n]
                return true
            }
        }
    }

    private static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
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

    static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private final class Box: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// A joinable thread running `body`.
    private static func spawn(_ body: @escaping () -> Void) -> pthread_t {
        var thread = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let status = pthread_create(
            &thread, nil,
            { argument in
                Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
                return nil
            }, box)
        precondition(status == 0, "pthread_create failed: \(status)")
        return thread
    }
}

/// A socket call of the test servers that failed, with `errno` read at the call.
public struct SocketError: Error, CustomStringConvertible {
    /// The call and its error.
    public var description: String

    init(_ call: String) { description = "\(call): \(String(cString: strerror(errno)))" }
}

/// A 127.0.0.1 port on which nothing listens, held for as long as the value lives: a bound socket that never
/// listens, so a connect is refused at once and no other test can take the port meanwhile.
public final class RefusingPort: @unchecked Sendable {
    /// The port.
    public let port: Int
    private let fd: Int32

    /// Reserves a port.
    public init() throws(SocketError) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            let error = SocketError("bind")
            close(fd)
            throw error
        }
        self.fd = fd
        port = LoopbackHTTPServer.localPort(fd)
    }

    deinit { close(fd) }
}
