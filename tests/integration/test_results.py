"""SPEC §8: solstice-results against the real RabbitMQ, the strict GitHub stand-in, the log-service stand-in and a
real S3 server (moto, checking Signature V4), all started by `scripts/stack.sh up test`. The stack's own daemon
serves the default queue; tests that stop or misconfigure a daemon start their own on a queue of their own."""
import functools
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import time
import uuid

import boto3
import pika
import pytest

from support import publishing, stack as stack_env, topology
from support.payloads import new_sha

QUEUE = topology.RESULTS_QUEUE
DLQ = topology.RESULTS_DLQ
RETRY = topology.retry_queues()  # .5s, .30s, .2m, .10m
ATTEMPT = topology.ATTEMPT_HEADER
INSTALLATION = 1
COMPLETED_AT = "2026-11-24T12:34:56Z"

job_result = functools.partial(publishing.job_result, completed_at=COMPLETED_AT)


def new_repo(gh, installed=True):
    repo = f"results-org/r{uuid.uuid4().hex[:10]}"
    if installed:
        gh.set_installations({repo: INSTALLATION})
    return repo


class Results:
    def __init__(self):
        def env(name):
            return stack_env.env(name, skip=True)

        self.amqp_url = env("STACK_AMQP_URL")
        self.state = pathlib.Path(env("STACK_STATE"))
        self.logs_dir = pathlib.Path(env("STACK_LOGS_DIR"))
        self.logs_url = env("STACK_LOGS_URL")
        self.s3_url = env("STACK_S3_URL")
        self.bucket = env("STACK_S3_BUCKET")
        self.bin = env("STACK_RESULTS_BIN")
        self.gh = stack_env.standin(env("STACK_STANDIN_URL"))
        self.keys = stack_env.s3_keys(env("STACK_S3_ENV"))

    # -- broker
    def publish(self, *bodies, routing_key=topology.RESULTS_ROUTING_KEY):
        publishing.publish_results(self.amqp_url, bodies, routing_key)

    def declare(self, queue, dlq, routing_key):
        """The results topology for a queue of a test's own, with the daemon's exact arguments."""
        with publishing.channel(self.amqp_url) as ch:
            topology.declare_results(ch, queue, dlq, routing_key)

    def count(self, queue):
        return publishing.count(self.amqp_url, queue)

    def take(self, queue):
        """Every message now on `queue` (acked) as bodies."""
        return publishing.take(self.amqp_url, queue)

    def purge(self, *queues):
        publishing.purge(self.amqp_url, *queues)

    def publish_with(self, body, headers, routing_key=topology.RESULTS_ROUTING_KEY):
        """One result as the orchestrator would publish it, with `headers` of the test's choosing."""
        with publishing.channel(self.amqp_url) as ch:
            ch.confirm_delivery()
            ch.basic_publish(topology.RESULTS_EXCHANGE, routing_key, json.dumps(body).encode(), pika.BasicProperties(
                content_type="application/json", delivery_mode=2, message_id=body["request_id"],
                type="jobresult.v1", headers=headers), mandatory=True)

    def peek(self, queue, rid):
        """The properties of the message of request `rid` on `queue`, left where it is (got, then rejected with
        requeue: it keeps its place and its expiry); None when it is not there, or the queue is not (yet)."""
        try:
            return self._peek(queue, rid)
        except pika.exceptions.ChannelClosedByBroker as e:
            if e.reply_code == 404:
                return None
            raise

    def _peek(self, queue, rid):
        with publishing.channel(self.amqp_url) as ch:
            seen = []
            while True:
                method, props, body = ch.basic_get(queue, auto_ack=False)
                if method is None:
                    found = None
                    break
                seen.append(method.delivery_tag)
                if props.message_id == rid:
                    found = props
                    break
            for tag in seen:
                ch.basic_nack(tag, requeue=True)
            return found

    def wait_in(self, queue, rid, timeout):
        """Waits until request `rid` is on `queue`; its properties and when it was first seen."""
        deadline = time.time() + timeout
        while True:
            props = self.peek(queue, rid)
            if props is not None:
                return props, time.time()
            if time.time() > deadline:
                pytest.fail(f"{rid} did not reach {queue} within {timeout} s ({self.counts(RETRY + [QUEUE, DLQ])})")
            time.sleep(0.1)

    def fast_forward(self, queue, rid, routing_key=topology.RESULTS_ROUTING_KEY):
        """Does what `queue`'s TTL would do later: takes the message of `rid` off it and publishes it, properties
        and headers unchanged, to the results exchange. The TTLs are contract (up to 10 min); the 5 s and 30 s
        ones are waited out for real in test_patch_failing_three_times_waits_out_the_delays_and_completes_once."""
        with publishing.channel(self.amqp_url) as ch:
            ch.confirm_delivery()
            method, props, body = ch.basic_get(queue, auto_ack=False)
            assert method is not None and props.message_id == rid, f"{rid} is not at the head of {queue}"
            ch.basic_publish(topology.RESULTS_EXCHANGE, routing_key, body, props, mandatory=True)
            ch.basic_ack(method.delivery_tag)
            return props

    def remove(self, queue, rid):
        """Takes the message of `rid` off `queue` for good (a test's result that would otherwise keep retrying)."""
        with publishing.channel(self.amqp_url) as ch:
            others = []
            while True:
                method, props, _ = ch.basic_get(queue, auto_ack=False)
                assert method is not None, f"{rid} is not on {queue}"
                if props.message_id == rid:
                    ch.basic_ack(method.delivery_tag)
                    break
                others.append(method.delivery_tag)
            for tag in others:
                ch.basic_nack(tag, requeue=True)

    def counts(self, queues):
        return {q: self.count(q) for q in queues}

    def delete_queues(self, *queues):
        with publishing.channel(self.amqp_url) as ch:
            for queue in queues:
                ch.queue_delete(queue)

    # -- GitHub stand-in
    def seed(self, repo, sha, rid, name="Solstice CI"):
        return self.gh.seed_check_runs(repo, 1, name=name, head_sha=sha, external_id=rid, status="queued")[0]

    def runs(self, repo):
        return {r["external_id"]: r for r in self.gh.check_runs(repo)}

    def wait_completed(self, repo, rids, timeout=30):
        deadline = time.time() + timeout
        while True:
            runs = self.runs(repo)
            done = {rid: runs[rid] for rid in rids if rid in runs and runs[rid]["status"] == "completed"}
            if len(done) == len(rids):
                return done
            if time.time() > deadline:
                pytest.fail(f"{len(done)} of {len(rids)} runs completed within {timeout} s")
            time.sleep(0.2)

    # -- logs and S3
    def put_log(self, rid, text=None, status=None):
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        if status is not None:
            (self.logs_dir / f"{rid}.status").write_text(str(status))
        else:
            data = text if isinstance(text, bytes) else text.encode()
            (self.logs_dir / f"{rid}.log").write_bytes(data)

    def s3(self):
        return boto3.client("s3", endpoint_url=self.s3_url, region_name="us-east-1",
                            aws_access_key_id=self.keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.keys["AWS_SECRET_ACCESS_KEY"])

    def key(self, repo, sha, rid):
        return f"logs/{repo}/{sha}/{rid}.log"

    def daemon_log(self):
        return (self.state / "results.log").read_text(errors="replace")

    # -- a daemon of the test's own
    def start_daemon(self, queue, routing_key, dlq, log_path, **extra):
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "GITHUB_"))}
        environment.update(stack_env.results_env())
        environment.update(self.keys)
        # Retry queues of its own too: they dead-letter with the daemon's routing key, so sharing the stack's would
        # be refused (406, other arguments) and would send results back to the wrong queue.
        environment.update({"AMQP_RESULTS_QUEUE": queue, "AMQP_RESULTS_ROUTING_KEY": routing_key,
                            "AMQP_RESULTS_DLQ": dlq, "AMQP_RESULTS_RETRY_QUEUE": f"{queue}.retry"})
        environment.update({k: str(v) for k, v in extra.items()})
        log = open(log_path, "ab")
        proc = subprocess.Popen([self.bin], env=environment, stdout=log, stderr=log)
        deadline = time.time() + 15
        while "consuming results" not in pathlib.Path(log_path).read_text(errors="replace"):
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"solstice-results did not start: {pathlib.Path(log_path).read_text()}")
            time.sleep(0.05)
        return proc


