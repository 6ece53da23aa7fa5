"""SPEC §3, §4 and §6 through a real nginx, solstice-fcgi and a real RabbitMQ."""
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import urllib.parse
import uuid

import pika
import pytest

from support.payloads import payload
from support.topology import (DLX, JOBS_DLQ, JOBS_QUEUE, NAMESPACE, RESULTS_DLQ, RESULTS_QUEUE,
                               RESULTS_ROUTING_KEY)

PUSH = payload("push.with-new-branch.json")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
FIELDS = {"schema_version", "request_id", "group_id", "source", "repo_url", "repo_owner", "repo_name", "commit_sha",
          "workflow_path", "workflow_job_id", "runs_on", "script_path", "event", "pull_request_number",
          "approved_by", "submitted_at"}


def delivery():
    return str(uuid.uuid4())


def test_signed_push_is_queued_with_body_and_properties(clean_web):
    d = delivery()
    r = clean_web.post(PUSH, event="push", delivery=d)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["delivery"] == d and answer["event"] == "push" and answer["spooled"] is False
    assert answer["group_id"] == str(uuid.uuid5(NAMESPACE, d))
    [job] = answer["jobs"]
    assert job == {"request_id": str(uuid.uuid5(NAMESPACE, d + "/default")), "workflow_job_id": None, "runs_on": None}

    [(props, body)] = clean_web.drain(expect=1)
    assert set(body) == FIELDS
    assert body["schema_version"] == "jobrequest.v1" and body["source"] == "github"
    assert body["request_id"] == job["request_id"] and body["group_id"] == answer["group_id"]
    assert UUID_RE.match(body["request_id"]) and UUID_RE.match(body["group_id"])
    assert body["repo_url"] == "https://github.com/Codertocat/Hello-World.git"
    assert (body["repo_owner"], body["repo_name"]) == ("Codertocat", "Hello-World")
    assert body["commit_sha"] == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert body["workflow_path"] is None and body["workflow_job_id"] is None
    assert body["runs_on"] is None and body["script_path"] is None
    assert (body["event"], body["pull_request_number"], body["approved_by"]) == ("push", None, None)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body["submitted_at"])

    assert props.delivery_mode == 2
    assert props.content_type == "application/json"
    assert props.message_id == body["request_id"]
    assert props.type == "jobrequest.v1"
    assert isinstance(props.timestamp, int) and props.timestamp > 1_700_000_000
    assert props.headers == {"x-github-delivery": d, "x-github-event": "push"}


def test_signed_pull_request_is_queued_for_the_base_repository(clean_web):
    d = delivery()
    r = clean_web.post(payload("pull_request.opened.json"), event="pull_request", delivery=d)
    assert r.status_code == 202, r.text
    [(props, body)] = clean_web.drain(expect=1)
    assert body["commit_sha"] == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
    assert (body["repo_owner"], body["repo_name"]) == ("Codertocat", "Hello-World")
    assert props.headers == {"x-github-delivery": d, "x-github-event": "pull_request"}


def test_fork_pull_request_clones_the_fork(clean_web):
    pr = json.loads(payload("pull_request.synchronize.json"))
    pr["pull_request"]["head"]["repo"]["clone_url"] = "https://github.com/forker/Hello-World.git"
    pr["pull_request"]["labels"] = [{"name": "runs-on:omnios-r151054"}]
    r = clean_web.post(json.dumps(pr).encode(), event="pull_request", delivery=delivery())
    assert r.status_code == 202, r.text
    assert r.json()["jobs"][0]["runs_on"] == "omnios-r151054"
    [(_, body)] = clean_web.drain(expect=1)
    assert body["repo_url"] == "https://github.com/forker/Hello-World.git"
    assert (body["repo_owner"], body["repo_name"]) == ("Codertocat", "Hello-World")
    assert body["runs_on"] == "omnios-r151054"


def test_topology_has_dead_lettering(stack):
    connection, ch = stack.channel()
    try:
        # Re-declaring with the same arguments is a no-op (idempotent) ...
        ch.queue_declare(JOBS_QUEUE, durable=True, arguments={"x-dead-letter-exchange": DLX})
        ch.queue_declare(JOBS_DLQ, passive=True)
        ch.exchange_declare(DLX, exchange_type="direct", durable=True, passive=True)
        ch.queue_declare(RESULTS_QUEUE, durable=True, arguments={
            "x-dead-letter-exchange": DLX, "x-dead-letter-routing-key": RESULTS_ROUTING_KEY})
        ch.queue_declare(RESULTS_DLQ, passive=True)
    finally:
        connection.close()
    connection, ch = stack.channel()
    try:
        # ... and without the DLX argument it is refused, which proves the argument is there.
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            ch.queue_declare(JOBS_QUEUE, durable=True)
        assert refused.value.reply_code == 406
    finally:
        connection.close()


