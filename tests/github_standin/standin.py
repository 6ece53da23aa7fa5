#!/usr/bin/env python3
"""Strict local stand-in for the parts of GitHub's REST API that Solstice CI uses.

    python3 standin.py --port N --app-id ID --public-key PATH [--token-ttl S] [--log FILE]

Prints ``ready`` (``ready PORT`` with ``--port 0``) on stdout once listening on
127.0.0.1.  See README.md for the endpoints, the control API under
``/_standin`` and exactly what is validated.  Dependencies: the standard
library plus ``cryptography`` (RS256 verification).
"""
from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import collections
import hashlib
import hmac
import http.client
import json
import math
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

API_VERSION = "2022-11-28"
DOCS = "https://docs.github.com/rest"
MAX_JSON_BODY = 1024 * 1024          # API bodies over this → 413
MAX_CONTROL_BODY = 32 * 1024 * 1024  # control API bodies (seeding files)
MAX_TEXT = 65535                     # output.summary / output.text
MAX_ANNOTATIONS_PER_REQUEST = 50
JWT_MAX_LIFETIME = 600               # exp - iat, seconds
CLOCK_DRIFT = 60                     # iat may be this far in the future
# Bounds of the in-memory store.
MAX_RUNS, MAX_ANNOTATIONS_PER_RUN, MAX_FILES, MAX_TOKENS, MAX_REQUESTS, MAX_FAULTS = (
    50_000, 10_000, 10_000, 10_000, 10_000, 1_000)
MAX_RECORDED_BODY = 256 * 1024        # larger bodies are recorded as {"_omitted_bytes": n}
# Ids above 2^32 catch clients that store GitHub ids in 32-bit integers.
RUN_ID_BASE, SUITE_ID_BASE, REPO_ID_BASE = 10_000_000_000, 20_000_000_000, 700_000_000
USER_ID_BASE, PULL_ID_BASE, DELIVERY_ID_BASE, COMMENT_ID_BASE = (
    40_000_000_000, 50_000_000_000, 60_000_000_000, 70_000_000_000)
HOOK_ID = 500_000_001                 # the App's one webhook (X-GitHub-Hook-ID)
MAX_PULLS, MAX_COMMITS, MAX_COLLABORATORS, MAX_USERS, MAX_DELIVERIES, MAX_DELAYS = (
    10_000, 10_000, 10_000, 10_000, 10_000, 100)
MAX_WEBHOOK_PAYLOAD = 1024 * 1024     # stored and sent webhook payloads
MAX_LOGGED_RESPONSE = 64 * 1024       # the product's answer kept in the delivery log
WEBHOOK_TIMEOUT = 10                  # GitHub gives up on a delivery after 10 s
SECONDARY_WINDOW = 60                 # seconds; the rolling window of the secondary limit
SECONDARY_MESSAGE = ("You have exceeded a secondary rate limit. Please wait a few minutes before "
                     "you try again. If you reach out to GitHub Support for help, please include "
                     "the request ID {rid}.")
SECONDARY_DOCS = ("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
                  "#about-secondary-rate-limits")

STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success",
               "skipped", "stale", "timed_out")
LEVELS = ("notice", "warning", "failure")
DEFAULT_PERMISSIONS = {"checks": "write", "contents": "read", "metadata": "read",
                       "pull_requests": "read"}
# Repository roles, and the legacy `permission` each maps to (maintain → write, triage → read).
ROLES = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read", "read": "read"}
AUTHOR_ASSOCIATIONS = ("COLLABORATOR", "CONTRIBUTOR", "FIRST_TIMER", "FIRST_TIME_CONTRIBUTOR",
                       "MANNEQUIN", "MEMBER", "NONE", "OWNER")
LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}(\[bot\])?$")
RAW_TYPES = ("application/vnd.github.raw", "application/vnd.github.raw+json",
             "application/vnd.github.v3.raw", "application/vnd.github.v3.raw+json")
SHA_RE = re.compile(r"^[0-9a-fA-F]{40}$")
SEG = r"[^/]+"


# --------------------------------------------------------------------------- helpers

class ApiError(Exception):
    """An error answered to the client as GitHub would (JSON body)."""

    def __init__(self, status: int, message: str, *, errors=None, headers=None, close=False,
                 docs=DOCS):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors
        self.headers, self.close, self.docs = headers or {}, close, docs

    def body(self) -> dict:
        out = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.docs
        out["status"] = str(self.status)
        return out


