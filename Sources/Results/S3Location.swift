import Base

/// Where a job's log goes in S3-compatible storage and where people read it (SPEC §8): path-style
/// `{S3_ENDPOINT}/{S3_BUCKET}/logs/{owner}/{repo}/{sha}/{request_id}.log`, read at
/// `{S3_PUBLIC_BASE_URL or S3_ENDPOINT/S3_BUCKET}/logs/...`.
public struct S3Location: Sendable, Equatable {
    /// The object key, e.g. `logs/org/repo/0123…/7f1c….log`.
    public var key: String
    /// The URL the object is PUT to (path style).
    public var uploadURL: String
    /// The URL shown as the Check Run's `details_url`.
    public var publicURL: String

    /// The location of the log of `requestID` at `owner/repo@sha`. Names are percent-encoded per segment (RFC 3986
    /// unreserved characters stay), so the URL libcurl signs is the canonical URI S3 computes.
    public init(settings: S3Settings, owner: String, repo: String, sha: String, requestID: String) {
        let segments = ["logs", owner, repo, sha, requestID + ".log"]
        key = segments.joined(separator: "/")
        let encodedKey = segments.map(Self.encode).joined(separator: "/")
        uploadURL = "\(settings.endpoint)/\(Self.encode(settings.bucket))/\(encodedKey)"
        let base = settings.publicBaseURL ?? "\(settings.endpoint)/\(Self.encode(settings.bucket))"
        publicURL = "\(base)/\(encodedKey)"
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func encode(_ segment: String) -> String { PercentEncoding.encodeAllButUnreserved(segment) }
}
