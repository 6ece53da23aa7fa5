"""SPEC v2 §2–§3 against the real process: what a hostile client or an operator's slip must never achieve — a crash
by CONTENT_LENGTH, a header line smuggled into an answer, a blank secret that silently means "no secret". The
FastCGI socket is spoken to directly (fcgi_client), as an attacker on the host would, not only through nginx."""
import json
import os
import socket
import stat
import struct
import subprocess
import time
import uuid

import pytest

import fcgi_client
from support import stack as stack_env
from support.payloads import payload

PUSH = payload("push.with-new-branch.json")


def responder_pid(stack):
    return int((stack.state / "fcgi.child").read_text())


def params(stack, body, **extra):
    p = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_TYPE": "application/json",
         "CONTENT_LENGTH": str(len(body)), "HTTP_X_GITHUB_EVENT": "push", "HTTP_X_GITHUB_DELIVERY": str(uuid.uuid4()),
         "HTTP_X_HUB_SIGNATURE_256": stack.sign(body)}
    p.update(extra)
    return p


@pytest.mark.parametrize("length", ["-1", "+5", "1e3", "99999999999999999999999", "abc", "0x10"])
def test_a_content_length_that_is_not_a_length_is_400_over_fastcgi(clean, length):
    before = responder_pid(clean)
    status, _, body = fcgi_client.request(clean.fcgi_socket, params(clean, PUSH, CONTENT_LENGTH=length), PUSH)
    assert status == 400, body
    assert b"CONTENT_LENGTH" in body
    # The same process answers the next request: nothing crashed (the stack's supervisor would restart it).
    status, _, _ = fcgi_client.request(clean.fcgi_socket, params(clean, PUSH), PUSH)
    assert status == 202
    assert responder_pid(clean) == before
    assert len(clean.drain(expect=1)) == 1