def test_rejected_job_dead_letters_to_the_dlq(clean):
    assert clean.post(PUSH, delivery=delivery()).status_code == 202
    connection, ch = clean.channel()
    try:
        ch.queue_purge(JOBS_DLQ)
        for _ in range(100):
            method, _, body = ch.basic_get(JOBS_QUEUE)
            if method:
                break
            connection.sleep(0.05)
        ch.basic_reject(method.delivery_tag, requeue=False)
        for _ in range(100):
            method, props, dead = ch.basic_get(JOBS_DLQ, auto_ack=True)
            if method:
                break
            connection.sleep(0.05)
        assert dead == body
    finally:
        connection.close()


def form(body: bytes) -> bytes:
    return b"payload=" + urllib.parse.quote_plus(body).encode()


ROWS = [
    # (name, request kwargs, status, word in error)
    ("wrong path", dict(path="/webhooks/other"), 404, "not found"),
    ("GET", dict(method="GET"), 405, "GET"),
    ("PUT", dict(method="PUT"), 405, "PUT"),
    ("no signature", dict(sign=False), 401, "missing X-Hub-Signature-256"),
    ("wrong secret", dict(signature="sha256=" + "0" * 64), 401, "does not match"),
    ("sha1 signature", dict(headers={"X-Hub-Signature-256": "sha1=abc"}), 401, "does not match"),
    ("no event", dict(event=None), 400, "X-GitHub-Event"),
    ("no content type", dict(content_type=None), 415, "Content-Type"),
    ("text/plain", dict(content_type="text/plain"), 415, "text/plain"),
    ("missing delivery", dict(delivery=None), 400, "X-GitHub-Delivery"),
]


@pytest.mark.parametrize("name,kwargs,status,word", ROWS, ids=[r[0] for r in ROWS])
def test_spec3_rejections_publish_nothing(clean_web, name, kwargs, status, word):
    clean = clean_web
    args = dict(event="push", delivery=delivery())
    args.update(kwargs)
    if args.get("sign") is False:
        args.pop("signature", None)
    r = clean.post(PUSH, **args)
    assert r.status_code == status, r.text
    if name == "wrong path" and clean.server != "nginx":
        return  # Apache and lighttpd route only WEBHOOK_PATH to the responder and answer other paths themselves
    body = r.json()
    assert word in body["error"]
    assert "delivery" in body
    if status == 405:
        assert r.headers["Allow"] == "POST"
    assert clean.drain(timeout=0.3) == []


def test_invalid_json_and_missing_field_are_400(clean_web):
    for body, word in [(b"{not json", "not valid JSON"),
                       (b'{"ref": "refs/heads/x", "after": "abc", "repository": {"name": "r", "owner": {"login": "o"}}}',
                        "repository.clone_url")]:
        r = clean_web.post(body, delivery=delivery())
        assert r.status_code == 400 and word in r.json()["error"]
    assert clean_web.drain(timeout=0.3) == []


def test_too_large_is_413_before_reading(clean_web):
    big = b"{" + b" " * (26214400 + 10) + b"}"
    r = clean_web.post(big, delivery=delivery())
    assert r.status_code == 413
    if clean_web.server == "nginx":  # nginx's error_page answers in the responder's JSON shape
        assert "MAX_BODY_BYTES" in r.json()["error"]
    assert clean_web.drain(timeout=0.3) == []


def test_responder_refuses_oversize_by_content_length_without_reading(clean):
    # CGI mode: CONTENT_LENGTH over the limit and nothing on stdin; answered at once, stdin never read.
    env = {"PATH": os.environ["PATH"], "REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "26214401", "HTTP_X_GITHUB_EVENT": "push",
           "GITHUB_WEBHOOK_SECRET": "s", "AMQP_URL": clean.amqp_url}
    out = subprocess.run([clean.fcgi_bin], input=b"", env=env, capture_output=True, timeout=20)
    assert out.stdout.startswith(b"Status: 413")
    assert "MAX_BODY_BYTES" in json.loads(out.stdout.partition(b"\r\n\r\n")[2])["error"]


def test_large_real_payload_passes_the_web_server(clean_web):
    # Real pushes can exceed nginx's 1 MB default; pad a real payload to 3 MB.
    push = json.loads(PUSH)
    push["head_commit"]["message"] = "x" * 3_000_000
    body = json.dumps(push).encode()
    r = clean_web.post(body, delivery=delivery())
    assert r.status_code == 202, r.text
    assert len(clean_web.drain(expect=1)) == 1


def test_ping_answers_zen(clean_web):
    r = clean_web.post(payload("ping.json"), event="ping", delivery=delivery())
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is True and body["event"] == "ping" and body["zen"]
    assert clean_web.drain(timeout=0.3) == []


@pytest.mark.parametrize("name,event,reason", [
    ("push.json", "push", "push deletes refs/tags/simple-tag"),
    ("pull_request.closed.json", "pull_request", "pull_request action closed is not built"),
    ("push.with-new-branch.json", "issues", "event issues is not handled"),
])
def test_ignored_events_are_204_with_reason(clean_web, name, event, reason):
    clean = clean_web
    r = clean.post(payload(name), event=event, delivery=delivery())
    assert r.status_code == 204
    assert r.headers["X-Solstice-Ignored"] == reason
    assert r.content == b""
    assert clean.drain(timeout=0.3) == []


