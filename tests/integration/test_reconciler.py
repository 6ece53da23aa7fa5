"""SPEC §7's stuck-run reconciler through the real stack: two solstice-fcgi processes of the test's own share one
SPOOL_DIR, with JOB_TIMEOUT=20s and RECONCILE_INTERVAL=1s, the stack's App against the GitHub stand-in and the
stack's solstice-results. Of each pushed commit's two jobs one gets a real JobResult; the other never does and must
become `timed_out` — once, by one process of the host — while the finished one is left alone."""
import json
import os
import pathlib
import socket
import subprocess
import time
import uuid

import pytest

import fcgi_client
from support import publishing, stack as stack_env
from support.payloads import new_sha, payload
from support.stack import free_port

REPO = "Codertocat/Hello-World"
INSTALLATION = 1
APP_ID = 4242
JOB_TIMEOUT = 20
TWO_JOBS = 'job "lint"\njob "build"\n'


@pytest.fixture
def gh(clean):
    g = stack_env.standin()
    g.clear_requests()
    g.clear_faults()
    g.set_installations({REPO: INSTALLATION})
    return g


class Responder:
    """A solstice-fcgi of the test's own on a TCP port, with the stack's App, broker and GitHub stand-in."""

    def __init__(self, stack, spool, log, **variables):
        state = pathlib.Path(stack_env.env("STACK_STATE"))
        self.port, self.stack = free_port(), stack
        self.env = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": stack.secret.decode(),
                    "AMQP_URL": stack.amqp_url, "SPOOL_DIR": str(spool), "FCGI_WORKERS": "2",
                    "GITHUB_APP_ID": str(APP_ID), "GITHUB_APP_KEY_PATH": str(state / "app-key.pem"),
                    "GITHUB_API_BASE": stack_env.env("STACK_STANDIN_URL"), "JOB_TIMEOUT": f"{JOB_TIMEOUT}s",
                    "RECONCILE_INTERVAL": "1s", **variables}
        self.proc = subprocess.Popen([stack.fcgi_bin, "--listen", f"127.0.0.1:{self.port}"], env=self.env,
                                     stderr=log)
        for _ in range(200):
            if socket.socket().connect_ex(("127.0.0.1", self.port)) == 0:
                return
            time.sleep(0.05)
        raise AssertionError("the responder did not start")

    def push(self, sha):
        body = json.loads(payload("push.with-new-branch.json"))
        body["after"] = sha
        body = json.dumps(body).encode()
        params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_TYPE": "application/json",
                  "CONTENT_LENGTH": str(len(body)), "HTTP_X_GITHUB_EVENT": "push",
                  "HTTP_X_GITHUB_DELIVERY": str(uuid.uuid4()), "HTTP_X_HUB_SIGNATURE_256": self.stack.sign(body)}
        status, _, answer = fcgi_client.request(("127.0.0.1", self.port), params, body)
        return status, json.loads(answer) if answer else None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def runs_on(gh, sha, until, timeout):
    """This commit's runs by name, once `until(runs)` holds (or the time is up)."""
    deadline = time.time() + timeout
    while True:
        runs = {r["name"]: r for r in gh.check_runs(REPO) if r["head_sha"] == sha}
        if until(runs) or time.time() > deadline:
            return runs
        time.sleep(0.2)


def patches(gh, run):
    return [r for r in gh.requests() if r["method"] == "PATCH" and r["path"] == f"/repos/{REPO}/check-runs/{run['id']}"]


