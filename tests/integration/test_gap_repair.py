"""SPEC §7 gap repair and §9 `solstice-fcgi repair-deliveries`, against the stack: nginx → solstice-fcgi →
RabbitMQ with the App configured against the GitHub stand-in, whose delivery log holds the deliveries a test says
failed (`/_standin/deliveries/failed`: never sent, as when the host or the web server was down) and which really
redelivers, signed and with the same GUID, to the stack's nginx when asked (`POST /app/hook/deliveries/{id}/
attempts`). Each test counts what ends up on the jobs queue by the `x-github-delivery` header.

The stack's own responder runs no periodic gap repair (GAP_REPAIR_INTERVAL=0 in scripts/stack.sh); the command
runs with that responder's SPOOL_DIR, so it sees the deliveries the responder recorded."""
import collections
import json
import os
import pathlib
import re
import subprocess
import time
import uuid

import pytest

from support import stack as stack_env
from support.payloads import new_sha, payload
from support.stack import free_port

REPO = "Codertocat/Hello-World"
INSTALLATION = 1
APP_ID = 4242
WORKFLOW = ".solstice/workflow.kdl"
LINE = re.compile(r"^redelivery requested: (\S+) \(delivery (\d+), (\w+), first attempt (\d+)\)$")


@pytest.fixture
def gh(clean):
    g = stack_env.standin()
    g.clear_requests()
    g.clear_faults()
    g.set_installations({REPO: INSTALLATION})
    g.set_webhook(clean.url + clean.path, clean.secret.decode())
    # The log is shared by every test of the session: this test's deliveries only, or a pass would also ask for
    # other tests' failed ones.
    g._control("DELETE", "/deliveries")
    return g


def app_env(stack, spool, **variables):
    """The environment of a solstice-fcgi with the stack's App, broker and secret."""
    state = pathlib.Path(stack_env.env("STACK_STATE"))
    return {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": stack.secret.decode(), "AMQP_URL": stack.amqp_url,
            "SPOOL_DIR": str(spool), "GITHUB_APP_ID": str(APP_ID), "GITHUB_APP_KEY_PATH": str(state / "app-key.pem"),
            "GITHUB_API_BASE": stack_env.env("STACK_STANDIN_URL"), **variables}


