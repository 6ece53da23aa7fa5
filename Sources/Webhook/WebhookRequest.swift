import Jobs

/// A webhook request as any transport (FastCGI, CGI, a fuzzer) sees it, before the body is read.
public struct WebhookRequest: Sendable {
    /// `REQUEST_METHOD`.
    public var method: String
    /// The path without the query string.
    public var path: String
    /// `CONTENT_TYPE`, if sent.
    public var contentType: String?
    /// `CONTENT_LENGTH`, if sent as a non-negative decimal integer.
    public var contentLength: Int?
    /// `CONTENT_LENGTH` as sent when it is not a non-negative decimal integer (`-1`, `1e3`, `+5`, 40 digits): the
    /// request is refused before its body is read (SPEC §3).
    public var invalidContentLength: String?
    /// `X-Hub-Signature-256`.
    public var signature: String?
    /// `X-GitHub-Event`.
    public var event: String?
    /// `X-GitHub-Delivery`.
    public var delivery: String?
    /// `X-GitHub-Hook-Installation-Target-ID`.
    public var installationTarget: String?

    /// The CGI variables a transport reads: only these, so no other header can leak into logs.
    public static let cgiVariables = [
        "REQUEST_METHOD", "REQUEST_URI", "SCRIPT_NAME", "PATH_INFO", "CONTENT_TYPE", "CONTENT_LENGTH",
        "HTTP_X_HUB_SIGNATURE_256", "HTTP_X_GITHUB_EVENT", "HTTP_X_GITHUB_DELIVERY",
        "HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_ID",
    ]

    /// A request with every field given.
    public init(
        method: String, path: String, contentType: String? = nil, contentLength: Int? = nil, signature: String? = nil,
        event: String? = nil, delivery: String? = nil, installationTarget: String? = nil
    ) {
        self.method = method
        self.path = path
        self.contentType = contentType
        self.contentLength = contentLength
        self.signature = signature
        self.event = event
        self.delivery = delivery
        self.installationTarget = installationTarget
    }

    /// Builds the request from CGI/FastCGI parameters. The path is `REQUEST_URI` without its query (what the
    /// client asked for, before any rewrite), else `SCRIPT_NAME` + `PATH_INFO`.
    public init(cgi param: (String) -> String?) {
        func nonEmpty(_ name: String) -> String? {
            guard let v = param(name), !v.isEmpty else { return nil }
            return v
        }
        let path: String
        if let uri = nonEmpty("REQUEST_URI") {
            path = String(uri.prefix { $0 != "?" })
        } else {
            path = (param("SCRIPT_NAME") ?? "") + (param("PATH_INFO") ?? "")
        }
        self.init(
            method: param("REQUEST_METHOD") ?? "GET", path: path, contentType: nonEmpty("CONTENT_TYPE"),
            contentLength: nonEmpty("CONTENT_LENGTH").flatMap(Self.decimalLength),
            signature: nonEmpty("HTTP_X_HUB_SIGNATURE_256"),
            event: nonEmpty("HTTP_X_GITHUB_EVENT"), delivery: nonEmpty("HTTP_X_GITHUB_DELIVERY"),
            installationTarget: nonEmpty("HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_ID"))
        if let raw = nonEmpty("CONTENT_LENGTH"), contentLength == nil { invalidContentLength = raw }
    }

    /// The value of a `CONTENT_LENGTH` made of 1 to 18 decimal digits, else nil (no sign, no overflow).
    static func decimalLength(_ text: String) -> Int? {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}

/// What the transport writes back.
public struct WebhookResponse: Sendable {
    /// HTTP status.
    public var status: Int
    /// Extra headers (`Allow`, `X-Solstice-Ignored`); `Content-Type` is added when there is a body.
    public var headers: [Header]
    /// JSON body; empty for 204.
    public var body: [UInt8]
    /// Check Runs to write once the response was sent; the transport hands the response back to
    /// `WebhookResponder.afterAnswer`.
    public var checkRuns: PendingCheckRuns?
    /// `Content-Type` of a non-empty body: JSON, but Prometheus text for `METRICS_PATH`.
    public var contentType = "application/json"

    /// A response with nothing to do after it.
    public init(status: Int, headers: [Header], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
        self.checkRuns = nil
    }

    /// A header name and value.
    public struct Header: Sendable, Equatable {
        /// Header name.
        public var name: String
        /// Header value.
        public var value: String

        /// `value` fit for a header line: control characters (CR and LF above all, which would let request data
        /// that a reason quotes start a header of its own) become spaces, and it is cut at 512 bytes.
        public static func safeValue(_ value: String) -> String {
            var out = String.UnicodeScalarView()
            for scalar in value.unicodeScalars {
                out.append(scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) ? " " : scalar)
            }
            var text = String(out)
            while text.utf8.count > 512 { text.removeLast() }
            return text
        }
    }

    /// The reason phrase for the status line (`Status: 202 Accepted`).
    public var reason: String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 503: "Service Unavailable"
        default: "Error"
        }
    }

    /// The CGI response head and body: `Status:` line, headers, blank line, body.
    public func cgiBytes() -> [UInt8] {
        var head = "Status: \(status) \(reason)\r\n"
        if !body.isEmpty { head += "Content-Type: \(contentType)\r\n" }
        for h in headers { head += "\(h.name): \(Header.safeValue(h.value))\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }
}
