"""Tiny helper for tests: drive the GitHub stand-in's control API, call its API,
and (optionally) start it as a subprocess.  Standard library only.

    from client import StandIn, start_standin
    proc, gh = start_standin(app_id="4242", public_key_path="app.pub.pem")
    gh.set_installations({"org/repo": 77})
    gh.add_file("org/repo", sha, ".solstice/workflow.kdl", 'job "build"')
    ...
    proc.terminate()
"""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "User-Agent": "solstice-standin-tests"}


@dataclass
class Response:
    status: int
    headers: dict          # lower-cased names
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class StandIn:
    def __init__(self, base_url: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        split = urllib.parse.urlsplit(self.base_url)
        self.host, self.port, self.timeout = split.hostname, split.port or 80, timeout

    # -- raw HTTP
    def request(self, method: str, path: str, *, body=None, raw_body: bytes | None = None,
                headers: dict | None = None) -> Response:
        """One HTTP request; headers are sent exactly as given (no defaults added
        besides Host, Accept-Encoding and Content-Length)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            data = raw_body if raw_body is not None else (
                json.dumps(body).encode() if body is not None else None)
            hdrs = dict(headers or {})
            if data is not None and not any(k.lower() == "content-type" for k in hdrs):
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def api(self, method: str, path: str, *, token: str | None = None, jwt: str | None = None,
            body=None, headers: dict | None = None, accept: str | None = None, **kw) -> Response:
        """A GitHub API call with the headers Solstice sends (override via headers=,
        drop one by passing it with value None)."""
        hdrs = dict(API_HEADERS)
        if accept:
            hdrs["Accept"] = accept
        if token:
            hdrs["Authorization"] = f"token {token}"
        if jwt:
            hdrs["Authorization"] = f"Bearer {jwt}"
        for k, v in (headers or {}).items():
            if v is None:
                hdrs.pop(k, None)
            else:
                hdrs[k] = v
        return self.request(method, path, body=body, headers=hdrs, **kw)

    def _control(self, method: str, path: str, body=None):
        resp = self.request(method, "/_standin" + path, body=body)
        if resp.status >= 400:
            raise RuntimeError(f"stand-in control {method} {path} → {resp.status}: {resp.body!r}")
        return resp.json()

    # -- control API
    def health(self) -> dict:
        return self._control("GET", "/health")

    def reset(self) -> dict:
        return self._control("POST", "/reset")

    def set_installations(self, mapping: dict) -> dict:
        """{"owner/repo": installation_id, ...} (merged into what is known)."""
        return self._control("POST", "/installations", mapping)

    def add_file(self, repo: str, ref: str, path: str, content: str | None = None, *,
                 content_base64: str | None = None) -> dict:
        body = {"repo": repo, "ref": ref, "path": path}
        if content_base64 is not None:
            body["content_base64"] = content_base64
        else:
            body["content"] = content if content is not None else ""
        return self._control("POST", "/files", body)

    def add_fault(self, path: str, status: int | None = None, *, method: str | None = None,
                  count: int = 1, delay: float | None = None, headers: dict | None = None,
                  body=None) -> dict:
        fault = {"method": method, "path": path, "status": status, "count": count}
        if delay is not None:
            fault["delay"] = delay
        if headers is not None:
            fault["headers"] = headers
        if body is not None:
            fault["body"] = body
        return self._control("POST", "/faults", fault)

    def faults(self) -> list:
        return self._control("GET", "/faults")

    def clear_faults(self) -> dict:
        return self._control("DELETE", "/faults")

    def requests(self) -> list:
        return self._control("GET", "/requests")

    def clear_requests(self) -> dict:
        return self._control("DELETE", "/requests")

    def check_runs(self, repo: str | None = None) -> list:
        """Stored runs with their annotations, current `actions` and owning `app_id`."""
        q = "?" + urllib.parse.urlencode({"repo": repo}) if repo else ""
        return self._control("GET", "/check-runs" + q)["check_runs"]

    def seed_check_runs(self, repo: str, count: int = 1, *, app_id: int | None = None,
                        **fields) -> list:
        """Create runs directly (validated like the API); "{i}" in string fields is
        replaced by the run's index.  `app_id` makes them runs of another App.
        Returns the new ids."""
        body = {"repo": repo, "count": count, **fields}
        if app_id is not None:
            body["app_id"] = app_id
        return self._control("POST", "/check-runs", body)["ids"]

    def expire_tokens(self) -> dict:
        return self._control("POST", "/tokens/expire")

    # -- trust and approval
    def set_repo(self, repo: str, *, private: bool) -> dict:
        """Marks a repository private (non-collaborators then get permission "none")."""
        return self._control("POST", "/repos", {"repo": repo, "private": private})

    def set_collaborator(self, repo: str, login: str, role: str | None) -> dict:
        """role: admin, maintain, write, triage, read; None makes the login a non-collaborator."""
        return self._control("POST", "/collaborators", {"repo": repo, "login": login, "role": role})

    def add_pull(self, repo: str, number: int, head_sha: str, user: str, **fields) -> dict:
        """Seeds (or replaces: a new push) a pull request. fields: head_repo ("fork/repo",
        None for a deleted fork), author_association, draft, title, body, labels, state,
        head_ref, base_ref, base_sha."""
        body = {"repo": repo, "number": number, "head_sha": head_sha, "user": user, **fields}
        return self._control("POST", "/pulls", body)

    def add_commit(self, repo: str, sha: str, message: str, **fields) -> dict:
        """fields: author {name, email, date}, parents [shas], login."""
        return self._control("POST", "/commits", {"repo": repo, "sha": sha, "message": message,
                                                  **fields})

    # -- webhooks sent to the product
    def set_webhook(self, url: str, secret: str | None) -> dict:
        return self._control("POST", "/webhook", {"url": url, "secret": secret})

    def click(self, run_id: int, identifier: str, login: str) -> dict:
        """A person presses a check-run button: delivers check_run.requested_action and
        returns {id, guid, status, headers, body, json, error} of the product's answer."""
        return self._control("POST", "/click", {"run_id": run_id, "identifier": identifier,
                                                "login": login})

    def comment(self, repo: str, number: int, login: str, body: str,
                author_association: str = "NONE") -> dict:
        """A comment on a seeded pull request: delivers issue_comment.created."""
        return self._control("POST", "/comment", {"repo": repo, "number": number, "login": login,
                                                  "body": body,
                                                  "author_association": author_association})

    def deliver(self, event: str, payload: dict) -> dict:
        """Signs and sends any payload as event `event`; logged like every delivery."""
        return self._control("POST", "/deliver", {"event": event, "payload": payload})

    def add_failed_deliveries(self, items) -> list:
        """Records deliveries the product never saw. items: {event, payload, status_code=502,
        delivered_at (ISO, optional), guid (optional)} or a list of them."""
        return self._control("POST", "/deliveries/failed", items)["recorded"]

    def deliveries(self) -> list:
        """The delivery log, oldest first, with request/response and `sent`."""
        return self._control("GET", "/deliveries")["deliveries"]

    def wait_deliveries(self, predicate, timeout: float = 10) -> list:
        """Polls the log until predicate(log) is true (redeliveries are asynchronous)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.deliveries()
            if predicate(log) or time.monotonic() > deadline:
                return log
            time.sleep(0.05)

    # -- pacing
    def set_secondary_limit(self, per_minute: int | None) -> dict:
        return self._control("POST", "/secondary-limit", {"per_minute": per_minute})

    def secondary_limit(self) -> dict:
        return self._control("GET", "/secondary-limit")

    def set_delay(self, path: str, seconds: float, *, method: str | None = None) -> dict:
        return self._control("POST", "/delay", {"method": method, "path": path,
                                                "seconds": seconds})

    def clear_delay(self) -> dict:
        return self._control("DELETE", "/delay")


def start_standin(app_id: str, public_key_path: str, *, token_ttl: int | None = None,
                  log: str | None = None, python: str = sys.executable):
    """Start standin.py on a free port; returns (Popen, StandIn).  Terminate the
    process when done."""
    cmd = [python, os.path.join(HERE, "standin.py"), "--port", "0", "--app-id", str(app_id),
           "--public-key", public_key_path]
    if token_ttl is not None:
        cmd += ["--token-ttl", str(token_ttl)]
    if log:
        cmd += ["--log", log]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("ready "):
        proc.kill()
        raise RuntimeError(f"stand-in did not start (got {line!r}, exit {proc.poll()})")
    return proc, StandIn(f"http://127.0.0.1:{int(line.split()[1])}")
