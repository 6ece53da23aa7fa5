"""Tests of the GitHub stand-in's own strictness.  Run: python3 -m pytest -q test_standin.py"""
from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from github_standin.client import start_standin

APP_ID = "4242"
REPO, OTHER = "solstice/app", "elsewhere/lib"
INST, OTHER_INST = 77, 88
SHA = "0123456789abcdef0123456789abcdef01234567"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(key, *, iss=APP_ID, iat=None, exp=None, alg="RS256", drop=(), extra_header=None):
    t = int(time.time())
    claims = {"iss": iss, "iat": t - 60 if iat is None else iat, "exp": t + 540 if exp is None else exp}
    for k in drop:
        claims.pop(k)
    header = {"alg": alg, "typ": "JWT", **(extra_header or {})}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    if alg == "none":
        return signing_input + "."
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(sig)}"


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = d / "app.spki.pem"
    spki.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    pkcs1 = d / "app.pkcs1.pem"
    pkcs1.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.PKCS1))
    return {"key": key, "spki": str(spki), "pkcs1": str(pkcs1), "dir": d,
            "other": rsa.generate_private_key(public_exponent=65537, key_size=2048)}


@pytest.fixture(scope="session")
def server(keys):
    log = keys["dir"] / "standin.log"
    proc, gh = start_standin(APP_ID, keys["spki"], log=str(log))
    gh.log_path = log
    yield gh
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def gh(server):
    server.reset()
    server.set_installations({REPO: INST, OTHER: OTHER_INST})
    return server


def token_for(gh, key, inst=INST, **body):
    r = gh.api("POST", f"/app/installations/{inst}/access_tokens", jwt=make_jwt(key), body=body or None)
    assert r.status == 201, r.body
    return r.json()["token"]


def create_run(gh, token, repo=REPO, **fields):
    body = {"name": "Solstice CI", "head_sha": SHA, **fields}
    return gh.api("POST", f"/repos/{repo}/check-runs", token=token, body=body)


# ------------------------------------------------------------------ App JWT

def test_valid_jwt_accepted_and_token_shape(gh, keys):
    r = gh.api("GET", f"/repos/{REPO}/installation", jwt=make_jwt(keys["key"]))
    assert r.status == 200 and r.json()["id"] == INST
    # iss as an integer is accepted too
    r = gh.api("POST", f"/app/installations/{INST}/access_tokens",
               jwt=make_jwt(keys["key"], iss=int(APP_ID)))
    assert r.status == 201
    body = r.json()
    assert body["token"].startswith("ghs_")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["expires_at"])
    assert body["permissions"]["checks"] == "write"
    for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
              "x-ratelimit-used", "x-ratelimit-resource"):
        assert h in r.headers


def test_unknown_installation_and_repo(gh, keys):
    assert gh.api("GET", "/repos/nobody/nothing/installation", jwt=make_jwt(keys["key"])).status == 404
    assert gh.api("POST", "/app/installations/999/access_tokens", jwt=make_jwt(keys["key"])).status == 404


@pytest.mark.parametrize("case, expect", [
    ("wrong_key", "signature"),
    ("alg_none", "alg"),
    ("alg_hs256", "alg"),
    ("expired", "expired"),
    ("iat_future", "'Issued at' claim ('iat')"),
    ("exp_too_far", "'Expiration time' claim ('exp') is too far in the future"),
    ("wrong_iss", "'Issuer' claim ('iss')"),
    ("no_exp", "'Expiration time' claim ('exp')"),
    ("exp_before_iat", "'Expiration time' claim ('exp') must be after"),
    ("garbage", "could not be decoded"),
    ("token_scheme", "Bearer"),
])
def test_bad_jwt_rejected(gh, keys, case, expect):
    k, t = keys["key"], int(time.time())
    jwt = {
        "wrong_key": lambda: make_jwt(keys["other"]),
        "alg_none": lambda: make_jwt(k, alg="none"),
        "alg_hs256": lambda: make_jwt(k, extra_header={"alg": "HS256"}),
        "expired": lambda: make_jwt(k, iat=t - 700, exp=t - 120),
        "iat_future": lambda: make_jwt(k, iat=t + 120, exp=t + 600),
        "exp_too_far": lambda: make_jwt(k, iat=t - 60, exp=t + 600),
        "wrong_iss": lambda: make_jwt(k, iss="999"),
        "no_exp": lambda: make_jwt(k, drop=("exp",)),
        "exp_before_iat": lambda: make_jwt(k, iat=t, exp=t - 1),
        "garbage": lambda: "not.a.jwt",
        "token_scheme": lambda: make_jwt(k),
    }[case]()
    headers = {"Authorization": f"token {jwt}"} if case == "token_scheme" else {}
    for method, path in (("GET", f"/repos/{REPO}/installation"),
                         ("POST", f"/app/installations/{INST}/access_tokens")):
        r = gh.api(method, path, jwt=None if headers else jwt, headers=headers)
        assert r.status == 401, (case, r.body)
        assert expect in r.json()["message"], r.json()["message"]


def test_clock_drift_allowed_and_pkcs1_key(keys, tmp_path):
    proc, gh = start_standin(APP_ID, keys["pkcs1"])
    try:
        gh.set_installations({REPO: INST})
        t = int(time.time())
        r = gh.api("GET", f"/repos/{REPO}/installation", jwt=make_jwt(keys["key"], iat=t + 30, exp=t + 600))
        assert r.status == 200, r.body
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_no_auth_and_installation_token_on_jwt_endpoint(gh, keys):
    assert gh.api("GET", f"/repos/{REPO}/installation").status == 401
    tok = token_for(gh, keys["key"])
    r = gh.api("POST", f"/app/installations/{INST}/access_tokens", token=tok)
    assert r.status == 401


# ------------------------------------------------------------------ installation tokens

