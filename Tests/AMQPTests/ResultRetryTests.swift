import Base
import Testing

@testable import AMQP

/// The retry schedule of SPEC §6/§8 v2 without a broker: the untrusted attempt header, the queue names, the
/// arguments every queue is declared with (classic and quorum), and the two variables that shape them. The real
/// broker runs the same in tests/integration/test_results.py.
@Suite struct ResultRetryTests {
    /// Absent, garbage or negative counts as 0 (the full, bounded schedule); above 4 is clamped to 4 (one more
    /// attempt, then the DLQ).
    @Test(
        arguments: [
            (nil, 0), (.integer(0), 0), (.integer(1), 1), (.integer(3), 3), (.integer(4), 4), (.integer(5), 4),
            (.integer(-1), 0), (.integer(Int64.min), 0), (.integer(Int64.max), 4), (.unsigned(2), 2),
            (.unsigned(UInt64.max), 4), (.text("2"), 2), (.text("0004"), 4), (.text("99999999999999999999999"), 4),
            (.text("-3"), 0), (.text(" 2"), 0), (.text(""), 0), (.text("two"), 0), (.other(UInt8(ascii: "t")), 0),
            (.other(UInt8(ascii: "F")), 0),
        ] as [(AMQPHeaderValue?, Int)])
    func attemptHeaderIsReadDefensively(value: AMQPHeaderValue?, previous: Int) {
        #expect(ResultRetry.previousAttempts(value) == previous)
    }

    @Test func theFourQueuesAndTheirDelays() {
        let prefix = "solstice.results.v1.retry"
        #expect(
            (1...4).map { ResultRetry.queue(prefix: prefix, afterFailedAttempt: $0) } == [
                "solstice.results.v1.retry.5s", "solstice.results.v1.retry.30s", "solstice.results.v1.retry.2m",
                "solstice.results.v1.retry.10m",
            ])
        #expect((1...4).map { ResultRetry.delay(afterFailedAttempt: $0) } == [5, 30, 120, 600])
        #expect(
            AMQPSettings().resultsRetryQueues
                == (1...4).map { ResultRetry.queue(prefix: prefix, afterFailedAttempt: $0) })
        #expect(ResultRetry.maxAttempts == 5)
    }

    @Test func retryQueuesTakeTheirTTLAndDeadLetterBackToTheResultsExchange() {
        let plan = AMQPTopology.results(AMQPSettings())
        let retries = plan.queues.filter { $0.name.hasPrefix("solstice.results.v1.retry.") }
        #expect(retries.map(\.name) == AMQPSettings().resultsRetryQueues)
        #expect(
            retries.map(\.arguments)
                == [5_000, 30_000, 120_000, 600_000].map {
                    [
                        AMQPArgument("x-message-ttl", .integer($0)),
                        AMQPArgument("x-dead-letter-exchange", .string("solstice.results")),
                        AMQPArgument("x-dead-letter-routing-key", .string("jobresult.v1")),
                    ]
                })
        // Reached through the default exchange by name: bound to nothing.
        #expect(!plan.bindings.contains { $0.queue.contains(".retry.") })
        #expect(
            plan.queues.map(\.name) == [
                "solstice.results.v1", "solstice.results.v1.retry.5s", "solstice.results.v1.retry.30s",
                "solstice.results.v1.retry.2m", "solstice.results.v1.retry.10m", "solstice.results.v1.dlq",
            ])
    }

    @Test func classicQueuesCarryNoTypeArgument() {
        let settings = AMQPSettings()
        for queue in AMQPTopology.results(settings).queues + AMQPTopology.jobs(settings).queues {
            #expect(!queue.arguments.contains { $0.name == "x-queue-type" }, "\(queue.name)")
        }
    }

    /// Every queue of both halves, the jobs' too; the retry queues keep their TTL and dead-lettering (supported by
    /// quorum queues since RabbitMQ 3.10).
    @Test func quorumAppliesToEveryQueueDeclared() {
        var settings = AMQPSettings()
        settings.queueType = .quorum
        let quorum = AMQPArgument("x-queue-type", .string("quorum"))
        let queues = AMQPTopology.results(settings).queues + AMQPTopology.jobs(settings).queues
        #expect(queues.count == 8)
        for queue in queues {
            #expect(queue.arguments.filter { $0 == quorum }.count == 1, "\(queue.name)")
        }
        let classic = AMQPTopology.results(AMQPSettings()).queues
        #expect(
            AMQPTopology.results(settings).queues.map { $0.arguments.filter { $0 != quorum } }
                == classic.map(\.arguments))
    }

    @Test(arguments: [("classic", AMQPQueueType.classic), ("quorum", .quorum), (" quorum ", .quorum)])
    func queueTypeIsRead(text: String, type: AMQPQueueType) throws {
        #expect(try AMQPSettings.load(Environment(["AMQP_QUEUE_TYPE": text])).queueType == type)
    }

    @Test(arguments: ["Quorum", "stream", "lazy", "classic,quorum"])
    func anotherQueueTypeStopsTheStart(text: String) {
        #expect(throws: ConfigurationError.self) {
            try AMQPSettings.load(Environment(["AMQP_QUEUE_TYPE": text]))
        }
    }

    @Test func theRetryPrefixIsReadAndMustLeaveRoomForItsSuffixes() throws {
        let settings = try AMQPSettings.load(Environment(["AMQP_RESULTS_RETRY_QUEUE": "ci.retry"]))
        #expect(settings.resultsRetryQueues == ["ci.retry.5s", "ci.retry.30s", "ci.retry.2m", "ci.retry.10m"])
        #expect(
            try AMQPSettings.load(Environment(["AMQP_RESULTS_RETRY_QUEUE": String(repeating: "q", count: 251)]))
                .resultsRetryQueues.last?.utf8.count == 255)
        do {
            _ = try AMQPSettings.load(Environment(["AMQP_RESULTS_RETRY_QUEUE": String(repeating: "q", count: 252)]))
            Issue.record("a prefix too long for .10m was accepted")
        } catch {
            #expect(error.variable == "AMQP_RESULTS_RETRY_QUEUE")
        }
        #expect(
            AMQPSettings.variables.contains {
                $0.name == "AMQP_RESULTS_RETRY_QUEUE" && $0.defaultValue == "solstice.results.v1.retry"
            })
        #expect(AMQPSettings.variables.contains { $0.name == "AMQP_QUEUE_TYPE" && $0.defaultValue == "classic" })
    }
}