@pytest.fixture(scope="module")
def results():
    return Results()


@pytest.fixture
def rs(results):
    results.gh.clear_faults()
    results.gh.set_installations({})
    yield results
    results.gh.clear_faults()


def own_queue(rs, label):
    suffix = f"{label}.{uuid.uuid4().hex[:8]}"
    queue, dlq, key = f"solstice.results.test.{suffix}", f"solstice.results.test.{suffix}.dlq", f"jobresult.{suffix}"
    rs.declare(queue, dlq, key)
    return queue, dlq, key


def test_success_and_failure_complete_their_runs_with_logs_in_s3(rs):
    repo, sha = new_repo(rs.gh), new_sha()
    ok, bad = str(uuid.uuid4()), str(uuid.uuid4())
    ok_id, bad_id = rs.seed(repo, sha, ok, "Solstice CI / build"), rs.seed(repo, sha, bad, "Solstice CI / test")
    ok_log = "".join(f"build step {i}\n" for i in range(200)) + "all good\n"
    bad_log = "compiling\nerror: tests failed ✗\n"
    rs.put_log(ok, ok_log)
    rs.put_log(bad, bad_log)
    rs.publish(job_result(ok, sha, repo, True, 0, "built in 3 s"),
               job_result(bad, sha, repo, False, 2, "2 tests failed"))
    done = rs.wait_completed(repo, [ok, bad])
    assert done[ok]["id"] == ok_id and done[bad]["id"] == bad_id  # patched, not created
    assert done[ok]["conclusion"] == "success" and done[bad]["conclusion"] == "failure"
    assert done[ok]["completed_at"] == COMPLETED_AT
    assert "exit code 0" in done[ok]["output"]["summary"] and "built in 3 s" in done[ok]["output"]["summary"]
    assert "exit code 2" in done[bad]["output"]["summary"] and "2 tests failed" in done[bad]["output"]["summary"]
    assert "all good" in done[ok]["output"]["text"] and "error: tests failed ✗" in done[bad]["output"]["text"]
    s3 = rs.s3()
    for rid, log in ((ok, ok_log), (bad, bad_log)):
        obj = s3.get_object(Bucket=rs.bucket, Key=rs.key(repo, sha, rid))
        assert obj["Body"].read() == log.encode()
        assert obj["ContentType"] == "text/plain; charset=utf-8"
        assert done[rid]["details_url"] == f"{rs.s3_url}/{rs.bucket}/{rs.key(repo, sha, rid)}"
    line = next(l for l in rs.daemon_log().splitlines() if f"request_id={bad}" in l and "msg=result " in l)
    assert f"repo={repo}" in line and "conclusion=failure" in line and " ms=" in line


