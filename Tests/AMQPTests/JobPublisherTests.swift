import Base
import TestSupport
import Testing

@testable import AMQP

/// What `JobPublisher.publish` answers when the broker cannot confirm, without a broker: nothing listening, or a
/// peer that accepts the connection and never speaks. Acks, nacks, returns and a connection lost with messages in
/// flight need a broker that speaks AMQP: `PublisherLoopTests` (TestSupport.FakeBroker), and RabbitMQ in tests/integration.
@Suite struct JobPublisherTests {
    static func messages(_ count: Int) -> [AMQPMessage] {
        (0..<count).map {
            AMQPMessage(
                body: Array("{\"n\": \($0)}".utf8), messageID: "request-\($0)", type: "jobrequest.v1", timestamp: 7,
                headers: [("x-github-delivery", "d")])
        }
    }

    static func publisher(url: String, confirmTimeout: Double) throws -> JobPublisher {
        var settings = AMQPSettings()
        settings.url = url
        return PublisherKeeper.keep(
            try JobPublisher(settings: settings, logger: Logger(level: .error), confirmTimeout: confirmTimeout))
    }

    @Test func nothingToPublishIsConfirmedWithoutABroker() throws {
        let refusing = try RefusingPort()
        let publisher = try Self.publisher(url: "amqp://127.0.0.1:\(refusing.port)/", confirmTimeout: 30)
        #expect(publisher.publish([]) == .confirmed)
    }

    @Test func anUnreachableBrokerFailsEveryMessageAtOnce() throws {
        let refusing = try RefusingPort()
        // A long confirm timeout: the answer must come from the failed connect, not from the worker's deadline.
        let publisher = try Self.publisher(
            url: "amqp://guest:guest@127.0.0.1:\(refusing.port)/", confirmTimeout: 30)
        for count in [3, 1] {
            guard case .failed(let reason, let unconfirmed) = publisher.publish(Self.messages(count)) else {
                Issue.record("an unreachable broker confirmed")
                return
            }
            #expect(reason.hasPrefix("broker unavailable: cannot connect to 127.0.0.1:\(refusing.port)"))
            #expect(unconfirmed == Array(0..<count))
        }
    }

    @Test func aBrokerThatNeverAnswersLeavesEveryMessageUnconfirmedAfterTheConfirmTimeout() throws {
        // Accepts the TCP connection and reads whatever comes, never saying a word.
        let silent = try LoopbackServer { connection in
            while connection.read(1) != nil {}
        }
        defer { silent.stop() }
        // The publisher thread is stuck in the handshake (it gives up after 2 s); the worker keeps its own deadline
        // of confirm timeout + 0.5 s and answers first.
        let publisher = try Self.publisher(url: "amqp://127.0.0.1:\(silent.port)/", confirmTimeout: 0.1)
        guard case .failed(let reason, let unconfirmed) = publisher.publish(Self.messages(2)) else {
            Issue.record("a silent broker confirmed")
            return
        }
        #expect(reason.hasPrefix("no confirm from the broker within"))
        #expect(unconfirmed == [0, 1])
    }
}

/// `JobPublisher` starts a thread that runs for the life of the process: there is no way to stop it, and it reads
/// its publisher through an unowned reference, so a publisher must never be released. Tests keep theirs here.
enum PublisherKeeper {
    private static let kept = Mutexed<[JobPublisher]>([])

    static func keep(_ publisher: JobPublisher) -> JobPublisher {
        kept.mutate { $0.append(publisher) }
        return publisher
    }
}
