import Base
import Foundation
import TestSupport
import Testing

@testable import Webhook

/// SPEC v2 §2–§3: what an operator's mistake or a hostile client must never get through: a blank secret that
/// silently means "no secret", dev mode beside App credentials, a CONTENT_LENGTH that is not a length, a reason
/// that smuggles a header line.
@Suite struct StartupSafetyTests {
    @Test(arguments: ["GITHUB_WEBHOOK_SECRET", "WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_FILE"])
    func aSecretVariableSetButBlankStopsTheStartNamingIt(variable: String) {
        for blank in ["", "  ", "\t\n"] {
            var env = [variable: blank]
            // Another variable would have given a secret: it must not be used instead.
            if variable != "WEBHOOK_SECRET" { env["WEBHOOK_SECRET"] = "fallback" }
            #expect {
                try WebhookConfiguration.load(Environment(env))
            } throws: { error in
                (error as? ConfigurationError)?.variable == variable
            }
        }
    }

    @Test func noSecretRefusesToServeUnlessDevModeIsAskedFor() throws {
        let plain = try WebhookConfiguration.load(Environment([:]))
        #expect(throws: ConfigurationError.self) { try plain.requireSecret() }
        do { try plain.requireSecret() } catch { #expect(error.variable == "GITHUB_WEBHOOK_SECRET") }
        let dev = try WebhookConfiguration.load(Environment(["SOLSTICE_DEV_MODE": "1"]))
        try dev.requireSecret()
        #expect(dev.isDevMode)
        let signed = try WebhookConfiguration.load(Environment(["GITHUB_WEBHOOK_SECRET": "s"]))
        try signed.requireSecret()
        #expect(!signed.isDevMode)
    }

    @Test(arguments: ["yes", "true", "2"])
    func devModeTakesOnlyOne(value: String) {
        #expect(throws: ConfigurationError.self) {
            try WebhookConfiguration.load(Environment(["SOLSTICE_DEV_MODE": value]))
        }
    }

    @Test func devModeIsRefusedWithAppCredentials() throws {
        #expect {
            try WebhookConfiguration.load(
                Environment([
                    "SOLSTICE_DEV_MODE": "1", "GITHUB_APP_ID": "1", "GITHUB_APP_KEY": TestKeys.rsaPKCS1,
                ]))
        } throws: { error in
            (error as? ConfigurationError)?.variable == "SOLSTICE_DEV_MODE"
        }
    }

    @Test(arguments: ["-1", "+5", "1e3", "0x10", " 7", "12345678901234567890123", "٣"])
    func aContentLengthThatIsNotADecimalLengthIs400BeforeTheBody(value: String) {
        let request = WebhookRequest(
            cgi: [
                "REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_LENGTH": value,
            ].get)
        #expect(request.contentLength == nil)
        #expect(request.invalidContentLength == value.trimmed() || request.invalidContentLength == value)
        var config = WebhookConfiguration()
        config.webhookSecrets = ["s"]
        let rejection = WebhookGate(configuration: config).checkHead(request)
        #expect(rejection?.status == 400)
        #expect(rejection?.message.contains("CONTENT_LENGTH") == true)
    }

    @Test(arguments: [("0", 0), ("26214400", 26_214_400), ("007", 7)])
    func decimalLengthsAreRead(value: String, length: Int) {
        let request = WebhookRequest(cgi: ["REQUEST_METHOD": "POST", "CONTENT_LENGTH": value].get)
        #expect(request.contentLength == length && request.invalidContentLength == nil)
    }

    /// The FastCGI transport hands over only `cgiVariables` (it skips the rest of a web server's parameters): a
    /// variable read here but missing from the list would silently read as absent behind nginx.
    @Test func aRequestReadsOnlyTheListedCGIVariables() {
        var names = Set<String>()
        _ = WebhookRequest(cgi: { name in
            names.insert(name)
            return name == "REQUEST_URI" ? nil : "1"  // without REQUEST_URI the path comes from two more
        })
        #expect(names.isSubset(of: Set(WebhookRequest.cgiVariables)), "read but not listed: \(names)")
        #expect(names.count == WebhookRequest.cgiVariables.count, "listed but never read")
    }

    @Test func headerValuesNeverCarryControlCharacters() {
        var response = WebhookResponse(status: 204, headers: [], body: [])
        response.headers = [
            .init(name: "X-Solstice-Ignored", value: "branch a\r\nSet-Cookie: x=1\u{0}\u{7F}\u{85} end")
        ]
        let text = String(decoding: response.cgiBytes(), as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.filter { $0.hasPrefix("Set-Cookie") }.isEmpty)
        #expect(lines.contains("X-Solstice-Ignored: branch a  Set-Cookie: x=1    end"))
    }
}

extension Dictionary where Key == String, Value == String {
    /// The dictionary as a CGI parameter lookup.
    fileprivate var get: (String) -> String? { { self[$0] } }
}