def test_large_log_is_streamed_and_the_text_keeps_its_last_lines_within_the_limit(rs):
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.seed(repo, sha, rid)
    lines = [f"line {i:07d} " + "x" * 90 for i in range(60_000)]  # ~6 MB
    log = ("\n".join(lines) + "\n").encode()
    rs.put_log(rid, log)
    rs.publish(job_result(rid, sha, repo))
    run = rs.wait_completed(repo, [rid])[rid]
    text = run["output"]["text"]
    assert len(text) <= 65535
    assert lines[-1] in text and lines[0] not in text
    body = rs.s3().get_object(Bucket=rs.bucket, Key=rs.key(repo, sha, rid))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(log).hexdigest()


def test_run_on_page_three_is_found_across_pages(rs):
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    target = rs.seed(repo, sha, rid)  # the oldest run: listed last, on page 3 of 100 per page
    rs.gh.seed_check_runs(repo, 250, name="other {i}", head_sha=sha, external_id="other-{i}", status="queued")
    rs.gh.clear_requests()
    rs.publish(job_result(rid, sha, repo, False, 1))
    run = rs.wait_completed(repo, [rid])[rid]
    assert run["id"] == target and run["conclusion"] == "failure"
    others = [r for r in rs.gh.check_runs(repo) if r["external_id"] != rid]
    assert len(others) == 250 and all(r["status"] == "queued" for r in others)
    lists = [r for r in rs.gh.requests() if r["method"] == "GET" and r["path"].endswith("/check-runs")]
    assert any(r["query"].get("page") == "3" for r in lists)
    assert all(r["query"].get("filter") == "all" for r in lists)


