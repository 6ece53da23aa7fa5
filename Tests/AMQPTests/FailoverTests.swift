import Base
import Dispatch
import TestSupport
import Testing

@testable import AMQP

/// `AMQP_URL` listing the nodes of a cluster (SPEC §2, §12): the list parsed and checked, and the publisher and the
/// consumer connecting to the nodes in order and moving to the next when one refuses or its connection is lost.
/// tests/integration is to run the same against a 3-node RabbitMQ cluster (scripts/cluster.sh).
@Suite struct FailoverTests {
    static func settings(_ urls: [String]) -> AMQPSettings {
        var settings = AMQPSettings()
        settings.url = urls.joined(separator: ",")
        return settings
    }

    static func publisher(_ urls: [String]) throws -> JobPublisher {
        PublisherKeeper.keep(
            try JobPublisher(settings: settings(urls), logger: Logger(level: .error), confirmTimeout: 30))
    }

    @Test func oneURLIsParsedAsBefore() throws {
        let url = "amqp://u:p@broker.example:5673/%2fjobs"
        #expect(try AMQPAddress.list(url) == [try AMQPAddress(url: url)])
        #expect(try AMQPSettings.load(Environment(["AMQP_URL": url])).url == url)
        #expect(throws: AMQPAddressError(message: "port must be a number from 1 to 65535")) {
            try AMQPAddress.list("amqp://host:0/")
        }
    }

    @Test func severalURLsAreParsedInOrderIgnoringBlanks() throws {
        let list = try AMQPAddress.list("amqp://127.0.0.1:5681/%2f, amqp://a:b@127.0.0.1:5682/v ,amqp://[::1]:5683")
        #expect(list.map(\.host) == ["127.0.0.1", "127.0.0.1", "::1"])
        #expect(list.map(\.port) == [5681, 5682, 5683])
        #expect(list.map(\.vhost) == ["/", "v", "/"])
        #expect(list.map(\.user) == ["guest", "a", "guest"])
        #expect(list.map(\.node) == ["127.0.0.1:5681", "127.0.0.1:5682", "[::1]:5683"])
        let env = Environment(["AMQP_URL": "amqp://h1/,amqp://h2/"])
        #expect(try AMQPSettings.load(env).url == "amqp://h1/,amqp://h2/")
    }

    @Test func everyURLOfTheListIsChecked() throws {
        #expect(
            throws: AMQPAddressError(message: "URL 2 of 3: port must be a number from 1 to 65535")
        ) { try AMQPAddress.list("amqp://a/,amqp://b:x/,amqp://c/") }
        #expect(throws: AMQPAddressError(message: "URL 3 of 3: empty (two commas, or a comma at an end)")) {
            try AMQPAddress.list("amqp://a/,amqp://b/,")
        }
        #expect(throws: ConfigurationError.self) {
            try AMQPSettings.load(Environment(["AMQP_URL": "amqp://a/,https://b/"]))
        }
    }

    @Test func thePublisherPassesOverADeadFirstNode() throws {
        let dead = try RefusingPort()
        let broker = try FakeBroker { [.ack($0.tag)] }
        defer { broker.stop() }
        let publisher = try Self.publisher(["amqp://127.0.0.1:\(dead.port)/", broker.url])
        #expect(publisher.publish(JobPublisherTests.messages(2)) == .confirmed)
        #expect(broker.published.count == 2)
        #expect(publisher.connectedNode == "127.0.0.1:\(broker.port)")
    }

    @Test func everyNodeDeadFailsEveryMessageNamingEachNode() throws {
        let first = try RefusingPort()
        let second = try RefusingPort()
        let publisher = try Self.publisher(["amqp://127.0.0.1:\(first.port)/", "amqp://127.0.0.1:\(second.port)/"])
        guard case .failed(let reason, let unconfirmed) = publisher.publish(JobPublisherTests.messages(2)) else {
            Issue.record("confirmed without a broker")
            return
        }
        #expect(
            reason.hasPrefix(
                "broker unavailable: no node of 2 reachable: [1] cannot connect to 127.0.0.1:\(first.port)"))
        #expect(reason.contains("[2] cannot connect to 127.0.0.1:\(second.port)"))
        #expect(unconfirmed == [0, 1])
        #expect(publisher.connectedNode == nil)
    }

    @Test func aLostConnectionMovesThePublisherToTheNextNode() throws {
        // The first node loses the connection once the third message arrived, none acked; it would take a new
        // connection and ack, but the publisher must go to the second node.
        let first = try FakeBroker { $0.connection == 0 ? ($0.tag == 3 ? [.drop] : []) : [.ack($0.tag)] }
        let second = try FakeBroker { [.ack($0.tag)] }
        defer {
            first.stop()
            second.stop()
        }
        let publisher = try Self.publisher([first.url, second.url])
        guard case .failed(let reason, let unconfirmed) = publisher.publish(JobPublisherTests.messages(3)) else {
            Issue.record("confirmed although the connection was lost")
            return
        }
        // What was in flight is the caller's to spool, as with one node.
        #expect(reason.hasPrefix("broker connection lost: "))
        #expect(unconfirmed == [0, 1, 2])
        #expect(publisher.publish(JobPublisherTests.messages(1)) == .confirmed)
        #expect(first.connections == 1)
        #expect(second.published.map(\.messageID) == ["request-0"])
        #expect(publisher.connectedNode == "127.0.0.1:\(second.port)")
    }

    @Test func theConsumerPassesOverADeadFirstNode() throws {
        let dead = try RefusingPort()
        let broker = try FakeBroker()
        defer { broker.stop() }
        let consumer = try ResultConsumer(
            settings: Self.settings(["amqp://127.0.0.1:\(dead.port)/", broker.url]), logger: Logger(level: .error))
        let stop = StopSignal()
        let done = DispatchSemaphore(value: 0)
        Threads.start {
            consumer.run(worker: 0, stop: stop) { _ in .ack }
            done.signal()
        }
        let deadline = MonotonicClock.now() + 10
        while broker.connections == 0 && MonotonicClock.now() < deadline { _ = MonotonicClock.sleep(0.02) }
        // Consuming: still on that one connection a moment later (a failed setup would have reconnected).
        _ = MonotonicClock.sleep(0.5)
        stop.request()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(broker.connections == 1)
    }

    @Test func theConsumerMovesToTheNextNodeWhenItsConnectionIsLost() throws {
        let first = try FakeBroker()
        let second = try FakeBroker()
        defer { second.stop() }
        let consumer = try ResultConsumer(
            settings: Self.settings([first.url, second.url]), logger: Logger(level: .error))
        let stop = StopSignal()
        let done = DispatchSemaphore(value: 0)
        Threads.start {
            consumer.run(worker: 0, stop: stop) { _ in .ack }
            done.signal()
        }
        var deadline = MonotonicClock.now() + 10
        while first.connections == 0 && MonotonicClock.now() < deadline { _ = MonotonicClock.sleep(0.02) }
        first.stop()  // every connection closed: the consumer's is lost
        deadline = MonotonicClock.now() + 10
        while second.connections == 0 && MonotonicClock.now() < deadline { _ = MonotonicClock.sleep(0.02) }
        stop.request()
        #expect(done.wait(timeout: .now() + 5) == .success)
        #expect(first.connections == 1)
        #expect(second.connections == 1)
    }
}
