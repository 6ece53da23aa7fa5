"""The stack's RabbitMQ as the orchestrator sees it: JobResults published (confirmed, mandatory, persistent), and
queues read back, counted and purged. One blocking pika connection per call; `connect` for anything else."""
import contextlib
import json
import time

import pika

from . import topology


def connect(amqp_url, timeout=10):
    """A blocking connection and a channel on it (the caller closes the connection)."""
    params = pika.URLParameters(amqp_url)
    params.socket_timeout = timeout
    connection = pika.BlockingConnection(params)
    return connection, connection.channel()


@contextlib.contextmanager
def channel(amqp_url, timeout=10):
    """A channel whose connection is closed when the block ends."""
    connection, ch = connect(amqp_url, timeout)
    try:
        yield ch
    finally:
        connection.close()


def job_result(request_id, sha, repo, success=True, exit_code=0, summary=None, completed_at=None, **extra) -> dict:
    """A JobResult (SPEC §8) for `repo` ("owner/name") at commit `sha`; `extra` adds or replaces fields."""
    owner, name = repo.split("/")
    body = {"schema_version": "jobresult.v1", "request_id": request_id, "repo_url": f"https://github.com/{repo}.git",
            "repo_owner": owner, "repo_name": name, "commit_sha": sha, "success": success, "exit_code": exit_code,
            "summary": summary,
            "completed_at": completed_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    body.update(extra)
    return body


def publish_results(amqp_url, bodies, routing_key=topology.RESULTS_ROUTING_KEY, exchange=topology.RESULTS_EXCHANGE,
                    timeout=10):
    """Publishes each body (a dict as JSON, or raw bytes) as the orchestrator does: persistent, mandatory, each
    confirmed before the next, message_id = its request_id."""
    with channel(amqp_url, timeout) as ch:
        ch.confirm_delivery()
        for body in bodies:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            rid = body.get("request_id", "x") if isinstance(body, dict) else "raw"
            ch.basic_publish(exchange, routing_key, raw, pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=rid, type="jobresult.v1"),
                mandatory=True)


def purge(amqp_url, *queues, timeout=10):
    with channel(amqp_url, timeout) as ch:
        for queue in queues:
            ch.queue_purge(queue)


def count(amqp_url, queue, timeout=10) -> int:
    """How many messages are ready on `queue`."""
    with channel(amqp_url, timeout) as ch:
        return ch.queue_declare(queue, passive=True).method.message_count


def take(amqp_url, queue, timeout=10) -> list:
    """Every message now on `queue` (acked), as bodies."""
    bodies = []
    with channel(amqp_url, timeout) as ch:
        while True:
            method, _, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)


def drain(amqp_url, queue, expect=None, wait=5.0, timeout=10) -> list:
    """All messages now on `queue` (acked) as (properties, JSON body), waiting up to `wait` s for `expect` of them."""
    messages = []
    deadline = time.time() + wait
    with channel(amqp_url, timeout) as ch:
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                if expect is None or len(messages) >= expect or time.time() > deadline:
                    break
                time.sleep(0.05)
                continue
            messages.append((props, json.loads(body)))
    return messages
