import Base
import Crypto

/// Checks `X-Hub-Signature-256` against every configured secret (SPEC §3).
///
/// A pure function of the header, the raw body and the secrets: the prefix and the length are checked first, the
/// hex is decoded (either case), and the digests are compared in constant time. Several secrets allow rotation.
public struct SignatureVerifier: Sendable {
    /// Each secret's key, made ready once for every request's check.
    private let keys: [HMACSHA256Key]

    /// A verifier accepting a signature made with any of `secrets`.
    public init(secrets: [String]) {
        keys = secrets.map { HMACSHA256Key(Array($0.utf8)) }
    }

    /// True when `header` is `sha256=` followed by the hex HMAC-SHA256 of `body` under one of the secrets.
    public func isValid(header: String?, body: [UInt8]) -> Bool {
        body.withUnsafeBytes { isValid(header: header, body: $0) }
    }

    /// True when `header` is `sha256=` followed by the hex HMAC-SHA256 of `body` under one of the secrets.
    public func isValid(header: String?, body: UnsafeRawBufferPointer) -> Bool {
        guard let header, let digest = Self.decode(header) else { return false }
        var valid = false
        // Every secret is tried, so the time taken does not tell which one matched.
        for key in keys {
            let expected = key.mac(body)
            if OpenSSL.constantTimeEquals(expected, digest) { valid = true }
        }
        return valid
    }

    /// The header GitHub would send for `body` signed with `secret`: `sha256=` and lowercase hex.
    public static func signature(secret: String, body: [UInt8]) -> String {
        let digest = body.withUnsafeBytes { OpenSSL.hmacSHA256(key: Array(secret.utf8), data: $0) }
        return "sha256=" + Hex.encode(digest)
    }

    private static let prefix = Array("sha256=".utf8)

    /// The 32 digest bytes of a well-formed header, or nil.
    private static func decode(_ header: String) -> [UInt8]? {
        let bytes = Array(header.utf8)
        guard bytes.count == prefix.count + 64, bytes.starts(with: prefix) else { return nil }
        return Hex.decode(bytes[prefix.count...])
    }
}
