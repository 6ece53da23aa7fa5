"""SPEC §7's durable GitHub side, with faults: deferred expansion while GitHub cannot give the workflow, the Checks
outbox surviving kill -9 and never holding a webhook's answer, host-wide pacing under GitHub's secondary limit,
and a thousand pushes at once. Real RabbitMQ, solstice-fcgi, and the GitHub stand-in; each test counts what the
jobs queue and GitHub end up holding."""
import collections
import concurrent.futures
import json
import time
import uuid

import pytest

from responders import OwnResponder
from support import stack as stack_env
from support.payloads import new_sha, payload
from support.topology import NAMESPACE
from test_faults import report

THREE_JOBS = 'job "lint"\njob "build"\njob "test"\n'


def push(sha, repo="Codertocat/Hello-World", installation=1):
    body = json.loads(payload("push.with-new-branch.json"))
    body["after"] = sha
    body["installation"]["id"] = installation
    owner, name = repo.split("/")
    body["repository"].update(name=name, full_name=repo, clone_url=f"https://github.com/{repo}.git")
    body["repository"]["owner"]["login"] = owner
    return json.dumps(body).encode()


@pytest.fixture
def gh(clean):
    g = stack_env.standin()
    g.clear_requests()
    g.clear_faults()
    g.clear_delay()
    g.set_secondary_limit(0)
    yield g
    g.clear_faults()
    g.clear_delay()
    g.set_secondary_limit(0)


def own_repo(gh):
    """A repository on an installation of its own, so that no other test's writes count against its limits."""
    installation = 200_000 + uuid.uuid4().int % 1_000_000
    repo = f"org{installation}/repo"
    gh.set_installations({repo: installation})
    return repo, installation


def wait_runs(gh, repo, count, timeout):
    deadline = time.time() + timeout
    while True:
        runs = gh.check_runs(repo)
        if len(runs) >= count or time.time() > deadline:
            return runs
        time.sleep(0.25)


def test_contents_api_down_during_20_pushes_defers_then_builds_60_jobs(gh, clean):
    repo, installation = own_repo(gh)
    shas = [new_sha() for _ in range(20)]
    for sha in shas:
        gh.add_file(repo, sha, ".solstice/workflow.kdl", THREE_JOBS)
    gh.add_fault("/contents/", 503, method="GET", count=100_000)
    deliveries = [str(uuid.uuid4()) for _ in shas]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: clean.post(push(p[0], repo, installation), delivery=p[1]),
                                zip(shas, deliveries)))
    assert [a.status_code for a in answers] == [202] * 20
    assert all(a.json()["deferred"] is True and a.json()["jobs"] == [] for a in answers)
    assert clean.drain(timeout=1.0) == []  # nothing guessed: no default job
    # A redelivery of a deferred delivery is a duplicate of its answer.
    again = clean.post(push(shas[0], repo, installation), delivery=deliveries[0])
    assert again.status_code == 200 and again.json()["duplicate"] is True and again.json()["deferred"] is True

    gh.clear_faults()
    bodies = [b for _, b in clean.drain(expect=60, timeout=30)]
    assert len(bodies) == 60
    expected = {str(uuid.uuid5(NAMESPACE, f"{d}/{job}")) for d in deliveries for job in ("lint", "build", "test")}
    assert {b["request_id"] for b in bodies} == expected  # the ids an immediate expansion would have used
    assert collections.Counter(b["workflow_job_id"] for b in bodies) == {"lint": 20, "build": 20, "test": 20}
    runs = wait_runs(gh, repo, 60, timeout=30)
    assert len(runs) == 60 and {r["external_id"] for r in runs} == expected
    assert all(r["status"] == "queued" for r in runs)
    report("contents API 503 during 20 pushes", answers="20 × 202 deferred", jobs=len(bodies), runs=len(runs),
           default_jobs=0)