def test_commit_without_run_gets_one_created_completed(rs):
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.put_log(rid, "done\n")
    rs.publish(job_result(rid, sha, repo, True, 0))
    run = rs.wait_completed(repo, [rid])[rid]
    assert run["name"] == "Solstice CI" and run["head_sha"] == sha and run["conclusion"] == "success"
    assert len(rs.gh.check_runs(repo)) == 1


def test_malformed_and_wrong_schema_go_to_the_dlq_and_the_daemon_keeps_going(rs):
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.purge(DLQ)
    marker = uuid.uuid4().hex
    wrong = job_result(str(uuid.uuid4()), sha, repo, schema_version="jobresult.v2", summary=marker)
    rs.publish(b"{not json " + marker.encode(), wrong, {"schema_version": "jobresult.v1", "summary": marker},
               job_result(rid, sha, repo))
    rs.wait_completed(repo, [rid])
    deadline = time.time() + 10
    dead = []
    while len(dead) < 3 and time.time() < deadline:
        dead += rs.take(DLQ)
        time.sleep(0.1)
    assert len(dead) == 3 and all(marker.encode() in body for body in dead)
    assert "schema_version is jobresult.v2" in rs.daemon_log()


def test_repository_without_installation_is_acked_and_logged(rs):
    repo, sha, rid = new_repo(rs.gh, installed=False), new_sha(), str(uuid.uuid4())
    rs.purge(DLQ)
    rs.publish(job_result(rid, sha, repo))
    deadline = time.time() + 10
    while f"request_id={rid}" not in rs.daemon_log():
        assert time.time() < deadline, "no log line for the result"
        time.sleep(0.1)
    line = next(l for l in rs.daemon_log().splitlines() if f"request_id={rid}" in l)
    assert "without the App installed" in line and f"repo={repo}" in line
    assert rs.count(QUEUE) == 0 and rs.count(DLQ) == 0
    assert rs.gh.check_runs(repo) == []


def test_log_that_cannot_be_fetched_still_completes_the_run(rs):
    repo, sha = new_repo(rs.gh), new_sha()
    missing, broken = str(uuid.uuid4()), str(uuid.uuid4())
    rs.put_log(broken, status=500)
    rs.publish(job_result(missing, sha, repo), job_result(broken, sha, repo, False, 3))
    done = rs.wait_completed(repo, [missing, broken])
    for rid, status in ((missing, 404), (broken, 500)):
        summary = done[rid]["output"]["summary"]
        assert "The log is unavailable" in summary and str(status) in summary
        assert done[rid]["details_url"] == f"{rs.logs_url}/jobs/{rid}/logs"
    assert done[broken]["conclusion"] == "failure"


def daemon_lines(rs, rid, text=None):
    return [l for l in (text if text is not None else rs.daemon_log()).splitlines() if f"request_id={rid}" in l]


def patches_of(rs, run_id):
    return [r["status"] for r in rs.gh.requests() if r["method"] == "PATCH" and r["path"].endswith(f"/{run_id}")]


