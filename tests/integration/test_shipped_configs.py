"""The shipped web-server examples pass their servers' own checkers, and each check can fail.

nginx/production.conf.example (`nginx -t`), deploy/apache/solstice.conf.example (`apache2 -t`) and
deploy/lighttpd/solstice.conf.example (`lighttpd -tt`) are fragments an operator drops into the server's own main
configuration: each test wraps its example in a minimal main configuration of its own in a temporary directory
(pid, logs, temp paths; the modules Apache needs; a throwaway self-signed certificate for the Let's Encrypt paths),
so the check never reads or writes the host's /etc, /var/log or /run. A check passes only when the server accepts
the file without a warning; for each server a deliberately broken copy shows the check refuses what it must.

The operations paths (SPEC §11: STATUS_PATH, METRICS_PATH) are routed to the responder and allowed to loopback and
a monitoring network only: each server is started on its example (on a free loopback port, with a stand-in FastCGI
responder in place of solstice-fcgi) and asked from 127.0.0.1 (allowed) and from 127.0.0.2 (another loopback
address, outside the allow lists: 403 from the server itself); the webhook path is open to both.

No stack is needed (no STACK_* variables): `python3 -m pytest tests/integration/test_shipped_configs.py`."""
import http.client
import os
import pathlib
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from support.stack import ROOT, free_port

NGINX_EXAMPLE = ROOT / "nginx/production.conf.example"
APACHE_EXAMPLE = ROOT / "deploy/apache/solstice.conf.example"
LIGHTTPD_EXAMPLE = ROOT / "deploy/lighttpd/solstice.conf.example"
FASTCGI_PARAMS = ROOT / "nginx/fastcgi_params.solstice"

LE_CERT = "/etc/letsencrypt/live/ci.example.com/fullchain.pem"
LE_KEY = "/etc/letsencrypt/live/ci.example.com/privkey.pem"
RESPONDER = "/usr/local/bin/solstice-fcgi"

STATUS_PATH, METRICS_PATH, WEBHOOK_PATH = "/solstice/status", "/solstice/metrics", "/webhooks/github"
MONITORING_NETWORK = "10.0.0.0/8"

# Modules deploy/apache/solstice.conf.example needs (its a2enmod line), and the MPM (a module in Debian's build).
APACHE_MODULES = ["mpm_event", "authz_core", "authz_host", "alias", "fcgid", "rewrite", "ssl"]
APACHE_MODULE_DIR = pathlib.Path("/usr/lib/apache2/modules")

# nginx ≥ 1.25.1 deprecates `listen ... http2` for `http2 on;`, which nginx 1.22 (Debian 12) does not know yet:
# the one warning tolerated, so the example stays valid on both.
NGINX_TOLERATED_WARNINGS = [re.compile(r'the "listen \.\.\. http2" directive is deprecated')]


def tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is missing (scripts/stack.sh deps installs it)")
    return path


# Host paths the examples name but a server never opens itself: the responder's binary (spawned only when a
# request comes) and the values of the responder's environment.
INERT_PATHS = {RESPONDER, "/etc/solstice/webhook-secret", "/var/spool/solstice"}


def host_paths(text):
    """Absolute /etc, /var, /run or /usr/local paths left in the directives of a wrapped file (comments and
    INERT_PATHS aside): the wrappers replace every other one, so a check never touches the host's files."""
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    found = re.findall(r"(?<![\w.-])/(?:etc|var|run|usr/local)/[^\s\"';)]*", code)
    return [p for p in found if p not in INERT_PATHS]


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A throwaway self-signed certificate for ci.example.com, in place of the examples' Let's Encrypt files."""
    d = tmp_path_factory.mktemp("cert")
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=ci.example.com", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


class Checked:
    """What a server's checker said about a wrapped example: ok only with exit 0 and no warning."""

    def __init__(self, argv, completed, warnings):
        self.argv, self.returncode, self.warnings = argv, completed.returncode, warnings
        self.output = (completed.stdout + completed.stderr).strip()
        self.ok = completed.returncode == 0 and not warnings

    def __repr__(self):
        return f"{' '.join(self.argv)} → exit {self.returncode}\n{self.output}"


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)


