import Base
internal import CCurl
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An HTTP request for `HTTPClient`.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, `PATCH`, `PUT`, `DELETE`.
    public var method: String
    /// Absolute URL.
    public var url: String
    /// Request headers, in order.
    public var headers: [(String, String)]
    /// Body, for POST/PATCH/PUT.
    public var body: [UInt8]?
    /// Whole-call timeout in seconds (connect is bounded separately at 5 s).
    public var timeout: Double
    /// A body streamed from an open file instead of `body` (S3 uploads of logs larger than memory should hold).
    public var bodyFile: HTTPFileBody?
    /// When set, the response body is written to this file descriptor as it arrives and `HTTPResponse.body` stays
    /// empty (log downloads).
    public var responseFile: Int32?
    /// Sign the request with AWS Signature V4 (libcurl's `CURLOPT_AWS_SIGV4`).
    public var awsSigV4: AWSSigV4?
    /// Stop reading the response body after this many bytes; the response then says `truncated` (a peer cannot
    /// make us store more than we chose to).
    public var maxResponseBytes: Int64?

    /// A request; `timeout` defaults to SPEC §5's 10 s.
    public init(
        method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: Double = 10
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A request body read from `fd`, `size` bytes from offset 0.
public struct HTTPFileBody: Sendable {
    /// An open, readable file descriptor; the caller keeps ownership.
    public var fd: Int32
    /// Bytes to send (`CURLOPT_INFILESIZE_LARGE`).
    public var size: Int64

    /// The first `size` bytes of `fd`.
    public init(fd: Int32, size: Int64) {
        self.fd = fd
        self.size = size
    }
}

/// What libcurl needs to sign a request with AWS Signature V4. `description` never shows the secret.
public struct AWSSigV4: Sendable, CustomStringConvertible {
    /// `CURLOPT_AWS_SIGV4`'s provider string, e.g. `aws:amz:us-east-1:s3`.
    public var provider: String
    /// The access key id (`AWS_ACCESS_KEY_ID`).
    public var accessKeyID: String
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`).
    public var secretAccessKey: String

    /// Credentials for `service` in `region` (`aws:amz:REGION:SERVICE`).
    public init(region: String, service: String, accessKeyID: String, secretAccessKey: String) {
        self.provider = "aws:amz:\(region):\(service)"
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
    }

    public var description: String { "AWSSigV4(\(provider), key \(accessKeyID), secret redacted)" }
}

/// A response: status, headers (names lowercased; a repeated header keeps its last value), body.
public struct HTTPResponse: Sendable {
    /// HTTP status code.
    public var status: Int
    /// Response headers by lowercased name.
    public var headers: [String: String]
    /// Response body.
    public var body: [UInt8]
    /// True when the body was cut at `HTTPRequest.maxResponseBytes`.
    public var truncated = false

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// A response with every field given.
    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A transport failure (no HTTP status): connect refused, timeout, TLS, with libcurl's own message.
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    /// The `CURLcode`.
    public var code: Int32
    /// `curl_easy_strerror(code)` and the error buffer's detail.
    public var message: String

    public var description: String { message }
    /// True for failures worth retrying (timeouts, refused or reset connections).
    public var isTransient: Bool {
        code != Int32(CURLE_URL_MALFORMAT.rawValue) && code != Int32(CURLE_UNSUPPORTED_PROTOCOL.rawValue)
    }
}

/// Sends HTTP requests with libcurl easy handles kept in a pool, so connections (and TLS sessions) are reused
/// across requests. Safe to share between threads: each call takes a handle for its own use and returns it.
public final class HTTPClient: Sendable {
    private let pool = Mutex<[CurlEasy]>([])
    private let connectTimeout: Double
    private let caBundle: String?

    /// A client; `connectTimeout` bounds TCP and TLS connection setup, `settings.caBundle` replaces the system's CAs.
    public init(connectTimeout: Double = 5, settings: HTTPSettings = HTTPSettings()) {
        _ = CurlEasy.globalInit
        self.connectTimeout = connectTimeout
        self.caBundle = settings.caBundle
    }

    /// Performs `request`; throws `HTTPError` when no HTTP response arrived.
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        let easy: CurlEasy
        if let pooled = pool.withLock({ $0.popLast() }) { easy = pooled } else { easy = try CurlEasy() }
        defer { pool.withLock { $0.append(easy) } }
        return try easy.perform(request, connectTimeout: connectTimeout, caBundle: caBundle)
    }
}

/// Owns one `CURL*` easy handle (and its connection cache). Used by one thread at a time.
final class CurlEasy: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    /// `curl_global_init` must run once, before any other thread uses libcurl.
    static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// A new handle (wraps `curl_easy_init`).
    init() throws(HTTPError) {
        guard let h = curl_easy_init() else { throw HTTPError(code: -1, message: "curl_easy_init failed") }
        handle = h
    }

    deinit { curl_easy_cleanup(handle) }

    /// Collects the response while `curl_easy_perform` runs; passed to the callbacks as their user data.
    private final class Sink {
        var body: [UInt8] = []
        var headers: [String: String] = [:]
        /// Where the body goes instead of `body`; -1 for memory.
        var fd: Int32 = -1
        /// The upload's file and how far it was read.
        var source: Int32 = -1
        var sourceOffset: Int64 = 0
        var sourceSize: Int64 = 0
        /// Body bytes kept so far, the most to keep, and whether more came than that.
        var received: Int64 = 0
        var limit = Int64.max
        var truncated = false
    }

    /// Performs one request (wraps `curl_easy_reset`, `curl_easy_setopt`, `curl_easy_perform`).
    func perform(_ request: HTTPRequest, connectTimeout: Double, caBundle: String?) throws(HTTPError) -> HTTPResponse {
        curl_easy_reset(handle)
        let sink = Sink()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE))
        var list: UnsafeMutablePointer<curl_slist>? = nil
        defer { curl_slist_free_all(list) }
        for (name, value) in request.headers { list = curl_slist_append(list, "\(name): \(value)") }
        sink.fd = request.responseFile ?? -1
        sink.limit = request.maxResponseBytes ?? .max
        if let file = request.bodyFile {
            sink.source = file.fd
            sink.sourceSize = file.size
        }
        let sendsBody = request.body != nil || request.bodyFile != nil
        // libcurl 7.88 signs every header of the list, also an "Expect:" that only removes one and is never sent,
        // so a signed request keeps libcurl's Expect: 100-continue (which lets S3 refuse before the body, too).
        if sendsBody && request.awsSigV4 == nil && !request.headers.contains(where: { $0.0.lowercased() == "expect" }) {
            // Without this libcurl waits up to a second for "100 Continue" on larger bodies.
            list = curl_slist_append(list, "Expect:")
        }
        let code: CURLcode = withExtendedLifetime(sink) {
            let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
            return errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
                (request.body ?? []).withUnsafeBytes { body in
                    _ = ccurl_easy_setopt_string(handle, CURLOPT_URL, request.url)
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
                    if let caBundle { _ = ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, caBundle) }
                    _ = ccurl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
                    _ = ccurl_easy_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
                    _ = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                    _ = ccurl_easy_setopt_write_function(handle) { data, size, count, user in
                        let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                        let n = size * count
                        guard let data else { return n }
                        // Past the limit: keep what fits and stop the transfer (CURLE_WRITE_ERROR, then not an error).
                        let keep = Int(min(Int64(n), sink.limit - sink.received))
                        if keep < n { sink.truncated = true }
                        sink.received += Int64(keep)
                        guard sink.fd >= 0 else {
                            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: keep))
                            return keep == n ? n : 0
                        }
                        // Streamed to a file: a failed write makes libcurl stop with CURLE_WRITE_ERROR.
                        do {
                            try Posix.writeAll(sink.fd, UnsafeRawBufferPointer(start: data, count: keep))
                        } catch {
                            return 0
                        }
                        return keep == n ? n : 0
                    }
                    _ = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer)
                    _ = ccurl_easy_setopt_header_function(handle) { data, size, count, user in
                        let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                        let n = size * count
                        guard let data else { return n }
                        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
                        if line.hasPrefix("HTTP/") {
                            sink.headers.removeAll()  // a new response (after 100 Continue or a redirect)
                        } else if let colon = line.firstIndex(of: ":") {
                            let name = line[..<colon].lowercased()
                            sink.headers[name] = line[line.index(after: colon)...].trimmed()
                        }
                        return n
                    }
                    _ = ccurl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer)
                    switch request.method {
                    case "GET": _ = ccurl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1)
                    case "HEAD": _ = ccurl_easy_setopt_long(handle, CURLOPT_NOBODY, 1)
                    default: _ = ccurl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
                    }
                    if let signing = request.awsSigV4 {
                        // libcurl signs the method, path, query, host, x-amz-date and the headers we set (among
                        // them x-amz-content-sha256, which S3 requires and libcurl 7.88 does not add itself).
                        _ = ccurl_easy_setopt_string(handle, CURLOPT_AWS_SIGV4, signing.provider)
                        _ = ccurl_easy_setopt_string(handle, CURLOPT_USERNAME, signing.accessKeyID)
                        _ = ccurl_easy_setopt_string(handle, CURLOPT_PASSWORD, signing.secretAccessKey)
                    }
                    if let file = request.bodyFile {
                        _ = ccurl_easy_setopt_long(handle, CURLOPT_UPLOAD, 1)
                        _ = ccurl_easy_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(file.size))
                        _ = ccurl_easy_setopt_read_function(handle) { buffer, size, count, user in
                            let sink = Unmanaged<Sink>.fromOpaque(user!).takeUnretainedValue()
                            let wanted = min(Int64(size * count), sink.sourceSize - sink.sourceOffset)
                            guard wanted > 0, let buffer else { return 0 }
                            let n = Posix.retryingEINTR {
                                pread(sink.source, buffer, Int(wanted), off_t(sink.sourceOffset))
                            }
                            // A file that shrank or cannot be read aborts the upload (CURLE_ABORTED_BY_CALLBACK).
                            guard n > 0 else { return Int(CURL_READFUNC_ABORT) }
                            sink.sourceOffset += Int64(n)
                            return n
                        }
                        _ = ccurl_easy_setopt_pointer(handle, CURLOPT_READDATA, sinkPointer)
                    } else if request.body != nil {
                        _ = ccurl_easy_setopt_long(handle, CURLOPT_POSTFIELDSIZE, body.count)
                        _ = ccurl_easy_setopt_pointer(
                            handle, CURLOPT_POSTFIELDS,
                            UnsafeMutableRawPointer(mutating: body.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                    }
                    return curl_easy_perform(handle)
                }
            }
        }
        guard code == CURLE_OK || (code == CURLE_WRITE_ERROR && sink.truncated) else {
            let detail = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let text = String(cString: curl_easy_strerror(code))
            throw HTTPError(
                code: Int32(code.rawValue),
                message: "\(request.method) \(request.url): \(detail.isEmpty ? text : "\(text): \(detail)")")
        }
        var status = 0
        _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var response = HTTPResponse(status: status, headers: sink.headers, body: sink.body)
        response.truncated = sink.truncated
        return response
    }
}
