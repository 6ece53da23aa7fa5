import Base
import Synchronization

/// What becomes of a consumed message.
public enum ConsumeDisposition: Sendable, Equatable {
    /// Done: ack.
    case ack
    /// Malformed, or failed for good: reject without requeue, so it lands in the dead-letter queue.
    case deadLetter
    /// Attempt `attempt` (1–4) failed for a passing reason: republish the message to the `attempt`-th retry queue
    /// with `x-solstice-attempt = attempt` (`ResultRetry`), await the broker's confirm, then ack the original.
    case retry(attempt: Int)
}

/// A consumed result as the handler sees it.
public struct ConsumedMessage: Sendable {
    /// The raw body.
    public var body: [UInt8]
    /// Attempts already made at it, from its `x-solstice-attempt` header (0–4; `ResultRetry.previousAttempts`).
    public var previousAttempts: Int

    /// A message with its count of earlier attempts.
    public init(body: [UInt8], previousAttempts: Int) {
        self.body = body
        self.previousAttempts = previousAttempts
    }
}

/// Consumes `AMQP_RESULTS_QUEUE` (SPEC §8) with manual acks and a prefetch limit, and hands each message to a
/// handler.
///
/// Concurrency model: `run` blocks its calling thread, which owns one `AMQPConnection` for as long as it lives;
/// several loops (one per `RESULTS_WORKERS`) each own their own connection and share only the handler. A message
/// is acked after its Check Run was written, or after its copy for a later attempt was confirmed in a retry queue
/// (published on the same channel, which is in confirm mode; deliveries that arrive while the confirm is awaited
/// wait their turn). Messages prefetched but not started when a stop arrives are left unacked, and the broker
/// requeues them when the connection closes. A lost connection (broker restart) is opened again with growing
/// pauses, declaring the topology each time.
///
/// A retry the broker does not take (nack, unroutable, no confirm within 5 s) rejects the original with requeue,
/// so it is not lost, and drops the connection: the reconnection pauses (the consumer does not spin on a broker
/// in trouble) and declares the topology again, which re-creates a retry queue deleted under it. The failed attempt
/// is then not counted. If the confirm arrives after the deadline after all, the result exists twice; completing
/// a Check Run twice writes the same fields.
///
/// Several nodes (`AMQP_URL` a comma-separated list, SPEC §12): each connect tries them in order from the node in
/// favour, the first at start, passing over one that refuses; the pause comes only once every node failed. A lost
/// connection puts the next node in favour; what was prefetched and unacked is redelivered by the cluster.
public final class ResultConsumer: Sendable {
    private let settings: AMQPSettings
    private let addresses: [AMQPAddress]
    private let prefetch: UInt16
    private let logger: Logger
    private let confirmTimeout: Double

    /// A consumer of `settings.resultsQueue` with at most `prefetch` unacked messages per connection.
    public init(settings: AMQPSettings, prefetch: UInt16 = 4, logger: Logger, confirmTimeout: Double = 5)
        throws(AMQPAddressError)
    {
        self.settings = settings
        self.addresses = try AMQPAddress.list(settings.url)
        self.prefetch = prefetch
        self.logger = logger
        self.confirmTimeout = confirmTimeout
    }

