#!/usr/bin/env python3
"""`make run`'s demonstration: send one signed sample push through nginx and print the JobRequest it became, then
publish the JobResult an orchestrator would send for it and show the Check Run solstice-results completed."""
import json
import os
import pathlib
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from support import publishing, signing, stack, topology  # noqa: E402
from support.payloads import payload  # noqa: E402

url = os.environ["STACK_HTTP_URL"] + os.environ["STACK_WEBHOOK_PATH"]
secret = os.environ["STACK_SECRET"]
amqp_url = os.environ["STACK_AMQP_URL"]
body = payload("push.with-new-branch.json")
delivery = str(uuid.uuid4())
standin_url = os.environ.get("STACK_STANDIN_URL")
gh = None
if standin_url:
    gh = stack.standin(standin_url)
    gh.set_installations({"Codertocat/Hello-World": 1})
    print("NOTE: no GitHub App is configured (GITHUB_APP_ID is not exported), so this demo runs solstice-fcgi and")
    print(f"      solstice-results against the local TEST STAND-IN of GitHub's API at {standin_url}")
    print("      (tests/github_standin), not github.com. Export GITHUB_APP_ID and GITHUB_APP_KEY_PATH to use a real App.")

print(f"webhook URL:    {url}")
print(f"webhook secret: {secret}   (dev secret of the local stack; set GITHUB_WEBHOOK_SECRET to change it)")
print(f"sending a signed push (X-GitHub-Delivery: {delivery}) ...")
request = urllib.request.Request(url, data=body, method="POST",
                                 headers=signing.webhook_headers(body, secret, event="push", delivery=delivery))
with urllib.request.urlopen(request, timeout=10) as response:
    print(f"HTTP {response.status}: {response.read().decode()}")



def job_request(delivery):
    """The JobRequest published for `delivery` (taken off the jobs queue), as (properties, body)."""
    connection, channel = publishing.connect(amqp_url)
    deadline = time.time() + 10
    try:
        while time.time() < deadline:
            method, props, message = channel.basic_get(topology.JOBS_QUEUE)
            if method is None:
                time.sleep(0.1)
                continue
            if (props.headers or {}).get("x-github-delivery") == delivery:
                channel.basic_ack(method.delivery_tag)
                return props, message
            channel.basic_nack(method.delivery_tag, requeue=True)
    finally:
        connection.close()
    raise SystemExit(f"no JobRequest for delivery {delivery} arrived on {topology.JOBS_QUEUE}")


props, message = job_request(delivery)
print(f"JobRequest on {topology.JOBS_QUEUE} "
      f"(message_id={props.message_id}, type={props.type}, delivery_mode={props.delivery_mode}):")
print(json.dumps(json.loads(message), indent=2))

job = json.loads(message)
rid = job["request_id"]
logs_dir = pathlib.Path(os.environ["STACK_LOGS_DIR"])
logs_dir.mkdir(parents=True, exist_ok=True)
(logs_dir / f"{rid}.log").write_text("$ .solstice/job.sh\nbuilding...\nrunning 12 tests... ok\ndone in 4.2 s\n")
result = publishing.job_result(rid, job["commit_sha"], f"{job['repo_owner']}/{job['repo_name']}", True, 0,
                               "12 tests passed (demo result)", repo_url=job["repo_url"])
publishing.publish_results(amqp_url, [result])
print(f"\npublished a JobResult (success, exit code 0) for request {rid} on "
      f"{topology.RESULTS_EXCHANGE} / {topology.RESULTS_ROUTING_KEY};")
print(f"its log is served by the log-service stand-in at {os.environ['STACK_LOGS_URL']}/jobs/{rid}/logs")
if gh is None:
    print(f"solstice-results completes the Check Run on GitHub; see {os.environ['STACK_STATE']}/results.log")
else:
    deadline = time.time() + 15
    run = None
    while time.time() < deadline:
        runs = [r for r in gh.check_runs("Codertocat/Hello-World") if r["external_id"] == rid]
        if runs and runs[0]["status"] == "completed":
            run = runs[0]
            break
        time.sleep(0.2)
    if run is None:
        raise SystemExit(f"the Check Run was not completed within 15 s; see {os.environ['STACK_STATE']}/results.log")
    print("Check Run completed by solstice-results (in the GitHub stand-in):")
    print(json.dumps({k: run[k] for k in ("id", "name", "head_sha", "external_id", "status", "conclusion",
                                          "completed_at", "details_url")}, indent=2))
    print("output.summary:\n  " + run["output"]["summary"].replace("\n", "\n  "))
    print("output.text:\n  " + (run["output"]["text"] or "").replace("\n", "\n  "))
    print(f"(the log was uploaded to the local S3 server, moto: {run['details_url']})")

if gh is not None:
    # SPEC §10: a stranger's pull request from a fork waits for someone who may push, bound to its head commit.
    repo, number, author = "Codertocat/Hello-World", int(time.time()) % 1_000_000, "stranger"
    sha = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    gh.set_webhook(url, secret)
    gh.add_pull(repo, number, sha, author, head_repo=f"{author}/Hello-World", title="Fix a typo")
    gh.add_commit(repo, sha, "Fix a typo")
    gh.set_collaborator(repo, "maintainer", "write")
    pr = json.loads(payload("pull_request.opened.json"))
    pr["number"] = pr["pull_request"]["number"] = number
    pr["pull_request"].update(author_association="NONE", title="Fix a typo",
                              html_url=f"https://github.com/{repo}/pull/{number}")
    pr["pull_request"]["user"]["login"] = author
    pr["pull_request"]["head"]["sha"] = sha
    pr["pull_request"]["head"]["repo"].update(id=424242, full_name=f"{author}/Hello-World",
                                              clone_url=f"https://github.com/{author}/Hello-World.git")
    print(f"\n--- a pull request from {author}'s fork (author_association NONE, no write permission) ---")
    sent = gh.deliver("pull_request", pr)
    print(f"HTTP {sent['status']}: {sent['body']}")
    approval = None
    deadline = time.time() + 10
    while approval is None and time.time() < deadline:
        approval = next((r for r in gh.check_runs(repo) if r["external_id"] == f"solstice-approval/{number}"), None)
        time.sleep(0.1)
    if approval is None:
        raise SystemExit("no approval run was written")
    print(f"Check Run '{approval['name']}': {approval['conclusion']} — {approval['output']['title']}, "
          f"button: {approval['actions'][0]['label']!r}")
    print("no job was queued. maintainer (write permission) presses 'Approve and run' ...")
    click = gh.click(approval["id"], "approve", "maintainer")
    print(f"HTTP {click['status']}: {click['body']}")
    _, message = job_request(click["guid"])
    job = json.loads(message)
    print("JobRequest: " + json.dumps({k: job[k] for k in ("commit_sha", "repo_url", "event", "pull_request_number",
                                                           "approved_by")}))
    deadline = time.time() + 10
    while time.time() < deadline:
        approval = next(r for r in gh.check_runs(repo) if r["id"] == approval["id"])
        if approval["conclusion"] == "success":
            break
        time.sleep(0.1)
    print(f"Check Run '{approval['name']}': {approval['conclusion']} — {approval['output']['title']}")
print(f"\nstatus:  {os.environ['STACK_HTTP_URL']}/solstice/status   (STATUS_PATH: ok, degraded or failing)")
print(f"metrics: {os.environ['STACK_HTTP_URL']}/solstice/metrics  (METRICS_PATH: Prometheus text; see README, Operations)")
print("The stack keeps running; `make stop` stops it.")
