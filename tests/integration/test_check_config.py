"""`solstice-fcgi check-config` (SPEC §9): one line per check, ✓ or ✗ with the fix, exit 0 only if all pass;
each failing check provoked for real."""
import os
import subprocess

import pytest


def check(stack, tmp_path, *args, **env):
    base = {"PATH": os.environ["PATH"], "GITHUB_WEBHOOK_SECRET": "s", "AMQP_URL": stack.amqp_url,
            "SPOOL_DIR": str(tmp_path / "spool")}
    base.update(env)
    out = subprocess.run([stack.fcgi_bin, "check-config", *args], env={k: v for k, v in base.items() if v is not None},
                         capture_output=True, text=True, timeout=30)
    lines = {line[2:].split(":")[0]: line for line in out.stdout.splitlines()}
    return out.returncode, lines


def test_all_checks_pass(stack, tmp_path):
    rc, lines = check(stack, tmp_path, "--web-config", stack.nginx_conf)
    assert rc == 0, lines
    assert set(lines) == {"configuration", "webhook secret", "broker", "spool", "github app", "web server"}
    assert all(line.startswith("✓") for line in lines.values())


def test_missing_secret_fails_unless_dev(stack, tmp_path):
    rc, lines = check(stack, tmp_path, GITHUB_WEBHOOK_SECRET=None)
    assert rc == 1 and lines["webhook secret"].startswith("✗")
    assert "GITHUB_WEBHOOK_SECRET" in lines["webhook secret"]
    rc, lines = check(stack, tmp_path, "--dev", GITHUB_WEBHOOK_SECRET=None)
    assert rc == 0 and lines["webhook secret"].startswith("✓")


def test_unreachable_broker(stack, tmp_path):
    rc, lines = check(stack, tmp_path, AMQP_URL="amqp://127.0.0.1:1/%2f")
    assert rc == 1
    assert lines["broker"].startswith("✗") and "cannot connect" in lines["broker"] and "AMQP_URL" in lines["broker"]
    assert lines["spool"].startswith("✓")  # one failure does not hide the other checks


def test_topology_with_other_arguments(stack, tmp_path):
    connection, ch = stack.channel()
    ch.queue_declare("check-config.mismatch", durable=True)  # no dead-letter argument
    connection.close()
    try:
        rc, lines = check(stack, tmp_path, AMQP_QUEUE="check-config.mismatch")
        assert rc == 1
        assert lines["broker"].startswith("✗") and "PRECONDITION_FAILED" in lines["broker"]
        assert "delete" in lines["broker"]
    finally:
        connection, ch = stack.channel()
        ch.queue_delete("check-config.mismatch")
        connection.close()


@pytest.mark.parametrize("existing, configured", [("classic", "quorum"), ("quorum", "classic")])
def test_queue_of_the_other_type_is_named_with_the_way_out(stack, tmp_path, existing, configured):
    """RabbitMQ cannot change a queue's type in place (406 on x-queue-type): check-config names the queue, both
    types and the migration, instead of the broker's raw refusal alone (SPEC §12)."""
    name = f"check-config.type-{existing}"
    arguments = {"x-dead-letter-exchange": "solstice.dlx"}  # all else as solstice-fcgi declares it
    if existing == "quorum":
        arguments["x-queue-type"] = "quorum"
    connection, ch = stack.channel()
    ch.queue_declare(name, durable=True, arguments=arguments)
    connection.close()
    try:
        rc, lines = check(stack, tmp_path, AMQP_QUEUE=name, AMQP_QUEUE_TYPE=configured)
        assert rc == 1, lines
        line = lines["broker"]
        assert line.startswith("✗") and "x-queue-type" in line, line
        assert f"queue '{name}' exists as a {existing} queue but AMQP_QUEUE_TYPE={configured}" in line
        assert f"set AMQP_QUEUE_TYPE={existing} to keep it" in line and "Moving to quorum queues" in line
    finally:
        connection, ch = stack.channel()
        ch.queue_delete(name)
        connection.close()


