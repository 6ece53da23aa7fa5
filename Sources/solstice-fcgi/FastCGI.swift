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
/// `FCGX_Init`, `FCGX_OpenSocket`). libfcgi opens the socket; the records on its connections are read and written
/// here (`FastCGIWorker`), because libfcgi's own request code crashes on hostile input (see `FastCGIWorker`).
struct FastCGIListener: Sendable {
    let fd: Int32
    /// `FCGI_WEB_SERVER_ADDRS`, as libfcgi honours it: the IPv4 peers a TCP connection may come from (any if nil).
    let webServerAddresses: Set<String>? = FastCGIListener.allowedPeers()

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

    private static func allowedPeers() -> Set<String>? {
        guard let list = getenv("FCGI_WEB_SERVER_ADDRS").map({ String(cString: $0) }) else { return nil }
        let addresses = list.split(separator: ",").map { $0.trimmed() }.filter { !$0.isEmpty }
        return addresses.isEmpty ? nil : Set(addresses)
    }

    /// Accepts one connection (close-on-exec), refusing IPv4 peers `FCGI_WEB_SERVER_ADDRS` does not list; -1 with
    /// `errno` when accepting failed.
    func accept() -> Int32 {
        while true {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let connection = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(fd, $0, &length) }
            }
            if connection < 0 {
                if errno == EINTR { continue }
                return -1
            }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            guard let allowed = webServerAddresses, Int32(address.ss_family) == AF_INET else { return connection }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    var ip = $0.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                }
            }
            let peer = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if allowed.contains(peer) { return connection }
            close(connection)
        }
    }
}

/// The FastCGI protocol as a responder speaks it (https://fastcgi-archives.github.io/FastCGI_Specification.html):
/// record types and the bytes of the records this side writes.
enum FastCGIRecord {
    static let beginRequest: UInt8 = 1
    static let endRequest: UInt8 = 3
    static let params: UInt8 = 4
    static let stdin: UInt8 = 5
    static let stdout: UInt8 = 6
    static let getValues: UInt8 = 9
    static let getValuesResult: UInt8 = 10
    static let unknownType: UInt8 = 11

    static let responderRole = 1
    static let requestComplete: UInt8 = 0
    static let cantMultiplex: UInt8 = 1
    static let unknownRole: UInt8 = 3

    /// The most parameter bytes one request may send (libfcgi took any amount): far above any web server's header
    /// limit, far below what would hurt.
    static let maxParamsBytes = 1 << 20

    /// A record of `type` for request `id` with `content` (at most 65535 bytes), unpadded.
    static func bytes(_ type: UInt8, id: Int, _ content: ArraySlice<UInt8> = []) -> [UInt8] {
        var out: [UInt8] = []
        append(type, id: id, content, to: &out)
        return out
    }