def test_patch_failing_three_times_waits_out_the_delays_and_completes_once(rs):
    """SPEC §8 v2: attempts 1 and 2 fail and wait out the real .5s and .30s TTLs (the broker dead-letters the
    result back); attempt 3 fails into .2m, whose 2 minutes the test skips; attempt 4 completes the run, once."""
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.purge(*RETRY)
    dead_before = rs.count(DLQ)
    run_id = rs.seed(repo, sha, rid)
    rs.gh.add_fault(rf"/check-runs/{run_id}$", 502, method="PATCH", count=3)
    rs.publish(job_result(rid, sha, repo))
    first, t1 = rs.wait_in(RETRY[0], rid, timeout=15)
    assert first.headers[ATTEMPT] == 1
    assert first.content_type == "application/json" and first.type == "jobresult.v1" and first.delivery_mode == 2
    second, t2 = rs.wait_in(RETRY[1], rid, timeout=15)
    assert second.headers[ATTEMPT] == 2 and 3.5 < t2 - t1 < 12, t2 - t1  # the 5 s TTL, waited out by the broker
    third, t3 = rs.wait_in(RETRY[2], rid, timeout=45)
    assert third.headers[ATTEMPT] == 3 and 27 < t3 - t2 < 40, t3 - t2  # the 30 s TTL
    assert patches_of(rs, run_id) == [502, 502, 502]  # nothing completed while the result waited
    rs.fast_forward(RETRY[2], rid)
    run = rs.wait_completed(repo, [rid])[rid]
    assert run["id"] == run_id and run["conclusion"] == "success"
    assert len(rs.gh.check_runs(repo)) == 1 and patches_of(rs, run_id) == [502, 502, 502, 200]
    lines = daemon_lines(rs, rid)
    assert [l for l in lines if "retrying" in l and "attempt=1 " in l and "retry_in_s=5.0 " in l]
    assert [l for l in lines if "retrying" in l and "attempt=3 " in l and "retry_in_s=120.0 " in l]
    assert sum("retrying" in l for l in lines) == 3
    assert any("msg=result " in l and "attempts=4" in l for l in lines)
    time.sleep(0.5)
    assert rs.counts(RETRY + [QUEUE]) == {q: 0 for q in RETRY + [QUEUE]} and rs.count(DLQ) == dead_before


def test_sigkill_between_retries_carries_the_attempt_count_on(rs, tmp_path):
    """The count lives in the message: a daemon killed (SIGKILL) while the result waits in .5s, restarted after the
    TTL brought it back, makes attempt 2 (not 1 again) and completes the run once."""
    queue, dlq, key = own_queue(rs, "sigkill")
    retry = topology.retry_queues(f"{queue}.retry")
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    run_id = rs.seed(repo, sha, rid)
    rs.gh.add_fault(rf"/check-runs/{run_id}$", 502, method="PATCH", count=2)
    log_path = tmp_path / "results.log"
    proc = rs.start_daemon(queue, key, dlq, log_path, RESULTS_WORKERS=1)
    try:
        rs.publish(job_result(rid, sha, repo), routing_key=key)
        assert rs.wait_in(retry[0], rid, timeout=15)[0].headers[ATTEMPT] == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        back, _ = rs.wait_in(queue, rid, timeout=15)  # the TTL returned it; nobody consumes
        assert back.headers[ATTEMPT] == 1 and rs.count(retry[0]) == 0
        proc = rs.start_daemon(queue, key, dlq, tmp_path / "restarted.log", RESULTS_WORKERS=1)
        assert rs.wait_in(retry[1], rid, timeout=15)[0].headers[ATTEMPT] == 2  # carried on, not counted afresh
        rs.fast_forward(retry[1], rid, routing_key=key)
        run = rs.wait_completed(repo, [rid])[rid]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert run["id"] == run_id and run["status"] == "completed" and len(rs.gh.check_runs(repo)) == 1
    assert patches_of(rs, run_id) == [502, 502, 200]
    before = daemon_lines(rs, rid, log_path.read_text())
    after = daemon_lines(rs, rid, (tmp_path / "restarted.log").read_text())
    assert [[l for l in lines if "retrying" in l] for lines in (before, after)] == [
        [l for l in before if "retrying" in l and "attempt=1 " in l],
        [l for l in after if "retrying" in l and "attempt=2 " in l]]
    assert [sum("retrying" in l for l in lines) for lines in (before, after)] == [1, 1]
    assert any("msg=result " in l and "attempts=3" in l for l in after)
    assert rs.counts(retry + [queue, dlq]) == {q: 0 for q in retry + [queue, dlq]}
    rs.delete_queues(*retry, queue, dlq)