def test_wrong_credentials(stack, tmp_path):
    rc, lines = check(stack, tmp_path, AMQP_URL=stack.amqp_url.replace("guest:guest", "guest:wrong"))
    assert rc == 1 and lines["broker"].startswith("✗")


def test_spool_not_writable(stack, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    rc, lines = check(stack, tmp_path, SPOOL_DIR=str(blocker / "spool"))
    assert rc == 1 and lines["spool"].startswith("✗") and "SPOOL_DIR" in lines["spool"]


@pytest.mark.parametrize("text,ok", [
    ("client_max_body_size 1m;", False), ("client_max_body_size 25m;", True), ("client_max_body_size 0;", True),
    ("FcgidMaxRequestLen 131072", False), ("server.max-request-size = 25600", True),
    ("# nothing about bodies\nlisten 80;", False),
])
def test_web_server_body_limit(stack, tmp_path, text, ok):
    conf = tmp_path / "web.conf"
    conf.write_text(text + "\n")
    rc, lines = check(stack, tmp_path, "--web-config", str(conf))
    assert lines["web server"].startswith("✓" if ok else "✗"), lines["web server"]
    assert (rc == 0) == ok


def test_bad_value_stops_before_any_check(stack, tmp_path):
    out = subprocess.run([stack.fcgi_bin, "check-config"], env={"PATH": os.environ["PATH"], "FCGI_WORKERS": "x"},
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "FCGI_WORKERS" in out.stderr


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["check-config", "--help"], ["serve", "--version"]])
def test_help_and_version(stack, args):
    out = subprocess.run([stack.fcgi_bin, *args], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0
    if "--help" in args:
        for variable in ["GITHUB_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET_FILE", "WEBHOOK_PATH", "FCGI_LISTEN",
                         "FCGI_WORKERS", "MAX_BODY_BYTES", "AMQP_URL", "AMQP_EXCHANGE", "AMQP_QUEUE", "AMQP_DLX",
                         "AMQP_DLQ", "AMQP_RESULTS_QUEUE", "REPO_ALLOWLIST", "BRANCH_ALLOWLIST", "RUNS_ON_MAP",
                         "SPOOL_DIR", "LOG_LEVEL", "LOG_FORMAT"]:
            assert variable in out.stdout, variable
    else:
        assert out.stdout.startswith("solstice-fcgi ")


def app_env(stack, **extra):
    env = {"GITHUB_APP_ID": os.environ["STACK_APP_ID"], "GITHUB_APP_KEY_PATH": str(stack.state / "app-key.pem"),
           "GITHUB_API_BASE": os.environ["STACK_STANDIN_URL"]}
    env.update(extra)
    return env


def test_github_app_authenticates(stack, tmp_path):
    rc, lines = check(stack, tmp_path, **app_env(stack))
    assert rc == 0 and lines["github app"].startswith("✓") and os.environ["STACK_APP_ID"] in lines["github app"]


def test_github_app_with_the_wrong_id(stack, tmp_path):
    rc, lines = check(stack, tmp_path, **app_env(stack, GITHUB_APP_ID="999"))
    assert rc == 1 and lines["github app"].startswith("✗") and "GITHUB_APP_ID" in lines["github app"]


def test_github_app_with_another_key(stack, tmp_path):
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(other), "2048"], check=True, capture_output=True)
    rc, lines = check(stack, tmp_path, **app_env(stack, GITHUB_APP_KEY_PATH=str(other)))
    assert rc == 1 and lines["github app"].startswith("✗") and "key" in lines["github app"]


@pytest.mark.parametrize("content", ["", "not a key", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"])
def test_malformed_or_unreadable_app_key_stops_at_start(stack, tmp_path, content):
    key = tmp_path / "key.pem"
    key.write_text(content)
    for path in [str(key), str(tmp_path / "missing.pem")]:
        out = subprocess.run([stack.fcgi_bin, "check-config"], capture_output=True, text=True, timeout=10,
                             env={"PATH": os.environ["PATH"], **app_env(stack, GITHUB_APP_KEY_PATH=path)})
        assert out.returncode == 2 and "GITHUB_APP_KEY_PATH" in out.stderr