def test_a_run_without_result_times_out_once_per_host_and_a_finished_one_is_left_alone(gh, clean, tmp_path):
    spool = tmp_path / "spool"
    log = open(tmp_path / "responders.log", "wb")
    responders = [Responder(clean, spool, log), Responder(clean, spool, log)]
    try:
        # One commit through each process, so both index runs in the shared SPOOL_DIR.
        commits = []
        for responder in responders:
            sha = new_sha()
            gh.add_file(REPO, sha, ".solstice/workflow.kdl", TWO_JOBS)
            status, answer = responder.push(sha)
            assert status == 202 and len(answer["jobs"]) == 2, answer
            commits.append((sha, {j["workflow_job_id"]: j["request_id"] for j in answer["jobs"]}))
        pushed = time.time()
        for sha, jobs in commits:
            runs = runs_on(gh, sha, lambda runs: len(runs) == 2, timeout=10)
            assert {r["status"] for r in runs.values()} == {"queued"}, runs
            # "lint" finishes: a real JobResult, completed by the stack's solstice-results.
            publishing.publish_results(clean.amqp_url, [publishing.job_result(jobs["lint"], sha, REPO)])
        for sha, _ in commits:
            runs = runs_on(gh, sha, lambda runs: runs["Solstice CI / lint"]["status"] == "completed", timeout=15)
            assert runs["Solstice CI / lint"]["conclusion"] == "success", runs
        assert len(list((spool / "runs").glob("*.json"))) == 2  # one index file per webhook

        # "build" never gets a result: timed out about JOB_TIMEOUT after it was queued, by the reconciler.
        for sha, _ in commits:
            runs = runs_on(gh, sha, lambda runs: runs["Solstice CI / build"]["status"] == "completed",
                           timeout=JOB_TIMEOUT + 15)
            build = runs["Solstice CI / build"]
            assert build["conclusion"] == "timed_out", build
            assert time.time() - pushed >= JOB_TIMEOUT - 2
            assert build["output"]["title"] == "No result within 20s"
            summary = build["output"]["summary"]
            for phrase in ("within 20s", "JOB_TIMEOUT", "Re-run", "Re-run all checks", "/retest"):
                assert phrase in summary, summary

        # Several more passes of both processes: nothing more is written, the index is empty.
        time.sleep(3)
        for sha, _ in commits:
            runs = runs_on(gh, sha, lambda runs: True, timeout=0)
            assert len(patches(gh, runs["Solstice CI / build"])) == 1  # one process of the host, once
            assert len(patches(gh, runs["Solstice CI / lint"])) == 1  # solstice-results' only
            assert runs["Solstice CI / lint"]["conclusion"] == "success"
        assert list((spool / "runs").glob("*.json")) == []

        # drain-spool runs a pass too: nothing left to do, nothing written.
        before = len([r for r in gh.requests() if r["method"] == "PATCH"])
        done = subprocess.run([clean.fcgi_bin, "drain-spool"], env=responders[0].env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "0 check run(s) timed out" in done.stdout, done.stdout
        assert len([r for r in gh.requests() if r["method"] == "PATCH"]) == before
    finally:
        for responder in responders:
            responder.stop()
        log.close()


def test_drain_spool_times_out_a_stuck_run(gh, clean, tmp_path):
    """CGI setups have no reconciler thread: `drain-spool` (run from cron) does the pass."""
    spool = tmp_path / "spool"
    log = open(tmp_path / "responder.log", "wb")
    responder = Responder(clean, spool, log, RECONCILE_INTERVAL="1d")
    try:
        sha = new_sha()
        gh.add_file(REPO, sha, ".solstice/workflow.kdl", 'job "build"\n')
        status, answer = responder.push(sha)
        assert status == 202, answer
        runs = runs_on(gh, sha, lambda runs: len(runs) == 1, timeout=10)
        assert runs["Solstice CI"]["status"] == "queued"
    finally:
        responder.stop()
        log.close()
    env = {**responder.env, "JOB_TIMEOUT": "10s"}
    time.sleep(10)
    done = subprocess.run([clean.fcgi_bin, "drain-spool"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "1 check run(s) timed out" in done.stdout, done.stdout
    run = runs_on(gh, sha, lambda runs: True, timeout=0)["Solstice CI"]
    assert (run["status"], run["conclusion"]) == ("completed", "timed_out")
    assert len(patches(gh, run)) == 1