def test_kill_9_while_check_run_writes_are_delayed_loses_none(gh, clean, tmp_path):
    repo, installation = own_repo(gh)
    gh.set_delay(r"/check-runs$", 15, method="POST")
    first = OwnResponder(clean, tmp_path)
    shas = [new_sha() for _ in range(5)]
    for sha in shas:
        gh.add_file(repo, sha, ".solstice/workflow.kdl", THREE_JOBS)
    took = []
    request_ids = set()
    for sha in shas:
        started = time.monotonic()
        status, answer = first.post(push(sha, repo, installation), "push")
        took.append(time.monotonic() - started)
        assert status == 202 and len(answer["jobs"]) == 3, answer
        request_ids |= {j["request_id"] for j in answer["jobs"]}
    # GitHub takes 15 s per write; the answers never waited for it.
    assert max(took) < 5, took
    time.sleep(1)  # the outbox thread is now inside a delayed write
    first.kill()
    assert len(list((first.spool / "checks").glob("*.json"))) >= 4  # the writes it owed survived the kill
    gh.clear_delay()
    second = OwnResponder(clean, tmp_path, spool=first.spool)
    try:
        runs = wait_runs(gh, repo, 15, timeout=60)
        time.sleep(1)
        runs = gh.check_runs(repo)
        counts = collections.Counter(r["external_id"] for r in runs)
        assert set(counts) == request_ids and set(counts.values()) == {1}, counts
        assert list((first.spool / "checks").glob("*.json")) == []
    finally:
        second.stop()
    clean.drain(expect=15)
    report("kill -9 with delayed Check Run writes", answer_ms_max=round(max(took) * 1000), runs=len(runs),
           duplicates=sum(c - 1 for c in counts.values()))


def test_secondary_limit_is_never_hit_at_30_writes_a_minute(gh, clean, tmp_path):
    repo, installation = own_repo(gh)
    gh.set_secondary_limit(40)
    responder = OwnResponder(clean, tmp_path, GITHUB_WRITES_PER_MINUTE="30")
    try:
        shas = [new_sha() for _ in range(40)]
        for sha in shas:
            gh.add_file(repo, sha, ".solstice/workflow.kdl", THREE_JOBS)
        for sha in shas:
            status, answer = responder.post(push(sha, repo, installation), "push")
            assert status == 202 and len(answer["jobs"]) == 3
        started = time.monotonic()
        runs = wait_runs(gh, repo, 120, timeout=300)
        elapsed = time.monotonic() - started
        limit = gh.secondary_limit()
        assert len(runs) == 120 and len({r["external_id"] for r in runs}) == 120
        assert limit["refused"] == 0, limit
    finally:
        responder.stop()
    clean.drain(expect=120)
    report("secondary limit 40/min, GITHUB_WRITES_PER_MINUTE=30", runs=len(runs), refused_403=limit["refused"],
           seconds=round(elapsed))


def test_a_thousand_pushes_at_c16_each_get_their_run_once(gh, clean, tmp_path):
    repo, installation = own_repo(gh)
    responder = OwnResponder(clean, tmp_path, GITHUB_WRITES_PER_MINUTE="100000", FCGI_WORKERS="16")
    try:
        shas = [new_sha() for _ in range(1000)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda sha: responder.post(push(sha, repo, installation), "push"), shas))
        assert collections.Counter(status for status, _ in answers) == {202: 1000}
        request_ids = {a["jobs"][0]["request_id"] for _, a in answers}
        runs = wait_runs(gh, repo, 1000, timeout=180)
        time.sleep(1)
        runs = gh.check_runs(repo)
        counts = collections.Counter(r["external_id"] for r in runs)
        assert set(counts) == request_ids and set(counts.values()) == {1}
        assert {r["head_sha"] for r in runs} == set(shas)
    finally:
        responder.stop()
    queued = clean.drain(expect=1000, timeout=30)
    assert len(queued) == 1000
    report("1,000 pushes at c=16", answers=1000, runs=len(runs), duplicates=0, jobs=len(queued))