def now() -> float:
    return time.time()


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> float:
    """ISO 8601 date-time with a time zone (``Z`` or offset); returns epoch seconds."""
    if not re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$", value):
        raise ValueError(value)
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.timestamp()


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def b64url_decode(segment: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", segment):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def describe(value) -> str:
    """A JSON value as GitHub's validator quotes it (Ruby style)."""
    if value is None:
        return "nil"
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_public_key(path: str):
    data = open(path, "rb").read()
    try:
        key = serialization.load_pem_public_key(data)   # SPKI and PKCS#1 PEM
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the App key must be an RSA key")
    return key


# --------------------------------------------------------------------------- validation

class Validation:
    """Collects GitHub-style validation errors for one request body."""

    def __init__(self, resource="CheckRun"):
        self.resource, self.errors = resource, []

    def add(self, field: str, code: str, message: str):
        self.errors.append({"resource": self.resource, "field": field, "code": code,
                            "message": message})

    def string(self, obj: dict, key: str, field: str, *, required=False, nonempty=False,
               max_len=None) -> str | None:
        if key not in obj:
            if required:
                self.add(field, "missing_field", f'"{field}" wasn\'t supplied.')
            return None
        v = obj[key]
        if not isinstance(v, str):
            self.add(field, "invalid", f"For 'properties/{field}', {describe(v)} is not a string.")
            return None
        if nonempty and not v.strip():
            self.add(field, "invalid", f"For 'properties/{field}', \"\" must not be blank.")
            return None
        if max_len is not None and len(v) > max_len:
            self.add(field, "too_long", f"For 'properties/{field}', only {max_len} characters "
                     f"are allowed; {len(v)} were supplied.")
            return None
        return v

    def enum(self, obj: dict, key: str, field: str, allowed) -> str | None:
        v = self.string(obj, key, field)
        if v is not None and v not in allowed:
            self.add(field, "invalid", f"For 'properties/{field}', {describe(v)} is not one of "
                     f"{json.dumps(list(allowed))}.")
            return None
        return v

    def integer(self, obj: dict, key: str, field: str, *, required=False, minimum=None):
        if key not in obj:
            if required:
                self.add(field, "missing_field", f'"{field}" wasn\'t supplied.')
            return None
        v = obj[key]
        if not is_int(v):
            self.add(field, "invalid", f"For 'properties/{field}', {describe(v)} is not an integer.")
            return None
        if minimum is not None and v < minimum:
            self.add(field, "invalid", f"For 'properties/{field}', {v} is less than {minimum}.")
            return None
        return v

    def timestamp(self, obj: dict, key: str, field: str) -> float | None:
        v = self.string(obj, key, field)
        if v is None:
            return None
        try:
            return parse_iso(v)
        except ValueError:
            self.add(field, "invalid", f"For 'properties/{field}', {describe(v)} is not a valid "
                     "ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ).")
            return None

    def raise_if_any(self):
        if self.errors:
            raise ApiError(422, "Invalid request.", errors=self.errors)


def validate_annotation(val: Validation, ann, i: int) -> dict | None:
    f = f"output/annotations/{i}"
    if not isinstance(ann, dict):
        val.add(f, "invalid", f"For 'items', {describe(ann)} is not an object.")
        return None
    before = len(val.errors)
    out = {
        "path": val.string(ann, "path", f + "/path", required=True, nonempty=True),
        "start_line": val.integer(ann, "start_line", f + "/start_line", required=True, minimum=1),
        "end_line": val.integer(ann, "end_line", f + "/end_line", required=True, minimum=1),
        "start_column": val.integer(ann, "start_column", f + "/start_column", minimum=1),
        "end_column": val.integer(ann, "end_column", f + "/end_column", minimum=1),
        "annotation_level": val.enum(ann, "annotation_level", f + "/annotation_level", LEVELS),
        "message": val.string(ann, "message", f + "/message", required=True, max_len=65535),
        "title": val.string(ann, "title", f + "/title", max_len=255),
        "raw_details": val.string(ann, "raw_details", f + "/raw_details", max_len=65535),
    }
    if "annotation_level" not in ann:
        val.add(f + "/annotation_level", "missing_field",
                f'"{f}/annotation_level" wasn\'t supplied.')
    if out["start_line"] and out["end_line"] and out["end_line"] < out["start_line"]:
        val.add(f + "/end_line", "invalid", "end_line must not be before start_line.")
    if (out["start_column"] is not None or out["end_column"] is not None) and \
            out["start_line"] != out["end_line"]:
        val.add(f + "/start_column", "invalid",
                "start_column and end_column are only allowed when start_line equals end_line.")
    return out if len(val.errors) == before else None


def validate_check_run(body, *, creating: bool, existing: dict | None = None) -> dict:
    """Validates a create (POST) or update (PATCH) body; returns the normalized changes."""
    if not isinstance(body, dict):
        raise ApiError(422, "Invalid request.", errors=[{
            "resource": "CheckRun", "field": "", "code": "invalid",
            "message": f"For 'root', {describe(body)} is not an object."}])
    val = Validation()
    ch: dict = {}
    name = val.string(body, "name", "name", required=creating, nonempty=True)
    if name is not None:
        ch["name"] = name
    if creating:
        sha = val.string(body, "head_sha", "head_sha", required=True)
        if sha is not None and not SHA_RE.match(sha):
            val.add("head_sha", "invalid", f"For 'properties/head_sha', {describe(sha)} is not a "
                    "40-character hexadecimal commit SHA.")
        elif sha is not None:
            ch["head_sha"] = sha.lower()
    for key in ("details_url", "external_id"):
        v = val.string(body, key, key)
        if v is not None:
            ch[key] = v
    status = val.enum(body, "status", "status", STATUSES)
    allowed_conclusions = CONCLUSIONS if creating else tuple(c for c in CONCLUSIONS if c != "stale")
    conclusion = val.enum(body, "conclusion", "conclusion", allowed_conclusions)
    started = val.timestamp(body, "started_at", "started_at")
    completed = val.timestamp(body, "completed_at", "completed_at")
    if started is not None:
        ch["started_at"] = started
    if completed is not None:
        ch["completed_at"] = completed
    if status is not None:
        ch["status"] = status
    if conclusion is not None:
        ch["conclusion"] = conclusion
        ch["status"] = "completed"      # GitHub: a conclusion implies status completed
    has_conclusion = "conclusion" in body or bool(existing and existing.get("conclusion"))
    if status == "completed" and not has_conclusion:
        val.add("conclusion", "missing_field",
                '"conclusion" wasn\'t supplied; it is required when status is "completed".')
    if "completed_at" in body and not has_conclusion:
        val.add("conclusion", "missing_field",
                '"conclusion" wasn\'t supplied; it is required when completed_at is given.')

    if "output" in body:
        output = body["output"]
        if not isinstance(output, dict):
            val.add("output", "invalid", f"For 'properties/output', {describe(output)} is not an object.")
        else:
            out = {}
            for key in ("title", "summary"):
                v = val.string(output, key, "output/" + key, required=True,
                               max_len=MAX_TEXT if key == "summary" else None)
                if v is not None:
                    out[key] = v
            text = val.string(output, "text", "output/text", max_len=MAX_TEXT)
            if text is not None:
                out["text"] = text
            anns = output.get("annotations")
            out["annotations"] = []
            if "annotations" in output:
                if not isinstance(anns, list):
                    val.add("output/annotations", "invalid",
                            f"For 'properties/annotations', {describe(anns)} is not an array.")
                elif len(anns) > MAX_ANNOTATIONS_PER_REQUEST:
                    val.add("output/annotations", "too_long",
                            f"For 'properties/annotations', {len(anns)} items were supplied; "
                            f"the maximum is {MAX_ANNOTATIONS_PER_REQUEST} per request.")
                else:
                    for i, ann in enumerate(anns):
                        a = validate_annotation(val, ann, i)
                        if a is not None:
                            out["annotations"].append(a)
            if "images" in output:
                imgs = output["images"]
                if not isinstance(imgs, list):
                    val.add("output/images", "invalid", "For 'properties/images', not an array.")
                else:
                    for i, img in enumerate(imgs):
                        if not isinstance(img, dict):
                            val.add(f"output/images/{i}", "invalid", "image is not an object.")
                            continue
                        val.string(img, "alt", f"output/images/{i}/alt", required=True)
                        val.string(img, "image_url", f"output/images/{i}/image_url", required=True)
                        val.string(img, "caption", f"output/images/{i}/caption")
                    out["images"] = imgs
            ch["output"] = out
    if "actions" in body:
        acts = body["actions"]
        if not isinstance(acts, list) or len(acts) > 3:
            val.add("actions", "invalid", "actions must be an array of at most 3 objects.")
        else:
            for i, act in enumerate(acts):
                if not isinstance(act, dict):
                    val.add(f"actions/{i}", "invalid", "action is not an object.")
                    continue
                val.string(act, "label", f"actions/{i}/label", required=True, max_len=20)
                val.string(act, "description", f"actions/{i}/description", required=True, max_len=40)
                val.string(act, "identifier", f"actions/{i}/identifier", required=True, max_len=20)
            ch["actions"] = acts
    val.raise_if_any()
    return ch


# --------------------------------------------------------------------------- state

class State:
    """Everything the stand-in remembers; one lock guards it all."""

    def __init__(self, app_id: str, public_key, token_ttl: int):
        self.app_id, self.public_key, self.token_ttl = app_id, public_key, token_ttl
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        with self.lock:
            self.installations: dict[str, int] = {}   # repo key (lower) → installation id
            self.repo_names: dict[str, str] = {}      # repo key → "Owner/Repo" as given
            self.repo_ids: dict[str, int] = {}
            self.repo_by_id: dict[int, str] = {}
            self.files: dict[tuple, bytes] = {}       # (repo key, ref or "", path) → bytes
            self.tokens: dict[str, dict] = {}
            self.runs: dict[int, dict] = {}
            self.suites: dict[tuple, int] = {}
            self.faults: list[dict] = []
            self.requests: list[dict] = []
            self.rate: dict[str, dict] = {}
            self.next_run = RUN_ID_BASE + 1
            self.next_seq = 1
            # v2: trust and approval
            self.private: set[str] = set()                # repo keys of private repositories
            self.collaborators: dict[tuple, str] = {}     # (repo key, login lower) → role
            self.users: dict[str, dict] = {}              # login lower → {"login", "id"}
            self.pulls: dict[tuple, dict] = {}            # (repo key, number) → pull request
            self.pull_index: dict | None = None           # (repo key, sha) → same-repo open PRs
            self.commits: dict[tuple, dict] = {}          # (repo key, sha) → commit
            self.next_comment = COMMENT_ID_BASE + 1
            # v2: webhooks sent to the product, and the App's delivery log
            self.webhook: dict | None = None              # {"url", "secret"}
            self.deliveries: list[dict] = []              # oldest first, at most MAX_DELIVERIES
            self.next_delivery = DELIVERY_ID_BASE + 1
            # v2: pacing
            self.secondary = {"per_minute": None, "refused": 0, "by_installation": {}}
            self.windows: dict[int, collections.deque] = {}
            self.delays: list[dict] = []

    # -- repositories
    def repo_key(self, owner: str, repo: str) -> str:
        return f"{owner}/{repo}".lower()

    def repo_id(self, key: str) -> int:
        with self.lock:
            if key not in self.repo_ids:
                rid = REPO_ID_BASE + len(self.repo_ids) + 1
                self.repo_ids[key], self.repo_by_id[rid] = rid, key
            return self.repo_ids[key]

    def display(self, key: str) -> str:
        return self.repo_names.get(key, key)

    # -- users: every login the stand-in hears of gets a stable id
    def user(self, login: str) -> dict:
        with self.lock:
            u = self.users.get(login.lower())
            if u is None:
                if len(self.users) >= MAX_USERS:
                    return {"login": login, "id": USER_ID_BASE}
                u = self.users[login.lower()] = {"login": login,
                                                 "id": USER_ID_BASE + len(self.users) + 1}
            return u

    def user_json(self, login: str) -> dict:
        u = self.user(login)
        bot = u["login"].endswith("[bot]")
        return {"login": u["login"], "id": u["id"],
                "node_id": base64.b64encode(f"U_{u['id']}".encode()).decode(),
                "avatar_url": f"https://avatars.githubusercontent.com/u/{u['id']}?v=4",
                "url": f"https://api.github.com/users/{u['login']}",
                "html_url": f"https://github.com/{u['login']}",
                "type": "Bot" if bot else "User", "site_admin": False}

    def repo_json(self, key: str, base: str) -> dict:
        """The repository object of webhook payloads and pull requests."""
        name = self.display(key)
        owner = name.split("/")[0]
        return {"id": self.repo_id(key),
                "node_id": base64.b64encode(f"R_{self.repo_id(key)}".encode()).decode(),
                "name": name.split("/", 1)[1], "full_name": name, "private": key in self.private,
                "owner": self.user_json(owner), "html_url": f"https://github.com/{name}",
                "url": f"{base}/repos/{name}", "fork": False,
                "clone_url": f"https://github.com/{name}.git",
                "ssh_url": f"git@github.com:{name}.git", "git_url": f"git://github.com/{name}.git",
                "default_branch": "main"}

    # -- secondary rate limit: content-creating requests per installation per rolling minute
    def secondary_check(self, installation: int) -> int | None:
        """Counts one write; returns None if allowed, else the seconds until the window frees."""
        with self.lock:
            limit = self.secondary["per_minute"]
            if not limit:
                return None
            t = now()
            window = self.windows.setdefault(installation, collections.deque())
            while window and window[0] <= t - SECONDARY_WINDOW:
                window.popleft()
            if len(window) >= limit:
                self.secondary["refused"] += 1
                key = str(installation)
                self.secondary["by_installation"][key] = \
                    self.secondary["by_installation"].get(key, 0) + 1
                return max(1, math.ceil(window[0] + SECONDARY_WINDOW - t))
            window.append(t)
            return None

    def standing_delay(self, method: str, path: str) -> float:
        with self.lock:
            return max((d["seconds"] for d in self.delays
                        if (d["method"] is None or d["method"] == method) and d["regex"].search(path)),
                       default=0)

    # -- the delivery log
    def add_delivery(self, entry: dict) -> dict:
        with self.lock:
            entry["id"] = self.next_delivery
            self.next_delivery += 1
            self.deliveries.append(entry)
            del self.deliveries[:-MAX_DELIVERIES]
            return entry

    # -- rate limits: reported on every response, never enforced (use faults for that)
    def rate_headers(self, key: str) -> dict:
        limit = 60 if key == "anon" else 5000
        with self.lock:
            t = now()
            entry = self.rate.get(key)
            if entry is None or entry["reset"] <= t:
                entry = self.rate[key] = {"reset": int(t) + 3600, "used": 0}
            entry["used"] += 1
            used, reset = entry["used"], entry["reset"]
        return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, limit - used)),
                "x-ratelimit-reset": str(reset), "x-ratelimit-used": str(used),
                "x-ratelimit-resource": "core"}

    # -- faults
    def take_fault(self, method: str, path: str) -> dict | None:
        with self.lock:
            for f in self.faults:
                if (f["method"] is None or f["method"] == method) and f["regex"].search(path):
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                    return dict(f)
        return None

    # -- tokens
    def issue_token(self, installation: int, permissions: dict, repos: list | None) -> dict:
        with self.lock:
            if len(self.tokens) >= MAX_TOKENS:   # forget expired ones first, then the oldest
                for k in [k for k, v in self.tokens.items() if v["expires"] <= now()]:
                    del self.tokens[k]
                while len(self.tokens) >= MAX_TOKENS:
                    del self.tokens[next(iter(self.tokens))]
            token = "ghs_" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                                     for _ in range(36))
            info = {"installation": installation, "expires": now() + self.token_ttl,
                    "permissions": permissions, "repos": repos}
            self.tokens[token] = info
            return {"token": token, **info}

    # -- check runs
    def suite_id(self, key: str, sha: str) -> int:
        with self.lock:
            return self.suites.setdefault((key, sha), SUITE_ID_BASE + len(self.suites) + 1)

    def create_run(self, key: str, ch: dict) -> dict:
        with self.lock:
            if len(self.runs) >= MAX_RUNS:
                raise ApiError(507, f"stand-in store is full ({MAX_RUNS} check runs); "
                               "POST /_standin/reset")
            rid = self.next_run
            self.next_run += 1
            t = now()
            run = {"id": rid, "repo": key, "name": ch["name"], "head_sha": ch["head_sha"],
                   "external_id": ch.get("external_id", ""), "details_url": ch.get("details_url"),
                   "status": ch.get("status", "queued"), "conclusion": ch.get("conclusion"),
                   "started_at": ch.get("started_at", t), "completed_at": ch.get("completed_at"),
                   "output": {"title": None, "summary": None, "text": None}, "annotations": [],
                   "images": [], "actions": ch.get("actions", []), "created": t,
                   "app_id": ch.get("app_id")}   # None: our App; else a run of another App
            self._apply_output(run, ch)
            if run["status"] == "completed" and run["completed_at"] is None:
                run["completed_at"] = t
            self.runs[rid] = run
            return run

    def update_run(self, run: dict, ch: dict):
        with self.lock:
            adding = len((ch.get("output") or {}).get("annotations", []))
            if len(run["annotations"]) + adding > MAX_ANNOTATIONS_PER_RUN:
                self._apply_output(run, ch)   # raises the 422 before anything changes
            for k in ("name", "details_url", "external_id", "started_at", "completed_at",
                      "conclusion"):
                if k in ch:
                    run[k] = ch[k]
            # Buttons last only as long as the update that set them: a PATCH without
            # "actions" removes them (the approval run drops "Approve and run" this way).
            run["actions"] = ch.get("actions", [])
            if "status" in ch:
                run["status"] = ch["status"]
                if ch["status"] != "completed" and "conclusion" not in ch:
                    run["conclusion"], run["completed_at"] = None, None
            if run["status"] == "completed" and run["completed_at"] is None:
                run["completed_at"] = now()
            self._apply_output(run, ch)

    def _apply_output(self, run: dict, ch: dict):
        out = ch.get("output")
        if not out:
            return
        for k in ("title", "summary", "text"):
            if k in out:
                run["output"][k] = out[k]
        if len(run["annotations"]) + len(out["annotations"]) > MAX_ANNOTATIONS_PER_RUN:
            raise ApiError(422, "Invalid request.", errors=[{
                "resource": "CheckRun", "field": "output/annotations", "code": "too_long",
                "message": f"stand-in keeps at most {MAX_ANNOTATIONS_PER_RUN} annotations per run"}])
        run["annotations"].extend(out["annotations"])
        if "images" in out:
            run["images"] = out["images"]

    def run_json(self, run: dict, base: str, *, with_annotations=False) -> dict:
        key = run["repo"]
        name = self.display(key)
        api = f"{base}/repos/{name}/check-runs/{run['id']}"
        obj = {
            "id": run["id"], "node_id": base64.b64encode(f"CR_{run['id']}".encode()).decode(),
            "head_sha": run["head_sha"], "external_id": run["external_id"], "url": api,
            "html_url": f"https://github.com/{name}/runs/{run['id']}",
            "details_url": run["details_url"], "status": run["status"],
            "conclusion": run["conclusion"], "started_at": iso(run["started_at"]),
            "completed_at": iso(run["completed_at"]),
            "output": {"title": run["output"]["title"], "summary": run["output"]["summary"],
                       "text": run["output"]["text"], "annotations_count": len(run["annotations"]),
                       "annotations_url": api + "/annotations"},
            "name": run["name"], "check_suite": {"id": self.suite_id(key, run["head_sha"])},
            "app": self.app_json(run.get("app_id"), name.split("/")[0]),
            "pull_requests": [self.pull_ref_json(pr, base)
                              for pr in self.pulls_for_sha(key, run["head_sha"])],
        }
        if run["images"]:
            obj["output"]["images"] = run["images"]
        if with_annotations:
            obj["repository"] = name
            obj["annotations"] = [annotation_json(a, name, run["head_sha"]) for a in run["annotations"]]
            obj["actions"] = run["actions"]
            obj["app_id"] = obj["app"]["id"]
        return obj

    def our_app_id(self):
        return int(self.app_id) if self.app_id.isdigit() else self.app_id

    def is_ours(self, run: dict) -> bool:
        return run.get("app_id") is None or str(run["app_id"]) == str(self.app_id)

    def app_json(self, app_id, owner: str) -> dict:
        if app_id is None or str(app_id) == str(self.app_id):
            return {"id": self.our_app_id(), "slug": "solstice-ci-standin",
                    "name": "Solstice CI (stand-in)", "owner": {"login": owner}}
        return {"id": app_id, "slug": f"other-app-{app_id}", "name": f"Other App {app_id}",
                "owner": {"login": "other-app-owner"}}

    # -- pull requests
    def pulls_for_sha(self, key: str, sha: str) -> list:
        """Open pull requests of this repository whose head branch lives in the same repository
        and has (or had) this head SHA. GitHub leaves pull requests from forks out of
        check_run/check_suite.pull_requests ("the pull_requests array will be empty")."""
        with self.lock:
            if self.pull_index is None:   # rebuilt after a change; listings ask once per run
                index: dict[tuple, list] = {}
                for (k, _), pr in sorted(self.pulls.items()):
                    if pr["state"] == "open" and pr["head_repo"] == k:
                        for s in pr["shas"]:
                            index.setdefault((k, s), []).append(pr)
                self.pull_index = index
            return list(self.pull_index.get((key, sha), []))

    def pull_ref_json(self, pr: dict, base: str) -> dict:
        """The short pull-request form of check_run.pull_requests."""
        def side(repo_key, ref, sha):
            name = self.display(repo_key)
            return {"ref": ref, "sha": sha, "repo": {"id": self.repo_id(repo_key),
                                                      "url": f"{base}/repos/{name}",
                                                      "name": name.split("/", 1)[1]}}
        return {"url": f"{base}/repos/{self.display(pr['repo'])}/pulls/{pr['number']}",
                "id": pr["id"], "number": pr["number"],
                "head": side(pr["head_repo"], pr["head_ref"], pr["head_sha"]),
                "base": side(pr["repo"], pr["base_ref"], pr["base_sha"])}

    def pull_json(self, pr: dict, base: str) -> dict:
        """The pull-request object of GET /repos/{o}/{r}/pulls/{n} and of webhook payloads."""
        name = self.display(pr["repo"])
        api = f"{base}/repos/{name}/pulls/{pr['number']}"
        html = f"https://github.com/{name}/pull/{pr['number']}"
        user = self.user_json(pr["user"])

        def side(repo_key, ref, sha):
            repo = self.repo_json(repo_key, base) if repo_key is not None else None
            owner = self.display(repo_key).split("/")[0] if repo_key is not None else "ghost"
            return {"label": f"{owner}:{ref}", "ref": ref, "sha": sha,
                    "user": self.user_json(owner), "repo": repo}
        return {"url": api, "id": pr["id"],
                "node_id": base64.b64encode(f"PR_{pr['id']}".encode()).decode(),
                "html_url": html, "diff_url": html + ".diff", "patch_url": html + ".patch",
                "issue_url": f"{base}/repos/{name}/issues/{pr['number']}",
                "number": pr["number"], "state": pr["state"], "locked": False,
                "title": pr["title"], "user": user, "body": pr["body"],
                "labels": [{"id": 900_000_000 + i, "name": lab, "color": "ededed",
                            "default": False, "description": None}
                           for i, lab in enumerate(pr["labels"])],
                "created_at": iso(pr["created"]), "updated_at": iso(pr["updated"]),
                "closed_at": iso(pr["updated"]) if pr["state"] == "closed" else None,
                "merged_at": None, "merge_commit_sha": None, "draft": pr["draft"],
                "head": side(pr["head_repo"], pr["head_ref"], pr["head_sha"]),
                "base": side(pr["repo"], pr["base_ref"], pr["base_sha"]),
                "author_association": pr["author_association"], "merged": False,
                "mergeable": None, "comments_url": f"{base}/repos/{name}/issues/{pr['number']}/comments",
                "statuses_url": f"{base}/repos/{name}/statuses/{pr['head_sha']}"}


