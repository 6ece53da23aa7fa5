import Base
import Testing

@testable import Results

/// The S3 and results variables of SPEC §2: defaults, and one line naming the variable for bad values.
@Suite struct ConfigurationS3Tests {
    static let base = ["S3_BUCKET": "solstice-logs", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s3cr3t"]

    @Test func unsetMeansNoUpload() throws {
        let config = try ResultsConfiguration.load(Environment([:]))
        #expect(config.s3 == nil && config.workers == 4)
    }

    @Test func defaults() throws {
        let s3 = try #require(try ResultsConfiguration.load(Environment(Self.base)).s3)
        #expect(s3.region == "us-east-1" && s3.endpoint == "https://s3.us-east-1.amazonaws.com")
        #expect(s3.publicBaseURL == nil && s3.bucket == "solstice-logs")
    }

    @Test func everythingSet() throws {
        var env = Self.base
        env["S3_ENDPOINT"] = "http://127.0.0.1:9000/"
        env["S3_REGION"] = "eu-west-3"
        env["S3_PUBLIC_BASE_URL"] = "https://logs.example.com"
        env["RESULTS_WORKERS"] = "8"
        let config = try ResultsConfiguration.load(Environment(env))
        #expect(config.s3?.endpoint == "http://127.0.0.1:9000" && config.s3?.region == "eu-west-3")
        #expect(config.s3?.publicBaseURL == "https://logs.example.com" && config.workers == 8)
    }

    @Test(arguments: [
        (["S3_BUCKET": "Bad_Bucket"], "S3_BUCKET"),
        (["S3_ENDPOINT": "ftp://x"], "S3_ENDPOINT"),
        (["S3_REGION": "US East"], "S3_REGION"),
        (["AWS_ACCESS_KEY_ID": ""], "AWS_ACCESS_KEY_ID"),
        (["AWS_SECRET_ACCESS_KEY": ""], "AWS_SECRET_ACCESS_KEY"),
        (["S3_PUBLIC_BASE_URL": "logs.example.com"], "S3_PUBLIC_BASE_URL"),
        (["RESULTS_WORKERS": "0"], "RESULTS_WORKERS"),
        (["S3_BUCKET": "", "S3_ENDPOINT": "http://x"], "S3_BUCKET"),
    ])
    func badValuesNameTheirVariable(changes: [String: String], variable: String) {
        var env = Self.base
        for (key, value) in changes { env[key] = value }
        #expect {
            try ResultsConfiguration.load(Environment(env))
        } throws: { error in
            let error = error as? ConfigurationError
            return error?.variable == variable && !(error?.description.contains("s3cr3t") ?? true)
        }
    }
}
