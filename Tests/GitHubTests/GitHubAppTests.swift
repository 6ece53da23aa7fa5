import Base
import Crypto
import Foundation
import HTTP
import TestSupport
import Testing

@testable import GitHub

#if canImport(Glibc)
    import Glibc
#endif

/// App authentication pieces that need no server; the strict stand-in verifies real signatures in the
/// integration suite (tests/integration/test_github_app.py).
@Suite struct GitHubAppTests {
    /// A throwaway key made at test time (`openssl genrsa -traditional 2048`), PKCS#1 and PKCS#8 forms.
    static let keys: (pkcs1: String, pkcs8: String) = {
        let pkcs1 = TestKeys.rsaPKCS1
        let pkcs8 = TestShell.run("printf '%s' '\(pkcs1)' | openssl pkcs8 -topk8 -nocrypt 2>/dev/null")
        return (pkcs1, pkcs8)
    }()

    @Test(arguments: ["pkcs1", "pkcs8"])
    func bothPEMFormsLoadAndSign(form: String) throws {
        let pem = form == "pkcs1" ? Self.keys.pkcs1 : Self.keys.pkcs8
        #expect(pem.contains(form == "pkcs1" ? "BEGIN RSA PRIVATE KEY" : "BEGIN PRIVATE KEY"))
        let key = try RSAPrivateKey(pem: pem)
        #expect(try key.signSHA256(Array("x".utf8)).count == 256)
    }

    @Test func jwtHasRS256HeaderAndSpecClaims() throws {
        let jwt = try AppJWT(appID: "4242", key: RSAPrivateKey(pem: Self.keys.pkcs1)).token(now: 1_800_000_000)
        let parts = jwt.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        func decode(_ s: String) throws -> [String: Any] {
            var b64 = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b64.count % 4 != 0 { b64 += "=" }
            return try JSONSerialization.jsonObject(with: Data(base64Encoded: b64)!) as! [String: Any]
        }
        #expect(try decode(parts[0])["alg"] as? String == "RS256")
        let claims = try decode(parts[1])
        #expect(claims["iat"] as? Int == 1_800_000_000 - 60)
        #expect(claims["exp"] as? Int == 1_800_000_000 + 540)
        #expect(claims["iss"] as? String == "4242")
        #expect(!parts[2].contains("=") && !parts[2].contains("+") && !parts[2].contains("/"))
    }

    @Test(arguments: ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
    func garbageKeysAreRefused(pem: String) {
        #expect(throws: OpenSSLError.self) { try RSAPrivateKey(pem: pem) }
    }

    @Test func badAppKeyStopsTheStartNamingTheVariable() {
        do {
            _ = try GitHubSettings.load(Environment(["GITHUB_APP_ID": "1", "GITHUB_APP_KEY": "nope"]))
            Issue.record("accepted a bad key")
        } catch {
            #expect(error.variable == "GITHUB_APP_KEY")
        }
        do {
            _ = try GitHubSettings.load(
                Environment(["GITHUB_APP_ID": "1", "GITHUB_APP_KEY_PATH": "/k.pem"], readFile: { _ in "garbage" }))
            Issue.record("accepted a bad key file")
        } catch {
            #expect(error.variable == "GITHUB_APP_KEY_PATH")
        }
        #expect(throws: ConfigurationError.self) {
            try GitHubSettings.load(Environment(["GITHUB_APP_KEY": Self.keys.pkcs1]))
        }
        #expect(throws: ConfigurationError.self) {
            try GitHubSettings.load(Environment(["GITHUB_APP_ID": "abc", "GITHUB_APP_KEY": Self.keys.pkcs1]))
        }
    }

    @Test func appConfigurationAndDeprecatedLogsVariable() throws {
        let config = try GitHubSettings.load(
            Environment([
                "GITHUB_APP_ID": "4242", "GITHUB_APP_KEY": Self.keys.pkcs8,
                "GITHUB_API_BASE": "https://ghe.example/api/v3/",
                "ORCH_HTTP_BASE": "http://logs/",
            ]))
        #expect(config.app?.appID == "4242")
        #expect(config.apiBase == "https://ghe.example/api/v3")
        #expect(config.logsBaseURL == "http://logs")
        #expect(config.warnings.contains { $0.contains("ORCH_HTTP_BASE") })
    }

    @Test(
        arguments: [
            (429, ["retry-after": "3"], 3.0), (403, ["retry-after": "0"], 0.0),
            (403, ["x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000010"], 10.5),
            (403, ["x-ratelimit-remaining": "10"], nil), (500, ["retry-after": "3"], nil), (200, [:], nil),
        ] as [(Int, [String: String], Double?)])
    func rateLimitWaits(status: Int, headers: [String: String], wait: Double?) {
        let response = HTTPResponse(status: status, headers: headers, body: Array("{}".utf8))
        #expect(GitHubClient.rateLimitWait(response, now: 1_000_000) == wait)
    }

    @Test func linkHeaderNext() {
        let header =
            #"<https://api.github.com/repositories/1/commits/abc/check-runs?page=2>; rel="next", "#
            + #"<https://api.github.com/repositories/1/commits/abc/check-runs?page=3>; rel="last""#
        #expect(
            GitHubClient.nextLink(header) == "https://api.github.com/repositories/1/commits/abc/check-runs?page=2")
        #expect(GitHubClient.nextLink(#"<https://x/?page=1>; rel="prev""#) == nil)
    }

    @Test(arguments: ["2026-11-24T12:00:00Z", "2026-11-24T12:00:00.123Z", "2026-11-24T13:00:00+01:00"])
    func rfc3339Parse(text: String) {
        #expect(RFC3339.parse(text) == 1_795_521_600)
        #expect(RFC3339.format(secondsSince1970: RFC3339.parse(text)!) == "2026-11-24T12:00:00Z")
    }

    /// SPEC v2 §2: installation tokens travel on GITHUB_API_BASE, so plain http is for loopback only.
    @Test(arguments: [
        ("https://ghe.example/api/v3", true), ("http://127.0.0.1:18090", true), ("http://localhost:8080/", true),
        ("http://[::1]:9000", true), ("http://127.1.2.3", true), ("http://ghe.example/api/v3", false),
        ("http://127.0.0.1.evil.example", false), ("http://user@127.0.0.1", false), ("http://10.0.0.1", false),
        ("ftp://127.0.0.1", false),
    ])
    func apiBaseIsHttpsUnlessLoopback(base: String, accepted: Bool) {
        let result = Result { () throws(ConfigurationError) in
            try GitHubSettings.load(Environment(["GITHUB_API_BASE": base]))
        }
        switch result {
        case .success: #expect(accepted, "\(base) was accepted")
        case .failure(let error):
            #expect(!accepted, "\(base) was refused")
            #expect(error.variable == "GITHUB_API_BASE")
        }
    }
}
