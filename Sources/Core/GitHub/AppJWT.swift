/// GitHub App JSON Web Tokens (SPEC §5): RS256, `iat = now − 60` (clock drift), `exp = now + 540`, `iss` = App id.
public struct AppJWT: Sendable {
    /// The App id (`GITHUB_APP_ID`).
    public let appID: String
    private let key: RSAPrivateKey

    /// Signs tokens for `appID` with `key`.
    public init(appID: String, key: RSAPrivateKey) {
        self.appID = appID
        self.key = key
    }

    /// A token valid from a minute ago for nine minutes, at `now` (seconds since 1970).
    public func token(now: Int) throws(OpenSSLError) -> String {
        let header = Base64URL.encode(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let claims = Base64URL.encode(Array(#"{"iat":\#(now - 60),"exp":\#(now + 540),"iss":"\#(appID)"}"#.utf8))
        let signingInput = header + "." + claims
        return signingInput + "." + Base64URL.encode(try key.signSHA256(Array(signingInput.utf8)))
    }
}

/// Base64url without padding (RFC 7515 §2).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [
                alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)],
                alphabet[Int(n & 63)],
            ]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
