import Base
import Dispatch
import TestSupport
import Testing

@testable import AMQP

/// The publisher thread (`PublisherLoop`) against a broker that answers as each case says: what the broker did
/// with each message decides what `publish` answers, hence which messages the request spools. tests/integration
/// runs nack, return and no-confirm against RabbitMQ itself.
@Suite struct PublisherLoopTests {
    static func publisher(_ broker: FakeBroker, confirmTimeout: Double = 30) throws -> JobPublisher {
        var settings = AMQPSettings()
        settings.url = broker.url
        return PublisherKeeper.keep(
            try JobPublisher(settings: settings, logger: Logger(level: .error), confirmTimeout: confirmTimeout))
    }

    @Test func ackedMessagesAreConfirmedAsSent() throws {
        let broker = try FakeBroker { [.ack($0.tag)] }
        defer { broker.stop() }
        let messages = JobPublisherTests.messages(3)
        #expect(try Self.publisher(broker).publish(messages) == .confirmed)
        #expect(broker.published.map(\.messageID) == ["request-0", "request-1", "request-2"])
        #expect(broker.published.map(\.body) == messages.map(\.body))
    }

    @Test func oneMultipleAckConfirmsTheWholeBatch() throws {
        let broker = try FakeBroker { $0.tag == 3 ? [.ack(3, multiple: true)] : [] }
        defer { broker.stop() }
        #expect(try Self.publisher(broker).publish(JobPublisherTests.messages(3)) == .confirmed)
    }

    @Test func aNackedMessageIsTheOnlyUnconfirmedOne() throws {
        // The third is acked before the second is nacked: a nack renews the channel, failing what is still in flight.
        let broker = try FakeBroker { $0.tag == 1 ? [.ack(1)] : $0.tag == 3 ? [.ack(3), .nack(2)] : [] }
        defer { broker.stop() }
        #expect(
            try Self.publisher(broker).publish(JobPublisherTests.messages(3))
                == .failed("broker nacked the message", unconfirmed: [1]))
    }

    @Test func aMultipleNackFailsEveryMessageUpToIt() throws {
        // Nothing for the first two messages; on the third, its own ack and then a nack of both earlier ones.
        let broker = try FakeBroker { $0.tag == 3 ? [.ack(3), .nack(2, multiple: true)] : [] }
        defer { broker.stop() }
        #expect(
            try Self.publisher(broker).publish(JobPublisherTests.messages(3))
                == .failed("broker nacked the message", unconfirmed: [0, 1]))
    }

    @Test func aNackRenewsTheConnectionSoTheNextMessagesGoOverAFreshChannel() throws {
        // RabbitMQ 3.10 nacked every message on a channel that began publishing to a quorum queue mid-election
        // (tests/integration/test_cluster.py); this broker nacks everything on its first connection.
        let broker = try FakeBroker { $0.connection == 0 ? [.nack($0.tag)] : [.ack($0.tag)] }
        defer { broker.stop() }
        let publisher = try Self.publisher(broker)
        #expect(
            publisher.publish(JobPublisherTests.messages(1)) == .failed("broker nacked the message", unconfirmed: [0]))
        var result = publisher.publish(JobPublisherTests.messages(2))
        for _ in 0..<20 where result != .confirmed {  // within the 0.2 s pause, messages fail fast to the spool
            MonotonicClock.sleep(0.05)
            result = publisher.publish(JobPublisherTests.messages(2))
        }
        #expect(result == .confirmed)
        #expect(broker.published.last?.connection == 1)
        #expect(publisher.connectedNode == "127.0.0.1:\(broker.port)")  // the same node: it did not fail over
    }

    @Test func anUnroutableMessageStaysUnconfirmedDespiteItsAck() throws {
        let broker = try FakeBroker { $0.tag == 1 ? [.returnUnroutable] : [.ack($0.tag)] }
        defer { broker.stop() }
        #expect(
            try Self.publisher(broker).publish(JobPublisherTests.messages(2))
                == .failed("message returned as unroutable: NO_ROUTE", unconfirmed: [0]))
    }

    @Test func messagesWithoutAConfirmFailAfterTheConfirmTimeout() throws {
        // Only the first message is acked; the others get no answer at all.
        let broker = try FakeBroker { $0.tag == 1 ? [.ack(1)] : [] }
        defer { broker.stop() }
        let result = try Self.publisher(broker, confirmTimeout: 1).publish(JobPublisherTests.messages(3))
        #expect(result == .failed("no confirm from the broker within 1 s", unconfirmed: [1, 2]))
    }

    @Test func aLostConnectionFailsWhatIsInFlightAndTheNextPublishReconnects() throws {
        // The first connection dies once the third message arrived, none of them acked.
        let broker = try FakeBroker { $0.connection == 0 ? ($0.tag == 3 ? [.drop] : []) : [.ack($0.tag)] }
        defer { broker.stop() }
        let publisher = try Self.publisher(broker)
        guard case .failed(let reason, let unconfirmed) = publisher.publish(JobPublisherTests.messages(3)) else {
            Issue.record("confirmed although the connection was lost")
            return
        }
        #expect(reason.hasPrefix("broker connection lost: "))
        #expect(unconfirmed == [0, 1, 2])
        #expect(publisher.publish(JobPublisherTests.messages(1)) == .confirmed)
        #expect(broker.connections == 2)
    }

    @Test func concurrentPublishesShareOneConnectionAndOneConfirm() throws {
        // Four messages from two requests, confirmed by one multiple ack once all four are in.
        let broker = try FakeBroker { $0.tag == 4 ? [.ack(4, multiple: true)] : [] }
        defer { broker.stop() }
        let publisher = try Self.publisher(broker)
        let results = Mutexed<[PublishResult]>([])
        let done = DispatchSemaphore(value: 0)
        // Two threads of their own, as two FastCGI workers: each blocks until its messages are settled.
        for _ in 0..<2 {
            Threads.start {
                let result = publisher.publish(JobPublisherTests.messages(2))
                results.mutate { $0.append(result) }
                done.signal()
            }
        }
        done.wait()
        done.wait()
        #expect(results.value == [.confirmed, .confirmed])
        #expect(broker.connections == 1)
        #expect(broker.published.count == 4)
    }
}
