import Base
internal import CFCGI
import Synchronization
import Webhook

#if canImport(Glibc)
    import Glibc
#endif

/// A libfcgi error, with the raw return code.
struct FastCGIError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { "\(message) (libfcgi \(code))" }
}

/// The listening socket: inherited on fd 0 (spawn-fcgi, mod_fcgid, lighttpd) or opened by us (wraps
/// `FCGX_Init`, `FCGX_OpenSocket`). Every unsafe pointer that touches libfcgi stays in this file.
struct FastCGIListener: Sendable {
    let fd: Int32

    /// True when fd 0 is not a socket, so the process was started as a plain CGI program (wraps `FCGX_IsCGI`).
    static var isCGI: Bool { FCGX_IsCGI() != 0 }

    /// The socket inherited on fd 0.
    static func inherited() throws(FastCGIError) -> FastCGIListener {
        try initialize()
        return FastCGIListener(fd: 0)
    }

    /// Opens `host:port`, `:port` or a unix socket path; a unix socket is made writable for the web server's
    /// unprivileged workers.
    static func open(_ address: String, backlog: Int32 = 1024) throws(FastCGIError) -> FastCGIListener {
        try initialize()
        let isUnix = !address.contains(":")
        if isUnix { unlink(address) }
        let fd = FCGX_OpenSocket(address, backlog)
        guard fd >= 0 else {
            throw FastCGIError(code: fd, message: "cannot listen on \(address): \(String(cString: strerror(errno)))")
        }
        if isUnix { chmod(address, 0o666) }
        return FastCGIListener(fd: fd)
    }

    private static func initialize() throws(FastCGIError) {
        let status = FCGX_Init()
        guard status == 0 else { throw FastCGIError(code: status, message: "FCGX_Init failed") }
    }
}

/// One worker's `FCGX_Request`, accepted and finished in a loop on one thread (never shared).
final class FastCGIWorker {
    private let request: UnsafeMutablePointer<FCGX_Request>

    /// A worker accepting on `listener` (wraps `FCGX_InitRequest`).
    init(listener: FastCGIListener) {
        request = .allocate(capacity: 1)
        request.initialize(to: FCGX_Request())
        FCGX_InitRequest(request, listener.fd, 0)
    }

    deinit {
        FCGX_Free(request, 0)
        request.deallocate()
    }

    /// Serves requests until accepting fails for good (wraps `FCGX_Accept_r`, `FCGX_Finish_r`).
    func run(_ responder: WebhookResponder, logger: Logger) {
        var failures = 0
        while true {
            let accepted = FCGX_Accept_r(request) >= 0
            if Shutdown.requested.load(ordering: .sequentiallyConsistent) && !accepted { return }
            guard accepted else {
                // A transient accept failure (a peer that reset) must not end the worker; a permanent one
                // (listener closed) would spin, so back off.
                failures += 1
                if failures % 100 == 1 { logger.log(.error, "FCGX_Accept_r failed", ["count": .int(failures)]) }
                usleep(10_000)
                continue
            }
            failures = 0
            Shutdown.inFlight.add(1, ordering: .sequentiallyConsistent)
            let response = serveOne(responder)
            FCGX_Finish_r(request)
            responder.afterAnswer(response)
            Shutdown.inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func serveOne(_ responder: WebhookResponder) -> WebhookResponse {
        let envp = request.pointee.envp
        let webhook = WebhookRequest { name in
            FCGX_GetParam(name, envp).map { String(cString: $0) }
        }
        let response = responder.respond(to: webhook) { limit in
            readBody(expected: webhook.contentLength, limit: limit)
        }
        let bytes = response.cgiBytes()
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                _ = FCGX_PutStr(chars.baseAddress, Int32(chars.count), request.pointee.out)
            }
        }
        return response
    }

    /// Reads the body up to `limit + 1` bytes (so an undeclared oversize body is still caught), growing the buffer
    /// as bytes arrive rather than trusting the declared length; nil when the stream ended early or failed.
    private func readBody(expected: Int?, limit: Int) -> [UInt8]? {
        let want = max(0, min(expected ?? (limit + 1), limit + 1))
        var body = [UInt8]()
        body.reserveCapacity(min(want, 1 << 20))
        var chunk = [CChar](repeating: 0, count: 1 << 16)
        while body.count < want {
            let n = FCGX_GetStr(&chunk, Int32(min(want - body.count, chunk.count)), request.pointee.in)
            if n <= 0 { break }
            chunk.withUnsafeBytes { body.append(contentsOf: $0.prefix(Int(n))) }
        }
        if let expected, body.count < min(expected, limit + 1) { return nil }
        return body
    }
}