def test_a_retry_the_broker_does_not_take_is_requeued_not_lost(rs, tmp_path):
    """The .5s queue deleted under a running daemon: its copy comes back unroutable, so the original is rejected
    with requeue (not acked) and the connection opened again, which declares the queue anew; the uncounted attempt
    is made again and the result takes its normal way."""
    queue, dlq, key = own_queue(rs, "unroutable")
    retry = topology.retry_queues(f"{queue}.retry")
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    run_id = rs.seed(repo, sha, rid)
    rs.gh.add_fault(rf"/check-runs/{run_id}$", 502, method="PATCH", count=2)
    log_path = tmp_path / "results.log"
    proc = rs.start_daemon(queue, key, dlq, log_path, RESULTS_WORKERS=1)
    try:
        rs.delete_queues(retry[0])
        rs.publish(job_result(rid, sha, repo), routing_key=key)
        assert rs.wait_in(retry[0], rid, timeout=15)[0].headers[ATTEMPT] == 1
        run = rs.wait_completed(repo, [rid], timeout=20)[rid]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert run["id"] == run_id and patches_of(rs, run_id) == [502, 502, 200]
    text = log_path.read_text()
    assert f"retry queue {retry[0]} did not take the result: returned as unroutable" in text
    assert any("msg=result " in l and "attempts=2" in l for l in daemon_lines(rs, rid, text))
    assert rs.counts(retry + [queue, dlq]) == {q: 0 for q in retry + [queue, dlq]}
    rs.delete_queues(*retry, queue, dlq)


def test_five_failures_dead_letter_and_leave_the_retry_queues_empty(rs):
    """GitHub down for good: attempts 1-4 each go one retry queue further (their TTLs skipped), the 5th failure
    rejects the result to the DLQ; no run is written and no copy is left behind."""
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.purge(DLQ, *RETRY)
    rs.gh.add_fault(rf"^/repos/{repo}/", 503, count=1000)
    rs.publish(job_result(rid, sha, repo))
    for n, queue in enumerate(RETRY, start=1):
        props, _ = rs.wait_in(queue, rid, timeout=15)
        assert props.headers[ATTEMPT] == n, (queue, props.headers)
        rs.fast_forward(queue, rid)
    deadline = time.time() + 15
    while rs.count(DLQ) == 0:
        assert time.time() < deadline, "the 5th failure did not reach the DLQ"
        time.sleep(0.1)
    dead = publishing.drain(rs.amqp_url, DLQ, expect=1)
    assert len(dead) == 1 and dead[0][1]["request_id"] == rid and dead[0][0].headers[ATTEMPT] == 4
    assert rs.counts(RETRY + [QUEUE]) == {q: 0 for q in RETRY + [QUEUE]}
    assert rs.gh.check_runs(repo) == []
    lines = daemon_lines(rs, rid)
    assert [sum("retrying" in l and f"attempt={n} " in l for l in lines) for n in range(1, 5)] == [1, 1, 1, 1]
    assert any("dead-letter" in l and "attempts=5" in l for l in lines)