def test_token_scoping(gh, keys):
    tok = token_for(gh, keys["key"], INST)
    gh.add_file(OTHER, SHA, "README", "x")
    assert create_run(gh, tok).status == 201
    assert create_run(gh, tok, repo=OTHER).status in (403, 404)
    assert gh.api("GET", f"/repos/{OTHER}/contents/README?ref={SHA}", token=tok).status == 404
    other = token_for(gh, keys["key"], OTHER_INST)
    assert gh.api("GET", f"/repos/{OTHER}/contents/README?ref={SHA}", token=other).status == 200
    # a JWT where an installation token is needed
    r = gh.api("POST", f"/repos/{REPO}/check-runs", jwt=make_jwt(keys["key"]),
               body={"name": "x", "head_sha": SHA})
    assert r.status == 403
    # unknown token; both schemes
    assert gh.api("GET", f"/repos/{REPO}/contents/x", token="ghs_" + "a" * 36).status == 401
    r = gh.api("GET", f"/repos/{REPO}/check-runs/1", headers={"Authorization": f"Bearer {tok}"})
    assert r.status == 404   # authenticated fine, run does not exist


def test_token_repository_narrowing_and_permissions(gh, keys):
    gh.set_installations({"solstice/second": INST})
    tok = token_for(gh, keys["key"], INST, repositories=["second"], permissions={"contents": "read"})
    assert create_run(gh, tok, repo="solstice/second").status == 403   # no checks permission
    assert create_run(gh, tok).status in (403, 404)                      # repo not selected
    r = gh.api("POST", f"/app/installations/{INST}/access_tokens", jwt=make_jwt(keys["key"]),
               body={"permissions": {"administration": "write"}})
    assert r.status == 422


def test_token_expiry_via_control(gh, keys):
    tok = token_for(gh, keys["key"])
    assert create_run(gh, tok).status == 201
    gh.expire_tokens()
    r = create_run(gh, tok)
    assert r.status == 401 and r.json()["message"] == "Bad credentials"


def test_token_ttl(keys):
    proc, gh = start_standin(APP_ID, keys["spki"], token_ttl=1)
    try:
        gh.set_installations({REPO: INST})
        tok = token_for(gh, keys["key"])
        assert create_run(gh, tok).status == 201
        time.sleep(2.1)
        assert create_run(gh, tok).status == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------------ headers, bodies

def test_required_headers(gh, keys):
    jwt = make_jwt(keys["key"])
    r = gh.api("GET", f"/repos/{REPO}/installation", jwt=jwt, headers={"User-Agent": None})
    assert r.status == 403 and "User-Agent" in r.json()["message"]
    r = gh.api("GET", f"/repos/{REPO}/installation", jwt=jwt, headers={"X-GitHub-Api-Version": None})
    assert r.status == 400 and "X-GitHub-Api-Version" in r.json()["message"]
    r = gh.api("GET", f"/repos/{REPO}/installation", jwt=jwt, headers={"X-GitHub-Api-Version": "2021-01-01"})
    assert r.status == 400
    r = gh.api("GET", f"/repos/{REPO}/installation", jwt=jwt, headers={"Accept": None})
    assert r.status == 400
    for rec in gh.requests():
        assert rec["status"] in (400, 403)
    assert "x-ratelimit-remaining" in r.headers


def test_bodies(gh, keys):
    tok = token_for(gh, keys["key"])
    r = gh.api("POST", f"/repos/{REPO}/check-runs", token=tok, raw_body=b"{not json")
    assert r.status == 400 and r.json()["message"] == "Problems parsing JSON"
    big = json.dumps({"name": "x", "head_sha": SHA, "output": {"title": "t", "summary": "s" * (1024 * 1024)}})
    r = gh.api("POST", f"/repos/{REPO}/check-runs", token=tok, raw_body=big.encode())
    assert r.status == 413
    r = gh.api("POST", f"/repos/{REPO}/check-runs", token=tok, body=[1, 2])
    assert r.status == 422
    assert gh.api("GET", "/no/such/route", token=tok).status == 404
    assert gh.api("BREW", f"/repos/{REPO}/check-runs", token=tok).status == 404
    assert gh.request("BREW", "/repos/x/y").status == 403      # no User-Agent
    assert gh.request("GET", "/" + "x" * 70000).status == 414   # over-long request line
    assert gh.health() == {"ok": True}   # still alive


# ------------------------------------------------------------------ contents

def test_contents_raw_json_and_404(gh, keys):
    tok = token_for(gh, keys["key"])
    text = "workflow {\n" + "    job \"build\" runs_on=\"ubuntu-24.04\"\n" * 5 + "}\n"
    gh.add_file(REPO, SHA, ".solstice/workflow.kdl", text)
    path = f"/repos/{REPO}/contents/.solstice/workflow.kdl?ref={SHA}"
    for accept in ("application/vnd.github.raw", "application/vnd.github.raw+json"):
        r = gh.api("GET", path, token=tok, accept=accept)
        assert r.status == 200
        assert r.headers["content-type"] == "application/vnd.github.raw"
        assert r.body.decode() == text
    r = gh.api("GET", path, token=tok)
    assert r.status == 200
    obj = r.json()
    assert obj["type"] == "file" and obj["encoding"] == "base64"
    assert obj["name"] == "workflow.kdl" and obj["path"] == ".solstice/workflow.kdl"
    assert obj["size"] == len(text.encode())
    assert all(len(line) <= 60 for line in obj["content"].split("\n"))
    assert "\n" in obj["content"].rstrip("\n")
    assert base64.b64decode(obj["content"]).decode() == text
    assert re.fullmatch(r"[0-9a-f]{40}", obj["sha"])
    # wrong ref, wrong path
    other_sha = "f" * 40
    r = gh.api("GET", f"/repos/{REPO}/contents/.solstice/workflow.kdl?ref={other_sha}", token=tok)
    assert r.status == 404 and r.json()["message"] == "Not Found"
    assert gh.api("GET", f"/repos/{REPO}/contents/nope?ref={SHA}", token=tok).status == 404


# ------------------------------------------------------------------ check runs

