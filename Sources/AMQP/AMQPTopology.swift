/// The exchanges, queues and bindings of SPEC §6, declared the same way on every connect so that a second
/// declaration is a no-op and a mismatch (406 PRECONDITION_FAILED) is reported at once.
///
/// Each daemon declares only its own half, so each broker user needs rights on its own names only (SPEC §6,
/// least privilege; deploy/rabbitmq/permissions.sh): solstice-fcgi the jobs, solstice-results the results.
/// Each half is a value first (`jobs`, `results`), so its arguments can be checked without a broker.
enum AMQPTopology {
    /// A durable queue and its arguments.
    struct Queue: Equatable {
        var name: String
        var arguments: [AMQPArgument]
    }

    /// A binding of `queue` to `exchange` with `routingKey`.
    struct Binding: Equatable {
        var queue: String
        var exchange: String
        var routingKey: String
    }

    /// One half of the topology: durable direct exchanges, queues, bindings, declared in that order.
    struct Plan: Equatable {
        var exchanges: [String]
        var queues: [Queue]
        var bindings: [Binding]
    }

    /// The JobRequests' exchange and queue, the dead-letter exchange and the jobs' DLQ.
    static func jobs(_ s: AMQPSettings) -> Plan {
        let type = typeArguments(s)
        return Plan(
            exchanges: [s.exchange, s.deadLetterExchange],
            queues: [
                Queue(
                    name: s.queue,
                    arguments: [AMQPArgument("x-dead-letter-exchange", .string(s.deadLetterExchange))] + type),
                Queue(name: s.deadLetterQueue, arguments: type),
            ],
            bindings: [
                Binding(queue: s.queue, exchange: s.exchange, routingKey: s.routingKey),
                Binding(queue: s.deadLetterQueue, exchange: s.deadLetterExchange, routingKey: s.routingKey),
            ])
    }

    /// The JobResults' own exchange (so the responder's user can be kept from writing results) and queue, the
    /// four retry queues (each one's TTL dead-letters back to the results exchange, SPEC §8), the dead-letter
    /// exchange and the results' DLQ. The retry queues are not bound: results reach them through the default
    /// exchange, by queue name.
    static func results(_ s: AMQPSettings) -> Plan {
        let type = typeArguments(s)
        let retries = zip(s.resultsRetryQueues, ResultRetry.delays).map { name, delay in
            Queue(
                name: name,
                arguments: [
                    AMQPArgument("x-message-ttl", .integer(delay.milliseconds)),
                    AMQPArgument("x-dead-letter-exchange", .string(s.resultsExchange)),
                    AMQPArgument("x-dead-letter-routing-key", .string(s.resultsRoutingKey)),
                ] + type)
        }
        return Plan(
            exchanges: [s.resultsExchange, s.deadLetterExchange],
            queues: [
                Queue(
                    name: s.resultsQueue,
                    arguments: [
                        AMQPArgument("x-dead-letter-exchange", .string(s.deadLetterExchange)),
                        AMQPArgument("x-dead-letter-routing-key", .string(s.resultsRoutingKey)),
                    ] + type)
            ] + retries + [Queue(name: s.resultsDeadLetterQueue, arguments: type)],
            bindings: [
                Binding(queue: s.resultsQueue, exchange: s.resultsExchange, routingKey: s.resultsRoutingKey),
                Binding(
                    queue: s.resultsDeadLetterQueue, exchange: s.deadLetterExchange, routingKey: s.resultsRoutingKey),
            ])
    }

    /// `x-queue-type = quorum` with `AMQP_QUEUE_TYPE=quorum`; nothing for classic, so that queues declared before
    /// the variable existed stay equivalent.
    static func typeArguments(_ s: AMQPSettings) -> [AMQPArgument] {
        switch s.queueType {
        case .classic: return []
        case .quorum: return [AMQPArgument("x-queue-type", .string("quorum"))]
        }
    }

    /// Declares `plan` on `connection`.
    static func declare(_ plan: Plan, on connection: AMQPConnection) throws(AMQPError) {
        for exchange in plan.exchanges { try connection.declareExchange(exchange) }
        for queue in plan.queues { try connection.declareQueue(queue.name, arguments: queue.arguments) }
        for b in plan.bindings { try connection.bind(queue: b.queue, exchange: b.exchange, routingKey: b.routingKey) }
    }

    /// Declares the jobs' half.
    static func declareJobs(on connection: AMQPConnection, _ s: AMQPSettings) throws(AMQPError) {
        try declare(jobs(s), on: connection)
    }

    /// Declares the results' half.
    static func declareResults(on connection: AMQPConnection, _ s: AMQPSettings) throws(AMQPError) {
        try declare(results(s), on: connection)
    }
}
