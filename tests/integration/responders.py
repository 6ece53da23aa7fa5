"""A solstice-fcgi of a test's own, on a TCP port, with the stack's App (against the GitHub stand-in) and broker
and the variables the test gives: for behaviour that needs other configuration than the stack's responder."""
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import uuid

import fcgi_client
from support import stack as stack_env
from support.stack import free_port

APP_ID = 4242


class OwnResponder:
    """A solstice-fcgi of the test's own on a TCP port, with the stack's App and broker and extra variables."""

    def __init__(self, stack, tmp_path, spool=None, log=None, **variables):
        state = pathlib.Path(stack_env.env("STACK_STATE"))
        self.port, self.stack = free_port(), stack
        self.spool = pathlib.Path(spool or tmp_path / "spool")
        self.log_path = pathlib.Path(log or tmp_path / f"fcgi-{self.port}.log")
        env = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": stack.secret.decode(),
               "AMQP_URL": stack.amqp_url, "SPOOL_DIR": str(self.spool), "FCGI_WORKERS": "2",
               "GITHUB_APP_ID": str(APP_ID), "GITHUB_APP_KEY_PATH": str(state / "app-key.pem"),
               "GITHUB_API_BASE": stack_env.env("STACK_STANDIN_URL"), "GAP_REPAIR_INTERVAL": "0", **variables}
        self.env = {k: v for k, v in env.items() if v is not None}
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen([stack.fcgi_bin, "--listen", f"127.0.0.1:{self.port}"], env=self.env,
                                         stderr=log_file)
        for _ in range(200):
            if socket.socket().connect_ex(("127.0.0.1", self.port)) == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"the responder did not start; see {self.log_path}")

    def post(self, body, event, delivery=None):
        """One signed delivery over FastCGI: (status, JSON answer or None)."""
        params = {"REQUEST_METHOD": "POST", "REQUEST_URI": "/webhooks/github", "CONTENT_TYPE": "application/json",
                  "CONTENT_LENGTH": str(len(body)), "HTTP_X_GITHUB_EVENT": event,
                  "HTTP_X_GITHUB_DELIVERY": delivery or str(uuid.uuid4()),
                  "HTTP_X_HUB_SIGNATURE_256": self.stack.sign(body)}
        status, _, answer = fcgi_client.request(("127.0.0.1", self.port), params, body)
        return status, json.loads(answer) if answer else None

    def get(self, path):
        """A GET over FastCGI (the operations endpoints): (status, JSON answer or None)."""
        params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "CONTENT_LENGTH": "0"}
        status, _, answer = fcgi_client.request(("127.0.0.1", self.port), params, b"")
        return status, json.loads(answer) if answer else None

    def log(self):
        return self.log_path.read_text(errors="replace")

    def kill(self):
        """kill -9: no goodbye, no flushing, locks released by the kernel."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


