// The transport modes of the request-path fuzzer (RequestFuzz.swift picks one by the first input byte). Both drive
// the real adapters of solstice-fcgi, compiled into this harness by scripts/fuzz-request.sh (FastCGI.swift,
// Shutdown.swift, CGI.swift; not main.swift), in front of a WebhookResponder with the fakes of RequestFuzz.swift.
//
// 'F' FastCGI. Once per process: a listening unix socket in /dev/shm (FastCGIListener.open, libfcgi's), one
//     FastCGIWorker on its own thread (it reads and writes the records itself), a StallWatchdog cutting off
//     connections held longer than 1 s. Per input: connect, write the bytes, shut down the write side, read until
//     the worker closes (5 s at most), check every answer in the reply, then check that the worker still answers a
//     canary request.
//       byte 1 bit 0 clear, "raw": the rest of the input is written as it is (seeds are well-formed record
//         streams; the mutations garble versions, types, lengths, padding, request ids, truncate records);
//       byte 1 bit 0 set, "built": byte 2 quirks and byte 3 a size (see `FastCGIStream.build`), then parameters
//         and body as in 'C'; the harness encodes them as BEGIN_REQUEST, PARAMS and STDIN records, so mutations of
//         a value (CONTENT_LENGTH=-1, a header with CR LF) stay well-framed.
// 'C' CGI. byte 1 flags (bit 0 a secret is set, bit 1 the harness signs the body with it, bit 2 no spool), then
//     NAME=VALUE entries separated by NUL bytes (the first of a name wins, as getenv), 0xFF, the body. The body
//     comes from a pipe, the answer goes to another (CGIAdapter.serveOne's descriptors).
//
// Every answer is checked as a web server would take it: `Status:` first with a status of SPEC §3, no header line
// but Content-Type, Content-Length, Allow and X-Solstice-Ignored (none twice, none with a control character), a
// Content-Length that is the body's, and a JSON object body unless 204.

import AMQP
import Base
import Crypto
import Delivery
import FoundationEssentials
import Jobs
import Webhook

#if canImport(Glibc)
    import Glibc
#endif

// MARK: - Answers

/// The statuses an answer of SPEC §3 may have.
let transportStatuses: Set<Int> = [200, 202, 204, 400, 401, 404, 405, 413, 415, 503]
/// The header lines an answer may have besides `Status:` (lowercased).
let answerHeaders: Set<String> = ["content-type", "content-length", "allow", "x-solstice-ignored"]

/// Stops the fuzzer with `why` and the start of `answer` (a finding: libFuzzer keeps the input).
func answerFailure(_ mode: String, _ why: String, _ answer: ArraySlice<UInt8>) -> Never {
    fatalError("\(mode): \(why); answer: \(String(decoding: answer.prefix(800), as: UTF8.self).debugDescription)")
}