def test_form_encoded_payload(clean_web):
    body = form(PUSH)
    r = clean_web.post(body, content_type="application/x-www-form-urlencoded", delivery=delivery())
    assert r.status_code == 202, r.text
    assert len(clean_web.drain(expect=1)) == 1
    # The signature must cover the raw form body, not the JSON inside it.
    r = clean_web.post(body, content_type="application/x-www-form-urlencoded", signature=clean_web.sign(PUSH),
                   delivery=delivery())
    assert r.status_code == 401


def test_query_string_is_not_part_of_the_path(clean_web):
    r = clean_web.post(PUSH, path=clean_web.path + "?source=github", delivery=delivery())
    assert r.status_code == 202


def test_fifty_concurrent_requests_give_fifty_messages(clean_web):
    deliveries = [delivery() for _ in range(50)]
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(lambda d: clean_web.post(PUSH, delivery=d).status_code, deliveries))
    assert statuses == [202] * 50
    messages = clean_web.drain(expect=50)
    assert len(messages) == 50
    assert {p.headers["x-github-delivery"] for p, _ in messages} == set(deliveries)
    assert len({b["request_id"] for _, b in messages}) == 50


def test_garbage_on_the_fastcgi_socket_does_not_take_the_process_down(clean):
    sock_path = clean.fcgi_socket
    for junk in [b"\x00" * 64, b"GET / HTTP/1.1\r\n\r\n", b"\x01\x01\x00\x01\xff\xff\x00\x00" + b"A" * 100,
                 os.urandom(4096)]:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(2)
        s.connect(sock_path)
        try:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            s.recv(1024)
        except OSError:
            pass
        s.close()
    r = clean.post(PUSH, delivery=delivery())
    assert r.status_code == 202


def test_cgi_mode_serves_one_request(clean):
    d = delivery()
    env = {"PATH": os.environ["PATH"], "REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github",
           "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(PUSH)), "HTTP_X_GITHUB_EVENT": "push",
           "HTTP_X_GITHUB_DELIVERY": d, "HTTP_X_HUB_SIGNATURE_256": clean.sign(PUSH),
           "GITHUB_WEBHOOK_SECRET": clean.secret.decode(), "AMQP_URL": clean.amqp_url}
    out = subprocess.run([clean.fcgi_bin], input=PUSH, env=env, capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 202 Accepted\r\n")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["delivery"] == d
    [(props, job)] = clean.drain(expect=1)
    assert props.headers["x-github-delivery"] == d
    # A bad signature in CGI mode is refused the same way.
    env["HTTP_X_HUB_SIGNATURE_256"] = "sha256=" + "0" * 64
    out = subprocess.run([clean.fcgi_bin], input=PUSH, env=env, capture_output=True, timeout=20)
    assert out.stdout.startswith(b"Status: 401")


def test_broker_down_spools_and_drains_after_restart(clean_web):
    clean = clean_web
    assert clean.post(PUSH, delivery=delivery()).status_code == 202
    clean.drain(expect=1)
    clean.stack("broker-stop")
    spooled = []
    try:
        for _ in range(3):
            d = delivery()
            r = clean.post(PUSH, delivery=d)
            assert r.status_code == 202, r.text
            assert r.json()["delivery"] == d and r.json()["spooled"] is True
            spooled.append(d)
    finally:
        clean.stack("broker-start")
    assert clean.wait_drained()
    # The broker's restart can outlast the web server's keep-alive (lighttpd's max-read-idle is 9 s): a POST is not
    # retried on a connection the server closed meanwhile, so start a new one.
    clean.session.close()
    r = clean.post(PUSH, delivery=delivery())
    assert r.status_code == 202 and r.json()["spooled"] is False, r.text
    messages = clean.drain(expect=4)
    deliveries = [p.headers["x-github-delivery"] for p, _ in messages]
    assert sorted(deliveries[:3]) == sorted(spooled) or set(spooled) <= set(deliveries)
    assert len(deliveries) == 4 and len(set(deliveries)) == 4


def test_cgi_behind_apache_mod_cgid(stack):
    if "apache" not in os.environ.get("STACK_WEB_SERVERS", ""):
        pytest.skip("Apache is not part of this stack")
    cgi = type(stack)("apache-cgi")
    cgi.purge()
    d = delivery()
    r = cgi.post(PUSH, delivery=d)
    assert r.status_code == 202, r.text
    assert r.json()["delivery"] == d
    [(props, _)] = cgi.drain(expect=1)
    assert props.headers["x-github-delivery"] == d
    assert cgi.post(PUSH, delivery=delivery(), signature="sha256=" + "0" * 64).status_code == 401
    assert cgi.post(PUSH, delivery=delivery(), method="GET").status_code == 405
    assert cgi.drain(timeout=0.3) == []
