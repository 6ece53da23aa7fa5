"""Integration fixtures: the stack that `make test` started (scripts/stack.sh up test) — a real nginx in front of
solstice-fcgi and a real RabbitMQ. Reads its addresses from .solstice/test/stack.env via the environment."""
import hashlib
import hmac
import json
import os
import pathlib
import subprocess
import time

import pika
import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAYLOADS = pathlib.Path(os.environ.get("GITHUB_PAYLOADS_DIR", ROOT.parent / "shared/reference/github-payloads"))


def env(name):
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the integration tests through `make test`", returncode=2)
    return value


class Stack:
    def __init__(self, server="nginx"):
        self.server = server
        self.url = env("STACK_URL_" + server.upper().replace("-", "_"))
        self.path = env("STACK_WEBHOOK_PATH")
        self.secret = env("STACK_SECRET").encode()
        self.amqp_url = env("STACK_AMQP_URL")
        self.state = pathlib.Path(env("STACK_STATE"))
        self.fcgi_bin = env("STACK_FCGI_BIN")
        self.fcgi_socket = env("STACK_FCGI_SOCKET")
        self.nginx_conf = env("STACK_NGINX_CONF")
        self.queue = "solstice.jobs.v1"
        self.session = requests.Session()

    def sign(self, body: bytes, secret: bytes = None) -> str:
        return "sha256=" + hmac.new(secret or self.secret, body, hashlib.sha256).hexdigest()

    def post(self, body: bytes, event="push", delivery=None, content_type="application/json", signature=None,
             path=None, method="POST", headers=None, sign=True):
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        if event is not None:
            h["X-GitHub-Event"] = event
        if delivery is not None:
            h["X-GitHub-Delivery"] = delivery
        if sign:
            h["X-Hub-Signature-256"] = signature or self.sign(body)
        h.update(headers or {})
        if method != "POST":
            body = None  # lighttpd refuses a GET with a body (400) before the responder could say 405
        return self.session.request(method, self.url + (path or self.path), data=body, headers=h, timeout=20)

    def channel(self):
        params = pika.URLParameters(self.amqp_url)
        params.socket_timeout = 5
        connection = pika.BlockingConnection(params)
        return connection, connection.channel()

    def purge(self):
        connection, ch = self.channel()
        try:
            ch.queue_purge(self.queue)
        finally:
            connection.close()

    def drain(self, expect=None, timeout=5.0):
        """All messages now on the jobs queue (acked), waiting up to `timeout` for `expect` of them."""
        connection, ch = self.channel()
        messages = []
        deadline = time.time() + timeout
        try:
            while True:
                method, props, body = ch.basic_get(self.queue, auto_ack=True)
                if method is None:
                    if expect is None or len(messages) >= expect or time.time() > deadline:
                        break
                    time.sleep(0.05)
                    continue
                messages.append((props, json.loads(body)))
        finally:
            connection.close()
        return messages

    def spool_dirs(self):
        return [pathlib.Path(p) for p in env("STACK_SPOOL_DIRS").split(":")]

    def wait_drained(self, timeout=30.0):
        """Waits until every responder's spool outbox is empty (their drainers run every second)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not any(list((d / "outbox").glob("*.json")) for d in self.spool_dirs() if (d / "outbox").is_dir()):
                return True
            time.sleep(0.1)
        return False

    def ctl(self, *args):
        """rabbitmqctl against the stack's node."""
        subprocess.run([str(ROOT / "scripts/stack.sh"), "ctl", os.environ.get("STACK_PROFILE", "test"), *args],
                       check=True, timeout=60, capture_output=True)

    def broker_pid(self):
        return int((self.state / "rabbitmq/rabbit.pid").read_text().strip())

    def stack(self, command):
        subprocess.run([str(ROOT / "scripts/stack.sh"), command, os.environ.get("STACK_PROFILE", "test")],
                       check=True, timeout=180)


def web_servers():
    return os.environ.get("STACK_WEB_SERVERS", "nginx").split()


@pytest.fixture(scope="session")
def stack():
    """The stack reached through nginx, for tests that also look behind the web server."""
    return Stack("nginx")


@pytest.fixture(scope="session", params=web_servers())
def web(request):
    """The stack reached through each web server in turn: the same requests, the same answers."""
    return Stack(request.param)


@pytest.fixture
def clean(stack):
    stack.purge()
    yield stack
    stack.purge()


@pytest.fixture
def clean_web(web):
    web.purge()
    yield web
    web.purge()


def payload(name) -> bytes:
    return (PAYLOADS / name).read_bytes()
