"""Where the stack that `scripts/stack.sh up PROFILE` started is reached. The script writes
.solstice/PROFILE/stack.env; `make test` (and `make run` for demo.py) sources it, and these read its STACK_*
variables, so that no test knows a port or a path of its own."""
import os
import pathlib
import socket
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts/stack.sh"


def env(name, *, skip=False) -> str:
    """A STACK_* variable. Unset, it ends the test session (exit 2), or with skip=True skips the calling test."""
    value = os.environ.get(name)
    if value:
        return value
    import pytest  # only tests ask for variables that may be missing

    message = f"{name} is not set: run the integration tests through `make test`"
    if skip:
        pytest.skip(message)
    pytest.exit(message, returncode=2)


def profile() -> str:
    return os.environ.get("STACK_PROFILE", "test")


def web_servers() -> list:
    """The web servers in front of solstice-fcgi in this stack (nginx always; Apache and lighttpd in the tests)."""
    return os.environ.get("STACK_WEB_SERVERS", "nginx").split()


def spool_dirs() -> list:
    """The SPOOL_DIR of every responder in the stack: nginx's solstice-fcgi, and the one the web servers spawn."""
    return [pathlib.Path(p) for p in env("STACK_SPOOL_DIRS").split(":")]


def script(command, *args, timeout=180, capture=False):
    """`scripts/stack.sh COMMAND PROFILE ARGS...`, checked."""
    return subprocess.run([str(SCRIPT), command, profile(), *args], check=True, timeout=timeout,
                          capture_output=capture, text=capture)


def results_env() -> dict:
    """The environment the stack's solstice-results runs with, but for the S3 keys (see s3_keys)."""
    lines = script("results-env", timeout=30, capture=True).stdout.split("\n")
    return dict(line.split("=", 1) for line in lines if "=" in line)


def s3_keys(path=None) -> dict:
    """The S3 user's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, as scripts/s3_setup.py wrote them (STACK_S3_ENV)."""
    text = pathlib.Path(path or env("STACK_S3_ENV")).read_text()
    return dict(line.replace("export ", "").split("=", 1) for line in text.splitlines() if "=" in line)


def standin(url=None):
    """A client of the stack's GitHub stand-in (tests/github_standin/client.py)."""
    from github_standin.client import StandIn

    return StandIn(url or env("STACK_STANDIN_URL"))


def free_port() -> int:
    """A loopback TCP port nothing listens on now, for a responder of a test's own."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def register_sample_installation():
    """The sample payloads name installation 1 of Codertocat/Hello-World: a stack with the GitHub stand-in must know
    it, or minting its token fails and every such delivery is (rightly) deferred instead of built."""
    if os.environ.get("STACK_STANDIN_URL"):
        standin().set_installations({"Codertocat/Hello-World": 1})