/// Checks one CGI-style answer (head, blank line, body). `complete` is false for a reply the worker did not finish
/// (the connection was cut): then only its whole header lines are checked. Returns the status.
@discardableResult
func checkAnswer(_ answer: ArraySlice<UInt8>, complete: Bool, _ mode: String) -> Int? {
    let bytes = Array(answer)
    var headEnd: Int?
    if bytes.count >= 4 {
        for i in 0...(bytes.count - 4)
        where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            headEnd = i
            break
        }
    }
    if headEnd == nil && complete { answerFailure(mode, "no blank line after the head", answer) }
    var lines: [ArraySlice<UInt8>] = []
    var start = 0
    let head = bytes[..<(headEnd ?? bytes.count)]
    var i = 0
    while i + 1 < head.count {
        if head[i] == 13 && head[i + 1] == 10 {
            lines.append(head[start..<i])
            start = i + 2
            i += 2
        } else {
            i += 1
        }
    }
    if headEnd != nil { lines.append(head[start...]) }  // else the last line may be cut short: left out
    var status: Int?
    var seen: [String: String] = [:]
    for (n, line) in lines.enumerated() {
        let text = String(decoding: line, as: UTF8.self)
        if text.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            answerFailure(mode, "a control character in header line \(text.debugDescription)", answer)
        }
        guard let colon = text.firstIndex(of: ":") else {
            answerFailure(mode, "header line without a name: \(text.debugDescription)", answer)
        }
        let name = text[..<colon].lowercased()
        let value = String(text[text.index(after: colon)...].drop { $0 == " " })
        if n == 0 {
            let code = value.prefix(3)
            guard name == "status", let number = Int(code), transportStatuses.contains(number),
                value.dropFirst(3).first == " "
            else { answerFailure(mode, "the first line is not a Status: of SPEC §3", answer) }
            status = number
            continue
        }
        guard answerHeaders.contains(name) else { answerFailure(mode, "a header line we never send: \(name)", answer) }
        guard seen[name] == nil else { answerFailure(mode, "header \(name) twice", answer) }
        seen[name] = value
    }
    guard complete, let headEnd, let status else { return status }
    let body = bytes[(headEnd + 4)...]
    guard seen["content-length"] == String(body.count) else {
        answerFailure(mode, "Content-Length is not the body's \(body.count) bytes", answer)
    }
    if status == 204 {
        guard body.isEmpty, seen["content-type"] == nil, seen["x-solstice-ignored"] != nil else {
            answerFailure(mode, "a 204 with a body, a content type or without X-Solstice-Ignored", answer)
        }
        return status
    }
    guard seen["content-type"] == "application/json" else {
        answerFailure(mode, "status \(status) without Content-Type: application/json", answer)
    }
    guard case .object = try? JSONDecoder().decode(JSONField.self, from: Data(body)) else {
        answerFailure(mode, "status \(status) without a JSON object body", answer)
    }
    if status == 405 && seen["allow"] != "POST" { answerFailure(mode, "a 405 without Allow: POST", answer) }
    return status
}

/// Splits `bytes` (after the mode bytes) into NAME=VALUE entries (NUL-separated, up to the first 0xFF) and the body
/// after that 0xFF. Entries without `=` are names with an empty value; empty entries are skipped.
func parametersAndBody(_ bytes: ArraySlice<UInt8>) -> (parameters: [([UInt8], [UInt8])], body: [UInt8]) {
    let end = bytes.firstIndex(of: 0xFF) ?? bytes.endIndex
    let body = end < bytes.endIndex ? Array(bytes[(end + 1)...]) : []
    var parameters: [([UInt8], [UInt8])] = []
    for entry in bytes[..<end].split(separator: 0, omittingEmptySubsequences: true) {
        if let equals = entry.firstIndex(of: UInt8(ascii: "=")) {
            parameters.append((Array(entry[..<equals]), Array(entry[(equals + 1)...])))
        } else {
            parameters.append((Array(entry), []))
        }
    }
    return (parameters, body)
}

/// The fakes' workflow for the transport modes: two jobs, so a 202 lists more than one.
let transportWorkflow = Array("job \"a\"\njob \"b\" runs_on=\"x\"\n".utf8)

// MARK: - FastCGI

/// FastCGI record encoding (the protocol's, https://fastcgi-archives.github.io/FastCGI_Specification.html).
enum FastCGIStream {
    // The record types are the responder's own (FastCGIRecord, compiled into this harness); it writes no STDERR.
    static let stderr: UInt8 = 7

    /// One record of `type` carrying `content` (at most 65535 bytes) and `padding` zero bytes.
    static func record(_ type: UInt8, _ content: ArraySlice<UInt8>, id: UInt16 = 1, padding: UInt8 = 0) -> [UInt8] {
        let n = content.count
        return [1, type, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(n >> 8), UInt8(n & 0xFF), padding, 0]
            + content + [UInt8](repeating: 0, count: Int(padding))
    }

