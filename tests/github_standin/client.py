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
        q = "?" + urllib.parse.urlencode({"repo": repo}) if repo else ""
        return self._control("GET", "/check-runs" + q)["check_runs"]

    def seed_check_runs(self, repo: str, count: int = 1, **fields) -> list:
        """Create runs directly (validated like the API); "{i}" in string fields is
        replaced by the run's index.  Returns the new ids."""
        return self._control("POST", "/check-runs", {"repo": repo, "count": count, **fields})["ids"]

    def expire_tokens(self) -> dict:
        return self._control("POST", "/tokens/expire")


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
