import Base

/// Where job logs are uploaded (SPEC §8). The secret key is never logged: `description` leaves it out.
public struct S3Settings: Sendable, Equatable, CustomStringConvertible {
    /// `S3_ENDPOINT` [https://s3.REGION.amazonaws.com], without a trailing slash; requests are path style.
    public var endpoint: String
    /// `S3_BUCKET`.
    public var bucket: String
    /// `S3_REGION` [us-east-1], part of the Signature V4 scope.
    public var region = "us-east-1"
    /// `AWS_ACCESS_KEY_ID`.
    public var accessKeyID: String
    /// `AWS_SECRET_ACCESS_KEY`.
    public var secretAccessKey: String
    /// `S3_PUBLIC_BASE_URL` [S3_ENDPOINT/S3_BUCKET]: where people read the logs (a CDN, a public bucket URL).
    public var publicBaseURL: String?

    /// Settings for `bucket` at `endpoint`.
    public init(
        endpoint: String, bucket: String, region: String = "us-east-1", accessKeyID: String, secretAccessKey: String,
        publicBaseURL: String? = nil
    ) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.publicBaseURL = publicBaseURL
    }

    public var description: String { "s3 \(endpoint)/\(bucket) (\(region), key \(accessKeyID))" }

    /// The variables of this part.
    public static let variables = [
        ConfigVariable("S3_BUCKET", nil, "bucket for the job logs; unset: logs are not stored"),
        ConfigVariable("S3_ENDPOINT", "https://s3.S3_REGION.amazonaws.com", "S3-compatible endpoint (path style)"),
        ConfigVariable("S3_REGION", "us-east-1", "Signature V4 scope"),
        ConfigVariable("AWS_ACCESS_KEY_ID", nil, "signing key id, required with S3_BUCKET"),
        ConfigVariable("AWS_SECRET_ACCESS_KEY", nil, "signing secret, required with S3_BUCKET (never logged)"),
        ConfigVariable("S3_PUBLIC_BASE_URL", "S3_ENDPOINT/S3_BUCKET", "base of the log links shown on GitHub"),
    ]

    /// Reads `S3_*` and `AWS_*`; nil when `S3_BUCKET` is unset.
    public static func load(_ env: Environment) throws(ConfigurationError) -> S3Settings? {
        let region = env.value("S3_REGION") ?? "us-east-1"
        guard !region.isEmpty,
            region.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
        else {
            throw ConfigurationError(variable: "S3_REGION", message: "expected a region name such as us-east-1")
        }
        let endpoint = try env.url("S3_ENDPOINT")
        let publicBase = try env.url("S3_PUBLIC_BASE_URL")
        let keyID = env.value("AWS_ACCESS_KEY_ID")
        let secret = env.value("AWS_SECRET_ACCESS_KEY")
        guard let bucket = env.value("S3_BUCKET") else {
            if endpoint != nil {
                throw ConfigurationError(variable: "S3_BUCKET", message: "missing, but S3_ENDPOINT is set")
            }
            return nil
        }
        let validBucket =
            (3...63).contains(bucket.utf8.count)
            && bucket.utf8.allSatisfy {
                ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E
            }
        guard validBucket else {
            throw ConfigurationError(variable: "S3_BUCKET", message: "expected 3 to 63 of a-z, 0-9, '.' and '-'")
        }
        guard let keyID else {
            throw ConfigurationError(variable: "AWS_ACCESS_KEY_ID", message: "missing, but S3_BUCKET is set")
        }
        guard let secret else {
            throw ConfigurationError(variable: "AWS_SECRET_ACCESS_KEY", message: "missing, but S3_BUCKET is set")
        }
        return S3Settings(
            endpoint: endpoint ?? "https://s3.\(region).amazonaws.com", bucket: bucket, region: region,
            accessKeyID: keyID, secretAccessKey: secret, publicBaseURL: publicBase)
    }
}