    /// A name-value length: one byte below 128, else four with the high bit set.
    static func length(_ n: Int) -> [UInt8] {
        n < 128
            ? [UInt8(n)]
            : [UInt8(0x80 | (n >> 24) & 0x7F), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }

    /// Name-value pairs; with `hugeFirstValue`, the first value's length is declared as `hugeFirstValue` instead.
    static func pairs(_ parameters: [([UInt8], [UInt8])], hugeFirstValue: Int? = nil) -> [UInt8] {
        var out: [UInt8] = []
        for (i, (name, value)) in parameters.enumerated() {
            out += length(name.count) + length(i == 0 ? hugeFirstValue ?? value.count : value.count) + name + value
        }
        return out
    }

    /// A stream of `stream` type records carrying `bytes` in pieces of `chunk`, then the empty record that ends the
    /// stream unless `unterminated`.
    static func stream(_ type: UInt8, _ bytes: [UInt8], chunk: Int, padding: UInt8, unterminated: Bool) -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            out += record(type, bytes[start..<end], padding: padding)
            start = end
        }
        if !unterminated { out += record(type, [], padding: padding) }
        return out
    }

    /// One request as a web server would send it, with the `quirks` asked for:
    /// bit 0 FCGI_KEEP_CONN; bit 1 the AUTHORIZER role; bit 2 no empty PARAMS record at the end; bit 3 no empty
    /// STDIN record at the end; bit 4 records padded by `size` bytes; bit 5 an FCGI_GET_VALUES management record
    /// first; bit 6 the first parameter's value length declared huge; bit 7 the request sent twice on the
    /// connection. `size` also sets the piece size: whole records (65535 bytes) for 0, 1 to 7 bytes below 8, else
    /// 64 × size.
    static func build(quirks: UInt8, size: UInt8, parameters: [([UInt8], [UInt8])], body: [UInt8]) -> [UInt8] {
        let chunk = size == 0 ? 65_535 : size < 8 ? Int(size) : Int(size) * 64
        let padding = quirks & 16 != 0 ? size : 0
        var request = record(FastCGIRecord.beginRequest, [0, quirks & 2 != 0 ? 2 : 1, quirks & 1, 0, 0, 0, 0, 0][...])
        let huge = quirks & 64 != 0 ? 0x7FFF_0000 | Int(size) << 8 | Int(size) : nil
        request += stream(
            FastCGIRecord.params, pairs(parameters, hugeFirstValue: huge), chunk: chunk, padding: padding,
            unterminated: quirks & 4 != 0)
        request += stream(FastCGIRecord.stdin, body, chunk: chunk, padding: padding, unterminated: quirks & 8 != 0)
        var out: [UInt8] = []
        if quirks & 32 != 0 {
            let names = ["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"].map { (Array($0.utf8), [UInt8]()) }
            out += record(FastCGIRecord.getValues, pairs(names)[...], id: 0)
        }
        out += request
        if quirks & 128 != 0 { out += request }
        return out
    }

    /// The records of a reply: the STDOUT of each request that ended (END_REQUEST with REQUEST_COMPLETE), the
    /// STDOUT of one that did not (nil if none), and the STDERR bytes. Fails on what the worker never sends.
    static func replies(_ bytes: [UInt8], _ mode: String) -> (ended: [[UInt8]], open: [UInt8]?, stderr: Int) {
        var ended: [[UInt8]] = []
        var current: [UInt8] = []
        var stderrBytes = 0
        var i = 0
        while i + 8 <= bytes.count {
            let (version, type) = (bytes[i], bytes[i + 1])
            let n = Int(bytes[i + 4]) << 8 | Int(bytes[i + 5])
            let padding = Int(bytes[i + 6])
            guard version == 1 else { answerFailure(mode, "a reply record of version \(version)", bytes[i...]) }
            guard i + 8 + n + padding <= bytes.count else { break }  // cut off mid-record
            let content = bytes[(i + 8)..<(i + 8 + n)]
            switch type {
            case FastCGIRecord.stdout: current += content
            case stderr: stderrBytes += n
            case FastCGIRecord.endRequest:
                guard n == 8 else { answerFailure(mode, "END_REQUEST of \(n) bytes", bytes[i...]) }
                if content[content.startIndex + 4] == 0 {  // FCGI_REQUEST_COMPLETE
                    ended.append(current)
                } else if !current.isEmpty {
                    answerFailure(
                        mode, "an answer ended with protocol status \(content[content.startIndex + 4])", current[...])
                }
                current = []
            case FastCGIRecord.getValuesResult, FastCGIRecord.unknownType: break
            default: answerFailure(mode, "a reply record of type \(type)", bytes[i...])
            }
            i += 8 + n + padding
        }
        return (ended, current.isEmpty ? nil : current, stderrBytes)
    }
}

