"""Integration fixtures: the stack that `make test` started (scripts/stack.sh up test) — a real nginx, Apache and
lighttpd in front of solstice-fcgi and a real RabbitMQ. Its addresses come from .solstice/test/stack.env through the
environment (tests/support/stack.py)."""
import pathlib
import time

import pytest
import requests

from support import publishing, signing, stack as stack_env, topology
from support.stack import env


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
        self.queue = topology.JOBS_QUEUE
        self.session = requests.Session()

    def sign(self, body: bytes, secret: bytes = None) -> str:
        return signing.sign(body, secret or self.secret)

    def post(self, body: bytes, event="push", delivery=None, content_type="application/json", signature=None,
             path=None, method="POST", headers=None, sign=True):
        h = signing.webhook_headers(body, self.secret, event=event, delivery=delivery, content_type=content_type,
                                    signature=signature, signed=sign)
        h.update(headers or {})
        if method != "POST":
            body = None  # lighttpd refuses a GET with a body (400) before the responder could say 405
        return self.session.request(method, self.url + (path or self.path), data=body, headers=h, timeout=20)

    def channel(self):
        return publishing.connect(self.amqp_url, timeout=5)

    def purge(self):
        publishing.purge(self.amqp_url, self.queue, timeout=5)

    def drain(self, expect=None, timeout=5.0):
        """All messages now on the jobs queue (acked), waiting up to `timeout` for `expect` of them."""
        return publishing.drain(self.amqp_url, self.queue, expect, wait=timeout, timeout=5)

    def spool_dirs(self):
        return stack_env.spool_dirs()

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
        stack_env.script("ctl", *args, timeout=60, capture=True)

    def broker_pid(self):
        return int((self.state / "rabbitmq/rabbit.pid").read_text().strip())

    def stack(self, command):
        stack_env.script(command, timeout=180)


@pytest.fixture(scope="session")
def stack():
    """The stack reached through nginx, for tests that also look behind the web server."""
    return Stack("nginx")


@pytest.fixture(scope="session", params=stack_env.web_servers())
def web(request):
    """The stack reached through each web server in turn: the same requests, the same answers."""
    return Stack(request.param)


@pytest.fixture
def clean(stack):
    stack_env.register_sample_installation()
    stack.purge()
    yield stack
    stack.purge()


@pytest.fixture
def clean_web(web):
    stack_env.register_sample_installation()
    web.purge()
    yield web
    web.purge()