def test_create_update_get_run(gh, keys):
    tok = token_for(gh, keys["key"])
    r = create_run(gh, tok, external_id="req-1", details_url="https://logs.example/1", status="queued")
    assert r.status == 201, r.body
    run = r.json()
    for k in ("id", "head_sha", "external_id", "url", "html_url", "details_url", "status",
              "conclusion", "started_at", "completed_at", "output", "name", "app"):
        assert k in run
    assert run["id"] > 2 ** 32 and run["app"]["id"] == int(APP_ID)
    assert run["status"] == "queued" and run["conclusion"] is None
    rid = run["id"]
    ann = {"path": "a.kdl", "start_line": 3, "end_line": 3, "annotation_level": "failure", "message": "bad"}
    r = gh.api("PATCH", f"/repos/{REPO}/check-runs/{rid}", token=tok, body={"status": "completed"})
    assert r.status == 422 and r.json()["errors"][0]["field"] == "conclusion"
    r = gh.api("PATCH", f"/repos/{REPO}/check-runs/{rid}", token=tok,
               body={"conclusion": "failure", "completed_at": "2026-11-24T12:00:00Z",
                     "output": {"title": "t", "summary": "exit 1", "annotations": [ann]}})
    assert r.status == 200, r.body
    run = r.json()
    assert run["status"] == "completed" and run["conclusion"] == "failure"
    assert run["completed_at"] == "2026-11-24T12:00:00Z" and run["output"]["annotations_count"] == 1
    assert gh.api("GET", f"/repos/{REPO}/check-runs/{rid}", token=tok).json()["conclusion"] == "failure"
    anns = gh.api("GET", f"/repos/{REPO}/check-runs/{rid}/annotations", token=tok).json()
    assert anns[0]["message"] == "bad" and anns[0]["start_line"] == 3
    stored = gh.check_runs(REPO)
    assert len(stored) == 1 and stored[0]["annotations"][0]["path"] == "a.kdl"
    assert gh.api("GET", f"/repos/{REPO}/check-runs/{rid + 1}", token=tok).status == 404


def _ann(**over):
    a = {"path": "f", "start_line": 1, "end_line": 1, "annotation_level": "warning", "message": "m"}
    a.update(over)
    return {k: v for k, v in a.items() if v is not ...}


@pytest.mark.parametrize("fields, field", [
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"head_sha": "abc123"}, "head_sha"),
    ({"status": "running"}, "status"),
    ({"status": "completed"}, "conclusion"),
    ({"completed_at": "2026-11-24T12:00:00Z"}, "conclusion"),
    ({"conclusion": "passed"}, "conclusion"),
    ({"started_at": "yesterday"}, "started_at"),
    ({"details_url": None}, "details_url"),
    ({"output": {"title": "t"}}, "output/summary"),
    ({"output": {"summary": "s"}}, "output/title"),
    ({"output": {"title": "t", "summary": "s" * 65536}}, "output/summary"),
    ({"output": {"title": "t", "summary": "s", "text": "x" * 65536}}, "output/text"),
    ({"output": {"title": "t", "summary": "s", "annotations": [_ann()] * 51}}, "output/annotations"),
    ({"output": {"title": "t", "summary": "s", "annotations": [_ann(message=...)]}}, "output/annotations/0/message"),
    ({"output": {"title": "t", "summary": "s", "annotations": [_ann(annotation_level="error")]}},
     "output/annotations/0/annotation_level"),
    ({"output": {"title": "t", "summary": "s", "annotations": [_ann(start_line="1")]}},
     "output/annotations/0/start_line"),
])
def test_create_validation(gh, keys, fields, field):
    tok = token_for(gh, keys["key"])
    body = {"name": "Solstice CI", "head_sha": SHA, **fields}
    body = {k: v for k, v in body.items() if not (k == "name" and v is None)}
    r = gh.api("POST", f"/repos/{REPO}/check-runs", token=tok, body=body)
    assert r.status == 422, r.body
    err = r.json()
    assert err["message"] == "Invalid request." and "documentation_url" in err
    assert field in [e["field"] for e in err["errors"]], err
    assert gh.check_runs(REPO) == []


def test_create_validation_boundaries_accepted(gh, keys):
    tok = token_for(gh, keys["key"])
    r = create_run(gh, tok, conclusion="success",
                   output={"title": "t", "summary": "s" * 65535, "text": "x" * 65535,
                           "annotations": [_ann()] * 50})
    assert r.status == 201, r.body[:300]
    assert r.json()["status"] == "completed" and r.json()["completed_at"]