# -- nginx -------------------------------------------------------------------------------------------------------

def nginx_wrap(d: pathlib.Path, text: str, cert, listen=None) -> pathlib.Path:
    """The example as Debian's nginx.conf would include it from sites-enabled/, inside http {}; returns the main
    configuration. listen=(host, port): serve the example there instead of 443 (for a real start)."""
    site = (text.replace(LE_CERT, str(cert[0])).replace(LE_KEY, str(cert[1]))
            .replace("/etc/solstice/fastcgi_params.solstice", str(FASTCGI_PARAMS))
            .replace("/var/log/nginx/", f"{d}/")
            .replace("unix:/run/solstice/fcgi.sock", f"unix:{d}/fcgi.sock"))
    if listen:
        site = re.sub(r"listen \[::\]:443 [^;]*;\n", "", site)
        site = site.replace("listen 443 ssl", f"listen {listen[0]}:{listen[1]} ssl")
    assert not host_paths(site), host_paths(site)
    (d / "site.conf").write_text(site)
    main = d / "nginx.conf"
    main.write_text(f"""
worker_processes 1;
pid       {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log            {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path       {d}/proxy;
    fastcgi_temp_path     {d}/fastcgi;
    uwsgi_temp_path       {d}/uwsgi;
    scgi_temp_path        {d}/scgi;
    include               {d}/site.conf;
}}
""")
    return main


def nginx_check(d, text, cert) -> Checked:
    main = nginx_wrap(d, text, cert)
    argv = [tool("nginx"), "-t", "-c", str(main), "-p", f"{d}/"]
    out = run(argv)
    warnings = [line for line in out.stderr.splitlines() if "[warn]" in line
                and not any(p.search(line) for p in NGINX_TOLERATED_WARNINGS)]
    return Checked(argv, out, warnings)


def test_nginx_accepts_the_production_example(tmp_path, cert):
    checked = nginx_check(tmp_path, NGINX_EXAMPLE.read_text(), cert)
    assert checked.ok and "test is successful" in checked.output, checked


def test_nginx_refuses_log_format_inside_server(tmp_path, cert):
    """The example's own former defect: log_format belongs to http {}, not to server {}."""
    text = NGINX_EXAMPLE.read_text()
    assert "\nserver {\n" in text
    broken = text.replace("\nserver {\n", "\nserver {\n    log_format broken '$remote_addr';\n", 1)
    checked = nginx_check(tmp_path, broken, cert)
    assert not checked.ok and checked.returncode != 0, checked
    assert '"log_format" directive is not allowed here' in checked.output, checked


# -- Apache ------------------------------------------------------------------------------------------------------

def apache_wrap(d: pathlib.Path, text: str, cert, listen=("127.0.0.1", 443), modules=APACHE_MODULES,
                responder=None) -> pathlib.Path:
    """The example as Debian's apache2.conf would include it from sites-enabled/, with the modules it needs and,
    as there, the whole file system denied unless a section grants it. responder: an executable in place of
    solstice-fcgi (for a real start)."""
    site = text.replace(LE_CERT, str(cert[0])).replace(LE_KEY, str(cert[1]))
    if responder:
        site = site.replace(RESPONDER, str(responder))
    if listen[1] != 443:
        site = site.replace("<VirtualHost *:443>", f"<VirtualHost {listen[0]}:{listen[1]}>")
    assert not host_paths(site), host_paths(site)
    (d / "site.conf").write_text(site)
    (d / "logs").mkdir(exist_ok=True)
    load = "\n".join(f"LoadModule {m}_module {APACHE_MODULE_DIR}/mod_{m}.so" for m in modules)
    user = "User nobody\nGroup nogroup" if os.geteuid() == 0 else ""
    main = d / "apache2.conf"
    main.write_text(f"""
ServerRoot        "{d}"
DefaultRuntimeDir "{d}"
PidFile           "{d}/httpd.pid"
ErrorLog          "{d}/error.log"
LogLevel          warn
ServerName        localhost
Listen            {listen[0]}:{listen[1]}
Define            APACHE_LOG_DIR {d}/logs
{user}
{load}
<Directory />
    AllowOverride None
    Require all denied
</Directory>
# mod_fcgid creates its IPC directory itself and gives it to User (it must not exist yet)
FcgidIPCDir           "{d}/fcgid"
FcgidProcessTableFile "{d}/fcgid/shm"
Include "{d}/site.conf"
""")
    return main