def annotation_json(a: dict, repo_name: str, sha: str) -> dict:
    return {"path": a["path"], "blob_href": f"https://github.com/{repo_name}/blob/{sha}/{a['path']}",
            "start_line": a["start_line"], "end_line": a["end_line"],
            "start_column": a["start_column"], "end_column": a["end_column"],
            "annotation_level": a["annotation_level"], "title": a["title"],
            "message": a["message"], "raw_details": a["raw_details"]}


def paginate(items: list, query: dict, link_base: str, pairs: list):
    """GitHub-style page/per_page slicing; returns (page items, Link header or None)."""
    def as_int(name, default):
        try:
            v = int(query.get(name, default))
        except (TypeError, ValueError):
            return default
        return v if v >= 1 else default
    per_page = min(as_int("per_page", 30), 100)
    page = as_int("page", 1)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page: page * per_page]

    def url(p):
        q = [(k, v) for k, v in pairs if k != "page"] + [("page", str(p))]
        return f"<{link_base}?{urllib.parse.urlencode(q)}>"
    links = []
    if page > 1:
        links.append(f'{url(page - 1)}; rel="prev"')
    if page < last:
        links.append(f'{url(page + 1)}; rel="next"')
        links.append(f'{url(last)}; rel="last"')
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
    return chunk, (", ".join(links) if links else None)


# --------------------------------------------------------------------------- HTTP handler

