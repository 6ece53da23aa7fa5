import Base

/// Broker address and the names of SPEC §6, shared by both daemons.
public struct AMQPSettings: Sendable, Equatable {
    /// `AMQP_URL` [amqp://127.0.0.1:5672/%2f]: one URL, or several comma-separated (the nodes of a cluster, tried
    /// in order and failed over, SPEC §12; `AMQPAddress.list`).
    public var url = "amqp://127.0.0.1:5672/%2f"
    /// `AMQP_EXCHANGE` [solstice.jobs].
    public var exchange = "solstice.jobs"
    /// `AMQP_ROUTING_KEY` [jobrequest.v1].
    public var routingKey = "jobrequest.v1"
    /// `AMQP_QUEUE` [solstice.jobs.v1].
    public var queue = "solstice.jobs.v1"
    /// `AMQP_DLX` [solstice.dlx].
    public var deadLetterExchange = "solstice.dlx"
    /// `AMQP_DLQ` [solstice.jobs.v1.dlq].
    public var deadLetterQueue = "solstice.jobs.v1.dlq"
    /// `AMQP_RESULTS_EXCHANGE` [solstice.results]: the orchestrator's, never the responder's to write.
    public var resultsExchange = "solstice.results"
    /// `AMQP_RESULTS_ROUTING_KEY` [jobresult.v1].
    public var resultsRoutingKey = "jobresult.v1"
    /// `AMQP_RESULTS_QUEUE` [solstice.results.v1].
    public var resultsQueue = "solstice.results.v1"
    /// `AMQP_RESULTS_DLQ` [solstice.results.v1.dlq].
    public var resultsDeadLetterQueue = "solstice.results.v1.dlq"
    /// `AMQP_RESULTS_RETRY_QUEUE` [solstice.results.v1.retry]: the prefix of the four delay queues (SPEC §8,
    /// `ResultRetry`).
    public var resultsRetryQueue = "solstice.results.v1.retry"
    /// `AMQP_QUEUE_TYPE` [classic]: the type of every queue declared, by either daemon.
    public var queueType = AMQPQueueType.classic

    /// The four retry queues, shortest delay first: `resultsRetryQueue` + `.5s`, `.30s`, `.2m`, `.10m`.
    public var resultsRetryQueues: [String] { ResultRetry.delays.map { resultsRetryQueue + $0.suffix } }

    /// Defaults of SPEC §2.
    public init() {}

    private static var names: [(String, WritableKeyPath<AMQPSettings, String>, String)] {
        [
            ("AMQP_EXCHANGE", \.exchange, "exchange of the JobRequests"),
            ("AMQP_ROUTING_KEY", \.routingKey, "routing key of the JobRequests"),
            ("AMQP_QUEUE", \.queue, "queue of the JobRequests"),
            ("AMQP_DLX", \.deadLetterExchange, "dead-letter exchange"),
            ("AMQP_DLQ", \.deadLetterQueue, "dead-letter queue of the JobRequests"),
            ("AMQP_RESULTS_EXCHANGE", \.resultsExchange, "exchange of the JobResults"),
            ("AMQP_RESULTS_ROUTING_KEY", \.resultsRoutingKey, "routing key of the JobResults"),
            ("AMQP_RESULTS_QUEUE", \.resultsQueue, "queue of the JobResults"),
            ("AMQP_RESULTS_DLQ", \.resultsDeadLetterQueue, "dead-letter queue of the JobResults"),
            (
                "AMQP_RESULTS_RETRY_QUEUE", \.resultsRetryQueue,
                "prefix of the JobResults' four retry queues (.5s, .30s, .2m, .10m)"
            ),
        ]
    }

    /// The variables of this part, with their defaults.
    public static let variables: [ConfigVariable] =
        [
            ConfigVariable(
                "AMQP_URL", AMQPSettings().url,
                "broker: amqp://user:password@host:port/vhost, or several comma-separated (a cluster's nodes)")
        ]
        + names.map { ConfigVariable($0.0, AMQPSettings()[keyPath: $0.1], $0.2) }
        + [ConfigVariable("AMQP_QUEUE_TYPE", "classic", "type of every queue declared: classic or quorum")]

    /// Reads `AMQP_URL` and the topology names.
    public static func load(_ env: Environment) throws(ConfigurationError) -> AMQPSettings {
        var settings = AMQPSettings()
        for (name, keyPath, _) in names {
            guard let v = env.value(name) else { continue }
            guard v.utf8.count <= 255 else {
                throw ConfigurationError(variable: name, message: "AMQP names are at most 255 bytes")
            }
            settings[keyPath: keyPath] = v
        }
        // The longest suffix (`.10m`) must still fit in a queue name.
        let longestSuffix = ResultRetry.delays.map(\.suffix.utf8.count).max() ?? 0
        guard settings.resultsRetryQueue.utf8.count + longestSuffix <= 255 else {
            throw ConfigurationError(
                variable: "AMQP_RESULTS_RETRY_QUEUE",
                message: "a prefix of at most \(255 - longestSuffix) bytes (the queue names add up to .10m)")
        }
        if let v = env.value("AMQP_QUEUE_TYPE") {
            guard let type = AMQPQueueType(rawValue: v) else {
                throw ConfigurationError(variable: "AMQP_QUEUE_TYPE", message: "expected classic or quorum, not \(v)")
            }
            settings.queueType = type
        }
        if let url = env.value("AMQP_URL") {
            do { _ = try AMQPAddress.list(url) } catch {
                throw ConfigurationError(variable: "AMQP_URL", message: error.message)
            }
            settings.url = url
        }
        return settings
    }
}

/// The type of the queues declared (`AMQP_QUEUE_TYPE`, SPEC §6, §12).
public enum AMQPQueueType: String, Sendable, Equatable {
    /// RabbitMQ's default: declared without `x-queue-type`, so queues that exist from before stay equivalent.
    case classic
    /// Replicated (Raft) queues, `x-queue-type = quorum`: for a cluster. A queue that exists as classic must be
    /// deleted (drained) before it can be declared again as quorum; RabbitMQ refuses the change (406).
    case quorum
}
