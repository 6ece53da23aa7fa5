#!/usr/bin/env python3
"""`make run`'s demonstration: send one signed sample push through nginx and print the JobRequest it became."""
import hashlib
import hmac
import json
import os
import pathlib
import time
import urllib.request
import uuid

import pika

root = pathlib.Path(__file__).resolve().parents[1]
payloads = pathlib.Path(os.environ.get("GITHUB_PAYLOADS_DIR", root.parent / "shared/reference/github-payloads"))
url = os.environ["STACK_HTTP_URL"] + os.environ["STACK_WEBHOOK_PATH"]
secret = os.environ["STACK_SECRET"]
body = (payloads / "push.with-new-branch.json").read_bytes()
delivery = str(uuid.uuid4())

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
print("\nThe stack keeps running; `make stop` stops it.")