def auth_kind(header: str | None) -> str | None:
    """Authorization reduced to scheme + kind, never the secret."""
    if not header:
        return None
    scheme, _, cred = header.strip().partition(" ")
    cred = cred.strip()
    if cred.count(".") == 2:
        kind = "jwt"
    elif cred.startswith("ghs_"):
        kind = "installation-token"
    elif not cred:
        kind = "empty"
    else:
        kind = "other"
    return f"{scheme} {kind}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"   # errors on garbage request lines get a status line
    timeout = 60
    state: State = None   # set by serve()
    log_file = None
    log_lock = threading.Lock()

    # Every method (including unknown ones) goes through _handle.
    def __getattr__(self, name):
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)

    def setup(self):
        super().setup()
        # Headers and body leave in two writes; without TCP_NODELAY, Nagle holds the body until the client's delayed
        # ACK (~40 ms) on every reused keep-alive connection, which made each API call look 40 ms slow.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return "github.com"

    def log_message(self, fmt, *args):   # silence http.server's stderr logging
        pass

    def send_error(self, code, message=None, explain=None):
        """Malformed request lines/headers: answer JSON instead of HTML."""
        self.close_connection = True
        body = json.dumps({"message": message or HTTPStatus(code).phrase,
                           "documentation_url": DOCS, "status": str(code)}).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:
            pass

    # -- plumbing
    def _base(self) -> str:
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        return f"http://{host}"

    def _send(self, status: int, body: bytes, ctype="application/json; charset=utf-8",
              headers: dict | None = None):
        self._status = status
        if self._record is not None:
            # Recorded before the answer leaves: a client that reads /_standin/requests right after its response
            # must see the status (with TCP_NODELAY the answer can arrive before this thread runs on).
            self._record["status"] = status
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _json(self, status: int, obj, headers=None):
        self._send(status, json.dumps(obj, indent=None).encode(), headers=headers)

    def _read_body(self, limit: int) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.close_connection = True
                    raise ApiError(400, "Malformed chunked body", close=True)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > limit:
                    self.close_connection = True
                    raise ApiError(413, "Request body too large", close=True)
                data += self.rfile.read(size)
                self.rfile.readline(16)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        try:
            n = int(cl)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "Invalid Content-Length header", close=True)
        if n > limit:
            # Drain a moderately large body so the client sees the 413 instead of a
            # broken pipe; the connection is closed afterwards either way.
            remaining = n if n <= 64 * 1024 * 1024 else 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
            self.close_connection = True
            raise ApiError(413, f"Request body too large (limit {limit} bytes)", close=True)
        return self.rfile.read(n) if n else b""

    @staticmethod
    def _parse_json(raw: bytes, *, empty_ok=True):
        if not raw.strip():
            if empty_ok:
                return {}
            raise ApiError(400, "Problems parsing JSON")
        try:
            def bad_constant(c):
                raise ValueError(c)
            return json.loads(raw.decode("utf-8"), parse_constant=bad_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(400, "Problems parsing JSON")

    def _handle(self):
        self._status, self._fault, self._record = None, False, None
        started = time.monotonic()
        try:
            split = urllib.parse.urlsplit(self.path)
            path = split.path or "/"
            pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
            if path == "/_standin" or path.startswith("/_standin/"):
                self._control(path, pairs)
            else:
                self._api(path, split.query, pairs)
        except OSError:
            self.close_connection = True
        finally:
            if self.log_file is not None and not (self.path or "").startswith("/_standin"):
                ms = (time.monotonic() - started) * 1000
                line = (f"{iso(now())} {self.command} {self.path} {self._status} {ms:.1f}ms"
                        f"{' fault' if self._fault else ''}\n")
                with self.log_lock:
                    self.log_file.write(line)
                    self.log_file.flush()

    # -- the API
    def _api(self, path: str, query: str, pairs: list):
        st = self.state
        method = self.command
        h = self.headers
        auth = h.get("Authorization")
        record = {"method": method, "path": path, "query": query_dict(pairs),
                  "headers": {"accept": h.get("Accept"), "user-agent": h.get("User-Agent"),
                              "x-github-api-version": h.get("X-GitHub-Api-Version"),
                              "content-type": h.get("Content-Type"),
                              "authorization": auth_kind(auth)},
                  "body": None, "status": None, "fault": False, "time": None}
        with st.lock:
            record["seq"], st.next_seq = st.next_seq, st.next_seq + 1
            record["time"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            st.requests.append(record)
            del st.requests[:-MAX_REQUESTS]
        self._record = record
        rate = st.rate_headers(self._rate_key(auth))
        common = {**rate, "x-github-api-version-selected": API_VERSION,
                  "x-github-request-id": secrets.token_hex(8).upper(),
                  "x-github-media-type": "github.v3; format=json"}
        try:
            try:
                raw = self._read_body(MAX_JSON_BODY)
                if len(raw) > MAX_RECORDED_BODY:
                    record["body"] = {"_omitted_bytes": len(raw)}
                elif raw:
                    try:
                        record["body"] = json.loads(raw.decode("utf-8"))
                    except (UnicodeDecodeError, ValueError, RecursionError):
                        record["body"] = {"_unparsed_bytes": len(raw)}
                standing = st.standing_delay(method, path)
                if standing:
                    time.sleep(standing)
                fault = st.take_fault(method, path)
                if fault is not None:
                    if fault["delay"]:
                        time.sleep(fault["delay"])
                    if fault["status"] is not None:
                        self._fault = record["fault"] = True
                        return self._answer_fault(fault, common, auth)
                self._check_headers()
                self._route(method, path, pairs, raw, auth, common)
            except ApiError as e:
                if e.close:
                    self.close_connection = True
                self._json(e.status, e.body(), headers={**common, **e.headers})
            except Exception:
                traceback.print_exc(file=sys.stderr)
                self._json(500, {"message": "stand-in internal error (see its stderr)",
                                 "documentation_url": DOCS, "status": "500"}, headers=common)
        finally:
            record["status"] = self._status

    def _rate_key(self, auth: str | None) -> str:
        if not auth:
            return "anon"
        cred = auth.strip().partition(" ")[2].strip()
        info = self.state.tokens.get(cred)
        if info is not None:
            return f"installation:{info['installation']}"
        return "app" if cred.count(".") == 2 else "anon"

    def _answer_fault(self, fault: dict, common: dict, auth):
        status, headers = fault["status"], {**common, **fault["headers"]}
        body = fault["body"]
        if body is None and status in (403, 429):
            if str(fault["headers"].get("x-ratelimit-remaining", "")).strip() == "0":
                key = self._rate_key(auth)
                who = f" for installation ID {key.split(':')[1]}" if key.startswith("installation:") else ""
                body = {"message": f"API rate limit exceeded{who}. If you reach out to GitHub "
                        "Support for help, please include the request ID "
                        f"{common['x-github-request-id']}.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}
            else:
                body = {"message": "You have exceeded a secondary rate limit. Please wait a few "
                        "minutes before you try again. If you reach out to GitHub Support for "
                        "help, please include the request ID "
                        f"{common['x-github-request-id']}.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}
        elif body is None:
            phrase = {401: "Bad credentials", 404: "Not Found", 500: "Server Error"}.get(status)
            try:
                phrase = phrase or HTTPStatus(status).phrase
            except ValueError:
                phrase = phrase or "Error"
            body = {"message": phrase, "documentation_url": DOCS, "status": str(status)}
        if isinstance(body, str):
            return self._send(status, body.encode(), "text/html; charset=utf-8", headers)
        return self._json(status, body, headers)

    def _check_headers(self):
        h = self.headers
        if not (h.get("User-Agent") or "").strip():
            raise ApiError(403, "Request forbidden by administrative rules. Please make sure "
                           "your request has a User-Agent header (https://docs.github.com/"
                           "rest/overview/resources-in-the-rest-api#user-agent-required).")
        version = h.get("X-GitHub-Api-Version")
        if version is None or not version.strip():
            raise ApiError(400, "Missing X-GitHub-Api-Version header; the stand-in requires "
                           f"X-GitHub-Api-Version: {API_VERSION} on every request.")
        if version.strip() != API_VERSION:
            raise ApiError(400, f"API version {version.strip()} is not supported "
                           f"(the stand-in only accepts {API_VERSION}).")
        if not (h.get("Accept") or "").strip():
            raise ApiError(400, "Missing Accept header; the stand-in requires one "
                           "(e.g. application/vnd.github+json).")

    ROUTES = [
        ("GET", rf"^/app$", "get_app", "jwt"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/installation$", "get_installation", "jwt"),
        ("POST", rf"^/app/installations/(?P<iid>\d+)/access_tokens$", "create_token", "jwt"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/contents/(?P<fpath>.+)$", "get_contents", "token"),
        ("POST", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/check-runs$", "create_run", "token"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/check-runs/(?P<rid>\d+)$", "get_run", "token"),
        ("PATCH", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/check-runs/(?P<rid>\d+)$", "update_run", "token"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/check-runs/(?P<rid>\d+)/annotations$", "list_annotations", "token"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/commits/(?P<ref>{SEG})/check-runs$", "list_runs", "token"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/commits/(?P<ref>{SEG})$", "get_commit", "token"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/collaborators/(?P<username>{SEG})/permission$",
         "get_permission", "token"),
        ("GET", rf"^/repos/(?P<owner>{SEG})/(?P<repo>{SEG})/pulls/(?P<number>\d+)$", "get_pull", "token"),
        ("GET", r"^/app/hook/deliveries$", "list_deliveries", "jwt"),
        ("GET", r"^/app/hook/deliveries/(?P<did>\d+)$", "get_delivery", "jwt"),
        ("POST", r"^/app/hook/deliveries/(?P<did>\d+)/attempts$", "redeliver", "jwt"),
    ]
    WRITES = ("POST", "PATCH", "PUT", "DELETE")
    COMPILED = [(m, re.compile(r), fn, a) for m, r, fn, a in ROUTES]

    def _route(self, method, path, pairs, raw, auth, common):
        st = self.state
        m = re.match(r"^/repositories/(\d+)(/.*)$", path)
        if m:   # GitHub's Link headers use /repositories/{id}/...
            key = st.repo_by_id.get(int(m.group(1)))
            if key is None:
                raise ApiError(404, "Not Found")
            path = f"/repos/{st.display(key)}{m.group(2)}"
        lookup = "GET" if method == "HEAD" else method
        for meth, rx, fn, kind in self.COMPILED:
            mm = rx.match(path)
            if mm and meth == lookup:
                args = {k: urllib.parse.unquote(v) for k, v in mm.groupdict().items()}
                cred = self._authenticate(kind, auth)
                if cred["kind"] == "token" and method in self.WRITES:
                    retry = st.secondary_check(cred["installation"])
                    if retry is not None:
                        raise ApiError(403, SECONDARY_MESSAGE.format(rid=common["x-github-request-id"]),
                                       headers={"retry-after": str(retry)}, docs=SECONDARY_DOCS)
                body = self._parse_json(raw) if method in ("POST", "PATCH", "PUT") else None
                ctx = {"cred": cred, "query": query_dict(pairs), "pairs": pairs,
                       "common": common, "body": body, "path": path}
                return getattr(self, "api_" + fn)(ctx, **args)
        raise ApiError(404, "Not Found")

    # -- authentication
    def _authenticate(self, kind: str, auth: str | None) -> dict:
        if not auth or not auth.strip():
            raise ApiError(401, "Requires authentication")
        scheme, _, cred = auth.strip().partition(" ")
        scheme, cred = scheme.lower(), cred.strip()
        if kind == "jwt":
            if scheme != "bearer":
                raise ApiError(401, "A JSON web token could not be decoded: an App JWT must be "
                               "sent as 'Authorization: Bearer <jwt>'.")
            return {"kind": "jwt", "claims": self._verify_jwt(cred)}
        if scheme not in ("token", "bearer"):
            raise ApiError(401, "Bad credentials")
        if cred.count(".") == 2:
            raise ApiError(403, "A JSON web token cannot be used to access this endpoint; use an "
                           "installation access token (POST /app/installations/{id}/access_tokens).")
        with self.state.lock:
            info = self.state.tokens.get(cred)
            if info is None or info["expires"] <= now():
                raise ApiError(401, "Bad credentials")
            return {"kind": "token", **info}

    def _verify_jwt(self, token: str) -> dict:
        def fail(msg):
            raise ApiError(401, msg)
        parts = token.split(".")
        if len(parts) != 3:
            fail("A JSON web token could not be decoded")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
            fail("A JSON web token could not be decoded")
        if not isinstance(header, dict) or not isinstance(claims, dict):
            fail("A JSON web token could not be decoded")
        if header.get("alg") != "RS256":
            fail(f"A JSON web token could not be decoded: the 'alg' header must be RS256 "
                 f"(got {describe(header.get('alg'))}).")
        iss = claims.get("iss")
        if not ((is_int(iss) or isinstance(iss, str)) and str(iss) == self.state.app_id):
            fail(f"'Issuer' claim ('iss') must be the App ID {self.state.app_id} "
                 f"(got {describe(iss)}).")
        try:
            self.state.public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"),
                                         padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            fail("A JSON web token could not be decoded: the signature does not verify with "
                 "the App's public key.")
        t = int(now())
        iat, exp = claims.get("iat"), claims.get("exp")
        if not is_int(iat):
            fail("'Issued at' claim ('iat') must be an Integer representing the time that the "
                 "assertion was issued.")
        if iat > t + CLOCK_DRIFT:
            fail(f"'Issued at' claim ('iat') must be an Integer representing a time in the past "
                 f"(it is {iat - t} s in the future; {CLOCK_DRIFT} s of drift are allowed).")
        if not (is_int(exp) or isinstance(exp, float)):
            fail("'Expiration time' claim ('exp') must be a numeric value representing the "
                 "future time at which the assertion expires.")
        if exp <= iat:
            fail("'Expiration time' claim ('exp') must be after the 'Issued at' claim ('iat').")
        if exp - iat > JWT_MAX_LIFETIME or exp > t + JWT_MAX_LIFETIME + CLOCK_DRIFT:
            fail("'Expiration time' claim ('exp') is too far in the future "
                 f"(at most {JWT_MAX_LIFETIME} s after 'iat').")
        if exp <= t:
            fail("'Expiration time' claim ('exp') must be a numeric value representing the "
                 f"future time at which the assertion expires (it expired {t - int(exp)} s ago).")
        return claims

    def _repo_access(self, ctx, owner, repo, permission: str, write: bool) -> str:
        """Token scoping: the repository must belong to the token's installation."""
        st, cred = self.state, ctx["cred"]
        key = st.repo_key(owner, repo)
        with st.lock:
            inst = st.installations.get(key)
        if inst is None:
            raise ApiError(404, "Not Found")
        if inst != cred["installation"] or (cred["repos"] is not None and key not in cred["repos"]):
            # Another installation's repository: reads look absent, writes are refused.
            if write:
                raise ApiError(403, "Resource not accessible by integration")
            raise ApiError(404, "Not Found")
        granted = cred["permissions"].get(permission)
        if granted is None or (write and granted != "write"):
            raise ApiError(403, "Resource not accessible by integration")
        return key

    # -- endpoints
    def api_get_app(self, ctx):
        self._json(200, {"id": int(self.state.app_id) if self.state.app_id.isdigit() else self.state.app_id,
                         "slug": "solstice-ci-standin", "name": "Solstice CI (stand-in)",
                         "permissions": DEFAULT_PERMISSIONS, "events": ["check_run", "check_suite",
                                                                        "push", "pull_request",
                                                                        "issue_comment"]},
                   ctx["common"])

    def api_get_installation(self, ctx, owner, repo):
        st = self.state
        key = st.repo_key(owner, repo)
        with st.lock:
            iid = st.installations.get(key)
        if iid is None:
            raise ApiError(404, "Not Found")
        self._json(200, self._installation_json(iid, st.display(key).split("/")[0]), ctx["common"])

    def _installation_json(self, iid: int, login: str) -> dict:
        base = self._base()
        return {"id": iid, "account": {"login": login, "type": "Organization"},
                "app_id": int(self.state.app_id) if self.state.app_id.isdigit() else self.state.app_id,
                "app_slug": "solstice-ci-standin", "target_type": "Organization",
                "repository_selection": "selected",
                "access_tokens_url": f"{base}/app/installations/{iid}/access_tokens",
                "repositories_url": f"{base}/installation/repositories",
                "html_url": f"https://github.com/organizations/{login}/settings/installations/{iid}",
                "permissions": DEFAULT_PERMISSIONS, "events": ["check_run", "check_suite", "push",
                                                               "pull_request", "issue_comment"],
                "created_at": iso(now()), "updated_at": iso(now()), "single_file_name": None,
                "suspended_at": None, "suspended_by": None}

    def api_create_token(self, ctx, iid):
        st, body = self.state, ctx["body"]
        iid = int(iid)
        with st.lock:
            repos = sorted(k for k, v in st.installations.items() if v == iid)
        if not repos:
            raise ApiError(404, "Not Found")
        if not isinstance(body, dict):
            raise ApiError(422, "Invalid request.", errors=["Body must be a JSON object."])
        val = Validation("InstallationToken")
        perms = dict(DEFAULT_PERMISSIONS)
        if "permissions" in body:
            req = body["permissions"]
            if not isinstance(req, dict) or not all(isinstance(v, str) for v in req.values()):
                val.add("permissions", "invalid", "permissions must be an object of strings.")
            else:
                for name, level in req.items():
                    have = DEFAULT_PERMISSIONS.get(name)
                    if level not in ("read", "write") or have is None or \
                            (level == "write" and have != "write"):
                        raise ApiError(422, "The permissions requested are not granted to this "
                                       "installation.")
                perms = dict(req)
        selected = None
        if "repositories" in body:
            names = body["repositories"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                val.add("repositories", "invalid", "repositories must be an array of names.")
            else:
                by_name = {k.split("/", 1)[1]: k for k in repos}
                missing = [n for n in names if n.lower() not in by_name]
                if missing:
                    raise ApiError(422, f"There is at least one repository that does not exist "
                                   f"or is not accessible to the parent installation: {missing}.")
                selected = [by_name[n.lower()] for n in names]
        if "repository_ids" in body:
            ids = body["repository_ids"]
            if not isinstance(ids, list) or not all(is_int(i) for i in ids):
                val.add("repository_ids", "invalid", "repository_ids must be an array of integers.")
            else:
                keys = [st.repo_by_id.get(i) for i in ids]
                if any(k not in repos for k in keys):
                    raise ApiError(422, "There is at least one repository that does not exist or "
                                   "is not accessible to the parent installation.")
                selected = sorted(set((selected or []) + keys))
        val.raise_if_any()
        tok = st.issue_token(iid, perms, selected)
        out = {"token": tok["token"], "expires_at": iso(tok["expires"]), "permissions": perms,
               "repository_selection": "selected"}
        if selected is not None:
            out["repositories"] = [{"id": st.repo_id(k), "name": st.display(k).split("/")[1],
                                    "full_name": st.display(k)} for k in selected]
        self._json(201, out, ctx["common"])

    def api_get_contents(self, ctx, owner, repo, fpath):
        st = self.state
        key = self._repo_access(ctx, owner, repo, "contents", write=False)
        ref = ctx["query"].get("ref") or ""
        fpath = fpath.strip("/")
        with st.lock:
            data = st.files.get((key, ref, fpath))
        if data is None:
            raise ApiError(404, "Not Found")
        accept = [p.split(";")[0].strip().lower() for p in (self.headers.get("Accept") or "").split(",")]
        blob_sha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        headers = {**ctx["common"], "ETag": f'W/"{blob_sha}"'}
        if any(a in RAW_TYPES for a in accept):
            headers["x-github-media-type"] = "github.v3; param=raw"
            return self._send(200, data, "application/vnd.github.raw", headers)
        name = st.display(key)
        b64 = base64.b64encode(data).decode()
        content = "".join(b64[i:i + 60] + "\n" for i in range(0, len(b64), 60))
        api = f"{self._base()}/repos/{name}/contents/{urllib.parse.quote(fpath)}?ref={urllib.parse.quote(ref)}"
        git = f"{self._base()}/repos/{name}/git/blobs/{blob_sha}"
        html = f"https://github.com/{name}/blob/{ref or 'HEAD'}/{fpath}"
        self._json(200, {"type": "file", "encoding": "base64", "size": len(data),
                         "name": fpath.rsplit("/", 1)[-1], "path": fpath, "content": content,
                         "sha": blob_sha, "url": api, "git_url": git, "html_url": html,
                         "download_url": f"https://raw.githubusercontent.com/{name}/{ref or 'HEAD'}/{fpath}",
                         "_links": {"self": api, "git": git, "html": html}}, headers)

    def api_create_run(self, ctx, owner, repo):
        key = self._repo_access(ctx, owner, repo, "checks", write=True)
        ch = validate_check_run(ctx["body"], creating=True)
        run = self.state.create_run(key, ch)
        obj = self.state.run_json(run, self._base())
        self._json(201, obj, {**ctx["common"], "Location": obj["url"]})

    def _find_run(self, key: str, rid: str) -> dict:
        run = self.state.runs.get(int(rid))
        if run is None or run["repo"] != key:
            raise ApiError(404, "Not Found")
        return run

    def api_get_run(self, ctx, owner, repo, rid):
        key = self._repo_access(ctx, owner, repo, "checks", write=False)
        with self.state.lock:
            obj = self.state.run_json(self._find_run(key, rid), self._base())
        self._json(200, obj, ctx["common"])

    def api_update_run(self, ctx, owner, repo, rid):
        key = self._repo_access(ctx, owner, repo, "checks", write=True)
        with self.state.lock:
            run = self._find_run(key, rid)
            if not self.state.is_ours(run):
                raise ApiError(403, f"Invalid app_id `{run['app_id']}` - check run can only be "
                               "modified by the GitHub App that created it.")
            ch = validate_check_run(ctx["body"], creating=False, existing=run)
            self.state.update_run(run, ch)
            obj = self.state.run_json(run, self._base())
        self._json(200, obj, ctx["common"])

    def api_list_annotations(self, ctx, owner, repo, rid):
        st = self.state
        key = self._repo_access(ctx, owner, repo, "checks", write=False)
        with st.lock:
            run = self._find_run(key, rid)
            items = [annotation_json(a, st.display(key), run["head_sha"]) for a in run["annotations"]]
        link_base = f"{self._base()}/repositories/{st.repo_id(key)}/check-runs/{rid}/annotations"
        page, link = paginate(items, ctx["query"], link_base, ctx["pairs"])
        self._json(200, page, {**ctx["common"], **({"Link": link} if link else {})})

    def api_list_runs(self, ctx, owner, repo, ref):
        st, q = self.state, ctx["query"]
        key = self._repo_access(ctx, owner, repo, "checks", write=False)
        flt = q.get("filter", "latest")
        val = Validation()
        if flt not in ("latest", "all"):
            val.add("filter", "invalid", f"filter must be one of latest, all (got {describe(flt)}).")
        if "status" in q and q["status"] not in ("queued", "in_progress", "completed"):
            val.add("status", "invalid", f"status must be one of queued, in_progress, completed "
                    f"(got {describe(q['status'])}).")
        val.raise_if_any()
        sha = ref.lower()
        with st.lock:
            runs = [r for r in st.runs.values() if r["repo"] == key and r["head_sha"] == sha]
            if flt == "latest":
                newest: dict[str, dict] = {}
                for r in runs:
                    if r["name"] not in newest or r["id"] > newest[r["name"]]["id"]:
                        newest[r["name"]] = r
                runs = list(newest.values())
            if "check_name" in q:
                runs = [r for r in runs if r["name"] == q["check_name"]]
            if "status" in q:
                runs = [r for r in runs if r["status"] == q["status"]]
            runs.sort(key=lambda r: r["id"], reverse=True)
            link_base = f"{self._base()}/repositories/{st.repo_id(key)}/commits/{urllib.parse.quote(ref)}/check-runs"
            page, link = paginate(runs, q, link_base, ctx["pairs"])
            objs = [st.run_json(r, self._base()) for r in page]
        self._json(200, {"total_count": len(runs), "check_runs": objs},
                   {**ctx["common"], **({"Link": link} if link else {})})

    def api_get_permission(self, ctx, owner, repo, username):
        st = self.state
        key = self._repo_access(ctx, owner, repo, "metadata", write=False)
        if not LOGIN_RE.match(username):
            raise ApiError(404, "Not Found")
        with st.lock:
            role = st.collaborators.get((key, username.lower()))
            if role is None:   # a user who is no collaborator: public repos can be read by anyone
                role = "none" if key in st.private else "read"
            user = st.user_json(username)
        permission = ROLES.get(role, "none")
        rank = ["none", "read", "triage", "write", "maintain", "admin"].index(role)
        user["permissions"] = {"admin": rank >= 5, "maintain": rank >= 4, "push": rank >= 3,
                               "triage": rank >= 2, "pull": rank >= 1}
        user["role_name"] = role
        self._json(200, {"permission": permission, "role_name": role, "user": user}, ctx["common"])

    def api_get_pull(self, ctx, owner, repo, number):
        st = self.state
        key = self._repo_access(ctx, owner, repo, "pull_requests", write=False)
        with st.lock:
            pr = st.pulls.get((key, int(number)))
            if pr is None:
                raise ApiError(404, "Not Found")
            obj = st.pull_json(pr, self._base())
        self._json(200, obj, ctx["common"])

    def api_get_commit(self, ctx, owner, repo, ref):
        st = self.state
        key = self._repo_access(ctx, owner, repo, "contents", write=False)
        with st.lock:
            c = st.commits.get((key, ref.lower()))
        if c is None:
            raise ApiError(422, f"No commit found for SHA: {ref}")
        self._json(200, commit_json(st, key, c, self._base()), ctx["common"])

    # -- the App's webhook deliveries
    def api_list_deliveries(self, ctx):
        st, q = self.state, ctx["query"]
        try:
            per_page = int(q.get("per_page", 30))
        except ValueError:
            per_page = 30
        per_page = min(per_page if per_page >= 1 else 30, 100)
        start = None
        if q.get("cursor"):
            m = re.fullmatch(r"v1_(\d+)_(\d+)", q["cursor"])
            if not m:
                raise ApiError(400, f"Invalid cursor {describe(q['cursor'])}; pass the cursor of "
                               "the Link header unchanged.")
            start = (int(m.group(1)), int(m.group(2)))
        with st.lock:
            items = sorted(st.deliveries, key=delivery_order, reverse=True)
        if start is not None:
            items = [e for e in items if delivery_order(e) <= start]
        page, rest = items[:per_page], items[per_page:]
        headers = dict(ctx["common"])
        if rest:
            nxt = rest[0]
            query = urllib.parse.urlencode([("per_page", str(per_page)),
                                            ("cursor", "v1_%d_%d" % delivery_order(nxt))])
            headers["Link"] = f'<{self._base()}/app/hook/deliveries?{query}>; rel="next"'
        self._json(200, [delivery_json(e) for e in page], headers)

    def _find_delivery(self, did) -> dict:
        with self.state.lock:
            for e in self.state.deliveries:
                if e["id"] == int(did):
                    return e
        raise ApiError(404, "Not Found")

    def api_get_delivery(self, ctx, did):
        self._json(200, delivery_json(self._find_delivery(did), full=True), ctx["common"])

    def api_redeliver(self, ctx, did):
        e = self._find_delivery(did)
        # GitHub answers 202 and delivers later; so does the stand-in (a thread per attempt).
        threading.Thread(target=send_delivery, args=(self.state, e["event"], e["payload"]),
                         kwargs={"guid": e["guid"], "redelivery": True}, daemon=True).start()
        self._json(202, {}, ctx["common"])

    # -- the control API
    def _control(self, path: str, pairs: list):
        st, method = self.state, self.command
        try:
            raw = self._read_body(MAX_CONTROL_BODY)
            body = self._parse_json(raw) if method in ("POST", "PUT", "PATCH") else None
            route = (method, path.rstrip("/"))
            q = query_dict(pairs)
            if route == ("GET", "/_standin/health"):
                return self._json(200, {"ok": True})
            if route == ("POST", "/_standin/reset"):
                st.reset()
                return self._json(200, {"ok": True})
            if route == ("POST", "/_standin/installations"):
                return self._json(200, self._ctl_installations(body))
            if route == ("GET", "/_standin/installations"):
                with st.lock:
                    return self._json(200, {st.display(k): v for k, v in st.installations.items()})
            if route == ("POST", "/_standin/files"):
                return self._json(200, self._ctl_files(body))
            if route == ("POST", "/_standin/faults"):
                return self._json(200, self._ctl_fault(body))
            if route == ("GET", "/_standin/faults"):
                with st.lock:
                    return self._json(200, [{k: v for k, v in f.items() if k != "regex"}
                                            for f in st.faults])
            if route == ("DELETE", "/_standin/faults"):
                with st.lock:
                    st.faults.clear()
                return self._json(200, {"ok": True})
            if route == ("GET", "/_standin/requests"):
                with st.lock:
                    return self._json(200, json.loads(json.dumps(st.requests)))
            if route == ("DELETE", "/_standin/requests"):
                with st.lock:
                    st.requests.clear()
                return self._json(200, {"ok": True})
            if route == ("GET", "/_standin/check-runs"):
                with st.lock:
                    key = q["repo"].lower() if q.get("repo") else None
                    runs = sorted((r for r in st.runs.values() if key is None or r["repo"] == key),
                                  key=lambda r: r["id"])
                    return self._json(200, {"check_runs": [st.run_json(r, self._base(), with_annotations=True)
                                                           for r in runs]})
            if route == ("POST", "/_standin/check-runs"):
                return self._json(201, self._ctl_seed(body))
            if route == ("POST", "/_standin/repos"):
                return self._json(200, self._ctl_repos(body))
            if route == ("GET", "/_standin/repos"):
                with st.lock:
                    return self._json(200, {"repos": [
                        {"repo": st.display(k), "id": st.repo_id(k), "private": k in st.private,
                         "installation": st.installations.get(k)} for k in sorted(st.repo_ids)]})
            if route == ("POST", "/_standin/collaborators"):
                return self._json(200, self._ctl_collaborators(body))
            if route == ("GET", "/_standin/collaborators"):
                with st.lock:
                    return self._json(200, {"collaborators": [
                        {"repo": st.display(k), "login": st.user(l)["login"], "role": r}
                        for (k, l), r in sorted(st.collaborators.items())]})
            if route == ("POST", "/_standin/pulls"):
                return self._json(200, self._ctl_pulls(body))
            if route == ("GET", "/_standin/pulls"):
                with st.lock:
                    return self._json(200, {"pulls": [st.pull_json(pr, self._base())
                                                      for _, pr in sorted(st.pulls.items())]})
            if route == ("POST", "/_standin/commits"):
                return self._json(200, self._ctl_commits(body))
            if route == ("POST", "/_standin/webhook"):
                return self._json(200, self._ctl_webhook(body))
            if route == ("GET", "/_standin/webhook"):
                with st.lock:
                    hook = st.webhook or {"url": None, "secret": None}
                    return self._json(200, {"url": hook["url"], "secret_set": bool(hook["secret"])})
            if route == ("DELETE", "/_standin/webhook"):
                with st.lock:
                    st.webhook = None
                return self._json(200, {"ok": True})
            if route == ("POST", "/_standin/click"):
                return self._json(200, self._ctl_click(body))
            if route == ("POST", "/_standin/comment"):
                return self._json(200, self._ctl_comment(body))
            if route == ("POST", "/_standin/deliver"):
                return self._json(200, self._ctl_deliver(body))
            if route == ("POST", "/_standin/deliveries/failed"):
                return self._json(200, self._ctl_failed_deliveries(body))
            if route == ("GET", "/_standin/deliveries"):
                with st.lock:
                    entries = list(st.deliveries)
                return self._json(200, {"deliveries": [
                    {**delivery_json(e, full=True), "sent": e["sent"], "error": e["error"]}
                    for e in entries]})
            if route == ("DELETE", "/_standin/deliveries"):
                with st.lock:
                    st.deliveries.clear()
                return self._json(200, {"ok": True})
            if route == ("POST", "/_standin/secondary-limit"):
                return self._json(200, self._ctl_secondary(body))
            if route == ("GET", "/_standin/secondary-limit"):
                return self._json(200, self._secondary_view())
            if route == ("POST", "/_standin/delay"):
                return self._json(200, self._ctl_delay(body))
            if route == ("GET", "/_standin/delay"):
                with st.lock:
                    return self._json(200, {"delays": [{k: v for k, v in d.items() if k != "regex"}
                                                       for d in st.delays]})
            if route == ("DELETE", "/_standin/delay"):
                with st.lock:
                    st.delays.clear()
                return self._json(200, {"ok": True})
            if route == ("POST", "/_standin/tokens/expire"):
                with st.lock:
                    for info in st.tokens.values():
                        info["expires"] = min(info["expires"], now() - 1)
                    return self._json(200, {"expired": len(st.tokens)})
            raise ApiError(404, f"Unknown control route {method} {path}")
        except ApiError as e:
            if e.close:
                self.close_connection = True
            self._json(e.status, e.body())
        except Exception as e:   # defensive: a bad control body never kills the server
            traceback.print_exc(file=sys.stderr)
            self._json(400, {"message": f"bad control request: {e}"})

    @staticmethod
    def _matcher(method, path):
        """The compiled `path` regex of a fault or delay, after checking `method` and `path` (400 otherwise)."""
        if method is not None and not isinstance(method, str):
            raise ApiError(400, '"method" must be a string or null')
        if not isinstance(path, str):
            raise ApiError(400, '"path" must be a regular expression string')
        try:
            return re.compile(path)
        except re.error as e:
            raise ApiError(400, f'"path" is not a valid regular expression: {e}')

    @staticmethod
    def _need_dict(body):
        if not isinstance(body, dict):
            raise ApiError(400, "control body must be a JSON object")
        return body

    def _repo_arg(self, value) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[^/\s]+/[^/\s]+", value):
            raise ApiError(400, f'"repo" must be "owner/name" (got {describe(value)})')
        return value

    def _ctl_installations(self, body):
        st = self.state
        body = self._need_dict(body)
        for repo, iid in body.items():
            self._repo_arg(repo)
            if not is_int(iid) or iid <= 0:
                raise ApiError(400, f"installation id for {repo} must be a positive integer")
        with st.lock:
            for repo, iid in body.items():
                key = repo.lower()
                st.installations[key], st.repo_names[key] = iid, repo
                st.repo_id(key)
            return {st.display(k): v for k, v in st.installations.items()}

    def _ctl_files(self, body):
        st = self.state
        items = body if isinstance(body, list) else [self._need_dict(body)]
        stored = []
        for item in items:
            item = self._need_dict(item)
            repo = self._repo_arg(item.get("repo"))
            ref, path = item.get("ref") or "", item.get("path")
            if not isinstance(ref, str) or not isinstance(path, str) or not path.strip("/"):
                raise ApiError(400, '"ref" must be a string and "path" a non-empty string')
            if isinstance(item.get("content"), str):
                data = item["content"].encode("utf-8")
            elif isinstance(item.get("content_base64"), str):
                try:
                    data = base64.b64decode(re.sub(r"\s+", "", item["content_base64"]), validate=True)
                except (binascii.Error, ValueError):
                    raise ApiError(400, '"content_base64" is not valid base64')
            else:
                raise ApiError(400, 'give "content" (text) or "content_base64"')
            with st.lock:
                if len(st.files) >= MAX_FILES:
                    raise ApiError(400, f"stand-in keeps at most {MAX_FILES} files")
                key = repo.lower()
                st.repo_names.setdefault(key, repo)
                st.files[(key, ref, path.strip("/"))] = data
            stored.append({"repo": repo, "ref": ref, "path": path.strip("/"), "size": len(data)})
        return {"stored": stored}

    def _ctl_fault(self, body):
        body = self._need_dict(body)
        method, path = body.get("method"), body.get("path", "")
        status, count = body.get("status"), body.get("count", 1)
        delay, headers = body.get("delay") or 0, body.get("headers") or {}
        regex = self._matcher(method, path)
        if status is not None and not (is_int(status) and 100 <= status <= 599):
            raise ApiError(400, '"status" must be an HTTP status code or null')
        if not is_int(count) or count < 1:
            raise ApiError(400, '"count" must be a positive integer')
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not 0 <= delay <= 300:
            raise ApiError(400, '"delay" must be a number of seconds between 0 and 300')
        if status is None and not delay:
            raise ApiError(400, 'a fault needs a "status", a "delay", or both')
        if not isinstance(headers, dict) or not all(isinstance(v, (str, int)) for v in headers.values()):
            raise ApiError(400, '"headers" must be an object of strings')
        fault = {"method": method.upper() if method else None, "path": path, "regex": regex,
                 "status": status, "count": count, "delay": delay,
                 "headers": {str(k).lower(): str(v) for k, v in headers.items()},
                 "body": body.get("body")}
        with self.state.lock:
            if len(self.state.faults) >= MAX_FAULTS:
                raise ApiError(400, f"at most {MAX_FAULTS} pending faults")
            self.state.faults.append(fault)
            return {"ok": True, "pending": len(self.state.faults)}

    def _ctl_seed(self, body):
        st = self.state
        body = dict(self._need_dict(body))
        repo = self._repo_arg(body.pop("repo", None))
        count = body.pop("count", 1)
        app_id = body.pop("app_id", None)
        if not is_int(count) or not 1 <= count <= MAX_RUNS:
            raise ApiError(400, '"count" must be a positive integer')
        if app_id is not None and not (is_int(app_id) and app_id > 0):
            raise ApiError(400, '"app_id" must be a positive integer (the App that owns the runs)')
        created = []
        key = repo.lower()
        with st.lock:
            st.repo_names.setdefault(key, repo)
            st.repo_id(key)
            for i in range(count):
                item = {k: (v.replace("{i}", str(i)) if isinstance(v, str) else v)
                        for k, v in body.items()}
                ch = validate_check_run(item, creating=True)
                if app_id is not None and str(app_id) != str(st.app_id):
                    ch["app_id"] = app_id
                created.append(st.create_run(key, ch)["id"])
        return {"ids": created}

    # -- v2 control routes
    @staticmethod
    def _items(body) -> list:
        """A control body that may be one object or an array of them."""
        items = body if isinstance(body, list) else [body]
        for item in items:
            if not isinstance(item, dict):
                raise ApiError(400, "control body must be a JSON object or an array of objects")
        return items

    @staticmethod
    def _login_arg(value, field="login") -> str:
        if not isinstance(value, str) or not LOGIN_RE.match(value):
            raise ApiError(400, f'"{field}" must be a GitHub login (got {describe(value)})')
        return value

    @staticmethod
    def _sha_arg(value, field) -> str:
        if not isinstance(value, str) or not SHA_RE.match(value):
            raise ApiError(400, f'"{field}" must be 40 hexadecimal digits (got {describe(value)})')
        return value.lower()

    def _register(self, repo: str) -> str:
        st = self.state
        key = repo.lower()
        with st.lock:
            st.repo_names.setdefault(key, repo)
            st.repo_id(key)
        return key

    def _ctl_repos(self, body):
        st = self.state
        items = self._items(body)
        parsed = []
        for item in items:
            repo = self._repo_arg(item.get("repo"))
            private = item.get("private", False)
            if not isinstance(private, bool):
                raise ApiError(400, '"private" must be true or false')
            parsed.append((repo, private))
        out = []
        for repo, private in parsed:
            key = self._register(repo)
            with st.lock:
                (st.private.add if private else st.private.discard)(key)
                out.append({"repo": st.display(key), "id": st.repo_id(key), "private": private})
        return {"repos": out}

    def _ctl_collaborators(self, body):
        st = self.state
        parsed = []
        for item in self._items(body):
            repo = self._repo_arg(item.get("repo"))
            login = self._login_arg(item.get("login"))
            role = item.get("role")
            if role is not None and role not in ROLES:
                raise ApiError(400, f'"role" must be one of {", ".join(ROLES)} or null '
                               f'(got {describe(role)})')
            parsed.append((repo, login, role))
        with st.lock:
            for repo, login, role in parsed:
                key = self._register(repo)
                st.user(login)
                if role is None:
                    st.collaborators.pop((key, login.lower()), None)
                else:
                    if (key, login.lower()) not in st.collaborators and \
                            len(st.collaborators) >= MAX_COLLABORATORS:
                        raise ApiError(400, f"stand-in keeps at most {MAX_COLLABORATORS} collaborators")
                    st.collaborators[(key, login.lower())] = role
            return {"collaborators": [{"repo": st.display(k), "login": st.user(l)["login"], "role": r}
                                      for (k, l), r in sorted(st.collaborators.items())]}

    def _ctl_pulls(self, body):
        st = self.state
        parsed = []
        for item in self._items(body):
            repo = self._repo_arg(item.get("repo"))
            number = item.get("number")
            if not is_int(number) or number < 1:
                raise ApiError(400, '"number" must be a positive integer')
            head_repo = item.get("head_repo", repo)
            if head_repo is not None:
                self._repo_arg(head_repo)
            labels = item.get("labels", [])
            if not isinstance(labels, list):
                raise ApiError(400, '"labels" must be an array of names')
            names = []
            for lab in labels:
                name = lab.get("name") if isinstance(lab, dict) else lab
                if not isinstance(name, str) or not name:
                    raise ApiError(400, '"labels" must be an array of names (or {"name": ...})')
                names.append(name)
            assoc = item.get("author_association", "NONE")
            if assoc not in AUTHOR_ASSOCIATIONS:
                raise ApiError(400, f'"author_association" must be one of {", ".join(AUTHOR_ASSOCIATIONS)}')
            state = item.get("state", "open")
            if state not in ("open", "closed"):
                raise ApiError(400, '"state" must be "open" or "closed"')
            draft = item.get("draft", False)
            if not isinstance(draft, bool):
                raise ApiError(400, '"draft" must be true or false')
            strings = {}
            for field, default in (("title", f"Pull request #{number}"), ("body", None),
                                   ("head_ref", f"feature-{number}"), ("base_ref", "main")):
                v = item.get(field, default)
                if not (isinstance(v, str) or (v is None and field == "body")):
                    raise ApiError(400, f'"{field}" must be a string')
                strings[field] = v
            base_sha = self._sha_arg(item.get("base_sha", hashlib.sha1(f"{repo} base".encode()).hexdigest()),
                                     "base_sha")
            parsed.append({"repo": repo, "number": number,
                           "head_sha": self._sha_arg(item.get("head_sha"), "head_sha"),
                           "head_repo": head_repo, "user": self._login_arg(item.get("user"), "user"),
                           "labels": names, "author_association": assoc, "state": state,
                           "draft": draft, "base_sha": base_sha, **strings})
        out = []
        with st.lock:
            for p in parsed:
                key = self._register(p["repo"])
                head_key = self._register(p["head_repo"]) if p["head_repo"] is not None else None
                st.user(p["user"])
                old = st.pulls.get((key, p["number"]))
                if old is None and len(st.pulls) >= MAX_PULLS:
                    raise ApiError(400, f"stand-in keeps at most {MAX_PULLS} pull requests")
                t = now()
                pr = {**p, "repo": key, "head_repo": head_key,
                      "id": old["id"] if old else PULL_ID_BASE + len(st.pulls) + 1,
                      "created": old["created"] if old else t, "updated": t,
                      # every head SHA it had: a check suite keeps its pull request after new pushes
                      "shas": (old["shas"] if old else []) + [p["head_sha"]]}
                pr["shas"] = list(dict.fromkeys(pr["shas"]))[-100:]
                st.pulls[(key, p["number"])] = pr
                st.pull_index = None
                out.append({"repo": st.display(key), "number": p["number"], "id": pr["id"],
                            "head_sha": p["head_sha"]})
        return {"pulls": out}

    def _ctl_commits(self, body):
        st = self.state
        parsed = []
        for item in self._items(body):
            repo = self._repo_arg(item.get("repo"))
            sha = self._sha_arg(item.get("sha"), "sha")
            message = item.get("message", "")
            if not isinstance(message, str):
                raise ApiError(400, '"message" must be a string')
            author = item.get("author") or {}
            if not isinstance(author, dict):
                raise ApiError(400, '"author" must be an object {name, email, date}')
            date = author.get("date")
            try:
                date = parse_iso(date) if date is not None else now()
            except (ValueError, TypeError):
                raise ApiError(400, '"author.date" must be an ISO 8601 time with a zone')
            parents = [self._sha_arg(x, "parents[]") for x in item.get("parents", [])] \
                if isinstance(item.get("parents", []), list) else None
            if parents is None:
                raise ApiError(400, '"parents" must be an array of SHAs')
            login = item.get("login")
            if login is not None:
                self._login_arg(login)
            name, email = author.get("name", "Solstice Tester"), author.get("email", "tester@example.com")
            if not isinstance(name, str) or not isinstance(email, str):
                raise ApiError(400, '"author.name" and "author.email" must be strings')
            parsed.append((repo, {"sha": sha, "message": message, "author_name": name,
                                  "author_email": email, "date": date, "parents": parents,
                                  "login": login}))
        with st.lock:
            for repo, c in parsed:
                key = self._register(repo)
                if (key, c["sha"]) not in st.commits and len(st.commits) >= MAX_COMMITS:
                    raise ApiError(400, f"stand-in keeps at most {MAX_COMMITS} commits")
                st.commits[(key, c["sha"])] = c
        return {"stored": [{"repo": repo, "sha": c["sha"]} for repo, c in parsed]}

    def _ctl_webhook(self, body):
        body = self._need_dict(body)
        url, secret = body.get("url"), body.get("secret")
        if not isinstance(url, str) or urllib.parse.urlsplit(url).scheme not in ("http", "https") \
                or not urllib.parse.urlsplit(url).hostname:
            raise ApiError(400, f'"url" must be an http(s) URL (got {describe(url)})')
        if secret is not None and not isinstance(secret, str):
            raise ApiError(400, '"secret" must be a string or null')
        with self.state.lock:
            self.state.webhook = {"url": url, "secret": secret or None}
        return {"url": url, "secret_set": bool(secret)}

    def _require_webhook(self):
        with self.state.lock:
            if not self.state.webhook:
                raise ApiError(409, "no webhook URL configured: POST /_standin/webhook first")

    @staticmethod
    def _delivery_answer(e: dict) -> dict:
        out = {"id": e["id"], "guid": e["guid"], "status": e["status_code"] if e["answered"] else None,
               "headers": e["response_headers"], "body": e["response_body"], "error": e["error"]}
        try:
            out["json"] = json.loads(e["response_body"]) if e["response_body"] else None
        except ValueError:
            out["json"] = None
        return out

    def _installation_of(self, key: str) -> int:
        with self.state.lock:
            iid = self.state.installations.get(key)
        if iid is None:
            raise ApiError(409, f"{self.state.display(key)} has no installation: GitHub sends the "
                           "App no webhooks for it")
        return iid

    def _ctl_click(self, body):
        st = self.state
        body = self._need_dict(body)
        rid, identifier = body.get("run_id"), body.get("identifier")
        login = self._login_arg(body.get("login"))
        if not is_int(rid):
            raise ApiError(400, '"run_id" must be an integer')
        if not isinstance(identifier, str):
            raise ApiError(400, '"identifier" must be a string')
        self._require_webhook()
        base = self._base()
        with st.lock:
            run = st.runs.get(rid)
            if run is None:
                raise ApiError(404, f"no check run {rid}")
            if not st.is_ours(run):
                raise ApiError(409, f"check run {rid} belongs to App {run['app_id']}; GitHub sends "
                               "its requested_action to that App, not to ours")
            if identifier not in [a.get("identifier") for a in run["actions"]]:
                raise ApiError(409, f"check run {rid} has no action {describe(identifier)} now "
                               f"(its actions: {[a.get('identifier') for a in run['actions']]}); "
                               "GitHub shows no such button")
            key = run["repo"]
            iid = self._installation_of(key)
            obj = st.run_json(run, base)
            pulls = st.pulls_for_sha(key, run["head_sha"])
            forks = [pr for (k, _), pr in st.pulls.items()
                     if k == key and run["head_sha"] in pr["shas"] and pr["head_repo"] != key]
            obj["check_suite"].update({
                "node_id": base64.b64encode(f"CS_{obj['check_suite']['id']}".encode()).decode(),
                "head_sha": run["head_sha"],
                "head_branch": pulls[0]["head_ref"] if pulls else (None if forks else "main"),
                "status": "completed" if run["status"] == "completed" else "queued",
                "conclusion": run["conclusion"], "before": None, "after": run["head_sha"],
                "url": f"{base}/repos/{st.display(key)}/check-suites/{obj['check_suite']['id']}",
                "pull_requests": obj["pull_requests"], "app": obj["app"]})
            payload = {"action": "requested_action", "check_run": obj,
                       "requested_action": {"identifier": identifier},
                       "repository": st.repo_json(key, base), "sender": st.user_json(login),
                       "installation": {"id": iid, "node_id": base64.b64encode(
                           f"I_{iid}".encode()).decode()}}
        return self._delivery_answer(send_delivery(st, "check_run", payload))

    def _ctl_comment(self, body):
        st = self.state
        body = self._need_dict(body)
        key = self._repo_arg(body.get("repo")).lower()
        number, text = body.get("number"), body.get("body")
        login = self._login_arg(body.get("login"))
        assoc = body.get("author_association", "NONE")
        if not is_int(number):
            raise ApiError(400, '"number" must be an integer')
        if not isinstance(text, str):
            raise ApiError(400, '"body" must be a string')
        if assoc not in AUTHOR_ASSOCIATIONS:
            raise ApiError(400, f'"author_association" must be one of {", ".join(AUTHOR_ASSOCIATIONS)}')
        self._require_webhook()
        base = self._base()
        with st.lock:
            pr = st.pulls.get((key, number))
            if pr is None:
                raise ApiError(409, f"no pull request #{number} seeded for {st.display(key)} "
                               "(POST /_standin/pulls)")
            iid = self._installation_of(key)
            pj = st.pull_json(pr, base)
            cid = st.next_comment
            st.next_comment += 1
            name = st.display(key)
            t = iso(now())
            issue = {"url": pj["issue_url"], "html_url": pj["html_url"], "id": pr["id"] + 1,
                     "node_id": base64.b64encode(f"I_{pr['id']}".encode()).decode(),
                     "number": number, "title": pr["title"], "user": pj["user"],
                     "labels": pj["labels"], "state": pr["state"], "locked": False,
                     "comments": 1, "created_at": pj["created_at"], "updated_at": t,
                     "closed_at": pj["closed_at"], "author_association": pr["author_association"],
                     "body": pr["body"], "draft": pr["draft"],
                     "pull_request": {"url": pj["url"], "html_url": pj["html_url"],
                                      "diff_url": pj["diff_url"], "patch_url": pj["patch_url"],
                                      "merged_at": None}}
            comment = {"id": cid, "node_id": base64.b64encode(f"IC_{cid}".encode()).decode(),
                       "url": f"{base}/repos/{name}/issues/comments/{cid}",
                       "html_url": f"{pj['html_url']}#issuecomment-{cid}", "body": text,
                       "user": st.user_json(login), "created_at": t, "updated_at": t,
                       "issue_url": pj["issue_url"], "author_association": assoc}
            payload = {"action": "created", "issue": issue, "comment": comment,
                       "repository": st.repo_json(key, base), "sender": st.user_json(login),
                       "installation": {"id": iid, "node_id": base64.b64encode(
                           f"I_{iid}".encode()).decode()}}
        return self._delivery_answer(send_delivery(st, "issue_comment", payload))

    @staticmethod
    def _event_arg(item) -> tuple:
        event, payload = item.get("event"), item.get("payload")
        if not isinstance(event, str) or not re.fullmatch(r"[a-z_]{1,64}", event):
            raise ApiError(400, f'"event" must be an event name like "push" (got {describe(event)})')
        if not isinstance(payload, dict):
            raise ApiError(400, '"payload" must be a JSON object')
        if len(json.dumps(payload)) > MAX_WEBHOOK_PAYLOAD:
            raise ApiError(400, f"payload larger than {MAX_WEBHOOK_PAYLOAD} bytes")
        return event, payload

    def _ctl_deliver(self, body):
        event, payload = self._event_arg(self._need_dict(body))
        self._require_webhook()
        return self._delivery_answer(send_delivery(self.state, event, payload))

    def _ctl_failed_deliveries(self, body):
        st = self.state
        parsed = []
        for item in self._items(body):
            event, payload = self._event_arg(item)
            code = item.get("status_code", 502)
            if not (is_int(code) and 100 <= code <= 599):
                raise ApiError(400, '"status_code" must be an HTTP status code')
            at = item.get("delivered_at")
            try:
                at = parse_iso(at) if at is not None else None
            except (ValueError, TypeError):
                raise ApiError(400, '"delivered_at" must be an ISO 8601 time with a zone')
            guid = item.get("guid")
            if guid is not None and not (isinstance(guid, str) and re.fullmatch(r"[0-9A-Za-z-]{1,64}", guid)):
                raise ApiError(400, '"guid" must be a GUID string')
            parsed.append((event, payload, code, at, guid))
        out = []
        for event, payload, code, at, guid in parsed:
            entry, _ = new_delivery(st, event, payload, guid=guid, delivered_at=at)
            entry.update(status_code=code, duration=0.0,
                         status="OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}")
            e = st.add_delivery(entry)
            out.append({"id": e["id"], "guid": e["guid"]})
        return {"recorded": out}

    def _ctl_secondary(self, body):
        st = self.state
        body = self._need_dict(body)
        n = body.get("per_minute")
        if n is not None and not (is_int(n) and n >= 0):
            raise ApiError(400, '"per_minute" must be a non-negative integer or null')
        with st.lock:
            st.secondary = {"per_minute": n or None, "refused": 0, "by_installation": {}}
            st.windows.clear()
        return self._secondary_view()

    def _secondary_view(self):
        st = self.state
        with st.lock:
            t = now()
            in_window = {str(i): sum(1 for x in w if x > t - SECONDARY_WINDOW)
                         for i, w in st.windows.items()}
            return {"per_minute": st.secondary["per_minute"], "refused": st.secondary["refused"],
                    "by_installation": dict(st.secondary["by_installation"]),
                    "in_window": in_window}

    def _ctl_delay(self, body):
        body = self._need_dict(body)
        method, path, seconds = body.get("method"), body.get("path", ""), body.get("seconds")
        regex = self._matcher(method, path)
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or \
                not 0 < seconds <= 300 or math.isnan(seconds):
            raise ApiError(400, '"seconds" must be a number of seconds, more than 0 and at most 300')
        with self.state.lock:
            if len(self.state.delays) >= MAX_DELAYS:
                raise ApiError(400, f"at most {MAX_DELAYS} standing delays")
            self.state.delays.append({"method": method.upper() if method else None, "path": path,
                                      "regex": regex, "seconds": seconds})
            return {"delays": [{k: v for k, v in d.items() if k != "regex"}
                               for d in self.state.delays]}


# --------------------------------------------------------------------------- webhooks

HOOKSHOT = "GitHub-Hookshot/" + secrets.token_hex(4)[:7]


def delivery_order(e: dict) -> tuple:
    """Newest first means: latest delivered_at, then highest id."""
    return (int(e["delivered_at"] * 1000), e["id"])


def delivery_json(e: dict, *, full=False) -> dict:
    out = {"id": e["id"], "guid": e["guid"], "delivered_at": iso(e["delivered_at"]),
           "redelivery": e["redelivery"], "duration": e["duration"], "status": e["status"],
           "status_code": e["status_code"], "event": e["event"], "action": e["action"],
           "installation_id": e["installation_id"], "repository_id": e["repository_id"],
           "throttled_at": None}
    if full:
        out["url"] = e["url"]
        out["request"] = {"headers": e["request_headers"], "payload": e["payload"]}
        out["response"] = {"headers": e["response_headers"], "payload": e["response_body"]}
    return out


def payload_ids(payload) -> tuple:
    """(action, installation id, repository id) as GitHub lists them for a delivery."""
    if not isinstance(payload, dict):
        return None, None, None
    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    inst = payload.get("installation") if isinstance(payload.get("installation"), dict) else {}
    repo = payload.get("repository") if isinstance(payload.get("repository"), dict) else {}
    return (action, inst.get("id") if is_int(inst.get("id")) else None,
            repo.get("id") if is_int(repo.get("id")) else None)


def webhook_headers(state: State, event: str, guid: str, body: bytes, secret: str | None) -> dict:
    headers = {"Accept": "*/*", "Content-Type": "application/json", "User-Agent": HOOKSHOT,
               "X-GitHub-Delivery": guid, "X-GitHub-Event": event, "X-GitHub-Hook-ID": str(HOOK_ID),
               "X-GitHub-Hook-Installation-Target-ID": str(state.app_id),
               "X-GitHub-Hook-Installation-Target-Type": "integration"}
    if secret:
        key = secret.encode("utf-8")
        headers["X-Hub-Signature"] = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return headers


def new_delivery(state: State, event: str, payload, *, guid=None, redelivery=False,
                 delivered_at=None) -> tuple[dict, bytes]:
    """A log entry (without id) and the body it sends; nothing is sent or stored yet."""
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    with state.lock:
        hook = dict(state.webhook) if state.webhook else {"url": None, "secret": None}
    guid = guid or str(uuid.uuid4())
    action, inst, repo = payload_ids(payload)
    entry = {"guid": guid, "event": event, "action": action, "installation_id": inst,
             "repository_id": repo, "redelivery": redelivery, "url": hook["url"],
             "delivered_at": now() if delivered_at is None else delivered_at, "payload": payload,
             "request_headers": webhook_headers(state, event, guid, body, hook["secret"]),
             "response_headers": {}, "response_body": None, "duration": 0.0,
             "status": None, "status_code": 0, "sent": False, "answered": False, "error": None}
    return entry, body


def send_delivery(state: State, event: str, payload, *, guid=None, redelivery=False) -> dict:
    """POSTs one webhook to the configured URL, as GitHub would, and logs the attempt.
    Never raises: a failure is logged as GitHub shows it ("failed to connect", "timed out")."""
    entry, body = new_delivery(state, event, payload, guid=guid, redelivery=redelivery)
    started = time.monotonic()
    try:
        if not entry["url"]:
            raise ConnectionError("no webhook URL configured (POST /_standin/webhook)")
        split = urllib.parse.urlsplit(entry["url"])
        cls = http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
        conn = cls(split.hostname, split.port, timeout=WEBHOOK_TIMEOUT)
        try:
            target = (split.path or "/") + (f"?{split.query}" if split.query else "")
            conn.request("POST", target, body=body, headers=entry["request_headers"])
            resp = conn.getresponse()
            data = resp.read()
            entry["sent"] = entry["answered"] = True
            entry["status_code"] = resp.status
            entry["status"] = "OK" if 200 <= resp.status < 300 else f"Invalid HTTP Response: {resp.status}"
            entry["response_headers"] = {k: v for k, v in resp.getheaders()}
            entry["response_body"] = data[:MAX_LOGGED_RESPONSE].decode("utf-8", "replace")
        finally:
            conn.close()
    except (TimeoutError, socket.timeout) as e:
        entry.update(status="timed out", status_code=504, error=f"timed out: {e}", sent=True)
    except (OSError, http.client.HTTPException, ValueError) as e:
        entry.update(status="failed to connect", status_code=502, error=f"{type(e).__name__}: {e}")
    entry["duration"] = round(time.monotonic() - started, 3)
    return state.add_delivery(entry)


def commit_json(st: State, key: str, c: dict, base: str) -> dict:
    name = st.display(key)
    api = f"{base}/repos/{name}/commits/{c['sha']}"
    author = {"name": c["author_name"], "email": c["author_email"], "date": iso(c["date"])}
    login = st.user_json(c["login"]) if c["login"] else None
    tree = hashlib.sha1(f"tree {c['sha']}".encode()).hexdigest()
    return {"sha": c["sha"], "node_id": base64.b64encode(f"C_{c['sha']}".encode()).decode(),
            "url": api, "html_url": f"https://github.com/{name}/commit/{c['sha']}",
            "comments_url": api + "/comments",
            "commit": {"url": f"{base}/repos/{name}/git/commits/{c['sha']}", "author": author,
                       "committer": dict(author), "message": c["message"],
                       "tree": {"sha": tree, "url": f"{base}/repos/{name}/git/trees/{tree}"},
                       "comment_count": 0,
                       "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                        "payload": None, "verified_at": None}},
            "author": login, "committer": login,
            "parents": [{"sha": p, "url": f"{base}/repos/{name}/commits/{p}",
                         "html_url": f"https://github.com/{name}/commit/{p}"} for p in c["parents"]],
            "stats": {"total": 0, "additions": 0, "deletions": 0}, "files": []}


def query_dict(pairs: list) -> dict:
    """Query parameters; a repeated parameter keeps its last value (as Rails does)."""
    return {k: v for k, v in pairs}


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Strict local stand-in for GitHub's REST API.")
    ap.add_argument("--port", type=int, required=True, help="0 picks a free port")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--public-key", required=True, help="App public key, PEM (SPKI or PKCS#1)")
    ap.add_argument("--token-ttl", type=int, default=3600, help="installation token lifetime, s")
    ap.add_argument("--log", help="append one line per API request to this file")
    args = ap.parse_args(argv)
    try:
        key = load_public_key(args.public_key)
    except (OSError, ValueError, TypeError) as e:
        print(f"standin: cannot load --public-key {args.public_key}: {e}", file=sys.stderr)
        return 2
    if args.token_ttl <= 0:
        print("standin: --token-ttl must be positive", file=sys.stderr)
        return 2
    Handler.state = State(str(args.app_id).strip(), key, args.token_ttl)
    Handler.log_file = open(args.log, "a", encoding="utf-8") if args.log else None
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 64
    def on_sigterm(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_sigterm)
    port = server.server_address[1]
    print(f"ready {port}" if args.port == 0 else "ready", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
