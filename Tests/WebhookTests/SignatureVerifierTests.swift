import AMQP
import Base
import Crypto
import Events
import Jobs
import Testing

@testable import Webhook

/// GitHub's documented test vector (docs: "Validating webhook deliveries"); regenerate with
/// `printf 'Hello, World!' | openssl dgst -sha256 -hmac "It's a Secret to Everybody"`.
private let vectorSecret = "It's a Secret to Everybody"
private let vectorBody = Array("Hello, World!".utf8)
private let vectorHeader = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

@Suite struct SignatureVerifierTests {
    @Test func githubDocumentedVectorVerifies() {
        #expect(SignatureVerifier(secrets: [vectorSecret]).isValid(header: vectorHeader, body: vectorBody))
        #expect(SignatureVerifier.signature(secret: vectorSecret, body: vectorBody) == vectorHeader)
    }

    @Test(arguments: [
        ("sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "wrong prefix"),
        ("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "no prefix"),
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1", "one digit short"),
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e177", "one digit long"),
        ("sha256=", "empty digest"),
        ("", "empty header"),
        ("sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "first digit differs"),
        ("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18", "last digit differs"),
        ("sha256=z57107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "not hex"),
        (" sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "leading space"),
    ])
    func malformedOrWrongHeadersAreRejected(header: String, why: String) {
        #expect(!SignatureVerifier(secrets: [vectorSecret]).isValid(header: header, body: vectorBody), "\(why)")
    }

    /// The keyed context the verifier keeps (one per secret) gives the one-shot HMAC for every key length: empty,
    /// short, a block (64 bytes) and longer (hashed first).
    @Test(arguments: [0, 1, 26, 64, 65, 200])
    func aKeyMadeReadyOnceGivesTheOneShotHMAC(keyLength: Int) {
        let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let ready = HMACSHA256Key(key)
        for body in [[UInt8](), Array("Hello, World!".utf8), [UInt8](repeating: 0x5A, count: 28_000)] {
            let oneShot = body.withUnsafeBytes { OpenSSL.hmacSHA256(key: key, data: $0) }
            #expect(oneShot.count == 32)
            #expect(body.withUnsafeBytes { ready.mac($0) } == oneShot)
            #expect(body.withUnsafeBytes { ready.mac($0) } == oneShot, "a second use of the same key")
        }
    }

    @Test func missingHeaderIsRejected() {
        #expect(!SignatureVerifier(secrets: [vectorSecret]).isValid(header: nil, body: vectorBody))
    }

    @Test func uppercaseHexIsTheSameDigest() {
        let upper = "sha256=" + vectorHeader.dropFirst(7).uppercased()
        #expect(SignatureVerifier(secrets: [vectorSecret]).isValid(header: upper, body: vectorBody))
    }

    @Test func emptyBodyHasItsOwnSignature() {
        // printf '' | openssl dgst -sha256 -hmac "It's a Secret to Everybody"
        let header = SignatureVerifier.signature(secret: vectorSecret, body: [])
        #expect(header == "sha256=66a0c074deaa0f489ead6537e0d32f9a344b90bbeda705b6ed45ecd3b413fb40")
        #expect(SignatureVerifier(secrets: [vectorSecret]).isValid(header: header, body: []))
        #expect(!SignatureVerifier(secrets: [vectorSecret]).isValid(header: vectorHeader, body: []))
    }

    @Test func anyOfSeveralSecretsVerifies() {
        let verifier = SignatureVerifier(secrets: ["old-secret", vectorSecret, "next-secret"])
        #expect(verifier.isValid(header: vectorHeader, body: vectorBody))
        let withNext = SignatureVerifier.signature(secret: "next-secret", body: vectorBody)
        #expect(verifier.isValid(header: withNext, body: vectorBody))
        let withOther = SignatureVerifier.signature(secret: "retired", body: vectorBody)
        #expect(!verifier.isValid(header: withOther, body: vectorBody))
    }

    @Test func bodyChangeBreaksTheSignature() {
        #expect(
            !SignatureVerifier(secrets: [vectorSecret]).isValid(header: vectorHeader, body: Array("Hello, World?".utf8))
        )
    }
}
