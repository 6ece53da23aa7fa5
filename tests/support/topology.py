"""The broker topology solstice-fcgi and solstice-results declare, by the names they default to (SPEC §2, §6), and
the namespace of the ids derived from a delivery (SPEC §7)."""
import uuid

# JobRequests: solstice-fcgi publishes, the orchestrator consumes; rejected ones are dead-lettered.
JOBS_EXCHANGE = "solstice.jobs"
JOBS_ROUTING_KEY = "jobrequest.v1"
JOBS_QUEUE = "solstice.jobs.v1"
JOBS_DLQ = "solstice.jobs.v1.dlq"
DLX = "solstice.dlx"

# JobResults: the orchestrator publishes to their own exchange, solstice-results consumes (AMQP_RESULTS_*).
RESULTS_EXCHANGE = "solstice.results"
RESULTS_ROUTING_KEY = "jobresult.v1"
RESULTS_QUEUE = "solstice.results.v1"
RESULTS_DLQ = "solstice.results.v1.dlq"

# group_id = UUIDv5(NAMESPACE, delivery), request_id = UUIDv5(NAMESPACE, delivery + "/" + job id).
NAMESPACE = uuid.UUID("9c460c2b-5912-46d7-9b55-903df21ea32d")


def declare_results(channel, queue, dlq, routing_key):
    """A results queue and its DLQ with the arguments solstice-results declares them with, under other names: for
    a daemon of a test's own (AMQP_RESULTS_QUEUE, AMQP_RESULTS_DLQ, AMQP_RESULTS_ROUTING_KEY)."""
    channel.exchange_declare(RESULTS_EXCHANGE, "direct", durable=True)
    channel.exchange_declare(DLX, "direct", durable=True)
    channel.queue_declare(queue, durable=True, arguments={
        "x-dead-letter-exchange": DLX, "x-dead-letter-routing-key": routing_key})
    channel.queue_bind(queue, RESULTS_EXCHANGE, routing_key)
    channel.queue_declare(dlq, durable=True)
    channel.queue_bind(dlq, DLX, routing_key)