def apache_check(d, text, cert, modules=APACHE_MODULES) -> Checked:
    main = apache_wrap(d, text, cert, modules=modules)
    argv = [tool("apache2"), "-t", "-f", str(main)]
    out = run(argv)
    warnings = [line for line in (out.stdout + out.stderr).splitlines() if line.strip() != "Syntax OK"]
    return Checked(argv, out, warnings)


def test_apache_accepts_the_example(tmp_path, cert):
    checked = apache_check(tmp_path, APACHE_EXAMPLE.read_text(), cert)
    assert checked.ok and checked.output == "Syntax OK", checked


def test_apache_refuses_a_trailing_comment(tmp_path, cert):
    """The example's own former defect: Apache has no trailing comments (`#` became a second ErrorLog argument)."""
    text = APACHE_EXAMPLE.read_text()
    assert "solstice-error.log\n" in text
    broken = text.replace("solstice-error.log\n", "solstice-error.log     # the responder's log lines land here\n")
    checked = apache_check(tmp_path, broken, cert)
    assert not checked.ok and checked.returncode != 0, checked
    assert "ErrorLog takes one argument" in checked.output, checked


def test_apache_refuses_the_example_without_authz_host(tmp_path, cert):
    """The operations allow list needs mod_authz_host (the example's a2enmod line): without it `Require ip` fails."""
    modules = [m for m in APACHE_MODULES if m != "authz_host"]
    checked = apache_check(tmp_path, APACHE_EXAMPLE.read_text(), cert, modules=modules)
    assert not checked.ok and checked.returncode != 0, checked


# -- lighttpd ----------------------------------------------------------------------------------------------------

def lighttpd_wrap(d: pathlib.Path, text: str, listen=("127.0.0.1", 80), responder=None) -> pathlib.Path:
    """The example included from a minimal lighttpd.conf (Debian's includes it from conf-enabled/), its socket in
    d. responder: an executable in place of solstice-fcgi (lighttpd -tt wants bin-path to exist; it runs nothing)."""
    if responder is None:
        responder = d / "solstice-fcgi"
        responder.write_text("#!/bin/sh\nexit 1\n")
        responder.chmod(0o755)
    conf = text.replace("/run/lighttpd/", f"{d}/").replace(RESPONDER, str(responder))
    assert not host_paths(conf), host_paths(conf)
    (d / "solstice.conf").write_text(conf)
    (d / "www").mkdir(exist_ok=True)
    main = d / "lighttpd.conf"
    main.write_text(f"""
server.document-root = "{d}/www"
server.bind          = "{listen[0]}"
server.port          = {listen[1]}
server.pid-file      = "{d}/lighttpd.pid"
server.errorlog      = "{d}/error.log"
server.upload-dirs   = ( "{d}" )
include "{d}/solstice.conf"
""")
    return main


def lighttpd_check(d, text) -> Checked:
    main = lighttpd_wrap(d, text)
    argv = [tool("lighttpd"), "-tt", "-f", str(main)]
    out = run(argv)
    # lighttpd -tt exits 0 on an unknown key or an unusable bin-path and only says so: any output is a finding.
    warnings = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
    return Checked(argv, out, warnings)