def test_forged_attempt_headers_are_bounded(rs):
    """x-solstice-attempt is untrusted: a huge count still gets one attempt (a success completes the run, a failure
    goes straight to the DLQ, not through a retry queue); a negative or garbage one counts as 0."""
    rs.purge(DLQ, *RETRY)
    good_repo, bad_repo, sha = new_repo(rs.gh), new_repo(rs.gh), new_sha()
    huge, huge_text, negative, garbage = (str(uuid.uuid4()) for _ in range(4))
    rs.gh.set_installations({good_repo: INSTALLATION, bad_repo: INSTALLATION})
    rs.gh.add_fault(rf"^/repos/{bad_repo}/", 503, count=1000)
    rs.publish_with(job_result(huge, sha, good_repo), {ATTEMPT: 2**63 - 1})
    rs.publish_with(job_result(huge_text, sha, bad_repo), {ATTEMPT: "9" * 40})
    rs.publish_with(job_result(negative, sha, bad_repo), {ATTEMPT: -7})
    rs.publish_with(job_result(garbage, sha, bad_repo), {ATTEMPT: {"nested": [1, 2]}})
    run = rs.wait_completed(good_repo, [huge])[huge]
    assert run["conclusion"] == "success"
    assert any("msg=result " in l and "attempts=5" in l for l in daemon_lines(rs, huge))
    for rid in (negative, garbage):
        assert rs.wait_in(RETRY[0], rid, timeout=15)[0].headers[ATTEMPT] == 1
    for rid in (negative, garbage):
        rs.remove(RETRY[0], rid)
    deadline = time.time() + 15
    while rs.count(DLQ) == 0:
        assert time.time() < deadline, "the result with a huge count did not reach the DLQ"
        time.sleep(0.1)
    dead = publishing.drain(rs.amqp_url, DLQ, expect=1)
    assert [body["request_id"] for _, body in dead] == [huge_text]
    assert any("dead-letter" in l and "attempts=5" in l for l in daemon_lines(rs, huge_text))
    assert rs.counts(RETRY) == {q: 0 for q in RETRY}  # the huge count never went through a retry queue
    assert rs.gh.check_runs(bad_repo) == []


def test_topology_is_declared_again_unchanged_and_quorum_queues_carry_the_retries(rs, tmp_path):
    """The retry queues' arguments are the contract: declaring them again with SPEC §6's arguments is accepted (no
    406) after the stack's daemon declared them, and so is the daemon's own second declaration. With
    AMQP_QUEUE_TYPE=quorum every queue is a quorum queue, and a retry still waits out .5s and comes back."""
    with publishing.channel(rs.amqp_url) as ch:
        for queue, suffix in zip(RETRY, topology.RETRY_DELAYS):
            ch.queue_declare(queue, durable=True, arguments=topology.retry_arguments(suffix))
    label = f"quorum.{uuid.uuid4().hex[:8]}"
    queue, dlq, key = f"solstice.results.test.{label}", f"solstice.results.test.{label}.dlq", f"jobresult.{label}"
    retry = topology.retry_queues(f"{queue}.retry")
    log_path = tmp_path / "results.log"
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    run_id = rs.seed(repo, sha, rid)
    rs.gh.add_fault(rf"/check-runs/{run_id}$", 502, method="PATCH", count=1)
    proc = rs.start_daemon(queue, key, dlq, log_path, RESULTS_WORKERS=2, AMQP_QUEUE_TYPE="quorum")
    try:
        with publishing.channel(rs.amqp_url) as ch:
            for name, suffix in zip(retry, topology.RETRY_DELAYS):
                ch.queue_declare(name, durable=True, arguments=topology.retry_arguments(suffix, key, "quorum"))
            ch.queue_declare(dlq, durable=True, arguments={"x-queue-type": "quorum"})
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            with publishing.channel(rs.amqp_url) as ch:  # the same name as a classic queue: not what was declared
                ch.queue_declare(retry[0], durable=True, arguments=topology.retry_arguments(".5s", key, "classic"))
        assert refused.value.reply_code == 406
        rs.publish(job_result(rid, sha, repo), routing_key=key)
        assert rs.wait_in(retry[0], rid, timeout=15)[0].headers[ATTEMPT] == 1
        run = rs.wait_completed(repo, [rid], timeout=20)[rid]  # the quorum queue's TTL brought it back
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert run["id"] == run_id and patches_of(rs, run_id) == [502, 200]
    # Declared twice by each worker (two connections) and once more by a restart: no 406 anywhere.
    again = tmp_path / "again.log"
    proc = rs.start_daemon(queue, key, dlq, again, RESULTS_WORKERS=1, AMQP_QUEUE_TYPE="quorum")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    text = log_path.read_text() + again.read_text()
    assert "PRECONDITION_FAILED" not in text and "queue_type=quorum" in text
    rs.delete_queues(*retry, queue, dlq)


