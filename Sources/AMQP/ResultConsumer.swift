import Base
import Synchronization

/// What becomes of a consumed message.
public enum ConsumeDisposition: Sendable, Equatable {
    /// Done: ack.
    case ack
    /// Malformed, or failed for good: reject without requeue, so it lands in the dead-letter queue.
    case deadLetter
    /// The process is stopping: leave it unacked, the broker redelivers it.
    case leave
}

/// Consumes `AMQP_RESULTS_QUEUE` (SPEC §8) with manual acks and a prefetch limit, and hands each message to a
/// handler.
///
/// Concurrency model: `run` blocks its calling thread, which owns one `AMQPConnection` for as long as it lives;
/// several loops (one per `RESULTS_WORKERS`) each own their own connection and share only the handler. A message
/// is acked after its Check Run was written; messages prefetched but not started when a stop arrives are left
/// unacked, and the broker requeues them when the connection closes. A lost connection (broker restart) is
/// opened again with growing pauses, declaring the topology each time.
public final class ResultConsumer: Sendable {
    private let settings: AMQPSettings
    private let address: AMQPAddress
    private let prefetch: UInt16
    private let logger: Logger

    /// A consumer of `settings.resultsQueue` with at most `prefetch` unacked messages per connection.
    public init(settings: AMQPSettings, prefetch: UInt16 = 4, logger: Logger) throws(AMQPAddressError) {
        self.settings = settings
        self.address = try AMQPAddress(url: settings.url)
        self.prefetch = prefetch
        self.logger = logger
    }

    /// Consumes until `stop` is requested; returns once the message in hand is finished.
    public func run(
        worker: Int, stop: StopSignal, handler: ([UInt8], _ shouldStop: () -> Bool) -> ConsumeDisposition
    ) {
        var pause = 0.25
        while !stop.isRequested {
            let connection: AMQPConnection
            do {
                connection = try AMQPConnection(address: address, timeout: 5)
                try AMQPTopology.declareResults(on: connection, settings)
                try connection.setPrefetch(prefetch)
                try connection.consume(queue: settings.resultsQueue)
            } catch {
                logger.log(
                    .error, "broker connection failed",
                    ["worker": .int(worker), "error": .string(error.message), "retry_in_s": .double(pause)])
                MonotonicClock.sleep(pause) { stop.isRequested }
                pause = min(pause * 2, 5)
                continue
            }
            pause = 0.25
            logger.log(
                .info, "consuming results",
                [
                    "worker": .int(worker), "queue": .string(settings.resultsQueue), "host": .string(address.host),
                    "port": .int(address.port),
                ])
            do {
                try consume(connection, stop: stop, handler: handler)
            } catch {
                logger.log(.error, "broker connection lost", ["worker": .int(worker), "error": .string(error.message)])
                MonotonicClock.sleep(pause) { stop.isRequested }
            }
        }
    }

    /// Reads deliveries until a stop or a connection failure; the connection closes (requeueing what was
    /// prefetched and not started) when the caller lets go of it.
    private func consume(
        _ connection: AMQPConnection, stop: StopSignal,
        handler: ([UInt8], _ shouldStop: () -> Bool) -> ConsumeDisposition
    ) throws(AMQPError) {
        while !stop.isRequested {
            for event in try connection.readEvents(timeout: 0.25) {
                guard case .delivery(let delivery) = event else { continue }
                if stop.isRequested { return }
                switch handler(delivery.body, { stop.isRequested }) {
                case .ack: try connection.ack(delivery.tag)
                case .deadLetter: try connection.reject(delivery.tag, requeue: false)
                case .leave: return
                }
            }
        }
    }
}
