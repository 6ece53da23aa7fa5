#!/usr/bin/env python3
"""Writes signed benchmark payloads to DIR: real GitHub payloads (shared/reference/github-payloads) that become jobs,
plus copies with other commit SHAs so that bodies differ. Usage: prepare.py DIR SECRET PAYLOAD_DIR"""
import hashlib, json, os, pathlib, sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from support.signing import sign  # noqa: E402

out, secret, src = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
sources = [("push.with-new-branch.json", "push"), ("pull_request.opened.json", "pull_request"),
           ("pull_request.synchronize.json", "pull_request")]
lines = []
for i in range(8):
    name, event = sources[i % len(sources)]
    payload = json.load(open(os.path.join(src, name)))
    sha = hashlib.sha1(f"bench-{i}".encode()).hexdigest()
    if event == "push":
        payload["after"] = sha
    else:
        payload["pull_request"]["head"]["sha"] = sha
    body = json.dumps(payload, indent=2).encode()
    file = f"{i}.json"
    open(os.path.join(out, file), "wb").write(body)
    lines.append(f"{file} {sign(body, secret)} {event}")
open(os.path.join(out, "index.txt"), "w").write("\n".join(lines) + "\n")