def test_upload_signed_with_a_wrong_secret_is_refused_and_reported(rs, tmp_path):
    queue, dlq, key = own_queue(rs, "wrongkey")
    log_path = tmp_path / "results.log"
    proc = rs.start_daemon(queue, key, dlq, log_path, AWS_SECRET_ACCESS_KEY="not-the-secret", RESULTS_WORKERS=1)
    try:
        repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
        rs.put_log(rid, "secret-less log\n")
        rs.publish(job_result(rid, sha, repo), routing_key=key)
        run = rs.wait_completed(repo, [rid])[rid]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    summary = run["output"]["summary"]
    assert "could not be stored" in summary and "403" in summary and "SignatureDoesNotMatch" in summary
    assert run["details_url"] == f"{rs.logs_url}/jobs/{rid}/logs"
    assert "secret-less log" in run["output"]["text"]
    with pytest.raises(Exception) as missing:
        rs.s3().head_object(Bucket=rs.bucket, Key=rs.key(repo, sha, rid))
    assert "404" in str(missing.value)
    text = log_path.read_text()
    assert "log upload refused" in text and "not-the-secret" not in text
    assert rs.count(queue) == 0 and rs.count(dlq) == 0


def test_sigterm_mid_stream_loses_no_message(rs, tmp_path):
    queue, dlq, key = own_queue(rs, "sigterm")
    repo, sha = new_repo(rs.gh), new_sha()
    rids = [str(uuid.uuid4()) for _ in range(30)]
    for rid in rids:
        rs.seed(repo, sha, rid)
    # Every PATCH takes 0.5 s, so the signal lands while a result is in hand.
    rs.gh.add_fault(r"/check-runs/\d+$", None, method="PATCH", delay=0.5, count=1000)
    rs.publish(*[job_result(rid, sha, repo) for rid in rids], routing_key=key)
    log_path = tmp_path / "results.log"
    proc = rs.start_daemon(queue, key, dlq, log_path, RESULTS_WORKERS=1)
    deadline = time.time() + 30
    while sum(r["status"] == "completed" for r in rs.gh.check_runs(repo)) < 3:
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    completed = sum(r["status"] == "completed" for r in rs.gh.check_runs(repo))
    waiting = rs.count(queue)
    # Each message is either completed and acked, or back on the queue: never both, never neither.
    assert completed + waiting == len(rids) and waiting > 0
    text = log_path.read_text()
    after_stop = text[text.index("stopping"):]
    assert "msg=result " in after_stop, "the result in hand was not finished after SIGTERM"
    rs.gh.clear_faults()
    proc = rs.start_daemon(queue, key, dlq, log_path)
    try:
        rs.wait_completed(repo, rids)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    assert rs.count(queue) == 0 and rs.count(dlq) == 0
    patched = [r for r in rs.gh.requests() if r["method"] == "PATCH" and f"/repos/{repo}/" in r["path"]]
    assert len({r["path"] for r in patched}) == len(rids)


def test_thousand_results_in_a_row(rs):
    repo = new_repo(rs.gh)
    bodies = []
    for batch in range(10):
        sha = new_sha()
        rids = [str(uuid.uuid4()) for _ in range(100)]  # request ids are UUIDs (SPEC §8)
        for i, rid in enumerate(rids):
            rs.gh.seed_check_runs(repo, 1, name=f"Solstice CI / job {i}", head_sha=sha, external_id=rid,
                                  status="queued")
        bodies += [job_result(rid, sha, repo, i % 7 != 0, 0 if i % 7 else 1) for i, rid in enumerate(rids)]
    started = time.time()
    rs.publish(*bodies)
    rs.wait_completed(repo, [b["request_id"] for b in bodies], timeout=240)
    elapsed = time.time() - started
    runs = rs.gh.check_runs(repo)
    assert len(runs) == 1000
    by_id = {b["request_id"]: b for b in bodies}
    assert all(r["conclusion"] == ("success" if by_id[r["external_id"]]["success"] else "failure") for r in runs)
    print(f"1000 results in {elapsed:.1f} s ({1000 / elapsed:.0f}/s)")


def test_reconnects_after_the_broker_restarts(rs, stack):
    stack.stack("broker-stop")
    time.sleep(1)
    stack.stack("broker-start")
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.publish(job_result(rid, sha, repo))
    rs.wait_completed(repo, [rid], timeout=30)