/// Talks to the harness's own FastCGI worker like a client on the socket.
enum FastCGIClient {
    /// Connects to `path`, writes `bytes` while reading, shuts down the write side, reads until the worker closes.
    /// Nil when that takes longer than `seconds`.
    static func exchange(_ path: String, _ bytes: [UInt8], seconds: Double) -> [UInt8]? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(fd >= 0, "socket: \(errno)")
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        precondition(connected == 0, "connect \(path): \(String(cString: strerror(errno)))")
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let deadline = MonotonicClock.now() + seconds
        var written = 0
        var writing = true
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            if writing && written == bytes.count {
                shutdown(fd, Int32(SHUT_WR))
                writing = false
            }
            let left = deadline - MonotonicClock.now()
            if left <= 0 { return nil }
            var events = pollfd(fd: fd, events: Int16(POLLIN) | (writing ? Int16(POLLOUT) : 0), revents: 0)
            _ = poll(&events, 1, Int32(min(100, left * 1000 + 1)))
            if events.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = read(fd, &buffer, buffer.count)
                if n > 0 {
                    reply += buffer[..<n]
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    return reply  // closed (ECONNRESET too: what came before it stands)
                }
            }
            if writing && events.revents & Int16(POLLOUT) != 0 {
                let n = bytes.withUnsafeBytes {
                    send(fd, $0.baseAddress! + written, bytes.count - written, Int32(MSG_NOSIGNAL))
                }
                if n > 0 {
                    written += n
                } else if n < 0 && errno != EAGAIN && errno != EINTR {
                    writing = false  // the worker closed its side: read what it said
                }
            }
        }
    }
}

/// The harness's FastCGI side, made on the first 'F' input.
final class FastCGIMode: Sendable {
    let path: String
    /// A stalled input is cut off by the watchdog after this many seconds.
    static let watchdogSeconds = 1.0
    /// An input whose reply has not ended after this long stopped the worker: a finding.
    static let replySeconds = 5.0

    private init() {
        signal(SIGPIPE, SIG_IGN)  // as solstice-fcgi: a write to a closed connection fails, it does not kill
        path = "/dev/shm/solstice-request-fuzz-\(getpid()).sock"
        let listener: FastCGIListener
        do { listener = try FastCGIListener.open(path) } catch { fatalError("cannot listen on \(path): \(error)") }
        let spool = try! SpoolDirectory(path: "/dev/shm/solstice-request-fuzz-\(getpid())-fcgi")
        var config = WebhookConfiguration()
        config.maxBodyBytes = 1 << 16
        let logger = Logger(level: .error)
        let responder = WebhookResponder(
            configuration: config,
            dispatcher: JobDispatcher(publisher: FuzzPublisher(), outbox: JobOutbox(spool: spool), logger: logger),
            expander: FuzzExpander(workflow: transportWorkflow), spool: spool, logger: logger)
        // The watchdog says when it cut a connection off (warning); nothing else logs below error.
        let watchdog = StallWatchdog(timeout: Self.watchdogSeconds, logger: Logger(level: .warning))
        watchdog.start()
        // One worker: a worker that an input left unable to serve shows at once in the canary.
        Threads.start { FastCGIWorker(listener: listener, watchdog: watchdog).run(responder, logger: logger) }
    }

    static let shared = FastCGIMode()

    /// A GET of a path that is not the webhook's: the worker answers 404 if it still serves.
    static let canary = FastCGIStream.build(
        quirks: 0, size: 0,
        parameters: [
            (Array("REQUEST_METHOD".utf8), Array("GET".utf8)), (Array("REQUEST_URI".utf8), Array("/canary".utf8)),
        ], body: [])