def test_pagination_and_filters(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.seed_check_runs(REPO, 250, name="Solstice CI / job{i}", head_sha=SHA, external_id="req-{i}")
    gh.seed_check_runs(REPO, 1, name="Solstice CI / job7", head_sha=SHA, external_id="req-7-rerun")
    base = f"/repos/{REPO}/commits/{SHA}/check-runs"
    r = gh.api("GET", base + "?filter=all&per_page=100", token=tok)
    body = r.json()
    assert r.status == 200 and body["total_count"] == 251 and len(body["check_runs"]) == 100
    link = r.headers["link"]
    assert 'rel="next"' in link and 'rel="last"' in link and 'rel="prev"' not in link
    # follow rel="next" verbatim until exhausted
    seen, url, pages = [], None, 0
    r_links = link
    seen += [c["external_id"] for c in body["check_runs"]]
    while True:
        m = re.search(r'<([^>]+)>; rel="next"', r_links or "")
        if not m:
            break
        url = urllib.parse.urlsplit(m.group(1))
        r = gh.api("GET", f"{url.path}?{url.query}", token=tok)
        assert r.status == 200
        pages += 1
        seen += [c["external_id"] for c in r.json()["check_runs"]]
        r_links = r.headers.get("link")
        if pages == 1:
            assert 'rel="prev"' in r_links and 'rel="first"' in r_links
    assert pages == 2 and len(seen) == 251 and len(set(seen)) == 251
    assert 'rel="next"' not in r_links and 'page=3' not in r_links.split('rel="prev"')[-1]
    # default filter=latest: one run per name → 250; the re-run hides the old job7
    r = gh.api("GET", base, token=tok)
    body = r.json()
    assert body["total_count"] == 250 and len(body["check_runs"]) == 30
    assert 'per_page' not in r.headers["link"] or True
    r = gh.api("GET", base + "?check_name=Solstice CI / job7".replace(" ", "%20"), token=tok)
    assert [c["external_id"] for c in r.json()["check_runs"]] == ["req-7-rerun"]
    r = gh.api("GET", base + "?filter=all&check_name=Solstice%20CI%20/%20job7", token=tok)
    assert sorted(c["external_id"] for c in r.json()["check_runs"]) == ["req-7", "req-7-rerun"]
    r = gh.api("GET", base + "?per_page=1000", token=tok)
    assert len(r.json()["check_runs"]) == 100
    assert gh.api("GET", base + "?filter=bogus", token=tok).status == 422
    r = gh.api("GET", base + "?status=completed", token=tok)
    assert r.json()["total_count"] == 0 and "link" not in r.headers


# ------------------------------------------------------------------ faults

def test_fault_500_once_then_ok(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.add_fault(r"/check-runs$", 500, method="POST")
    assert create_run(gh, tok).status == 500
    assert create_run(gh, tok).status == 201
    assert gh.faults() == []
    recs = gh.requests()
    assert [r["status"] for r in recs if r["path"].endswith("/check-runs")] == [500, 201]
    assert recs[-2]["fault"] is True


def test_fault_429_retry_after_and_primary_403(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.add_fault("/contents/", 429, headers={"retry-after": "1"})
    gh.add_fault("/contents/", 403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1999999999"})
    gh.add_file(REPO, SHA, "f", "hello")
    p = f"/repos/{REPO}/contents/f?ref={SHA}"
    r = gh.api("GET", p, token=tok)
    assert r.status == 429 and r.headers["retry-after"] == "1"
    assert "secondary rate limit" in r.json()["message"]
    r = gh.api("GET", p, token=tok)
    assert r.status == 403 and r.headers["x-ratelimit-remaining"] == "0"
    assert r.headers["x-ratelimit-reset"] == "1999999999"
    assert "API rate limit exceeded" in r.json()["message"]
    assert gh.api("GET", p, token=tok, accept="application/vnd.github.raw").body == b"hello"


def test_fault_delay_and_count(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.add_fault(r"/check-runs$", None, delay=0.6)
    t0 = time.monotonic()
    assert create_run(gh, tok).status == 201
    assert time.monotonic() - t0 >= 0.55
    gh.add_fault(r"/check-runs$", 502, count=2, body={"message": "Bad Gateway"})
    assert [create_run(gh, tok).status for _ in range(3)] == [502, 502, 201]
    assert gh.request("POST", "/_standin/faults", body={"path": "(", "status": 500}).status == 400


# ------------------------------------------------------------------ request log

def test_requests_log_never_contains_secrets(gh, keys):
    jwt = make_jwt(keys["key"])
    tok = token_for(gh, keys["key"])
    gh.api("GET", f"/repos/{REPO}/installation", jwt=jwt)
    create_run(gh, tok)
    gh.api("GET", f"/repos/{REPO}/commits/{SHA}/check-runs", token=tok,
           headers={"Authorization": f"Bearer {tok}"})
    recs = gh.requests()
    dump = json.dumps(recs)
    assert tok not in dump and jwt not in dump and jwt.split(".")[2] not in dump
    kinds = {r["headers"]["authorization"] for r in recs}
    assert {"Bearer jwt", "token installation-token", "Bearer installation-token"} <= kinds
    post = [r for r in recs if r["method"] == "POST" and r["path"].endswith("/check-runs")][0]
    assert post["body"]["name"] == "Solstice CI" and post["status"] == 201
    assert post["headers"]["x-github-api-version"] == "2022-11-28"
    assert post["headers"]["user-agent"] == "solstice-standin-tests"
    log = gh.log_path.read_text()
    assert tok not in log and jwt not in log and "/check-runs 201" in log
    gh.clear_requests()
    assert gh.requests() == []


# ------------------------------------------------------------------ v2: trust and approval

import hashlib
import hmac
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FORK = "stranger/app"
SHA2 = "89abcdef0123456789abcdef0123456789abcdef"
APPROVE = {"label": "Approve and run", "description": "Run the jobs of this commit", "identifier": "approve"}


def permission_of(gh, tok, login, repo=REPO):
    r = gh.api("GET", f"/repos/{repo}/collaborators/{login}/permission", token=tok)
    assert r.status == 200, r.body
    body = r.json()
    assert body["user"]["login"].lower() == login.lower() and body["user"]["id"] > 0
    return body["permission"], body["role_name"]


@pytest.mark.parametrize("role, permission", [
    ("admin", "admin"), ("maintain", "write"), ("write", "write"), ("triage", "read"), ("read", "read"),
])
def test_collaborator_permission_maps_roles(gh, keys, role, permission):
    tok = token_for(gh, keys["key"])
    gh.set_collaborator(REPO, "alice", role)
    assert permission_of(gh, tok, "alice") == (permission, role)
    assert permission_of(gh, tok, "ALICE")[1] == role          # logins ignore case
    perm = gh.api("GET", f"/repos/{REPO}/collaborators/ALICE/permission", token=tok).json()
    assert perm["user"]["login"] == "alice"                     # answered with the known spelling


def test_collaborator_permission_defaults_private_and_counting(gh, keys):
    tok = token_for(gh, keys["key"])
    # never mentioned: a non-collaborator, who can read a public repository
    assert permission_of(gh, tok, "nobody-known") == ("read", "read")
    gh.set_collaborator(REPO, "bob", "write")
    gh.set_collaborator(REPO, "bob", None)                      # no longer a collaborator
    assert permission_of(gh, tok, "bob") == ("read", "read")
    gh.set_repo(REPO, private=True)
    assert permission_of(gh, tok, "nobody-known") == ("none", "none")
    gh.set_collaborator(REPO, "carol", "maintain")
    perm = gh.api("GET", f"/repos/{REPO}/collaborators/carol/permission", token=tok).json()
    assert perm["user"]["permissions"] == {"admin": False, "maintain": True, "push": True,
                                           "triage": True, "pull": True}
    assert gh.api("GET", f"/repos/{REPO}/collaborators/not%20a%20login/permission", token=tok).status == 404
    assert gh.api("GET", f"/repos/{OTHER}/collaborators/carol/permission", token=tok).status == 404
    lookups = [r for r in gh.requests() if r["path"].endswith("/permission")]
    assert len(lookups) == 6 and lookups[0]["headers"]["authorization"] == "token installation-token"


def test_pull_request_shape_fork_and_replace(gh, keys):
    tok = token_for(gh, keys["key"])
    assert gh.api("POST", f"/app/installations/{INST}/access_tokens",
                  jwt=make_jwt(keys["key"])).json()["permissions"]["pull_requests"] == "read"
    gh.add_pull(REPO, 7, SHA, "mallory", head_repo=FORK, author_association="NONE", draft=True,
                title="Add feature", labels=["ci"], head_ref="topic")
    r = gh.api("GET", f"/repos/{REPO}/pulls/7", token=tok)
    assert r.status == 200, r.body
    pr = r.json()
    assert pr["number"] == 7 and pr["state"] == "open" and pr["draft"] is True
    assert pr["title"] == "Add feature" and pr["labels"][0]["name"] == "ci"
    assert pr["user"]["login"] == "mallory" and pr["author_association"] == "NONE"
    assert pr["html_url"].endswith(f"/{REPO}/pull/7")
    assert pr["head"]["sha"] == SHA and pr["head"]["ref"] == "topic"
    head, base = pr["head"]["repo"], pr["base"]["repo"]
    assert head["full_name"] == FORK and head["owner"]["login"] == "stranger"
    assert head["clone_url"] == f"https://github.com/{FORK}.git" and head["ssh_url"].endswith(f"{FORK}.git")
    assert base["full_name"] == REPO and head["id"] != base["id"]
    assert re.fullmatch(r"[0-9a-f]{40}", pr["base"]["sha"]) and pr["base"]["ref"] == "main"
    # a new push: POST again replaces the head
    gh.add_pull(REPO, 7, SHA2, "mallory", head_repo=FORK)
    assert gh.api("GET", f"/repos/{REPO}/pulls/7", token=tok).json()["head"]["sha"] == SHA2
    # same-repository pull request; a deleted fork
    gh.add_pull(REPO, 8, SHA, "alice")
    pr8 = gh.api("GET", f"/repos/{REPO}/pulls/8", token=tok).json()
    assert pr8["head"]["repo"]["id"] == pr8["base"]["repo"]["id"]
    gh.add_pull(REPO, 9, SHA, "alice", head_repo=None)
    assert gh.api("GET", f"/repos/{REPO}/pulls/9", token=tok).json()["head"]["repo"] is None
    assert gh.api("GET", f"/repos/{REPO}/pulls/99", token=tok).status == 404
    narrow = token_for(gh, keys["key"], permissions={"checks": "write"})
    assert gh.api("GET", f"/repos/{REPO}/pulls/7", token=narrow).status == 403


def test_commit_get_and_unknown_sha(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.add_commit(REPO, SHA, "Fix the build [skip ci]", parents=[SHA2],
                  author={"name": "Alice", "email": "a@example.com", "date": "2026-11-24T12:00:00Z"})
    r = gh.api("GET", f"/repos/{REPO}/commits/{SHA.upper()}", token=tok)
    assert r.status == 200, r.body
    c = r.json()
    assert c["sha"] == SHA and c["commit"]["message"] == "Fix the build [skip ci]"
    assert c["commit"]["author"] == {"name": "Alice", "email": "a@example.com", "date": "2026-11-24T12:00:00Z"}
    assert c["parents"][0]["sha"] == SHA2 and c["html_url"].endswith(f"/commit/{SHA}")
    r = gh.api("GET", f"/repos/{REPO}/commits/{SHA2}", token=tok)
    assert r.status == 422 and r.json()["message"] == f"No commit found for SHA: {SHA2}"
    # the check-runs route under /commits/{ref}/ still answers
    assert gh.api("GET", f"/repos/{REPO}/commits/{SHA}/check-runs", token=tok).status == 200


def test_actions_cleared_by_patch_without_them(gh, keys):
    tok = token_for(gh, keys["key"])
    run = create_run(gh, tok, conclusion="action_required", details_url="https://github.com/x/pull/7",
                     output={"title": "Approval required", "summary": "s"}, actions=[APPROVE]).json()
    stored = gh.check_runs(REPO)[0]
    assert stored["actions"] == [APPROVE] and stored["app_id"] == int(APP_ID)
    p = f"/repos/{REPO}/check-runs/{run['id']}"
    assert gh.api("PATCH", p, token=tok, body={"actions": [APPROVE]}).status == 200
    assert gh.check_runs(REPO)[0]["actions"] == [APPROVE]                 # resent: kept
    assert gh.api("PATCH", p, token=tok, body={"conclusion": "success",
                                               "output": {"title": "Approved by alice", "summary": "s"}}).status == 200
    assert gh.check_runs(REPO)[0]["actions"] == []                        # not resent: cleared


@pytest.mark.parametrize("actions, field", [
    ([APPROVE] * 4, "actions"),
    ([{**APPROVE, "label": "x" * 21}], "actions/0/label"),
    ([{**APPROVE, "description": "x" * 41}], "actions/0/description"),
    ([{**APPROVE, "identifier": "x" * 21}], "actions/0/identifier"),
    ([{"label": "a", "description": "b"}], "actions/0/identifier"),
])
def test_action_limits(gh, keys, actions, field):
    tok = token_for(gh, keys["key"])
    r = create_run(gh, tok, actions=actions)
    assert r.status == 422 and field in [e["field"] for e in r.json()["errors"]]
    ok = [{"label": "x" * 20, "description": "y" * 40, "identifier": "z" * 20}] * 3
    assert create_run(gh, tok, actions=ok).status == 201


def test_runs_of_another_app(gh, keys):
    tok = token_for(gh, keys["key"])
    [theirs] = gh.seed_check_runs(REPO, 1, app_id=15368, name="build", head_sha=SHA)
    ours = create_run(gh, tok).json()["id"]
    listed = gh.api("GET", f"/repos/{REPO}/commits/{SHA}/check-runs", token=tok).json()["check_runs"]
    assert {c["id"]: c["app"]["id"] for c in listed} == {theirs: 15368, ours: int(APP_ID)}
    assert gh.api("GET", f"/repos/{REPO}/check-runs/{theirs}", token=tok).status == 200
    r = gh.api("PATCH", f"/repos/{REPO}/check-runs/{theirs}", token=tok, body={"status": "in_progress"})
    assert r.status == 403
    assert r.json()["message"].startswith("Invalid app_id `15368` - check run can only be modified")
    assert gh.check_runs(REPO)[0]["status"] == "queued" and gh.check_runs(REPO)[0]["app_id"] == 15368
    assert gh.api("PATCH", f"/repos/{REPO}/check-runs/{ours}", token=tok, body={"status": "in_progress"}).status == 200


# ------------------------------------------------------------------ v2: webhooks sent by the stand-in

SECRET = "It's a Secret to Everybody"


class Receiver:
    """A tiny webhook endpoint: records each request, answers `status`/`reply`."""

    def __init__(self):
        self.got, self.status, self.reply = [], 202, {"ok": True}
        self.on_request = None    # called with the parsed payload before answering
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.got.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                  "body": body})
                reply = outer.reply
                if outer.on_request is not None:
                    reply = outer.on_request(json.loads(body))
                data = json.dumps(reply).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Solstice-Test", "yes")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/github"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(gh):
    rx = Receiver()
    gh.set_webhook(rx.url, SECRET)
    yield rx
    rx.close()


def check_signed(req, event):
    h = req["headers"]
    want = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h["x-hub-signature-256"], want)
    assert h["x-github-event"] == event and h["content-type"] == "application/json"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", h["x-github-delivery"])
    assert h["user-agent"].startswith("GitHub-Hookshot/")
    assert h["x-github-hook-installation-target-type"] == "integration"
    assert h["x-github-hook-installation-target-id"] == APP_ID and h["x-github-hook-id"].isdigit()
    assert req["path"] == "/webhooks/github"
    return json.loads(req["body"])


def test_click_delivers_requested_action(gh, keys, hook):
    tok = token_for(gh, keys["key"])
    gh.add_pull(REPO, 7, SHA, "alice", head_ref="topic")            # same-repository pull request
    run = create_run(gh, tok, conclusion="action_required", external_id="approval",
                     output={"title": "Approval required", "summary": "s"}, actions=[APPROVE]).json()
    hook.status, hook.reply = 202, {"jobs": 2}
    ans = gh.click(run["id"], "approve", "alice")
    assert ans["status"] == 202 and ans["json"] == {"jobs": 2} and ans["headers"]["X-Solstice-Test"] == "yes"
    [req] = hook.got
    p = check_signed(req, "check_run")
    assert req["headers"]["x-github-delivery"] == ans["guid"]
    assert p["action"] == "requested_action" and p["requested_action"] == {"identifier": "approve"}
    cr = p["check_run"]
    assert cr["id"] == run["id"] and cr["head_sha"] == SHA and cr["external_id"] == "approval"
    assert cr["app"]["id"] == int(APP_ID) and cr["conclusion"] == "action_required"
    assert cr["check_suite"]["head_sha"] == SHA and cr["check_suite"]["head_branch"] == "topic"
    assert [pr["number"] for pr in cr["pull_requests"]] == [7]
    assert cr["pull_requests"][0]["head"]["sha"] == SHA and cr["pull_requests"][0]["base"]["ref"] == "main"
    assert p["sender"]["login"] == "alice" and p["installation"]["id"] == INST
    repo = p["repository"]
    assert repo["full_name"] == REPO and repo["name"] == "app" and repo["owner"]["login"] == "solstice"
    assert repo["clone_url"] == f"https://github.com/{REPO}.git" and repo["id"] > 0
    # the log has it, as sent
    [entry] = gh.deliveries()
    assert entry["guid"] == ans["guid"] and entry["id"] == ans["id"] and entry["status_code"] == 202
    assert entry["event"] == "check_run" and entry["action"] == "requested_action"
    assert entry["installation_id"] == INST and entry["repository_id"] == repo["id"] and entry["sent"]
    # no such button: refused; after a PATCH without actions the button is gone
    assert gh.request("POST", "/_standin/click", body={"run_id": run["id"], "identifier": "nope",
                                                       "login": "alice"}).status == 409
    gh.api("PATCH", f"/repos/{REPO}/check-runs/{run['id']}", token=tok, body={"conclusion": "success"})
    assert gh.request("POST", "/_standin/click", body={"run_id": run["id"], "identifier": "approve",
                                                       "login": "alice"}).status == 409
    assert len(hook.got) == 1


def test_click_on_fork_pull_request_lists_no_pull_request(gh, keys, hook):
    tok = token_for(gh, keys["key"])
    gh.add_pull(REPO, 7, SHA, "mallory", head_repo=FORK)
    run = create_run(gh, tok, conclusion="action_required",
                     output={"title": "t", "summary": "s"}, actions=[APPROVE]).json()
    gh.click(run["id"], "approve", "alice")
    cr = json.loads(hook.got[0]["body"])["check_run"]
    assert cr["pull_requests"] == [] and cr["check_suite"]["head_branch"] is None
    [theirs] = gh.seed_check_runs(REPO, 1, app_id=15368, name="x", head_sha=SHA, actions=[APPROVE])
    assert gh.request("POST", "/_standin/click", body={"run_id": theirs, "identifier": "approve",
                                                       "login": "alice"}).status == 409


def test_product_may_call_the_api_while_a_click_is_delivered(gh, keys, hook):
    tok = token_for(gh, keys["key"])
    gh.set_collaborator(REPO, "alice", "maintain")
    run = create_run(gh, tok, conclusion="action_required",
                     output={"title": "t", "summary": "s"}, actions=[APPROVE]).json()

    def approve(payload):   # what the product does: check the clicker, then update the run
        login = payload["sender"]["login"]
        perm = gh.api("GET", f"/repos/{REPO}/collaborators/{login}/permission", token=tok).json()
        r = gh.api("PATCH", f"/repos/{REPO}/check-runs/{payload['check_run']['id']}", token=tok,
                   body={"conclusion": "success", "output": {"title": f"Approved by {login}", "summary": "s"}})
        return {"permission": perm["permission"], "patched": r.status}
    hook.on_request = approve
    ans = gh.click(run["id"], "approve", "alice")
    assert ans["json"] == {"permission": "write", "patched": 200}
    stored = gh.check_runs(REPO)[0]
    assert stored["conclusion"] == "success" and stored["actions"] == []


def test_comment_delivers_issue_comment(gh, keys, hook):
    gh.add_pull(REPO, 7, SHA, "mallory", head_repo=FORK, title="Add feature")
    ans = gh.comment(REPO, 7, "bob", "/ok-to-test", author_association="MEMBER")
    assert ans["status"] == 202
    p = check_signed(hook.got[0], "issue_comment")
    assert p["action"] == "created" and p["installation"]["id"] == INST
    issue = p["issue"]
    assert issue["number"] == 7 and issue["title"] == "Add feature" and issue["user"]["login"] == "mallory"
    assert issue["pull_request"]["url"].endswith(f"/repos/{REPO}/pulls/7")
    assert issue["pull_request"]["html_url"] == f"https://github.com/{REPO}/pull/7"
    c = p["comment"]
    assert c["body"] == "/ok-to-test" and c["user"]["login"] == "bob" and c["author_association"] == "MEMBER"
    assert c["id"] > 0 and p["sender"]["login"] == "bob" and p["repository"]["full_name"] == REPO
    r = gh.request("POST", "/_standin/comment", body={"repo": REPO, "number": 99, "login": "bob", "body": "x"})
    assert r.status == 409


def test_deliver_arbitrary_event_unsigned_and_unreachable(gh, hook):
    payload = {"ref": "refs/heads/main", "after": SHA, "installation": {"id": INST},
               "repository": {"id": 5, "full_name": REPO}}
    ans = gh.deliver("push", payload)
    assert ans["status"] == 202
    assert check_signed(hook.got[0], "push") == payload
    assert "x-github-event" in hook.got[0]["headers"]
    gh.set_webhook(hook.url, None)                                        # no secret: no signature
    gh.deliver("ping", {"zen": "Keep it logically awesome."})
    assert "x-hub-signature-256" not in hook.got[1]["headers"]
    gh.set_webhook("http://127.0.0.1:9/nothing-listens", SECRET)
    ans = gh.deliver("push", payload)
    assert ans["status"] is None and ans["error"]
    log = gh.deliveries()
    assert [e["status_code"] for e in log] == [202, 202, 502]
    assert log[2]["status"] == "failed to connect" and log[2]["sent"] is False
    assert log[0]["installation_id"] == INST and log[0]["repository_id"] == 5
    gh.request("DELETE", "/_standin/webhook")
    assert gh.request("POST", "/_standin/deliver", body={"event": "push", "payload": {}}).status == 409


# ------------------------------------------------------------------ v2: the App's delivery log

def test_hook_deliveries_list_pages_and_detail(gh, keys, hook):
    jwt = make_jwt(keys["key"])
    failed = gh.add_failed_deliveries([
        {"event": "push", "payload": {"n": i, "installation": {"id": INST}}, "delivered_at": f"2026-11-24T12:00:0{i}Z"}
        for i in range(5)])
    assert len(failed) == 5
    gh.deliver("push", {"n": 5})
    r = gh.api("GET", "/app/hook/deliveries?per_page=2", jwt=jwt)
    assert r.status == 200
    page = r.json()
    # newest first: the one just sent, then the failed ones from the latest
    assert [d["guid"] for d in page] == [gh.deliveries()[-1]["guid"], failed[4]["guid"]]
    for k in ("id", "guid", "delivered_at", "redelivery", "duration", "status", "status_code", "event",
              "action", "installation_id", "repository_id", "throttled_at"):
        assert k in page[0]
    assert "request" not in page[0]
    seen = [d["id"] for d in page]
    link = r.headers["link"]
    while True:
        m = re.search(r'<([^>]+)>; rel="next"', link or "")
        if not m:
            break
        assert "per_page=2" in m.group(1) and "cursor=" in m.group(1)
        u = urllib.parse.urlsplit(m.group(1))
        r = gh.api("GET", f"{u.path}?{u.query}", jwt=jwt)
        seen += [d["id"] for d in r.json()]
        link = r.headers.get("link")
    assert seen == [gh.deliveries()[-1]["id"]] + [f["id"] for f in reversed(failed)]
    d = gh.api("GET", f"/app/hook/deliveries/{failed[0]['id']}", jwt=jwt).json()
    assert d["status_code"] == 502 and d["delivered_at"] == "2026-11-24T12:00:00Z" and d["redelivery"] is False
    assert d["request"]["payload"] == {"n": 0, "installation": {"id": INST}} and d["installation_id"] == INST
    assert d["request"]["headers"]["X-GitHub-Delivery"] == failed[0]["guid"]
    ok = gh.api("GET", f"/app/hook/deliveries/{gh.deliveries()[-1]['id']}", jwt=jwt).json()
    assert json.loads(ok["response"]["payload"]) == {"ok": True} and ok["status"] == "OK"
    assert gh.api("GET", "/app/hook/deliveries/1", jwt=jwt).status == 404
    assert gh.api("GET", "/app/hook/deliveries?cursor=garbage", jwt=jwt).status == 400
    assert gh.api("GET", "/app/hook/deliveries", token=token_for(gh, keys["key"])).status == 401
    assert len(gh.api("GET", "/app/hook/deliveries?per_page=1000", jwt=jwt).json()) == 6


def test_redelivery_really_redelivers(gh, keys, hook):
    payload = {"action": "opened", "number": 7, "installation": {"id": INST}}
    [failed] = gh.add_failed_deliveries({"event": "pull_request", "payload": payload, "status_code": 503})
    assert hook.got == []                                                  # the product never saw it
    r = gh.api("POST", f"/app/hook/deliveries/{failed['id']}/attempts", jwt=make_jwt(keys["key"]))
    assert r.status == 202 and r.json() == {}
    log = gh.wait_deliveries(lambda log: len(log) == 2)
    assert len(log) == 2 and len(hook.got) == 1
    again = log[1]
    assert again["redelivery"] is True and again["guid"] == failed["guid"] and again["status_code"] == 202
    assert again["id"] != failed["id"] and again["action"] == "opened" and again["event"] == "pull_request"
    p = check_signed(hook.got[0], "pull_request")
    assert p == payload and hook.got[0]["headers"]["x-github-delivery"] == failed["guid"]
    assert gh.api("POST", "/app/hook/deliveries/12345/attempts", jwt=make_jwt(keys["key"])).status == 404


def test_delivery_log_is_bounded(gh):
    batch = [{"event": "push", "payload": {"i": i}} for i in range(2500)]
    for _ in range(5):
        gh.add_failed_deliveries(batch)
    log = gh.deliveries()
    assert len(log) == 10_000 and log[-1]["request"]["payload"] == {"i": 2499}


# ------------------------------------------------------------------ v2: pacing

def test_secondary_rate_limit(gh, keys):
    tok = token_for(gh, keys["key"])
    other = token_for(gh, keys["key"], OTHER_INST)
    gh.set_secondary_limit(3)
    assert [create_run(gh, tok).status for _ in range(3)] == [201, 201, 201]
    r = create_run(gh, tok)
    assert r.status == 403 and "secondary rate limit" in r.json()["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["documentation_url"].endswith("#about-secondary-rate-limits")
    rid = gh.check_runs(REPO)[0]["id"]
    assert gh.api("PATCH", f"/repos/{REPO}/check-runs/{rid}", token=tok, body={"status": "in_progress"}).status == 403
    assert gh.api("GET", f"/repos/{REPO}/check-runs/{rid}", token=tok).status == 200    # reads are not paced
    assert create_run(gh, other, repo=OTHER).status == 201                               # per installation
    assert token_for(gh, keys["key"])                                                    # minting is not paced
    view = gh.secondary_limit()
    assert view["per_minute"] == 3 and view["refused"] == 2
    assert view["by_installation"] == {str(INST): 2} and view["in_window"][str(INST)] == 3
    assert len(gh.check_runs(REPO)) == 3
    gh.set_secondary_limit(0)
    assert create_run(gh, tok).status == 201 and gh.secondary_limit()["per_minute"] is None


def test_standing_delay_until_cleared(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.set_delay(r"/check-runs$", 0.5, method="POST")

    def timed(fn):
        t0 = time.monotonic()
        assert fn().status in (200, 201)
        return time.monotonic() - t0
    assert all(timed(lambda: create_run(gh, tok)) >= 0.45 for _ in range(2))
    assert timed(lambda: gh.api("GET", f"/repos/{REPO}/commits/{SHA}/check-runs", token=tok)) < 0.3
    with ThreadPoolExecutor(4) as pool:          # concurrent requests are delayed side by side
        t0 = time.monotonic()
        assert [f.result().status for f in [pool.submit(create_run, gh, tok) for _ in range(4)]] == [201] * 4
        assert time.monotonic() - t0 < 1.5
    assert gh.request("GET", "/_standin/delay").json()["delays"][0]["seconds"] == 0.5
    gh.clear_delay()
    assert timed(lambda: create_run(gh, tok)) < 0.3


def test_fault_delay_many_and_concurrent(gh, keys):
    tok = token_for(gh, keys["key"])
    gh.add_fault(r"/check-runs$", None, method="POST", delay=0.6, count=1_000_000)
    with ThreadPoolExecutor(6) as pool:
        t0 = time.monotonic()
        statuses = [f.result().status for f in [pool.submit(create_run, gh, tok) for _ in range(6)]]
        took = time.monotonic() - t0
    assert statuses == [201] * 6 and 0.55 <= took < 1.5
    assert gh.faults()[0]["count"] == 1_000_000 - 6


def test_reset_forgets_v2_state(gh, keys, hook):
    gh.set_collaborator(REPO, "alice", "admin")
    gh.set_repo(REPO, private=True)
    gh.add_pull(REPO, 7, SHA, "alice")
    gh.add_commit(REPO, SHA, "m")
    gh.deliver("push", {})
    gh.set_secondary_limit(1)
    gh.set_delay("/x", 1)
    gh.reset()
    gh.set_installations({REPO: INST})
    tok = token_for(gh, keys["key"])
    assert permission_of(gh, tok, "alice") == ("read", "read")
    assert gh.api("GET", f"/repos/{REPO}/pulls/7", token=tok).status == 404
    assert gh.api("GET", f"/repos/{REPO}/commits/{SHA}", token=tok).status == 422
    assert gh.deliveries() == [] and gh.request("GET", "/_standin/delay").json() == {"delays": []}
    assert gh.secondary_limit()["per_minute"] is None
    assert gh.request("GET", "/_standin/webhook").json() == {"url": None, "secret_set": False}


@pytest.mark.parametrize("path, body", [
    ("/collaborators", {"repo": REPO, "login": "alice", "role": "owner"}),
    ("/collaborators", {"repo": REPO, "login": "bad login", "role": "read"}),
    ("/collaborators", [{"repo": REPO, "login": "a", "role": "read"}, 5]),
    ("/repos", {"repo": REPO, "private": "yes"}),
    ("/pulls", {"repo": REPO, "number": 0, "head_sha": SHA, "user": "a"}),
    ("/pulls", {"repo": REPO, "number": 1, "head_sha": "abc", "user": "a"}),
    ("/pulls", {"repo": REPO, "number": 1, "head_sha": SHA, "user": "a", "author_association": "BOSS"}),
    ("/pulls", {"repo": REPO, "number": 1, "head_sha": SHA, "user": "a", "labels": "ci"}),
    ("/commits", {"repo": REPO, "sha": "xyz", "message": "m"}),
    ("/commits", {"repo": REPO, "sha": SHA, "message": 5}),
    ("/webhook", {"url": "ftp://x/y"}),
    ("/click", {"run_id": "1", "identifier": "approve", "login": "a"}),
    ("/comment", {"repo": REPO, "number": 7, "login": "a", "body": None}),
    ("/deliver", {"event": "Push!", "payload": {}}),
    ("/deliver", {"event": "push", "payload": [1]}),
    ("/deliveries/failed", {"event": "push", "payload": {}, "status_code": 99}),
    ("/deliveries/failed", {"event": "push", "payload": {}, "delivered_at": "yesterday"}),
    ("/secondary-limit", {"per_minute": -1}),
    ("/secondary-limit", {"per_minute": "40"}),
    ("/delay", {"path": "(", "seconds": 1}),
    ("/delay", {"path": "x", "seconds": 0}),
    ("/delay", {"path": "x", "seconds": 301}),
    ("/check-runs", {"repo": REPO, "name": "x", "head_sha": SHA, "app_id": "other"}),
])
def test_bad_v2_control_bodies(gh, path, body):
    r = gh.request("POST", "/_standin" + path, body=body)
    assert r.status == 400, (path, r.status, r.body)
    assert "message" in r.json()
    assert gh.health() == {"ok": True}
