import AMQP
import Base
import Delivery
import Events

/// How a delivery's jobs were handed on (SPEC §6, §7).
public enum DispatchOutcome: Sendable, Equatable {
    /// The broker confirmed every message.
    case published
    /// The broker did not confirm some (`reason`); those are in the outbox and will be published from there.
    case spooled(reason: String)
    /// Neither confirmed nor made durable: the delivery must fail, so GitHub's "Redeliver" works.
    case failed(String)
}

/// Publishes a delivery's JobRequests and spools what the broker did not ack (SPEC §7): an acked message is
/// never spooled, so it is never published twice.
public final class JobDispatcher: Sendable {
    private let publisher: any MessagePublishing
    private let outbox: JobOutbox?
    private let logger: Logger

    /// A dispatcher publishing through `publisher`, spooling into `outbox` (none: a failed publish fails).
    public init(publisher: any MessagePublishing, outbox: JobOutbox?, logger: Logger) {
        self.publisher = publisher
        self.outbox = outbox
        self.logger = logger
    }

    /// Publishes one message per request, with SPEC §6's properties and headers.
    public func dispatch(
        _ requests: [JobRequest], groupID: String, deliveryID: String, event: String, now: Int
    ) -> DispatchOutcome {
        let messages = requests.map { job in
            AMQPMessage(
                body: job.jsonBytes(), messageID: job.requestID, type: JobRequest.schema, timestamp: UInt64(now),
                headers: [("x-github-delivery", deliveryID), ("x-github-event", event)])
        }
        guard case .failed(let reason, let unconfirmed) = publisher.publish(messages) else { return .published }
        guard let outbox else { return .failed("jobs not queued, redeliver later: \(reason)") }
        do {
            try outbox.enqueue(groupID: groupID, messages: unconfirmed.map { OutboxMessage(messages[$0]) })
        } catch {
            return .failed("jobs neither queued (\(reason)) nor spooled (\(error.message)); redeliver later")
        }
        logger.log(.warning, "jobs spooled", ["delivery": .string(deliveryID), "reason": .string(reason)])
        return .spooled(reason: reason)
    }
}

extension OutboxMessage {
    /// The outbox's copy of `message`.
    public init(_ message: AMQPMessage) {
        self.init(
            messageID: message.messageID, type: message.type, timestamp: message.timestamp,
            headers: message.headers.map { Header(name: $0.0, value: $0.1) }, body: message.body)
    }
}

extension AMQPMessage {
    /// `message` as it is published again from the outbox.
    public init(_ message: OutboxMessage) {
        self.init(
            body: message.body, messageID: message.messageID, type: message.type, timestamp: message.timestamp,
            headers: message.headers.map { ($0.name, $0.value) })
    }
}

extension MessagePublishing {
    /// Publishes outbox messages; answers what the broker did not confirm, as `JobOutbox.drain` wants it.
    public func publish(outbox messages: [OutboxMessage]) -> Unconfirmed? {
        guard case .failed(let reason, let indices) = publish(messages.map(AMQPMessage.init)) else { return nil }
        return Unconfirmed(reason: reason, indices: indices)
    }
}
