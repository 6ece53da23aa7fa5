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
import pytest

from support import publishing, stack as stack_env, topology
from support.payloads import new_sha

QUEUE = topology.RESULTS_QUEUE
DLQ = topology.RESULTS_DLQ
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
        environment.update({"AMQP_RESULTS_QUEUE": queue, "AMQP_RESULTS_ROUTING_KEY": routing_key,
                            "AMQP_RESULTS_DLQ": dlq})
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


def test_github_5xx_twice_then_success(rs):
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    run_id = rs.seed(repo, sha, rid)
    rs.gh.add_fault(rf"/check-runs/{run_id}$", 502, method="PATCH", count=2)
    rs.publish(job_result(rid, sha, repo))
    run = rs.wait_completed(repo, [rid])[rid]
    assert run["id"] == run_id and run["conclusion"] == "success"
    lines = [l for l in rs.daemon_log().splitlines() if f"request_id={rid}" in l]
    assert sum("retrying" in l for l in lines) == 2
    assert any("msg=result " in l and "attempts=3" in l for l in lines)
    patches = [r for r in rs.gh.requests() if r["method"] == "PATCH" and r["path"].endswith(f"/{run_id}")]
    assert [r["status"] for r in patches] == [502, 502, 200]


def test_github_down_for_good_dead_letters_after_five_attempts(rs):
    repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
    rs.purge(DLQ)
    rs.gh.add_fault(rf"^/repos/{repo}/", 503, count=1000)
    rs.publish(job_result(rid, sha, repo))
    deadline = time.time() + 60
    dead = []
    while not dead and time.time() < deadline:
        dead = rs.take(DLQ)
        time.sleep(0.2)
    assert len(dead) == 1 and json.loads(dead[0])["request_id"] == rid
    lines = [l for l in rs.daemon_log().splitlines() if f"request_id={rid}" in l]
    assert sum("retrying" in l for l in lines) == 4
    assert any("dead-letter" in l and "attempts=5" in l for l in lines)
    assert rs.gh.check_runs(repo) == []


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
