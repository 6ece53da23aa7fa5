import AMQP
import Base
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Paths the tests read: the shared reference material lives beside the project, never copied into it.
public enum TestPaths {
    /// The package root (…/main), found from this file's path so tests run from any directory.
    public static let packageRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/TestSupport/TestSupport.swift
        return parts.joined(separator: "/")
    }()

    /// GitHub's real webhook payloads (`GITHUB_PAYLOADS_DIR`, default ../shared/reference/github-payloads).
    public static var payloads: String {
        ProcessEnvironment.current()["GITHUB_PAYLOADS_DIR"] ?? packageRoot + "/../shared/reference/github-payloads"
    }

    /// The names of the payload samples (`*.json`), sorted; empty when the directory cannot be read, which the tests
    /// that take them as arguments would not notice: `PayloadDecodingTests.theSamplesAreThere` does.
    public static let payloadFiles: [String] = {
        ((try? FileManager.default.contentsOfDirectory(atPath: payloads)) ?? []).filter { $0.hasSuffix(".json") }
            .sorted()
    }()

    /// The bytes of payload `name`.
    public static func payload(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: payloads + "/" + name)))
    }
}

/// A publisher that records what it was asked to publish and answers as told: the seam where the broker sits.
public final class RecordingPublisher: MessagePublishing, @unchecked Sendable {
    private let lock = NSLockLike()
    private var _published: [AMQPMessage] = []
    /// What every publish answers.
    public var result: PublishResult

    /// A publisher answering `result`.
    public init(result: PublishResult = .confirmed) { self.result = result }

    /// Every message of every confirmed publish, in order.
    public var published: [AMQPMessage] { lock.locked { _published } }

    public func publish(_ messages: [AMQPMessage]) -> PublishResult {
        lock.locked {
            if case .confirmed = result { _published += messages }
            return result
        }
    }
}

/// A tiny mutex for test doubles.
public final class NSLockLike: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    /// A new, unlocked mutex.
    public init() { pthread_mutex_init(&mutex, nil) }
    /// `body` with the mutex held.
    public func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

/// A value behind a lock, for collecting results from concurrent test code.
public final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLockLike()
    private var _value: T
    /// A box holding `value`.
    public init(_ value: T) { _value = value }
    /// The value now.
    public var value: T { lock.locked { _value } }
    /// Changes the value under the lock.
    public func mutate(_ body: (inout T) -> Void) { lock.locked { body(&_value) } }
}