    /// Appends the record of `type` for request `id` with `content` (at most 65535 bytes) to `out`.
    static func append(_ type: UInt8, id: Int, _ content: ArraySlice<UInt8> = [], to out: inout [UInt8]) {
        let n = content.count
        out.append(contentsOf: [1, type, UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF), UInt8(n >> 8), UInt8(n & 0xFF), 0, 0])
        out.append(contentsOf: content)
    }

    /// FCGI_END_REQUEST with application status 0 and `status`.
    static func end(id: Int, _ status: UInt8) -> [UInt8] { bytes(endRequest, id: id, [0, 0, 0, 0, status, 0, 0, 0]) }

    /// The answer to a management record (request id 0): FCGI_GET_VALUES gets the values libfcgi gave (one
    /// connection, one request at a time, no multiplexing), each asked-for name once; any other type
    /// FCGI_UNKNOWN_TYPE. Nil for a GET_VALUES whose name-value pairs do not parse.
    static func managementAnswer(type: UInt8, content: [UInt8]) -> [UInt8]? {
        guard type == getValues else { return bytes(unknownType, id: 0, [type, 0, 0, 0, 0, 0, 0, 0]) }
        guard let asked = pairs(content) else { return nil }
        let known = [("FCGI_MAX_CONNS", "1"), ("FCGI_MAX_REQS", "1"), ("FCGI_MPXS_CONNS", "0")]
        var answer: [UInt8] = []
        for (name, value) in known where asked.contains(where: { $0.name == name }) {
            answer += [UInt8(name.utf8.count), UInt8(value.utf8.count)] + Array(name.utf8) + Array(value.utf8)
        }
        return bytes(getValuesResult, id: 0, answer[...])
    }

    /// Name-value pairs (lengths of one byte, or four with the high bit set); nil when a length runs past the end.
    static func pairs(_ bytes: [UInt8]) -> [(name: String, value: String)]? {
        ranges(bytes)?.map {
            (String(decoding: bytes[$0.name], as: UTF8.self), String(decoding: bytes[$0.value], as: UTF8.self))
        }
    }

    /// The request's parameters that the responder reads (`WebhookRequest.cgiVariables`), the first of each name;
    /// nil when a length runs past the end. A web server sends thirty or so; making a String and a dictionary
    /// entry of each cost more than the few that are read.
    static func requestParameters(_ bytes: [UInt8]) -> [(name: String, value: String)]? {
        guard let ranges = ranges(bytes) else { return nil }
        var result: [(name: String, value: String)] = []
        for (name, value) in ranges {
            guard let wanted = readNames.firstIndex(where: { $0.elementsEqual(bytes[name]) }) else { continue }
            let text = WebhookRequest.cgiVariables[wanted]
            if !result.contains(where: { $0.name == text }) {
                result.append((text, String(decoding: bytes[value], as: UTF8.self)))
            }
        }
        return result
    }

    private static let readNames = WebhookRequest.cgiVariables.map { Array($0.utf8) }

    /// Where each pair's name and value lie in `bytes`.
    private static func ranges(_ bytes: [UInt8]) -> [(name: Range<Int>, value: Range<Int>)]? {
        var result: [(name: Range<Int>, value: Range<Int>)] = []
        var i = 0
        func length() -> Int? {
            guard i < bytes.count else { return nil }
            if bytes[i] < 0x80 {
                i += 1
                return Int(bytes[i - 1])
            }
            guard i + 4 <= bytes.count else { return nil }
            let n = Int(bytes[i] & 0x7F) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            i += 4
            return n
        }
        while i < bytes.count {
            guard let nameLength = length(), let valueLength = length(),
                nameLength <= bytes.count - i, valueLength <= bytes.count - i - nameLength
            else { return nil }
            result.append((i..<(i + nameLength), (i + nameLength)..<(i + nameLength + valueLength)))
            i += nameLength + valueLength
        }
        return result
    }
}

/// Whole records from one connection, read through a buffer. A worker keeps one reader (its 64 KB buffer) for all
/// its connections: allocating and zeroing a fresh buffer per connection was a visible share of a webhook's CPU.
struct FastCGIReader {
    private(set) var fd: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0

    /// Reads `fd` from now on, forgetting what was buffered from the previous connection.
    mutating func begin(_ fd: Int32) {
        self.fd = fd
        (start, end) = (0, 0)
    }

    /// Whether bytes the web server sent are waiting in the buffer, not yet read as records.
    var hasBufferedBytes: Bool { start < end }

    /// Consumes an empty record of `type` for request `id` if one is next in the buffer, without reading the
    /// connection; false otherwise.
    mutating func takeEmptyRecordIfBuffered(_ type: UInt8, id: Int) -> Bool {
        guard end - start >= 8, buffer[start] == 1, buffer[start + 1] == type,
            Int(buffer[start + 2]) << 8 | Int(buffer[start + 3]) == id,
            buffer[start + 4] == 0, buffer[start + 5] == 0, buffer[start + 6] == 0
        else { return false }
        start += 8
        return true
    }

    /// A record's header, as read: its type, request id, content length and padding.
    struct Header {
        var type: UInt8
        var id: Int
        var length: Int
        var padding: Int
    }

