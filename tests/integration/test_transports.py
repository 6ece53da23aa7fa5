"""solstice-fcgi on every transport it offers: --listen host:port, a socket inherited on fd 0 (spawn-fcgi), and the
broker failure paths that need a broker we can stop, pause or make refuse (nack, return, no confirm)."""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import uuid

import pytest

import fcgi_client
from conftest import payload

PUSH = payload("push.with-new-branch.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def params(stack, body, delivery, **extra):
    p = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_TYPE": "application/json",
         "CONTENT_LENGTH": str(len(body)), "HTTP_X_GITHUB_EVENT": "push", "HTTP_X_GITHUB_DELIVERY": delivery,
         "HTTP_X_HUB_SIGNATURE_256": stack.sign(body)}
    p.update(extra)
    return p


def wait_for(predicate, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


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


def test_listen_on_tcp(clean, child_env):
    port = free_port()
    proc = subprocess.Popen([clean.fcgi_bin, "--listen", f"127.0.0.1:{port}", "--workers", "3"], env=child_env,
                            stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0)
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
    assert wait_for(lambda: d in (clean.state / "fcgi.log").read_text())
    # The "check runs" line of the same delivery may follow (Check Runs are created after the answer).
    [line] = [l for l in (clean.state / "fcgi.log").read_text().splitlines() if d in l and "msg=webhook" in l]
    for field in ("delivery=" + d, "event=push", "status=202", "jobs=1", "ms="):
        assert field in line, line


def test_unroutable_message_is_returned_and_answered_503(clean):
    connection, ch = clean.channel()
    ch.queue_unbind("solstice.jobs.v1", "solstice.jobs", "jobrequest.v1")
    connection.close()
    try:
        # The publisher re-declares the binding only on (re)connect, so this publish is unroutable.
        r = clean.post(PUSH, delivery=str(uuid.uuid4()))
        assert r.status_code == 503, r.text
        assert "unroutable" in r.json()["error"]
    finally:
        connection, ch = clean.channel()
        ch.queue_bind("solstice.jobs.v1", "solstice.jobs", "jobrequest.v1")
        connection.close()
    assert clean.post(PUSH, delivery=str(uuid.uuid4())).status_code == 202
    assert len(clean.drain(expect=1)) == 1


def test_nacked_message_is_answered_503(clean):
    # A queue full under overflow=reject-publish makes the broker nack.
    clean.ctl("set_policy", "--apply-to", "queues", "full", "^solstice\\.jobs\\.v1$",
              '{"max-length": 0, "overflow": "reject-publish"}')
    try:
        assert wait_for(lambda: clean.post(PUSH, delivery=str(uuid.uuid4())).status_code == 503, timeout=10)
        r = clean.post(PUSH, delivery=str(uuid.uuid4()))
        assert r.status_code == 503 and "nack" in r.json()["error"]
    finally:
        clean.ctl("clear_policy", "full")
    assert wait_for(lambda: clean.post(PUSH, delivery=str(uuid.uuid4())).status_code == 202, timeout=10)


def test_no_confirm_within_five_seconds_is_503(clean):
    pid = clean.broker_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.time()
        r = clean.post(PUSH, delivery=str(uuid.uuid4()))
        assert r.status_code == 503, r.text
        assert "within 5 s" in r.json()["error"]
        assert time.time() - started < 9  # under nginx's 8 s read timeout: the responder answered
    finally:
        os.kill(pid, signal.SIGCONT)
    assert wait_for(lambda: clean.post(PUSH, delivery=str(uuid.uuid4())).status_code == 202, timeout=15)
    clean.drain(timeout=1)
