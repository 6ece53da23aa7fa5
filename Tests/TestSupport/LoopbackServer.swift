import Base

#if canImport(Glibc)
    import Glibc
#endif

/// A threaded TCP server on 127.0.0.1 and an ephemeral port: one thread accepts, one thread per connection runs
/// `serve`. `stop()` stops accepting, shuts every connection down (waking its reader) and joins every thread. The
/// base of the test stand-ins for GitHub (`LoopbackHTTPServer`) and RabbitMQ (`FakeBroker`).
public final class LoopbackServer: @unchecked Sendable {
    /// The port the server listens on.
    public let port: Int

    private let listener: Int32
    private let serve: @Sendable (LoopbackConnection) -> Void
    private let lock = NSLockLike()
    private var connectionFDs: [Int32] = []
    private var threads: [pthread_t] = []
    private var acceptThread = pthread_t()
    private var stopped = false

    /// Starts listening; `serve` runs on a thread of its own for each accepted connection.
    public init(serve: @escaping @Sendable (LoopbackConnection) -> Void) throws(SocketError) {
        self.serve = serve
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        guard Self.bindLoopback(fd), listen(fd, 64) == 0 else {
            let error = SocketError("bind/listen")
            close(fd)
            throw error
        }
        listener = fd
        port = Self.localPort(fd)
        acceptThread = Self.spawn { [self] in acceptLoop() }
    }

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
            let connection = LoopbackConnection(fd: fd, index: index)
            let thread = Self.spawn { [serve] in serve(connection) }
            lock.locked { threads.append(thread) }
        }
    }

    /// Binds `fd` to 127.0.0.1 and an ephemeral port.
    static func bindLoopback(_ fd: Int32) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    static func localPort(_ fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A joinable thread running `body`.
    private static func spawn(_ body: @escaping () -> Void) -> pthread_t {
        // The servers' bodies capture only what they own or what is behind a lock.
        nonisolated(unsafe) let body = body
        return Threads.startJoinable { body() }
    }
}

/// One accepted connection, used by its own thread only: buffered reads, whole writes. Its descriptor is closed by
/// the server's `stop()`, so a number is never reused while a test still looks at it.
public final class LoopbackConnection: @unchecked Sendable {
    /// Which connection this is, numbered from 0 in accept order.
    public let index: Int
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32, index: Int) {
        self.fd = fd
        self.index = index
    }

    /// Bytes up to `terminator` (excluded, consumed), or nil when the connection ended first.
    public func read(until terminator: [UInt8]) -> [UInt8]? {
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
    public func read(_ count: Int) -> [UInt8]? {
        while buffer.count < count { guard fill() else { return nil } }
        defer { buffer.removeFirst(count) }
        return Array(buffer[..<count])
    }

    /// Writes all of `bytes`; false when the peer is gone.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// Drops the connection as a crashing peer would: the client sees end of file.
    public func drop() { shutdown(fd, Int32(SHUT_RDWR)) }

    private func fill() -> Bool {
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
        guard LoopbackServer.bindLoopback(fd) else {
            let error = SocketError("bind")
            close(fd)
            throw error
        }
        self.fd = fd
        port = LoopbackServer.localPort(fd)
    }

    deinit { close(fd) }
}
