#!/usr/bin/env python3
"""`make run`'s demonstration: send one signed sample push through nginx and print the JobRequest it became, then
publish the JobResult an orchestrator would send for it and show the Check Run solstice-results completed."""
import hashlib
import hmac
import json
import os
import pathlib
import sys
import time
import urllib.request
import uuid

import pika

sys_path = pathlib.Path(__file__).resolve().parents[1] / "tests/github_standin"

root = pathlib.Path(__file__).resolve().parents[1]
payloads = pathlib.Path(os.environ.get("GITHUB_PAYLOADS_DIR", root.parent / "shared/reference/github-payloads"))
url = os.environ["STACK_HTTP_URL"] + os.environ["STACK_WEBHOOK_PATH"]
secret = os.environ["STACK_SECRET"]
body = (payloads / "push.with-new-branch.json").read_bytes()
delivery = str(uuid.uuid4())
standin_url = os.environ.get("STACK_STANDIN_URL")
gh = None
if standin_url:
    sys.path.insert(0, str(sys_path))
    from client import StandIn
    gh = StandIn(standin_url)
    gh.set_installations({"Codertocat/Hello-World": 1})
    print("NOTE: no GitHub App is configured (GITHUB_APP_ID is not exported), so this demo runs solstice-fcgi and")
    print(f"      solstice-results against the local TEST STAND-IN of GitHub's API at {standin_url}")
    print("      (tests/github_standin), not github.com. Export GITHUB_APP_ID and GITHUB_APP_KEY_PATH to use a real App.")

print(f"webhook URL:    {url}")
print(f"webhook secret: {secret}   (dev secret of the local stack; set GITHUB_WEBHOOK_SECRET to change it)")
print(f"sending a signed push (X-GitHub-Delivery: {delivery}) ...")
request = urllib.request.Request(url, data=body, method="POST", headers={
    "Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
    "X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()})
with urllib.request.urlopen(request, timeout=10) as response:
    print(f"HTTP {response.status}: {response.read().decode()}")

connection = pika.BlockingConnection(pika.URLParameters(os.environ["STACK_AMQP_URL"]))
channel = connection.channel()
deadline = time.time() + 10
found = None
while time.time() < deadline and found is None:
    method, props, message = channel.basic_get("solstice.jobs.v1")
    if method is None:
        time.sleep(0.1)
        continue
    if (props.headers or {}).get("x-github-delivery") == delivery:
        channel.basic_ack(method.delivery_tag)
        found = (props, message)
    else:
        channel.basic_nack(method.delivery_tag, requeue=True)
connection.close()
if found is None:
    raise SystemExit("no JobRequest for this delivery arrived on solstice.jobs.v1")
props, message = found
print("JobRequest on solstice.jobs.v1 "
      f"(message_id={props.message_id}, type={props.type}, delivery_mode={props.delivery_mode}):")
print(json.dumps(json.loads(message), indent=2))

job = json.loads(message)
rid = job["request_id"]
logs_dir = pathlib.Path(os.environ["STACK_LOGS_DIR"])
logs_dir.mkdir(parents=True, exist_ok=True)
(logs_dir / f"{rid}.log").write_text("$ .solstice/job.sh\nbuilding...\nrunning 12 tests... ok\ndone in 4.2 s\n")
result = {"schema_version": "jobresult.v1", "request_id": rid, "repo_url": job["repo_url"],
          "repo_owner": job["repo_owner"], "repo_name": job["repo_name"], "commit_sha": job["commit_sha"],
          "success": True, "exit_code": 0, "summary": "12 tests passed (demo result)",
          "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
connection = pika.BlockingConnection(pika.URLParameters(os.environ["STACK_AMQP_URL"]))
channel = connection.channel()
channel.confirm_delivery()
channel.basic_publish("solstice.jobs", "jobresult.v1", json.dumps(result).encode(), pika.BasicProperties(
    content_type="application/json", delivery_mode=2, message_id=rid, type="jobresult.v1"), mandatory=True)
connection.close()
print(f"\npublished a JobResult (success, exit code 0) for request {rid} on solstice.jobs / jobresult.v1;")
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
print("\nThe stack keeps running; `make stop` stops it.")
