/// The exchanges, queues and bindings of SPEC §6, declared the same way on every connect so that a second
/// declaration is a no-op and a mismatch (406 PRECONDITION_FAILED) is reported at once.
///
/// Each daemon declares only its own half, so each broker user needs rights on its own names only (SPEC §6,
/// least privilege; deploy/rabbitmq/permissions.sh): solstice-fcgi the jobs, solstice-results the results.
enum AMQPTopology {
    /// The JobRequests' exchange and queue, the dead-letter exchange and the jobs' DLQ.
    static func declareJobs(on connection: AMQPConnection, _ s: AMQPSettings) throws(AMQPError) {
        try connection.declareExchange(s.exchange)
        try connection.declareExchange(s.deadLetterExchange)
        try connection.declareQueue(s.queue, arguments: [("x-dead-letter-exchange", s.deadLetterExchange)])
        try connection.bind(queue: s.queue, exchange: s.exchange, routingKey: s.routingKey)
        try connection.declareQueue(s.deadLetterQueue, arguments: [])
        try connection.bind(queue: s.deadLetterQueue, exchange: s.deadLetterExchange, routingKey: s.routingKey)
    }

    /// The JobResults' own exchange (so the responder's user can be kept from writing results) and queue, the
    /// dead-letter exchange and the results' DLQ.
    static func declareResults(on connection: AMQPConnection, _ s: AMQPSettings) throws(AMQPError) {
        try connection.declareExchange(s.resultsExchange)
        try connection.declareExchange(s.deadLetterExchange)
        try connection.declareQueue(
            s.resultsQueue,
            arguments: [
                ("x-dead-letter-exchange", s.deadLetterExchange),
                ("x-dead-letter-routing-key", s.resultsRoutingKey),
            ])
        try connection.bind(queue: s.resultsQueue, exchange: s.resultsExchange, routingKey: s.resultsRoutingKey)
        try connection.declareQueue(s.resultsDeadLetterQueue, arguments: [])
        try connection.bind(
            queue: s.resultsDeadLetterQueue, exchange: s.deadLetterExchange, routingKey: s.resultsRoutingKey)
    }
}