def repair(stack, *args):
    """`solstice-fcgi repair-deliveries ARGS` with the SPOOL_DIR of nginx's responder (stack.sh: $STATE/spool)."""
    env = app_env(stack, stack_env.spool_dirs()[0])
    return subprocess.run([stack.fcgi_bin, "repair-deliveries", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def asked(result):
    """(guid, delivery id, event, first status) of every line the command printed; nothing else is printed."""
    lines = result.stdout.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    return [(m.group(1), int(m.group(2)), m.group(3), int(m.group(4))) for m in parsed]


def push(gh, sha=None):
    """A push of a fresh commit whose workflow has one job."""
    sha = sha or new_sha()
    gh.add_file(REPO, sha, WORKFLOW, 'job "build"\n')
    body = json.loads(payload("push.with-new-branch.json"))
    body["after"] = sha
    return body


def lost(gh, count=1, **fields):
    """`count` pushes GitHub logged as failed (502) and never sent: {guid: delivery id}."""
    recorded = gh.add_failed_deliveries([{"event": "push", "payload": push(gh), "status_code": 502, **fields}
                                         for _ in range(count)])
    return {r["guid"]: r["id"] for r in recorded}


def redeliveries(log, guids=None):
    return [e for e in log if e["redelivery"] and (guids is None or e["guid"] in guids)]


def jobs_by_delivery(stack, expect=None, timeout=10.0):
    messages = stack.drain(expect=expect, timeout=timeout)
    return collections.Counter(props.headers["x-github-delivery"] for props, _ in messages)


def test_lost_pushes_are_asked_for_once_and_each_enqueued_once(gh, clean):
    missing = lost(gh, 10)
    result = repair(clean)
    assert result.returncode == 0, result.stderr
    assert sorted(asked(result)) == sorted((g, i, "push", 502) for g, i in missing.items())
    log = gh.wait_deliveries(lambda log: len(redeliveries(log)) >= 10, timeout=30)
    again = redeliveries(log)
    assert sorted(e["guid"] for e in again) == sorted(missing)
    assert all(e["status_code"] == 202 for e in again), [(e["guid"], e["status_code"]) for e in again]
    assert jobs_by_delivery(clean, expect=10) == {guid: 1 for guid in missing}
    time.sleep(1.0)
    assert jobs_by_delivery(clean, timeout=0) == {}
    asks = [r for r in gh.requests() if r["method"] == "POST" and r["path"].endswith("/attempts")]
    assert len(asks) == 10 and all(r["headers"]["authorization"] == "Bearer jwt" for r in asks)


def test_a_delivery_this_host_recorded_or_answered_is_not_asked_for(gh, clean):
    # Two pushes the responder took (202) and recorded, that GitHub's log also shows as failed: one sent with the
    # App's X-GitHub-Hook-Installation-Target-ID (as GitHub and the stand-in send it), one without the header.
    recorded = []
    for headers in ({"X-GitHub-Hook-Installation-Target-ID": str(APP_ID)}, {}):
        guid, body = str(uuid.uuid4()), push(gh)
        r = clean.post(json.dumps(body).encode(), event="push", delivery=guid, headers=headers)
        assert r.status_code == 202, r.text
        gh.add_failed_deliveries({"event": "push", "payload": body, "guid": guid, "status_code": 504})
        recorded.append(guid)
    assert sum(jobs_by_delivery(clean, expect=2).values()) == 2
    # A ping the responder answered (200, not recorded), whose log also holds a failed attempt: any 2xx settles it.
    answered = gh.deliver("ping", json.loads(payload("ping.json")))
    assert answered["status"] == 200, answered
    gh.add_failed_deliveries({"event": "ping", "payload": json.loads(payload("ping.json")), "guid": answered["guid"]})
    # And one that really was lost, so the pass is seen to ask.
    missing = lost(gh)

    result = repair(clean)
    assert result.returncode == 0, result.stderr
    assert [a[0] for a in asked(result)] == list(missing)
    gh.wait_deliveries(lambda log: redeliveries(log), timeout=20)
    assert jobs_by_delivery(clean, expect=1) == {guid: 1 for guid in missing}
    assert redeliveries(gh.deliveries(), set(recorded) | {answered["guid"]}) == []


def test_a_second_run_asks_nothing_and_enqueues_nothing(gh, clean):
    missing = lost(gh, 3)
    first = repair(clean)
    assert first.returncode == 0, first.stderr
    assert sorted(a[0] for a in asked(first)) == sorted(missing)
    # At once, before the redeliveries can have landed (remembered for an hour), and after they have (answered).
    second = repair(clean)
    assert (second.returncode, second.stdout) == (0, ""), second.stderr
    gh.wait_deliveries(lambda log: len(redeliveries(log)) >= 3, timeout=20)
    assert jobs_by_delivery(clean, expect=3) == {guid: 1 for guid in missing}
    third = repair(clean, "--since", "3d")
    assert (third.returncode, third.stdout) == (0, ""), third.stderr
    time.sleep(1.0)
    assert len(redeliveries(gh.deliveries())) == 3
    assert jobs_by_delivery(clean, timeout=0) == {}
    state = json.loads((stack_env.spool_dirs()[0] / "state/gap-repair.json").read_text())
    assert abs(state["watermark"] - (time.time() - 3600)) < 120 and set(missing) <= set(state["asked"])


def test_since_limits_the_look_back(gh, clean):
    old = lost(gh, delivered_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 3600)))
    recent = lost(gh)
    result = repair(clean, "--since", "30m")
    assert result.returncode == 0, result.stderr
    assert [a[0] for a in asked(result)] == list(recent)
    gh.wait_deliveries(lambda log: redeliveries(log), timeout=20)
    assert jobs_by_delivery(clean, expect=1) == {guid: 1 for guid in recent}
    assert redeliveries(gh.deliveries(), set(old)) == []


@pytest.mark.parametrize("args, message", [
    (["--since"], "--since needs a duration"),
    (["--since", "soon"], "--since needs a duration"),
    (["--since", "0"], "--since needs a duration"),
])
def test_a_bad_since_is_refused(clean, args, message):
    result = repair(clean, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_github_that_cannot_be_asked_exits_1(gh, clean):
    lost(gh)
    gh.add_fault(r"^/app/hook/deliveries", 500, method="GET", count=10)
    result = repair(clean)
    assert result.returncode == 1 and result.stdout == ""
    assert "cannot list GitHub's deliveries" in result.stderr, result.stderr
    gh.clear_faults()


def test_without_an_app_the_command_exits_1(clean, tmp_path):
    env = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": clean.secret.decode(), "AMQP_URL": clean.amqp_url,
           "SPOOL_DIR": str(tmp_path / "spool")}
    result = subprocess.run([clean.fcgi_bin, "repair-deliveries"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1 and "needs the GitHub App" in result.stderr, result.stderr


def test_a_serving_responder_repairs_gaps_by_itself_once(gh, clean, tmp_path):
    missing = lost(gh)
    [guid] = missing
    port = free_port()
    errors = open(tmp_path / "stderr.log", "w")
    proc = subprocess.Popen([clean.fcgi_bin, "--listen", f"127.0.0.1:{port}"], stderr=errors,
                            env=app_env(clean, tmp_path / "spool", GAP_REPAIR_INTERVAL="1s"))
    try:
        log = gh.wait_deliveries(lambda log: redeliveries(log), timeout=20)
        assert [e["guid"] for e in redeliveries(log)] == [guid], (tmp_path / "stderr.log").read_text()
        # Several more passes (one a second): the delivery is answered now, and was asked for once.
        time.sleep(3.5)
        assert [e["guid"] for e in redeliveries(gh.deliveries())] == [guid]
        assert jobs_by_delivery(clean, expect=1) == {guid: 1}
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        errors.close()
    marker = tmp_path / "spool/locks/duty-gap-repair.last"
    assert marker.exists() and (tmp_path / "spool/state/gap-repair.json").exists()
