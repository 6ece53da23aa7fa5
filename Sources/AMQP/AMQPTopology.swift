/// The exchanges, queues and bindings of SPEC §6, declared the same way on every connect so that a second
/// declaration is a no-op and a mismatch (406 PRECONDITION_FAILED) is reported at once.
enum AMQPTopology {
    /// Declares jobs and results topology on `connection`.
    static func declare(on connection: AMQPConnection, _ s: AMQPSettings) throws(AMQPError) {
        try connection.declareExchange(s.exchange)
        try connection.declareExchange(s.deadLetterExchange)
        try connection.declareQueue(s.queue, arguments: [("x-dead-letter-exchange", s.deadLetterExchange)])
        try connection.bind(queue: s.queue, exchange: s.exchange, routingKey: s.routingKey)
        try connection.declareQueue(s.deadLetterQueue, arguments: [])
        try connection.bind(queue: s.deadLetterQueue, exchange: s.deadLetterExchange, routingKey: s.routingKey)
        try connection.declareQueue(
            s.resultsQueue,
            arguments: [
                ("x-dead-letter-exchange", s.deadLetterExchange),
                ("x-dead-letter-routing-key", s.resultsRoutingKey),
            ])
        try connection.bind(queue: s.resultsQueue, exchange: s.exchange, routingKey: s.resultsRoutingKey)
        try connection.declareQueue(s.resultsDeadLetterQueue, arguments: [])
        try connection.bind(
            queue: s.resultsDeadLetterQueue, exchange: s.deadLetterExchange, routingKey: s.resultsRoutingKey)
    }
}