def test_lighttpd_accepts_the_example(tmp_path):
    checked = lighttpd_check(tmp_path, LIGHTTPD_EXAMPLE.read_text())
    assert checked.ok and checked.output == "", checked


def test_lighttpd_refuses_a_syntax_error(tmp_path):
    text = LIGHTTPD_EXAMPLE.read_text()
    broken = text.replace("        )),\n    )\n", "        )),\n", 1)  # fastcgi.server's closing parenthesis
    assert broken != text
    checked = lighttpd_check(tmp_path, broken)
    assert not checked.ok and checked.returncode != 0, checked


def test_lighttpd_check_refuses_an_ignored_allow_list(tmp_path):
    """Without mod_access lighttpd ignores url.access-deny (exit 0, one WARNING): the operations paths would be
    open to all. The check counts the warning as a failure."""
    text = LIGHTTPD_EXAMPLE.read_text()
    broken = text.replace('server.modules += ( "mod_access", "mod_fastcgi" )', 'server.modules += ( "mod_fastcgi" )')
    assert broken != text
    checked = lighttpd_check(tmp_path, broken)
    assert not checked.ok and "unknown config-key: url.access-deny" in checked.output, checked


# -- Operations paths: open to loopback and the monitoring network only, webhooks open to all ---------------------

@pytest.mark.parametrize("example", [NGINX_EXAMPLE, APACHE_EXAMPLE, LIGHTTPD_EXAMPLE], ids=lambda p: p.parent.name)
def test_examples_allow_loopback_and_a_monitoring_network(example):
    """The allow lists name both loopback addresses and the placeholder monitoring network an operator adjusts
    (the test below shows they work, but can try IPv4 only)."""
    text = example.read_text()
    assert MONITORING_NETWORK in text and "127.0.0.1" in text and "::1" in text
    assert "monitoring network" in text


# A stand-in for solstice-fcgi behind a started server: a FastCGI responder on the socket it inherits on fd 0 (as
# mod_fcgid, lighttpd and spawn-fcgi hand it over) that answers 200 with the REQUEST_URI it was given, so a test
# sees that a request reached the responder, and with which path. The system's python3: the servers' children run
# as nobody or www-data and may not reach another interpreter.
STANDIN = r"""#!/usr/bin/python3
import socket, struct
listener = socket.socket(fileno=0)
while True:
    conn, _ = listener.accept()
    with conn:
        f, params, rid = conn.makefile("rb"), b"", 1
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            _, kind, rid, length, padding = struct.unpack(">BBHHBx", head)
            content = f.read(length)
            f.read(padding)
            if kind == 4:
                params += content
            elif kind == 5 and not length:
                break
        env, i = {}, 0
        while i < len(params):
            n = []
            for _ in range(2):
                b = params[i]
                if b >> 7:
                    n.append(struct.unpack(">I", params[i:i + 4])[0] & 0x7FFFFFFF)
                    i += 4
                else:
                    n.append(b)
                    i += 1
            env[params[i:i + n[0]]] = params[i + n[0]:i + n[0] + n[1]]
            i += n[0] + n[1]
        out = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nstand-in " + env.get(b"REQUEST_URI", b"?")
        record = lambda kind, c: struct.pack(">BBHHBx", 1, kind, rid, len(c), 0) + c
        conn.sendall(record(6, out) + record(6, b"") + record(3, struct.pack(">IB3x", 0, 0)))
        f.close()  # the connection closes only when its file object does too
"""


def write_standin(d: pathlib.Path) -> pathlib.Path:
    path = d / "solstice-fcgi-standin"
    path.write_text(STANDIN)
    path.chmod(0o755)
    return path


def other_loopback_address_works():
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.2", 0))
        return True
    except OSError:
        return False