    /// Consumes until `stop` is requested; returns once the message in hand is finished.
    public func run(worker: Int, stop: StopSignal, handler: (ConsumedMessage) -> ConsumeDisposition) {
        var pause = 0.25
        var node = 0
        while !stop.isRequested {
            let connection: AMQPConnection
            do {
                (connection, node) = try AMQPFailover.connect(addresses, from: node) { address throws(AMQPError) in
                    let connection = try AMQPConnection(address: address, timeout: 5)
                    try AMQPTopology.declareResults(on: connection, settings)
                    try connection.enableConfirms()
                    try connection.setPrefetch(prefetch)
                    try connection.consume(queue: settings.resultsQueue)
                    return connection
                }
            } catch {
                logger.log(
                    .error, "broker connection failed",
                    ["worker": .int(worker), "error": .string(error.message), "retry_in_s": .double(pause)])
                MonotonicClock.sleep(pause) { stop.isRequested }
                pause = min(pause * 2, 5)
                continue
            }
            let address = addresses[node]
            logger.log(
                .info, "consuming results",
                [
                    "worker": .int(worker), "queue": .string(settings.resultsQueue), "host": .string(address.host),
                    "port": .int(address.port),
                ])
            let connected = MonotonicClock.now()
            do {
                try consume(connection, stop: stop, handler: handler)
            } catch {
                // A connection that served a while was healthy: start the pauses afresh. One lost at once (a
                // refused retry, again and again) keeps growing them.
                if MonotonicClock.now() - connected > 30 { pause = 0.25 }
                node = AMQPFailover.next(after: node, of: addresses.count)
                logger.log(
                    .error, "broker connection lost",
                    ["worker": .int(worker), "error": .string(error.message), "retry_in_s": .double(pause)])
                MonotonicClock.sleep(pause) { stop.isRequested }
                pause = min(pause * 2, 5)
            }
        }
    }

    /// Reads deliveries until a stop or a connection failure; the connection closes (requeueing what was
    /// prefetched and not started) when the caller lets go of it.
    private func consume(
        _ connection: AMQPConnection, stop: StopSignal, handler: (ConsumedMessage) -> ConsumeDisposition
    ) throws(AMQPError) {
        var waiting: [AMQPDelivery] = []
        var published: UInt64 = 0
        while !stop.isRequested {
            if waiting.isEmpty {
                waiting = try connection.readEvents(timeout: 0.25).compactMap {
                    guard case .delivery(let delivery) = $0 else { return nil }
                    return delivery
                }
            }
            while !waiting.isEmpty {
                if stop.isRequested { return }
                let delivery = waiting.removeFirst()
                let previous = ResultRetry.previousAttempts(delivery.received.header(ResultRetry.header))
                switch handler(ConsumedMessage(body: delivery.body, previousAttempts: previous)) {
                case .ack: try connection.ack(delivery.tag)
                case .deadLetter: try connection.reject(delivery.tag, requeue: false)
                case .retry(let attempt):
                    let queue = ResultRetry.queue(prefix: settings.resultsRetryQueue, afterFailedAttempt: attempt)
                    try connection.republish(
                        delivery, routingKey: queue, header: ResultRetry.header, value: Int32(attempt))
                    published += 1
                    if let refusal = try awaitConfirm(of: published, on: connection, stashing: &waiting) {
                        try connection.reject(delivery.tag, requeue: true)
                        throw AMQPError(code: -1, message: "retry queue \(queue) did not take the result: \(refusal)")
                    }
                    try connection.ack(delivery.tag)
                }
            }
        }
    }

    /// Waits for the broker's answer to publish `tag`: nil when it acked it, else why not (nack, returned as
    /// unroutable, no answer within `confirmTimeout`). Deliveries read meanwhile are appended to `waiting`.
    private func awaitConfirm(
        of tag: UInt64, on connection: AMQPConnection, stashing waiting: inout [AMQPDelivery]
    ) throws(AMQPError) -> String? {
        let deadline = MonotonicClock.now() + confirmTimeout
        var returned: String?
        while true {
            let left = deadline - MonotonicClock.now()
            if left <= 0 { return "no confirm within \(confirmTimeout) s" }
            for event in try connection.readEvents(timeout: min(left, 0.25)) {
                switch event {
                case .delivery(let delivery): waiting.append(delivery)
                case .returned(_, let text): returned = "returned as unroutable (\(text))"
                case .ack(let acked, let multiple) where acked == tag || (multiple && acked > tag):
                    return returned
                case .nack(let nacked, let multiple) where nacked == tag || (multiple && nacked > tag):
                    return "nacked by the broker"
                default: break
                }
            }
        }
    }
}