    static func run(_ input: [UInt8]) {
        guard input.count >= 2 else { return }
        let bytes: [UInt8]
        if input[1] & 1 == 0 {
            bytes = Array(input[2...])
        } else {
            guard input.count >= 4 else { return }
            let (parameters, body) = parametersAndBody(input[4...])
            bytes = FastCGIStream.build(quirks: input[2], size: input[3], parameters: parameters, body: body)
        }
        let mode = shared
        guard let reply = FastCGIClient.exchange(mode.path, bytes, seconds: replySeconds) else {
            fatalError(
                "fastcgi: no end of the reply within \(replySeconds) s (the watchdog cuts at \(watchdogSeconds) s)")
        }
        let (ended, open, stderrBytes) = FastCGIStream.replies(reply, "fastcgi")
        if stderrBytes > 0 { fatalError("fastcgi: \(stderrBytes) bytes on FCGI_STDERR") }
        for answer in ended { checkAnswer(answer[...], complete: true, "fastcgi") }
        if let open { checkAnswer(open[...], complete: false, "fastcgi") }
        // The worker serves the next client. A canary cut off by the watchdog (it may count a connection's time
        // from an earlier one on the same descriptor) is asked again; a worker that cannot serve fails every time.
        for attempt in 1...3 {
            if let reply = FastCGIClient.exchange(mode.path, canary, seconds: replySeconds),
                let answer = FastCGIStream.replies(reply, "fastcgi canary").ended.first,
                checkAnswer(answer[...], complete: true, "fastcgi canary") == 404
            {
                return
            }
            if attempt == 3 { fatalError("fastcgi: after this input the worker no longer answers a GET with 404") }
        }
    }
}

// MARK: - CGI

enum CGIMode {
    /// Responders by flags bits 0 (secret) and 2 (no spool), made once.
    nonisolated(unsafe) static var responders: [UInt8: WebhookResponder] = [:]
    static let spool = try! SpoolDirectory(path: "/dev/shm/solstice-request-fuzz-\(getpid())-cgi")
    static let pipeSize: Int32 = 1 << 20

    static func responder(_ flags: UInt8) -> WebhookResponder {
        let key = flags & 5
        if let responder = responders[key] { return responder }
        var config = WebhookConfiguration()
        config.maxBodyBytes = 1 << 16
        if flags & 1 != 0 { config.webhookSecrets = ["fuzz-secret"] }
        let spool = flags & 4 == 0 ? spool : nil
        let logger = Logger(level: .error)
        let responder = WebhookResponder(
            configuration: config,
            dispatcher: JobDispatcher(publisher: FuzzPublisher(), outbox: spool.map(JobOutbox.init), logger: logger),
            expander: FuzzExpander(workflow: transportWorkflow), spool: spool, logger: logger)
        responders[key] = responder
        return responder
    }

    /// A pipe that holds `pipeSize` bytes, so the harness writes the whole body before the adapter reads.
    static func bigPipe() -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe: \(errno)")
        _ = fcntl(fds[1], 1031, pipeSize)  // F_SETPIPE_SZ
        return (fds[0], fds[1])
    }

    static func run(_ input: [UInt8]) {
        guard input.count >= 2 else { return }
        let flags = input[1]
        let (parameters, body) = parametersAndBody(input[2...])
        var environment: [String: String] = [:]
        for (name, value) in parameters {
            let key = String(decoding: name, as: UTF8.self)
            if environment[key] == nil { environment[key] = String(decoding: value, as: UTF8.self) }
        }
        if flags & 3 == 3 {
            environment["HTTP_X_HUB_SIGNATURE_256"] = SignatureVerifier.signature(secret: "fuzz-secret", body: body)
        }
        let stdin = bigPipe()
        let stdout = bigPipe()
        try! Posix.writeAll(stdin.write, body)
        close(stdin.write)
        CGIAdapter.serveOne(responder(flags), environment: environment, input: stdin.read, output: stdout.write)
        close(stdin.read)
        close(stdout.write)
        let answer = Posix.readAll(stdout.read) ?? []
        close(stdout.read)
        if answer.isEmpty { fatalError("cgi: no answer") }
        checkAnswer(answer[...], complete: true, "cgi")
    }
}
