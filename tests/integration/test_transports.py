"""solstice-fcgi on every transport it offers: --listen host:port, a socket inherited on fd 0 (spawn-fcgi), and the
broker failure paths that need a broker we can stop, pause or make refuse (nack, return, no confirm)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

import fcgi_client
from support import topology
from support.payloads import payload
from support.stack import free_port
from support.waiting import wait_for

PUSH = payload("push.with-new-branch.json")


def params(stack, body, delivery, **extra):
    p = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_TYPE": "application/json",
         "CONTENT_LENGTH": str(len(body)), "HTTP_X_GITHUB_EVENT": "push", "HTTP_X_GITHUB_DELIVERY": delivery,
         "HTTP_X_HUB_SIGNATURE_256": stack.sign(body)}
    p.update(extra)
    return p


@pytest.fixture
def child_env(stack, tmp_path):
    return {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": stack.secret.decode(), "AMQP_URL": stack.amqp_url,
            "SPOOL_DIR": str(tmp_path / "spool"), "FCGI_WORKERS": "4"}


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_webhooks_over_a_kept_fastcgi_connection_are_each_answered_and_published(clean):
    # nginx with `fastcgi_keep_conn on` sends the next request on the same connection; the responder closed it
    # after the first answer, so nginx failed the second with 502 "upstream prematurely closed connection".
    deliveries = [str(uuid.uuid4()) for _ in range(3)]
    answers = fcgi_client.kept_requests(clean.fcgi_socket, [(params(clean, PUSH, d), PUSH) for d in deliveries])
    assert [status for status, _, _ in answers] == [202, 202, 202], answers
    jobs = clean.drain(expect=3)
    assert sorted(props.headers["x-github-delivery"] for props, _ in jobs) == sorted(deliveries)


def test_listen_on_tcp(clean, child_env):
    port = free_port()
    proc = subprocess.Popen([clean.fcgi_bin, "--listen", f"127.0.0.1:{port}", "--workers", "3"], env=child_env,
                            stderr=subprocess.PIPE)
    try:
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, what="the TCP listener")
        d = str(uuid.uuid4())
        status, headers, body = fcgi_client.request(("127.0.0.1", port), params(clean, PUSH, d), PUSH)
        assert status == 202, body
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["delivery"] == d
        assert len(clean.drain(expect=1)) == 1
    finally:
        stop(proc)


def test_spawn_fcgi_inherited_socket(clean, child_env, tmp_path):
    if not shutil.which("spawn-fcgi"):
        pytest.fail("spawn-fcgi is not installed (scripts/stack.sh deps installs it)")
    sock = str(tmp_path / "spawned.sock")
    pidfile = tmp_path / "spawned.pid"
    # spawn-fcgi binds the socket and hands it to the child on fd 0, then exits.
    subprocess.run(["spawn-fcgi", "-s", sock, "-M", "0666", "-P", str(pidfile), "--", clean.fcgi_bin],
                   env=child_env, check=True, timeout=10, capture_output=True)
    pid = int(pidfile.read_text())
    try:
        d = str(uuid.uuid4())
        status, _, body = fcgi_client.request(sock, params(clean, PUSH, d), PUSH)
        assert status == 202, body
        assert clean.drain(expect=1)[0][0].headers["x-github-delivery"] == d
        # A malformed request on the inherited socket is answered and the process stays up.
        status, _, _ = fcgi_client.request(sock, {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github",
                                                  "CONTENT_LENGTH": "not-a-number"}, b"\xff\xfe")
        assert status in (400, 401, 415)
        status, _, _ = fcgi_client.request(sock, params(clean, PUSH, str(uuid.uuid4())), PUSH)
        assert status == 202
    finally:
        os.kill(pid, signal.SIGTERM)


def test_bad_configuration_stops_the_start_naming_the_variable(clean, child_env):
    for variable, value in [("FCGI_WORKERS", "many"), ("AMQP_URL", "http://nope"), ("MAX_BODY_BYTES", "-5"),
                            ("LOG_FORMAT", "yaml")]:
        env = dict(child_env, **{variable: value})
        out = subprocess.run([clean.fcgi_bin, "--listen", "127.0.0.1:1"], env=env, capture_output=True,
                             timeout=10)
        assert out.returncode != 0
        lines = out.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and variable in lines[0], lines


def test_logs_hold_no_secret_and_no_header_dump(clean):
    stack = clean
    for kwargs in [{}, {"signature": "sha256=" + "1" * 64}, {"event": None}]:
        stack.post(PUSH, delivery=str(uuid.uuid4()), **kwargs)
    log = (stack.state / "fcgi.log").read_text()
    assert "msg=webhook" in log  # the per-request lines are there
    assert stack.secret.decode() not in log
    assert "sha256=" not in log and "HTTP_X_HUB_SIGNATURE_256" not in log


def test_log_line_per_request_has_the_fields(clean):
    d = str(uuid.uuid4())
    assert clean.post(PUSH, delivery=d).status_code == 202
    clean.drain(expect=1)
    wait_for(lambda: d in (clean.state / "fcgi.log").read_text(), what="the delivery in the log")
    # The "check runs" line of the same delivery may follow (Check Runs are created after the answer).
    [line] = [l for l in (clean.state / "fcgi.log").read_text().splitlines() if d in l and "msg=webhook" in l]
    for field in ("delivery=" + d, "event=push", "status=202", "jobs=1", "ms="):
        assert field in line, line


def test_unroutable_message_is_spooled_and_drained_once_routable(clean):
    connection, ch = clean.channel()
    ch.queue_unbind(topology.JOBS_QUEUE, topology.JOBS_EXCHANGE, topology.JOBS_ROUTING_KEY)
    connection.close()
    d = str(uuid.uuid4())
    try:
        # The publisher re-declares the binding only on (re)connect, so this publish is returned as unroutable.
        r = clean.post(PUSH, delivery=d)
        assert r.status_code == 202, r.text
        assert r.json()["spooled"] is True
        assert "unroutable" in (clean.state / "fcgi.log").read_text()
    finally:
        connection, ch = clean.channel()
        ch.queue_bind(topology.JOBS_QUEUE, topology.JOBS_EXCHANGE, topology.JOBS_ROUTING_KEY)
        connection.close()
    assert clean.wait_drained()
    messages = clean.drain(expect=1)
    assert [p.headers["x-github-delivery"] for p, _ in messages] == [d]


def test_nacked_message_is_spooled_and_drained_once_accepted(clean):
    # A queue full under overflow=reject-publish makes the broker nack.
    clean.ctl("set_policy", "--apply-to", "queues", "full", "^solstice\\.jobs\\.v1$",
              '{"max-length": 0, "overflow": "reject-publish"}')
    deliveries = []
    try:
        def spooled():
            d = str(uuid.uuid4())
            r = clean.post(PUSH, delivery=d)
            deliveries.append(d)
            return r.status_code == 202 and r.json()["spooled"] is True
        wait_for(spooled, timeout=10, what="the delivery spooled")
        assert "nack" in (clean.state / "fcgi.log").read_text()
    finally:
        clean.ctl("clear_policy", "full")
    assert clean.wait_drained()
    messages = clean.drain(expect=len(deliveries))
    # Every delivery answered 202 is on the queue exactly once: the nacked ones through the spool.
    assert sorted(p.headers["x-github-delivery"] for p, _ in messages) == sorted(deliveries)


def test_no_confirm_within_five_seconds_spools(clean):
    pid = clean.broker_pid()
    d = str(uuid.uuid4())
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.time()
        r = clean.post(PUSH, delivery=d)
        assert r.status_code == 202, r.text
        assert r.json()["spooled"] is True
        assert time.time() - started < 9  # under nginx's 8 s read timeout: the responder answered
        assert "within 5 s" in (clean.state / "fcgi.log").read_text()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert clean.wait_drained()
    # The paused broker may still enqueue the first publish when it resumes, and the spool publishes it again:
    # a confirm timeout is the one case of at least once (same message_id, which consumers dedupe by).
    messages = clean.drain(expect=1, timeout=3)
    assert 1 <= len(messages) <= 2
    assert {p.headers["x-github-delivery"] for p, _ in messages} == {d}
    assert len({p.message_id for p, _ in messages}) == 1
