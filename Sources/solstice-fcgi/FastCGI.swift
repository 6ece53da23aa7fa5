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

    /// Opens `host:port`, `:port` or a unix socket path. A unix socket gets mode 0660 and the group of its
    /// directory: only the web server's group (give the directory that group) may connect, not every local user.
    static func open(_ address: String, backlog: Int32 = 1024) throws(FastCGIError) -> FastCGIListener {
        try initialize()
        let isUnix = !address.contains(":")
        if isUnix { unlink(address) }
        let fd = FCGX_OpenSocket(address, backlog)
        guard fd >= 0 else {
            throw FastCGIError(code: fd, message: "cannot listen on \(address): \(String(cString: strerror(errno)))")
        }
        if isUnix {
            let directory = address.contains("/") ? String(address[..<address.lastIndex(of: "/")!]) : "."
            var info = stat()
            if stat(directory.isEmpty ? "/" : directory, &info) == 0 { _ = chown(address, uid_t.max, info.st_gid) }
            chmod(address, 0o660)
        }
        return FastCGIListener(fd: fd)
    }

    private static func initialize() throws(FastCGIError) {
        let status = FCGX_Init()
        guard status == 0 else { throw FastCGIError(code: status, message: "FCGX_Init failed") }
    }
}

/// One worker's `FCGX_Request`, accepted and finished in a loop on one thread. The stall watchdog reads its
/// connection's descriptor from another thread (see `StallWatchdog`); nothing else is shared.
final class FastCGIWorker: @unchecked Sendable {
    private let request: UnsafeMutablePointer<FCGX_Request>
    /// What the watchdog may know: which request this is and whether the connection is being closed.
    fileprivate let phase = Mutex((generation: 0, finishing: false))

    /// A worker accepting on `listener` (wraps `FCGX_InitRequest`), watched by `watchdog`.
    init(listener: FastCGIListener, watchdog: StallWatchdog) {
        request = .allocate(capacity: 1)
        request.initialize(to: FCGX_Request())
        FCGX_InitRequest(request, listener.fd, 0)
        watchdog.watch(self)
    }

    /// The descriptor of the connection in hand, -1 between connections. Read racily by the watchdog: an `int`
    /// that libfcgi sets after `accept` and resets after `close`.
    fileprivate var connection: Int32 { request.pointee.ipcFd }

    deinit {
        FCGX_Free(request, 0)
        request.deallocate()
    }

    /// Serves requests until accepting fails for good (wraps `FCGX_Accept_r`, `FCGX_Finish_r`).
    func run(_ responder: WebhookResponder, logger: Logger) {
        var failures = 0
        while true {
            phase.withLock { $0.generation += 1 }  // a new connection may come: the watchdog starts counting anew
            let accepted = FCGX_Accept_r(request) >= 0
            phase.withLock { $0.generation += 1 }
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
            // The watchdog must not shut down a descriptor that is being closed (and may be reused at once).
            phase.withLock { $0.finishing = true }
            FCGX_Finish_r(request)
            phase.withLock { $0.finishing = false }
            responder.afterAnswer(response)
            Shutdown.inFlight.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    private func serveOne(_ responder: WebhookResponder) -> WebhookResponse {
        // A client that stops reading must not hold the answer's writes (and so this worker) for ever.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        _ = setsockopt(request.pointee.ipcFd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
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

/// Cuts off FastCGI clients that stall (SPEC §3): a connection held longer than `timeout` between its accept and
/// its answer — a client that sent only BEGIN_REQUEST, or a body that trickles — is shut down, so the worker's
/// blocked read returns and the worker serves others. The socket's own timeouts cannot do it: a unix socket's
/// accepted connection does not inherit them, and libfcgi reads the parameters before handing the request over.
///
/// One thread, waking every second; per worker it remembers which (request generation, descriptor) it saw since
/// when, under the worker's phase lock, and never touches a descriptor while the worker is closing it.
final class StallWatchdog: Sendable {
    private let timeout: Double
    private let logger: Logger
    private let workers = Mutex<[FastCGIWorker]>([])

    /// A watchdog cutting off connections older than `timeout` seconds.
    init(timeout: Double, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    fileprivate func watch(_ worker: FastCGIWorker) { workers.withLock { $0.append(worker) } }

    /// Starts the watching thread.
    func start() {
        Threads.start { [self] in
            var seen: [ObjectIdentifier: (generation: Int, fd: Int32, since: Double)] = [:]
            while true {
                MonotonicClock.sleep(min(1, timeout / 2))
                let now = MonotonicClock.now()
                for worker in workers.withLock({ $0 }) {
                    let key = ObjectIdentifier(worker)
                    worker.phase.withLock { phase in
                        let fd = worker.connection
                        guard fd >= 0, !phase.finishing else {
                            seen[key] = nil
                            return
                        }
                        guard let first = seen[key], first.generation == phase.generation, first.fd == fd else {
                            seen[key] = (phase.generation, fd, now)
                            return
                        }
                        if now - first.since >= timeout {
                            shutdown(fd, Int32(SHUT_RDWR))
                            seen[key] = (phase.generation, -1, now)  // once
                            logger.log(
                                .warning, "FastCGI client cut off: it held a worker too long",
                                ["seconds": .double(now - first.since)])
                        }
                    }
                }
            }
        }
    }
}
