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
