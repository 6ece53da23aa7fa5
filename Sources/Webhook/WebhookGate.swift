import Base

/// A request that passed every check before mapping: signed (or dev mode), with an event and a JSON payload.
public struct ValidatedDelivery: Sendable {
    /// `X-GitHub-Event`.
    public var event: String
    /// `X-GitHub-Delivery`, if sent.
    public var delivery: String?
    /// `X-GitHub-Hook-Installation-Target-ID`, if sent.
    public var installationTarget: String?
    /// The JSON payload (the `payload` field of a form body, decoded).
    public var payload: [UInt8]
}

/// Why a request was refused; becomes `{"error": message, "delivery": ...}` with `status`.
public struct Rejection: Error, Sendable, Equatable {
    /// HTTP status of SPEC §3.
    public var status: Int
    /// A sentence a person can act on.
    public var message: String
    /// Extra headers (405's `Allow`).
    public var headers: [WebhookResponse.Header] = []
}

/// The ordered checks of SPEC §3 up to the payload: the first that fails answers.
public struct WebhookGate: Sendable {
    let webhookPath: String
    let maxBodyBytes: Int
    let verifier: SignatureVerifier?

    /// A gate for `configuration`; without secrets every signature is accepted (dev mode).
    public init(configuration: WebhookConfiguration) {
        webhookPath = configuration.webhookPath
        maxBodyBytes = configuration.maxBodyBytes
        verifier = configuration.isDevMode ? nil : SignatureVerifier(secrets: configuration.webhookSecrets)
    }

    /// Every check up to the payload, in SPEC §3's order: the head, then the body (read only if the head passed),
    /// its size, signature, event and content type.
    func check(_ request: WebhookRequest, readBody: (Int) -> [UInt8]?) throws(Verdict) -> ValidatedDelivery {
        if let rejection = checkHead(request) { throw .rejected(rejection) }
        guard let body = readBody(maxBodyBytes) else {
            throw .rejected(Rejection(status: 400, message: "the request body could not be read"))
        }
        if body.count > maxBodyBytes { throw .rejected(tooLarge(body.count)) }
        switch checkBody(request, body: body) {
        case .success(let delivery): return delivery
        case .failure(let rejection): throw .rejected(rejection)
        }
    }

    /// Path, method and declared size: the checks made before a byte of the body is read.
    public func checkHead(_ request: WebhookRequest) -> Rejection? {
        if request.path != webhookPath {
            return Rejection(status: 404, message: "not found: webhooks are answered at \(webhookPath) only")
        }
        if request.method != "POST" {
            return Rejection(
                status: 405, message: "method \(request.method) not allowed: GitHub webhooks are POST",
                headers: [.init(name: "Allow", value: "POST")])
        }
        if let raw = request.invalidContentLength {
            return Rejection(
                status: 400,
                message:
                    "CONTENT_LENGTH \(JSONText.quote(String(raw.prefix(40)))) is not a non-negative decimal integer")
        }
        if let length = request.contentLength, length > maxBodyBytes {
            return tooLarge(length)
        }
        return nil
    }

    /// The 413 for a body of `length` bytes.
    func tooLarge(_ length: Int) -> Rejection {
        Rejection(status: 413, message: "body of \(length) bytes exceeds MAX_BODY_BYTES (\(maxBodyBytes))")
    }

    /// Signature, event header, content type and form decoding, over the raw body.
    public func checkBody(_ request: WebhookRequest, body: [UInt8]) -> Result<ValidatedDelivery, Rejection> {
        if let verifier {
            guard request.signature != nil else {
                return .failure(Rejection(status: 401, message: "missing X-Hub-Signature-256 header"))
            }
            guard verifier.isValid(header: request.signature, body: body) else {
                return .failure(
                    Rejection(status: 401, message: "X-Hub-Signature-256 does not match the body and secret"))
            }
        }
        guard let event = request.event else {
            return .failure(Rejection(status: 400, message: "missing X-GitHub-Event header"))
        }
        let mediaType = (request.contentType ?? "").prefix { $0 != ";" }.trimmed().lowercased()
        let payload: [UInt8]
        switch mediaType {
        case "application/json":
            payload = body
        case "application/x-www-form-urlencoded":
            guard let field = FormBody.value(of: "payload", in: body) else {
                return .failure(Rejection(status: 400, message: "form body has no payload field"))
            }
            payload = field
        case "":
            return .failure(Rejection(status: 415, message: "missing Content-Type: use application/json"))
        default:
            return .failure(
                Rejection(
                    status: 415,
                    message: "unsupported Content-Type \(mediaType): use application/json or "
                        + "application/x-www-form-urlencoded"))
        }
        return .success(
            ValidatedDelivery(
                event: event, delivery: request.delivery, installationTarget: request.installationTarget,
                payload: payload))
    }
}

/// `application/x-www-form-urlencoded` decoding, as GitHub sends `payload=<urlencoded JSON>`.
enum FormBody {
    /// The decoded value of the first `name=` field, or nil when absent or badly escaped.
    static func value(of name: String, in body: [UInt8]) -> [UInt8]? {
        let key = Array(name.utf8) + [UInt8(ascii: "=")]
        for field in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true)
        where field.starts(with: key) {
            return PercentEncoding.decode(field.dropFirst(key.count), plusIsSpace: true)
        }
        return nil
    }
}
