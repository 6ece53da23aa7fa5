"""SPEC §11 with real parts: STATUS_PATH and METRICS_PATH through the stack's nginx, `promtool check metrics` on the
scrape, status degraded while the broker is stopped with the outbox gauge rising and then draining to 0, two
solstice-fcgi processes sharing one SPOOL_DIR giving the same totals, and a real Prometheus (Debian's `prometheus`,
on loopback) scraping through nginx. Bounded in count and time; traffic to 127.0.0.1 only."""
import json
import shutil
import subprocess
import time
import urllib.parse
import uuid

import pytest
import requests

import fcgi_client
from responders import OwnResponder
from support import topology
from support.payloads import payload
from support.stack import free_port
from support.waiting import wait_for

PUSH = payload("push.with-new-branch.json")
PING = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
STATUS_PATH, METRICS_PATH = "/solstice/status", "/solstice/metrics"


def scrape(stack):
    response = requests.get(stack.url + METRICS_PATH, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return response.text


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def webhooks_total(text):
    return sum(v for k, v in samples(text).items() if k.startswith("solstice_webhooks_total{"))


def status(stack):
    response = requests.get(stack.url + STATUS_PATH, timeout=10)
    return response.status_code, response.json()


def promtool(*args, stdin=None):
    tool = shutil.which("promtool")
    if not tool:
        pytest.fail("promtool is missing: `scripts/stack.sh deps` installs Debian's prometheus package")
    return subprocess.run([tool, *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_metrics_pass_promtool_and_name_every_family(stack):
    text = scrape(stack)
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ["solstice_webhooks_total", "solstice_webhook_duration_seconds", "solstice_jobs_published_total",
                 "solstice_jobs_spooled_total", "solstice_deliveries_duplicate_total", "solstice_outbox_messages",
                 "solstice_outbox_oldest_age_seconds", "solstice_expansions_deferred", "solstice_checks_outbox",
                 "solstice_github_requests_total", "solstice_github_rate_limit_remaining",
                 "solstice_checkruns_timed_out_total", "solstice_gap_repair_redeliveries_total",
                 "solstice_build_info"]:
        assert f"# TYPE {name} " in text and f"# HELP {name} " in text, name
    head = requests.head(stack.url + METRICS_PATH, timeout=10)
    assert head.status_code == 200 and head.content == b""


def test_webhooks_are_counted_and_operations_requests_are_not(clean):
    before = webhooks_total(scrape(clean))
    for _ in range(3):
        assert clean.post(PING, event="ping", delivery=str(uuid.uuid4())).status_code == 200
    delivery = str(uuid.uuid4())
    assert clean.post(PUSH, delivery=delivery).status_code == 202
    assert clean.post(PUSH, delivery=delivery).status_code == 200  # duplicate
    for _ in range(3):
        status(clean)
        scrape(clean)
    text = scrape(clean)
    assert webhooks_total(text) == before + 5
    assert samples(text)['solstice_webhooks_total{event="ping",status="200"}'] >= 3
    assert samples(text)["solstice_deliveries_duplicate_total"] >= 1


def test_status_degraded_while_the_broker_is_stopped_and_the_outbox_drains(clean):
    code, body = status(clean)
    assert code == 200 and body["status"] == "ok", body
    assert body["broker"]["connected"] is True and body["spool"]["writable"] is True
    assert set(body) == {"status", "version", "broker", "spool", "github"}
    assert set(body["spool"]) == {"writable", "outbox", "oldest_outbox_age_s", "deferred", "checks_outbox"}
    assert set(body["github"]) == {"configured", "last_ok_at", "last_error"}
    clean.stack("broker-stop")
    try:
        wait_for(lambda: status(clean)[1]["status"] == "degraded", 20, "status degraded")
        code, body = status(clean)
        assert code == 200 and body["broker"]["connected"] is False
        spooled = 0
        for _ in range(4):
            response = clean.post(PUSH, delivery=str(uuid.uuid4()))
            assert response.status_code == 202, response.text
            spooled += response.json()["spooled"]
        assert spooled == 4
        outbox = samples(scrape(clean))["solstice_outbox_messages"]
        assert outbox >= 4
        assert status(clean)[1]["spool"]["outbox"] >= 4
        assert samples(scrape(clean))["solstice_jobs_spooled_total"] >= 4
    finally:
        clean.stack("broker-start")
    wait_for(lambda: samples(scrape(clean))["solstice_outbox_messages"] == 0, 60, "the outbox gauge to drain to 0")
    wait_for(lambda: status(clean)[1]["status"] == "ok", 30, "status ok again")
    assert samples(scrape(clean))["solstice_outbox_oldest_age_seconds"] == 0


def fcgi_get(responder, path):
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path}
    code, _, body = fcgi_client.request(("127.0.0.1", responder.port), params, b"")
    return code, body.decode()


def test_two_processes_sharing_a_spool_give_the_same_totals(stack, tmp_path):
    spool = tmp_path / "shared-spool"
    first = OwnResponder(stack, tmp_path, spool=spool)
    second = OwnResponder(stack, tmp_path, spool=spool)
    try:
        for i in range(10):
            responder = first if i % 2 == 0 else second
            code, _ = responder.post(PING, "ping")
            assert code == 200
        scrapes = [fcgi_get(r, METRICS_PATH) for r in (first, second)]
        for code, text in scrapes:
            assert code == 200
            assert webhooks_total(text) == 10
            assert samples(text)['solstice_webhooks_total{event="ping",status="200"}'] == 10
        assert samples(scrapes[0][1]) == samples(scrapes[1][1])
    finally:
        first.stop()
        second.stop()


def test_a_real_prometheus_scrapes_through_nginx_and_counts_the_webhooks(clean, tmp_path):
    binary = shutil.which("prometheus")
    if not binary:
        pytest.fail("prometheus is missing: `scripts/stack.sh deps` installs Debian's prometheus package")
    target = urllib.parse.urlparse(clean.url)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": "solstice-fcgi", "metrics_path": METRICS_PATH,
                            "static_configs": [{"targets": [target.netloc]}]}],
    }))
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    api = f"http://127.0.0.1:{port}/api/v1/query"

    def query(expr):
        try:
            result = requests.get(api, params={"query": expr}, timeout=5).json()["data"]["result"]
        except (requests.RequestException, KeyError, ValueError):
            return None
        return float(result[0]["value"][1]) if result else None

    try:
        # Prometheus has scraped at least once: it knows the build info.
        wait_for(lambda: query("solstice_build_info") == 1, 60, "Prometheus's first scrape")
        before = webhooks_total(scrape(clean))
        sent = 7
        for _ in range(sent):
            assert clean.post(PING, event="ping", delivery=str(uuid.uuid4())).status_code == 200
        wait_for(lambda: query("sum(solstice_webhooks_total)") == before + sent, 30,
                 f"sum(solstice_webhooks_total) == {before + sent}")
        assert query('up{job="solstice-fcgi"}') == 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_results_daemon_writes_its_metrics_textfile(tmp_path):
    # The results suite's helpers: a daemon of this test's own on a queue of its own.
    from test_results import Results, job_result, new_repo, own_queue
    from support.payloads import new_sha

    rs = Results()
    rs.gh.clear_faults()
    queue, dlq, key = own_queue(rs, "metrics")
    textfile = tmp_path / "solstice-results.prom"
    proc = rs.start_daemon(queue, key, dlq, tmp_path / "results.log", METRICS_TEXTFILE=textfile, RESULTS_WORKERS=1)
    try:
        # Written at start, before the first result: every family named.
        text = wait_for(lambda: textfile.exists() and textfile.read_text(), 10, "the textfile at start")
        result = promtool("check", "metrics", stdin=text)
        assert result.returncode == 0, result.stdout + result.stderr
        for name in ["solstice_results_total", "solstice_results_retried_total", "solstice_results_dead_lettered_total",
                     "solstice_result_duration_seconds", "solstice_results_last_success_timestamp_seconds"]:
            assert f"# TYPE {name} " in text, name
        repo, sha, rid = new_repo(rs.gh), new_sha(), str(uuid.uuid4())
        rs.seed(repo, sha, rid)
        rs.put_log(rid, "ok\n")
        rs.publish(job_result(rid, sha, repo, True, 0, "fine"), routing_key=key)
        rs.publish(b"not json", routing_key=key)
        rs.wait_completed(repo, [rid])
        wait_for(lambda: rs.count(dlq) == 1, 15, "the malformed result in the DLQ")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        rs.delete_queues(queue, dlq, *topology.retry_queues(f"{queue}.retry"))
    # Written again at exit: the counts of this run.
    text = textfile.read_text()
    result = promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
    values = samples(text)
    assert values['solstice_results_total{conclusion="success"}'] == 1
    assert values["solstice_results_dead_lettered_total"] == 1
    assert values["solstice_result_duration_seconds_count"] == 2
    assert values["solstice_results_last_success_timestamp_seconds"] > time.time() - 120
    assert not list(tmp_path.glob("solstice-results.prom.tmp.*"))
