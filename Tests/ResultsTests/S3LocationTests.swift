import Crypto
import HTTP
import Testing

@testable import Results

/// SPEC §8's key and URLs: path style, `logs/{owner}/{repo}/{sha}/{request_id}.log`.
@Suite struct S3LocationTests {
    static let sha = "0123456789abcdef0123456789abcdef01234567"

    static func settings(endpoint: String = "http://127.0.0.1:9000", publicBase: String? = nil) -> S3Settings {
        S3Settings(
            endpoint: endpoint, bucket: "solstice-logs", accessKeyID: "AKIA", secretAccessKey: "secret",
            publicBaseURL: publicBase)
    }

    @Test func keyAndURLsArePathStyle() {
        let location = S3Location(
            settings: Self.settings(), owner: "org", repo: "repo", sha: Self.sha, requestID: "r-1")
        #expect(location.key == "logs/org/repo/\(Self.sha)/r-1.log")
        #expect(location.uploadURL == "http://127.0.0.1:9000/solstice-logs/logs/org/repo/\(Self.sha)/r-1.log")
        #expect(location.publicURL == location.uploadURL)
    }

    @Test func publicBaseURLReplacesEndpointAndBucket() {
        let location = S3Location(
            settings: Self.settings(publicBase: "https://logs.example.com"), owner: "org", repo: "repo", sha: Self.sha,
            requestID: "r-1")
        #expect(location.publicURL == "https://logs.example.com/logs/org/repo/\(Self.sha)/r-1.log")
    }

    @Test(arguments: [("a.b_c-d~e", "a.b_c-d~e"), ("a b", "a%20b"), ("ü", "%C3%BC"), ("a+b", "a%2Bb")])
    func segmentsAreEncodedAsSigV4Expects(raw: String, encoded: String) {
        #expect(S3Location.encode(raw) == encoded)
    }

    @Test func secretStaysOutOfDescriptions() {
        #expect(!Self.settings().description.contains("secret"))
        let signing = AWSSigV4(region: "us-east-1", service: "s3", accessKeyID: "AKIA", secretAccessKey: "topsecret")
        #expect(signing.provider == "aws:amz:us-east-1:s3" && !signing.description.contains("topsecret"))
    }

    @Test func sha256MatchesTheKnownVector() {
        // printf abc | sha256sum
        let digest = OpenSSL.sha256(Array("abc".utf8)).map { String($0, radix: 16) }.map {
            $0.count == 1 ? "0" + $0 : $0
        }.joined()
        #expect(digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
