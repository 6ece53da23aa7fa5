import Base
import Crypto
import Events
import HTTP

#if canImport(Glibc)
    import Glibc
#endif

/// A job log downloaded to an unlinked temporary file: never held whole in memory, gone when this is released.
/// Owns the file descriptor; used by one thread at a time.
public final class LogFile {
    /// The open file (read with `pread`, so no shared offset matters).
    let fd: Int32
    /// Its size in bytes.
    public private(set) var size: Int64 = 0

    /// A new empty temporary file in `directory` (wraps `mkstemp` + `unlink`).
    init(directory: String) throws(LogFetchError) {
        var template = Array("\(directory)/solstice-log-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw LogFetchError(message: "cannot create a temporary file in \(directory): errno \(errno)")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        self.fd = fd
    }

    deinit { close(fd) }

    fileprivate func measure() {
        var info = stat()
        size = fstat(fd, &info) == 0 ? Int64(info.st_size) : 0
    }

    /// The last `maxBytes` bytes as text (invalid UTF-8 replaced), and whether that is less than the whole file.
    public func tail(maxBytes: Int) -> (text: String, partial: Bool) {
        let count = Int(min(Int64(maxBytes), size))
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { raw in
                Posix.retryingEINTR {
                    pread(fd, raw.baseAddress! + done, count - done, off_t(size - Int64(count) + Int64(done)))
                }
            }
            guard n > 0 else { break }
            done += n
        }
        return (String(decoding: bytes.prefix(done), as: UTF8.self), Int64(count) < size)
    }

    /// SHA-256 of the whole file, lowercase hex (for `x-amz-content-sha256`).
    public func sha256Hex() -> String? {
        OpenSSL.sha256(fileDescriptor: fd).map(Hex.encode)
    }
}

/// The log could not be read from the orchestrator's log service (shown in the Check Run, never retried).
public struct LogFetchError: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public var message: String
    public var description: String { message }
}

/// An upload the storage refused or that did not arrive.
public struct S3Error: Error, CustomStringConvertible, Sendable {
    /// The HTTP status, nil for a transport failure.
    public var status: Int?
    /// What happened, with S3's own error code and message when it sent them.
    public var message: String
    /// Network failures, 5xx and throttling (503 SlowDown) are worth retrying; 4xx (refused signature, missing
    /// bucket) are not.
    public var isTransient: Bool { status.map { $0 >= 500 || $0 == 429 } ?? true }

    public var description: String { message }
}

/// Moves a job's log from the orchestrator's log service (`LOGS_BASE_URL`) to S3-compatible storage (SPEC §8),
/// through a temporary file so that a log of any size costs constant memory: download streamed to the file,
/// SHA-256 of the file for `x-amz-content-sha256`, then a PUT streamed from the file and signed with AWS Signature
/// V4 by libcurl. Safe to share between threads (each call has its own file and libcurl handle).
public final class LogUploader: Sendable {
    private let logsBaseURL: String
    private let s3: S3Settings?
    private let http: HTTPClient
    private let temporaryDirectory: String
    private let maxBytes: Int64

    /// An uploader reading logs at `logsBaseURL` and storing them per `s3` (nil: read only, for the Check Run text),
    /// at most `maxBytes` of each (`LOG_MAX_BYTES`).
    public init(
        logsBaseURL: String, s3: S3Settings?, http: HTTPClient, temporaryDirectory: String = "/tmp",
        maxBytes: Int64 = 67_108_864
    ) {
        self.logsBaseURL = logsBaseURL
        self.s3 = s3
        self.http = http
        self.temporaryDirectory = temporaryDirectory
        self.maxBytes = maxBytes
    }

    /// True when logs are also stored in S3.
    public var storesLogs: Bool { s3 != nil }

    /// `{LOGS_BASE_URL}/jobs/{request_id}/logs`.
    public func logURL(requestID: String) -> String { "\(logsBaseURL)/jobs/\(requestID)/logs" }

    /// Downloads the log of `requestID` to a temporary file, at most `LOG_MAX_BYTES` of it: a longer log is cut
    /// there and ends with a line saying so (SPEC §8).
    public func fetch(requestID: String) throws(LogFetchError) -> LogFile {
        let file = try LogFile(directory: temporaryDirectory)
        let url = logURL(requestID: requestID)
        var request = HTTPRequest(method: "GET", url: url, headers: [("Accept", "text/plain, */*")], timeout: 300)
        request.responseFile = file.fd
        request.maxResponseBytes = maxBytes
        let response: HTTPResponse
        do { response = try http.send(request) } catch {
            throw LogFetchError(message: "the log could not be fetched: \(error.message)")
        }
        guard response.status == 200 else {
            throw LogFetchError(message: "the log could not be fetched: GET \(url) answered \(response.status)")
        }
        if response.truncated {
            let note = "\n[solstice: the log was cut here, at \(maxBytes) bytes (LOG_MAX_BYTES)]\n"
            do { try Posix.writeAll(file.fd, Array(note.utf8)) } catch {
                throw LogFetchError(message: "cannot write to the downloaded log: \(error)")
            }
        }
        file.measure()
        return file
    }

    /// Where the log of `result` goes; nil without S3.
    public func location(for result: JobResult) -> S3Location? {
        s3.map {
            S3Location(
                settings: $0, owner: result.owner, repo: result.repo, sha: result.commitSHA,
                requestID: result.requestID)
        }
    }

    /// PUTs `file` to `location` (path style, Signature V4, `x-amz-content-sha256` = SHA-256 of the file).
    public func upload(_ file: LogFile, to location: S3Location) throws(S3Error) {
        guard let s3 else { return }
        guard let hash = file.sha256Hex() else {
            throw S3Error(status: nil, message: "cannot read the downloaded log to hash it")
        }
        var request = HTTPRequest(
            method: "PUT", url: location.uploadURL,
            headers: [("Content-Type", "text/plain; charset=utf-8"), ("x-amz-content-sha256", hash)], timeout: 300)
        request.bodyFile = HTTPFileBody(fd: file.fd, size: file.size)
        request.awsSigV4 = AWSSigV4(
            region: s3.region, service: "s3", accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey)
        let response: HTTPResponse
        do { response = try http.send(request) } catch {
            throw S3Error(status: nil, message: "PUT \(location.uploadURL): \(error.message)")
        }
        guard (200..<300).contains(response.status) else {
            throw S3Error(
                status: response.status,
                message: "PUT \(location.uploadURL) answered \(response.status)\(Self.s3Reason(response.text))")
        }
    }

    /// `: Code: Message` from S3's XML error body, when there is one.
    static func s3Reason(_ body: String) -> String {
        func element(_ name: String) -> String? {
            guard let start = body.firstRange(of: "<\(name)>"), let end = body.firstRange(of: "</\(name)>"),
                start.upperBound <= end.lowerBound
            else { return nil }
            return String(body[start.upperBound..<end.lowerBound].prefix(300))
        }
        switch (element("Code"), element("Message")) {
        case (let code?, let message?): return ": \(code): \(message)"
        case (let code?, nil): return ": \(code)"
        default: return ""
        }
    }
}