    /// The next record's header; nil at the end of the connection, on a read error (the watchdog's shutdown too) or
    /// on a record of a version but 1. Its content is read next, by `content(of:appendingTo:keeping:)`.
    mutating func nextHeader() -> Header? {
        // The header is read in place: an array per header cost an allocation per record.
        var version: UInt8 = 0
        var header = Header(type: 0, id: 0, length: 0, padding: 0)
        var seen = 0
        while seen < 8 {
            guard start < end || refill() else { return nil }
            let byte = buffer[start]
            switch seen {
            case 0: version = byte
            case 1: header.type = byte
            case 2, 3: header.id = header.id << 8 | Int(byte)
            case 4, 5: header.length = header.length << 8 | Int(byte)
            case 6: header.padding = Int(byte)
            default: break
            }
            start += 1
            seen += 1
        }
        return version == 1 ? header : nil
    }

    /// Reads the content and padding of the record whose header was just read, appending at most `keep` bytes of
    /// the content to `out` (the rest is read and dropped); false when the connection ended first. The body goes
    /// straight from the read buffer into the request's body: a copy per record, then another into the body, cost
    /// an allocation and a copy of every webhook's payload.
    mutating func content(of header: Header, appendingTo out: inout [UInt8], keeping keep: Int = .max) -> Bool {
        // The padding is read in the same walk; it is never kept.
        var left = header.length + header.padding
        var wanted = min(keep, header.length)
        while left > 0 {
            guard start < end || refill() else { return false }
            let take = min(left, end - start)
            let used = min(take, wanted)
            if used > 0 { out.append(contentsOf: buffer[start..<(start + used)]) }
            wanted -= used
            start += take
            left -= take
        }
        return true
    }

    /// The next record, its content in an array of its own; nil as for `nextHeader`, or when its content is cut off.
    mutating func next() -> (type: UInt8, id: Int, content: [UInt8])? {
        guard let header = nextHeader() else { return nil }
        var content: [UInt8] = []
        content.reserveCapacity(header.length)
        guard self.content(of: header, appendingTo: &content) else { return nil }
        return (header.type, header.id, content)
    }

    /// Reads the connection into the empty buffer; false at its end or on an error.
    private mutating func refill() -> Bool {
        let n = Posix.retryingEINTR { Glibc.read(fd, &buffer, buffer.count) }
        guard n > 0 else { return false }
        (start, end) = (0, n)
        return true
    }
}

/// One worker thread: accepts connections on the listener and serves the FastCGI requests on each, one at a time
/// (keep-alive connections too). The records are read and written here rather than by libfcgi's `FCGX_Accept_r`:
/// libfcgi 2.4.2 overflows a stack buffer on an FCGI_GET_VALUES record naming a variable four times or more (the
/// whole process aborts), leaks memory on every other management record, and holds a worker as long as a client
/// keeps sending after the answer.
///
/// The stall watchdog reads the connection in hand from another thread (see `StallWatchdog`); nothing else is shared.
final class FastCGIWorker: @unchecked Sendable {
    private let listener: FastCGIListener
    /// What the watchdog may know: which request this is and the connection's descriptor (-1 between
    /// connections). The descriptor is closed only after it was set to -1 under this lock, so the watchdog never
    /// shuts down a descriptor that was closed (and maybe reused).
    fileprivate let phase = Mutex((generation: 0, fd: Int32(-1)))

    /// A worker accepting on `listener`, watched by `watchdog`.
    init(listener: FastCGIListener, watchdog: StallWatchdog) {
        self.listener = listener
        watchdog.watch(self)
    }

    /// Serves connections until accepting fails for good.
    func run(_ responder: WebhookResponder, logger: Logger) {
        var failures = 0
        var reader = FastCGIReader()
        while true {
            let connection = listener.accept()
            if Shutdown.requested.load(ordering: .sequentiallyConsistent) && connection < 0 { return }
            guard connection >= 0 else {
                // A transient accept failure (a peer that reset) must not end the worker; a permanent one
                // (listener closed) would spin, so back off.
                failures += 1
                if failures % 100 == 1 { logger.log(.error, "FastCGI accept failed", ["count": .int(failures)]) }
                usleep(10_000)
                continue
            }
            failures = 0
            // A client that stops reading must not hold the answer's writes (and so this worker) for ever.
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            _ = setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            phase.withLock {
                $0.generation += 1
                $0.fd = connection
            }
            reader.begin(connection)
            var open = true
            while let answered = serveOne(&reader, responder) {
                if !answered.keepConnection {
                    // Closed first: the web server may wait for the connection to close before it answers. A
                    // plain close, where it can be, spares the wait for the web server's own close.
                    closeConnection(connection, inputEnded: answered.inputEnded && !reader.hasBufferedBytes)
                    open = false
                }
                responder.afterAnswer(answered.response)
                Shutdown.inFlight.subtract(1, ordering: .sequentiallyConsistent)
                guard open else { break }
                phase.withLock { $0.generation += 1 }  // kept alive: the watchdog counts the wait for the next anew
            }
            if open { closeConnection(connection, inputEnded: false) }
        }
    }

