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
# A result whose attempt n (1-4) failed waits in the n-th of these (AMQP_RESULTS_RETRY_QUEUE + suffix) with header
# x-solstice-attempt = n, until the queue's TTL dead-letters it back to RESULTS_EXCHANGE (SPEC §6, §8).
RESULTS_RETRY_PREFIX = "solstice.results.v1.retry"
RETRY_DELAYS = {".5s": 5000, ".30s": 30000, ".2m": 120000, ".10m": 600000}
ATTEMPT_HEADER = "x-solstice-attempt"


def retry_queues(prefix=RESULTS_RETRY_PREFIX) -> list:
    """The four retry queues of `prefix`, shortest delay first."""
    return [prefix + suffix for suffix in RETRY_DELAYS]


def retry_arguments(suffix, routing_key=None, queue_type=None) -> dict:
    """The arguments solstice-results declares a retry queue with."""
    args = {"x-message-ttl": RETRY_DELAYS[suffix], "x-dead-letter-exchange": RESULTS_EXCHANGE,
            "x-dead-letter-routing-key": routing_key or RESULTS_ROUTING_KEY}
    if queue_type == "quorum":
        args["x-queue-type"] = "quorum"
    return args

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
