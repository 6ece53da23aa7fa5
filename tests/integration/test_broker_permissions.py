"""SPEC v2 §6, least privilege, proven against the real broker: deploy/rabbitmq/permissions.sh creates one user per
component; the responder works with its user and is refused (ACCESS_REFUSED) when it publishes a result; the
results daemon works with its user; the orchestrator's user publishes a result that completes a Check Run."""
import json
import os
import subprocess
import time
import uuid

import pika
import pytest

import fcgi_client
from support import publishing, stack as stack_env, topology
from support.payloads import new_sha, payload
from support.stack import ROOT, free_port

PUSH = payload("push.with-new-branch.json")
PASSWORDS = {"FCGI_PASSWORD": "fcgi-pw", "RESULTS_PASSWORD": "results-pw", "ORCHESTRATOR_PASSWORD": "orch-pw"}


@pytest.fixture(scope="module")
def users(stack):
    """The script as shipped, pointed at the test broker; the URL of each user."""
    ctl = f"{stack_env.SCRIPT} ctl {stack_env.profile()}"
    out = subprocess.run(["sh", str(ROOT / "deploy/rabbitmq/permissions.sh")], env={**os.environ, **PASSWORDS,
                         "RABBITMQCTL": ctl}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    host = stack.amqp_url.split("@", 1)[1]
    return {"fcgi": f"amqp://solstice-fcgi:fcgi-pw@{host}", "results": f"amqp://solstice-results:results-pw@{host}",
            "orchestrator": f"amqp://orchestrator:orch-pw@{host}"}


def publish_refused(url, exchange, routing_key):
    """Publishes one message with confirms; returns the broker's reply code when it closed the channel."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = connection.channel()
        ch.confirm_delivery()
        try:
            ch.basic_publish(exchange, routing_key, b"{}", mandatory=True)
        except pika.exceptions.ChannelClosedByBroker as e:
            return e.reply_code, e.reply_text
        return None, "published"
    finally:
        if connection.is_open:
            connection.close()


def test_the_responders_user_cannot_publish_a_result(users):
    code, text = publish_refused(users["fcgi"], topology.RESULTS_EXCHANGE, topology.RESULTS_ROUTING_KEY)
    assert code == 403 and "ACCESS_REFUSED" in text, text
    # Nor can the orchestrator publish jobs, nor the results daemon either.
    assert publish_refused(users["orchestrator"], topology.JOBS_EXCHANGE, topology.JOBS_ROUTING_KEY)[0] == 403
    assert publish_refused(users["results"], topology.JOBS_EXCHANGE, topology.JOBS_ROUTING_KEY)[0] == 403
    # The results daemon may write the results exchange: RabbitMQ refuses to create its retry queues, which
    # dead-letter there, otherwise (deploy/rabbitmq/permissions.sh says what else its retries cost).


def refused(url, action):
    """Runs `action(channel)`; the broker's reply code when it closed the channel, None when it let it pass."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        try:
            action(connection.channel())
        except pika.exceptions.ChannelClosedByBroker as e:
            return e.reply_code
        return None
    finally:
        if connection.is_open:
            connection.close()


def test_the_results_user_touches_no_name_but_its_own(users):
    """Beside the retry queues it may declare, the results daemon's user declares, reads and binds nothing else."""
    results = users["results"]
    assert refused(results, lambda ch: ch.queue_declare("solstice.results.v1.retry.1h", durable=True)) == 403
    assert refused(results, lambda ch: ch.queue_declare("solstice.evil", durable=True)) == 403
    assert refused(results, lambda ch: ch.exchange_declare("solstice.evil", "direct", durable=True)) == 403
    assert refused(results, lambda ch: ch.basic_get(topology.JOBS_QUEUE, auto_ack=False)) == 403
    assert refused(results, lambda ch: ch.queue_bind(topology.RESULTS_QUEUE, topology.JOBS_EXCHANGE, "x")) == 403
    assert refused(results, lambda ch: ch.queue_purge(topology.JOBS_QUEUE)) == 403


def test_the_responder_works_with_exactly_its_permissions(clean, users, tmp_path):
    port = free_port()
    env = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": clean.secret.decode(), "AMQP_URL": users["fcgi"],
           "SPOOL_DIR": str(tmp_path / "spool"), "FCGI_LISTEN": f"127.0.0.1:{port}", "FCGI_WORKERS": "2"}
    proc = subprocess.Popen([clean.fcgi_bin], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                fcgi_client.request(("127.0.0.1", port), {"REQUEST_METHOD": "GET", "REQUEST_URI": "/x"}, timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        d = str(uuid.uuid4())
        params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_TYPE": "application/json",
                  "CONTENT_LENGTH": str(len(PUSH)), "HTTP_X_GITHUB_EVENT": "push", "HTTP_X_GITHUB_DELIVERY": d,
                  "HTTP_X_HUB_SIGNATURE_256": clean.sign(PUSH)}
        status, _, body = fcgi_client.request(("127.0.0.1", port), params, PUSH)
        assert status == 202 and b'"spooled": false' in body, body  # published and confirmed, not spooled
        [(props, _)] = clean.drain(expect=1)
        assert props.headers["x-github-delivery"] == d
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_results_daemon_and_the_orchestrator_work_with_exactly_theirs(stack, users, tmp_path):
    gh = stack_env.standin(stack_env.env("STACK_STANDIN_URL"))
    repo = f"perm-org/r{uuid.uuid4().hex[:8]}"
    gh.set_installations({repo: 1})
    sha, rid = new_sha(), str(uuid.uuid4())
    [run_id] = gh.seed_check_runs(repo, 1, name="Solstice CI", head_sha=sha, external_id=rid, status="queued")
    gh.add_fault(rf"/check-runs/{run_id}$", 502, method="PATCH", count=1)  # one retry, through .5s
    stack.stack("results-stop")  # the stack's own daemon (user guest) must not take the result first
    # From scratch: the daemon must be able to create its retry queues with its own user's rights.
    with publishing.channel(stack.amqp_url) as ch:
        for queue in topology.retry_queues():
            ch.queue_delete(queue)
    log_path = tmp_path / "results.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "GITHUB_", "LOGS_"))}
    env.update(stack_env.results_env())
    for name in ("S3_ENDPOINT", "S3_BUCKET", "LOGS_BASE_URL"):
        env.pop(name, None)  # no log here: this test is about the broker
    env["AMQP_URL"] = users["results"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([stack_env.env("STACK_RESULTS_BIN")], env=env, stdout=log, stderr=log)
    try:
        deadline = time.time() + 15
        while "consuming results" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None and time.time() < deadline, log_path.read_text()
            time.sleep(0.05)
        body = json.dumps(publishing.job_result(rid, sha, repo, success=True)).encode()
        connection = pika.BlockingConnection(pika.URLParameters(users["orchestrator"]))
        try:
            ch = connection.channel()
            ch.confirm_delivery()
            ch.basic_publish(topology.RESULTS_EXCHANGE, topology.RESULTS_ROUTING_KEY, body, mandatory=True,
                             properties=pika.BasicProperties(content_type="application/json", delivery_mode=2))
        finally:
            connection.close()
        deadline = time.time() + 30
        while True:
            run = next(r for r in gh.check_runs(repo) if r["external_id"] == rid)
            if run["status"] == "completed" or time.time() > deadline:
                break
            time.sleep(0.1)
        assert run["status"] == "completed" and run["conclusion"] == "success", log_path.read_text()
        text = log_path.read_text()
        assert "ACCESS_REFUSED" not in text
        assert f"request_id={rid}" in text and "attempt=1 " in text and "attempts=2" in text  # via .5s
        with publishing.channel(stack.amqp_url) as ch:
            for queue in topology.retry_queues():
                assert ch.queue_declare(queue, passive=True).method.message_count == 0
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        gh.clear_faults()
        stack.stack("results-restart")