def get(port, path, source, tls):
    """GET path from source address (127.0.0.1 or 127.0.0.2); the status code and the body."""
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, source_address=(source, 0),
                                           context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Host": "ci.example.com"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


class Server:
    """A web server started in the foreground on a wrapped example (and the stand-in it connects to, if it does not
    spawn one itself), stopped by their PIDs."""

    def __init__(self, argv, port, log, backend=None):
        self.port, self.backend = port, backend
        self.out = open(log.with_suffix(".out"), "w")
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=self.out, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        exited = self.proc.poll()
        self.stop()
        logs = log.with_suffix(".out").read_text() + (log.read_text() if log.exists() else "")
        pytest.fail(f"{argv[0]} exited {exited}: {logs}" if exited is not None
                    else f"{argv[0]} did not listen on {port} within 15 s: {logs}")

    def stop(self):
        for proc in (self.proc, self.backend):
            if proc is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
        self.out.close()


@pytest.fixture
def server_dir():
    """A directory the servers' unprivileged children (nobody, www-data) may enter: pytest's tmp_path lies below a
    0700 directory when run as root."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="solstice-shipped-"))
    d.chmod(0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start(server, d, cert, port):
    """The server on its wrapped example, with the stand-in as solstice-fcgi behind it."""
    standin = write_standin(d)
    if server == "nginx":
        main = nginx_wrap(d, NGINX_EXAMPLE.read_text(), cert, listen=("127.0.0.1", port))
        # nginx only connects: the stand-in listens on the socket the example passes to, as spawn-fcgi runs it.
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(d / "fcgi.sock"))
            os.chmod(d / "fcgi.sock", 0o666)  # nginx's workers run as nobody under root
            sock.listen(16)
            backend = subprocess.Popen([str(standin)], stdin=sock.fileno(), start_new_session=True)
        return Server([tool("nginx"), "-c", str(main), "-p", f"{d}/", "-g", "daemon off;"], port, d / "error.log",
                      backend=backend)
    if server == "apache":
        main = apache_wrap(d, APACHE_EXAMPLE.read_text(), cert, listen=("127.0.0.1", port), responder=standin)
        return Server([tool("apache2"), "-f", str(main), "-DFOREGROUND"], port, d / "error.log")
    main = lighttpd_wrap(d, LIGHTTPD_EXAMPLE.read_text(), listen=("127.0.0.1", port), responder=standin)
    return Server([tool("lighttpd"), "-D", "-f", str(main)], port, d / "error.log")


@pytest.mark.parametrize("server", ["nginx", "apache", "lighttpd"])
def test_operations_paths_answer_loopback_only(server, server_dir, cert):
    """From 127.0.0.2 (outside the allow lists) STATUS_PATH and METRICS_PATH get 403 from the server itself and
    never reach the responder; from 127.0.0.1 they reach it with their path in REQUEST_URI, and the webhook reaches
    it from anywhere. Other paths do not reach it."""
    if not other_loopback_address_works():
        pytest.skip("127.0.0.2 is not usable as a source address here")
    tls = server in ("nginx", "apache")
    s = start(server, server_dir, cert, free_port())
    try:
        for path in (STATUS_PATH, METRICS_PATH):
            assert get(s.port, path, "127.0.0.2", tls)[0] == 403, path
            assert get(s.port, path, "127.0.0.1", tls) == (200, f"stand-in {path}"), path
        for source in ("127.0.0.1", "127.0.0.2"):
            assert get(s.port, WEBHOOK_PATH, source, tls) == (200, f"stand-in {WEBHOOK_PATH}")
            assert get(s.port, WEBHOOK_PATH + "?x=1", source, tls) == (200, f"stand-in {WEBHOOK_PATH}?x=1")
            status, body = get(s.port, "/solstice/other", source, tls)
            assert status in (403, 404) and "stand-in" not in body
    finally:
        s.stop()
