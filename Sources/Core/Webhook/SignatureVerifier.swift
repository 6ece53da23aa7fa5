/// Checks `X-Hub-Signature-256` against every configured secret (SPEC §3).
///
/// A pure function of the header, the raw body and the secrets: the prefix and the length are checked first, the
/// hex is decoded (either case), and the digests are compared in constant time. Several secrets allow rotation.
public struct SignatureVerifier: Sendable {
    private let secrets: [[UInt8]]

    /// A verifier accepting a signature made with any of `secrets`.
    public init(secrets: [String]) {
        self.secrets = secrets.map { Array($0.utf8) }
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
        for secret in secrets {
            let expected = OpenSSL.hmacSHA256(key: secret, data: body)
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

/// Hex encoding for digests.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`.
    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes of an even-length hex string in either case, or nil when a character is not a hex digit.
    static func decode<C: Collection>(_ hex: C) -> [UInt8]? where C.Element == UInt8 {
        guard hex.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(hex.count / 2)
        var high: UInt8? = nil
        for c in hex {
            let nibble: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return out
    }
}