    /// Reads one request (answering management records on the way), answers it and says whether the connection
    /// may serve another; nil when the connection ended or broke the protocol before a request was read (then
    /// nothing was answered).
    private func serveOne(_ reader: inout FastCGIReader, _ responder: WebhookResponder) -> (
        response: WebhookResponse, keepConnection: Bool, inputEnded: Bool
    )? {
        // FCGI_BEGIN_REQUEST: 8 bytes of role, flags and reserved, for a request id other than 0.
        var begin: (id: Int, role: Int, keep: Bool)?
        while begin == nil {
            guard let record = reader.next() else { return nil }
            if record.id == 0 {
                guard record.type != FastCGIRecord.beginRequest, answerManagement(record, reader.fd) else { return nil }
                continue
            }
            guard record.type == FastCGIRecord.beginRequest, record.content.count == 8 else { return nil }
            begin = (record.id, Int(record.content[0]) << 8 | Int(record.content[1]), record.content[2] & 1 != 0)
        }
        let (id, role, keep) = begin!
        // FCGI_PARAMS up to the empty record.
        var params: [UInt8] = []
        while true {
            guard let length = nextContent(of: FastCGIRecord.params, for: id, &reader, appendingTo: &params) else {
                return nil
            }
            if length == 0 { break }
            if params.count > FastCGIRecord.maxParamsBytes { return nil }
        }
        guard role == FastCGIRecord.responderRole else {
            write(FastCGIRecord.end(id: id, FastCGIRecord.unknownRole), reader.fd)
            return nil
        }
        guard let parameters = FastCGIRecord.requestParameters(params) else { return nil }
        phase.withLock { $0.generation += 1 }
        Shutdown.inFlight.add(1, ordering: .sequentiallyConsistent)

        let webhook = WebhookRequest { name in parameters.first { $0.name == name }?.value }
        var stdinEnded = false
        var broken = false
        let response = responder.respond(to: webhook) { limit in
            // Up to `limit + 1` bytes (so an undeclared oversize body is still caught), growing as records arrive
            // rather than trusting the declared length; nil when the stream ended early or failed.
            let want = max(0, min(webhook.contentLength ?? (limit + 1), limit + 1))
            var body: [UInt8] = []
            body.reserveCapacity(min(want, 1 << 16))
            while body.count < want {
                let keep = want - body.count
                guard
                    let length = nextContent(
                        of: FastCGIRecord.stdin, for: id, &reader, appendingTo: &body, keeping: keep)
                else {
                    broken = true
                    break
                }
                if length == 0 {
                    stdinEnded = true
                    break
                }
            }
            if let expected = webhook.contentLength, body.count < min(expected, limit + 1) { return nil }
            // A kept connection serves the next request only after this one's empty FCGI_STDIN, which the web
            // server sends right behind the body it declared; without this read every keep-alive connection
            // was closed after its first answer, and nginx failed the request it had already sent on it (502).
            // Without keep-alive the stream's end is taken only if it already arrived (a closing connection must
            // not wait for it): it lets the connection close without waiting for the web server's own close.
            if !stdinEnded && !broken && body.count == webhook.contentLength {
                stdinEnded =
                    keep
                    ? nextContent(of: FastCGIRecord.stdin, for: id, &reader, appendingTo: &body, keeping: 0) == 0
                    : reader.takeEmptyRecordIfBuffered(FastCGIRecord.stdin, id: id)
            }
            return body
        }
        let bytes = response.cgiBytes()
        var answer: [UInt8] = []
        answer.reserveCapacity(bytes.count + 32 + bytes.count / 65_535 * 8)
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + 65_535)
            FastCGIRecord.append(FastCGIRecord.stdout, id: id, bytes[start..<end], to: &answer)
            start = end
        }
        FastCGIRecord.append(FastCGIRecord.stdout, id: id, to: &answer)
        answer += FastCGIRecord.end(id: id, FastCGIRecord.requestComplete)
        let written = write(answer, reader.fd)
        // Another request may follow only where this one's body was read to its end.
        return (response, keep && stdinEnded && !broken && written, stdinEnded && !broken)
    }

    /// Appends the content of the next record of `type` for request `id` to `out`, at most `keep` bytes of it, and
    /// returns the record's content length (0: the stream's empty end record). Management records are answered, a
    /// new request on the same connection is refused (FCGI_CANT_MPX_CONN) and records of other requests are skipped,
    /// as libfcgi did; nil at the end of the connection or on a record of another type for this request.
    private func nextContent(
        of type: UInt8, for id: Int, _ reader: inout FastCGIReader, appendingTo out: inout [UInt8],
        keeping keep: Int = .max
    ) -> Int? {
        var other: [UInt8] = []
        while let header = reader.nextHeader() {
            if header.id == id && header.type != FastCGIRecord.beginRequest {
                guard header.type == type, reader.content(of: header, appendingTo: &out, keeping: keep) else {
                    return nil
                }
                return header.length
            }
            other.removeAll(keepingCapacity: true)
            guard reader.content(of: header, appendingTo: &other) else { return nil }
            if header.id == 0 {
                guard header.type != FastCGIRecord.beginRequest,
                    answerManagement((header.type, header.id, other), reader.fd)
                else { return nil }
            } else if header.type == FastCGIRecord.beginRequest {
                guard header.id != id else { return nil }
                write(FastCGIRecord.end(id: header.id, FastCGIRecord.cantMultiplex), reader.fd)
            }
        }
        return nil
    }

    /// Answers a management record; false when it does not parse (a protocol error: the connection ends).
    private func answerManagement(_ record: (type: UInt8, id: Int, content: [UInt8]), _ fd: Int32) -> Bool {
        guard let answer = FastCGIRecord.managementAnswer(type: record.type, content: record.content) else {
            return false
        }
        write(answer, fd)
        return true
    }

    @discardableResult
    private func write(_ bytes: [UInt8], _ fd: Int32) -> Bool { (try? Posix.writeAll(fd, bytes)) != nil }

    /// Closes the connection. Unless `inputEnded` (the request's input was read to its end and nothing else came,
    /// so a plain close cuts off nothing), as libfcgi did: a web server still sending a body it may not send (a
    /// 413) sees the answer rather than a reset: shut down the sending side, read what still comes until the
    /// client closes or has been quiet for 2 s, then close. The watchdog still counts meanwhile: a client that
    /// keeps sending is cut off like any other.
    private func closeConnection(_ fd: Int32, inputEnded: Bool) {
        if !inputEnded && shutdown(fd, Int32(SHUT_WR)) == 0 {
            var sink = [UInt8](repeating: 0, count: 4096)
            while true {
                var events = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard Posix.retryingEINTR({ poll(&events, 1, 2000) }) > 0 else { break }
                guard Posix.retryingEINTR({ Glibc.read(fd, &sink, sink.count) }) > 0 else { break }
            }
        }
        phase.withLock { $0.fd = -1 }
        close(fd)
    }
}

/// Cuts off FastCGI clients that stall (SPEC §3): a connection held longer than `timeout` between its accept and
/// its answer — a client that sent only BEGIN_REQUEST, or a body that trickles — is shut down, so the worker's
/// blocked read returns and the worker serves others. The socket's own timeouts cannot do it: a unix socket's
/// accepted connection does not inherit them, and a client can trickle bytes within any read timeout.
///
/// One thread, waking every second; per worker it remembers which (request generation, descriptor) it saw since
/// when, under the worker's phase lock, which the worker holds to let go of a descriptor before closing it.
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
                        let fd = phase.fd
                        guard fd >= 0 else {
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