@pytest.mark.parametrize("length", ["-1", "18446744073709551617"])
def test_a_content_length_that_is_not_a_length_is_400_in_cgi(clean, length):
    env = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": clean.secret.decode(), "AMQP_URL": clean.amqp_url,
           **params(clean, PUSH, CONTENT_LENGTH=length)}
    out = subprocess.run([clean.fcgi_bin], input=PUSH, env=env, capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr  # not killed by a signal
    assert out.stdout.startswith(b"Status: 400"), out.stdout
    assert clean.drain() == []


def test_a_reason_quoting_request_data_cannot_start_a_header_line(clean):
    event = "issues\r\nX-Evil: 1\r\nSet-Cookie: a=b"
    status, headers, _ = fcgi_client.request(
        clean.fcgi_socket, params(clean, PUSH, HTTP_X_GITHUB_EVENT=event), PUSH)
    assert status == 204
    assert "x-evil" not in headers and "set-cookie" not in headers
    assert headers["x-solstice-ignored"] == "event issues  X-Evil: 1  Set-Cookie: a=b is not handled"


def start(stack, tmp_path, **env):
    base = {"PATH": os.environ["PATH"], "AMQP_URL": stack.amqp_url, "SPOOL_DIR": str(tmp_path / "spool"),
            "FCGI_LISTEN": str(tmp_path / "s.sock")}
    base.update(env)
    return subprocess.run([stack.fcgi_bin], env=base, capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize("variable", ["GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_FILE", "WEBHOOK_SECRET"])
def test_a_secret_variable_set_but_empty_stops_the_start_naming_it(stack, tmp_path, variable):
    env = {variable: " "}
    if variable != "WEBHOOK_SECRET":
        env["WEBHOOK_SECRET"] = "would-be-used-instead"
    out = start(stack, tmp_path, **env)
    assert out.returncode == 2
    assert out.stderr.startswith(f"solstice-fcgi: invalid configuration: {variable}:"), out.stderr
    assert not (tmp_path / "s.sock").exists()


def test_no_secret_refuses_to_start_unless_dev_mode(stack, tmp_path):
    out = start(stack, tmp_path)
    assert out.returncode == 2 and "GITHUB_WEBHOOK_SECRET" in out.stderr and "SOLSTICE_DEV_MODE" in out.stderr
    out = start(stack, tmp_path, SOLSTICE_DEV_MODE="1", GITHUB_APP_ID="1", GITHUB_APP_KEY_PATH="/nonexistent")
    assert out.returncode == 2  # the key path is read first, or dev mode is refused: never a running App in dev mode


def test_dev_mode_is_refused_beside_app_credentials(stack, tmp_path):
    key = tmp_path / "key.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(key), "2048"], check=True, capture_output=True)
    out = start(stack, tmp_path, SOLSTICE_DEV_MODE="1", GITHUB_APP_ID="1", GITHUB_APP_KEY_PATH=str(key))
    assert out.returncode == 2 and "SOLSTICE_DEV_MODE" in out.stderr and "App" in out.stderr, out.stderr


def test_dev_mode_serves_unsigned_requests_and_says_so(stack, tmp_path):
    env = {"PATH": os.environ["PATH"], "SOLSTICE_DEV_MODE": "1", "AMQP_URL": stack.amqp_url,
           **params(stack, PUSH, HTTP_X_HUB_SIGNATURE_256="")}
    out = subprocess.run([stack.fcgi_bin], input=PUSH, env=env, capture_output=True, timeout=20)
    assert out.stdout.startswith(b"Status: 202"), out.stdout + out.stderr
    assert b"level=error" in out.stderr and b"dev mode" in out.stderr
    assert b"level=warning msg=\"dev mode: request accepted without a signature check\"" in out.stderr
    assert len(stack.drain(expect=1)) == 1


def with_repository(**fields):
    """The sample push with `name` (the repository's), `owner` (its login) or `after` replaced."""
    body = json.loads(PUSH)
    for key, value in fields.items():
        if key == "owner":
            body["repository"]["owner"]["login"] = value
        elif key == "name":
            body["repository"]["name"] = value
        else:
            body[key] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize("field,value,named", [
    ("name", "../../../app/installations/7/access_tokens?x=", "repository.name"),
    ("name", "..", "repository.name"),
    ("owner", "a/b", "repository.owner.login"),
    ("owner", "x" * 101, "repository.owner.login"),
    ("after", "../" + "0" * 37, "after"),
    ("after", "6113728F27AE82C7B1A177C8D03F9E96E0ADF246", "after"),
])
def test_payload_fields_that_end_up_in_urls_are_validated_before_use(clean, field, value, named):
    url = os.environ.get("STACK_STANDIN_URL")
    gh = stack_env.standin(url) if url else None
    if gh:
        gh.clear_requests()
    body = with_repository(**{field: value})
    r = clean.post(body, delivery=str(uuid.uuid4()))
    assert r.status_code == 400, r.text
    assert named in r.json()["error"]
    assert clean.drain() == []
    if gh:
        # GitHub was never asked anything about it (other tests' Check Runs may still be on their way).
        assert [r for r in gh.requests() if value in r["path"] or value.lower() in r["path"]] == []


def test_a_client_that_stalls_is_cut_off_and_frees_its_worker(clean, tmp_path):
    sock = str(tmp_path / "s.sock")
    env = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": clean.secret.decode(), "AMQP_URL": clean.amqp_url,
           "SPOOL_DIR": str(tmp_path / "spool"), "FCGI_LISTEN": sock, "FCGI_WORKERS": "1",
           "FCGI_CLIENT_TIMEOUT": "2s"}
    proc = subprocess.Popen([clean.fcgi_bin], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while not os.path.exists(sock):
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.05)
        # Only the web server's group may connect: mode 0660, the directory's group.
        info = os.stat(sock)
        assert stat.S_IMODE(info.st_mode) == 0o660 and info.st_gid == os.stat(tmp_path).st_gid
        staller = socket.socket(socket.AF_UNIX)
        staller.connect(sock)
        staller.sendall(fcgi_client._record(fcgi_client.BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)))
        # The only worker is held by the staller until it is cut off; then this request is served.
        status, _, body = fcgi_client.request(sock, params(clean, PUSH), PUSH, timeout=20)
        assert status == 202, body
        staller.settimeout(20)
        assert staller.recv(1) == b""  # the staller's connection was closed
        staller.close()
        assert len(clean.drain(expect=1)) == 1
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "FastCGI client cut off" in err
