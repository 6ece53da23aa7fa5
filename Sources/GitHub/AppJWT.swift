import Base
import Crypto

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
