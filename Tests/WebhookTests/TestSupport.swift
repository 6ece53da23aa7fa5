import Foundation

@testable import Webhook

/// Paths the tests read: the shared reference material lives beside the project, never copied into it.
enum TestPaths {
    /// The package root (…/main), found from this file's path so tests run from any directory.
    static let packageRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/CoreTests/TestSupport.swift
        return parts.joined(separator: "/")
    }()

    /// GitHub's real webhook payloads (`GITHUB_PAYLOADS_DIR`, default ../shared/reference/github-payloads).
    static var payloads: String {
        ProcessEnvironment.current()["GITHUB_PAYLOADS_DIR"] ?? packageRoot + "/../shared/reference/github-payloads"
    }

    /// The bytes of payload `name`.
    static func payload(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: payloads + "/" + name)))
    }
}

/// A publisher that records what it was asked to publish and answers as told: the seam where the broker sits.
final class RecordingPublisher: MessagePublishing, @unchecked Sendable {
    private let lock = NSLockLike()
    private var _published: [AMQPMessage] = []
    var result: PublishResult

    init(result: PublishResult = .confirmed) { self.result = result }

    var published: [AMQPMessage] { lock.locked { _published } }

    func publish(_ messages: [AMQPMessage]) -> PublishResult {
        lock.locked {
            if case .confirmed = result { _published += messages }
            return result
        }
    }
}

/// A tiny mutex for test doubles.
final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

#if canImport(Glibc)
    import Glibc
#endif
