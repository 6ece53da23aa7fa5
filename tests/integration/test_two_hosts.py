"""SPEC §12: two solstice-fcgi hosts, each with its own SPOOL_DIR, behind one nginx that routes by
`hash $http_x_github_delivery consistent` — deploy/nginx/solstice-two-hosts.conf.example itself, started by an
nginx of the test's own (its own configuration, port, pid, logs and temp paths) in front of two responders on
FastCGI over TCP, with the stack's RabbitMQ. Counted by delivery and message_id:

- 100 deliveries × 8 concurrent copies: 100 jobs, each once; the 8 copies of a delivery meet one host (one 202,
  seven duplicates of it); both hosts take a share;
- a host lost (kill -9): its share moves to the other host, no answer is a 5xx, and the deliveries it had taken are
  published again with the same message_id — the only duplicates, which the orchestrator drops by that id;
- a lost host's outbox (jobs the broker had not confirmed) drained from a copy of its SPOOL_DIR with
  `solstice-fcgi drain-spool`.

Each host runs without the GitHub App: Check Runs are not what is measured here, and each push is then exactly one
job whose id is known in advance (UUIDv5 of delivery + "/default"). Traffic goes to 127.0.0.1 only and is bounded."""
import collections
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest
import requests

from responders import OwnResponder
from support import signing, records
from support.payloads import new_sha, payload
from support.stack import ROOT, free_port
from support.topology import NAMESPACE
from test_faults import report
from test_operations import samples
import test_shipped_configs
from test_shipped_configs import FASTCGI_PARAMS, LE_CERT, LE_KEY, host_paths, nginx_check

EXAMPLE = ROOT / "deploy/nginx/solstice-two-hosts.conf.example"
# The fixture: a throwaway self-signed certificate for the example's ci.example.com (module scope).
cert = test_shipped_configs.cert
# The example's placeholders: the two hosts' FastCGI addresses and the balancer's per-host operations ports.
HOST_ADDRESSES = ("192.0.2.11:9000", "192.0.2.12:9000")
MONITOR_LISTENS = ("listen 9181;", "listen 9182;")
WEBHOOK_PATH = "/webhooks/github"
# No GitHub App on either host (see the module's note); None drops OwnResponder's default for the variable.
WITHOUT_APP = {"GITHUB_APP_ID": None, "GITHUB_APP_KEY_PATH": None, "GITHUB_API_BASE": None}
ACCESS_LINE = re.compile(r'"POST (?P<path>\S+) [^"]*" (?P<status>\d{3}) .* delivery=(?P<delivery>\S*) '
                         r'upstream="(?P<upstream>[^"]*)" upstream_status="(?P<upstream_status>[^"]*)"')

# The client side of the test is TLS without verification: the balancer serves the example's server block with a
# throwaway self-signed certificate for ci.example.com, reached as 127.0.0.1.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def push(sha) -> bytes:
    """A push that becomes a job (GitHub's sample with a new branch), at commit `sha`."""
    body = json.loads(payload("push.with-new-branch.json"))
    body["after"] = sha
    return json.dumps(body).encode()


def job_id(delivery) -> str:
    """The request_id (and message_id) of a delivery's one job without a workflow (SPEC §7)."""
    return str(uuid.uuid5(NAMESPACE, delivery + "/default"))


def group_id(delivery) -> str:
    return str(uuid.uuid5(NAMESPACE, delivery))


class Balancer:
    """The load-balancer example run by an nginx of the test's own in `directory`, in front of `hosts`: the
    placeholders replaced by the responders' ports and the test's own paths and ports, nothing else changed. Started
    in the foreground (its master is our child, a group leader of its own) and stopped by that PID."""

    def __init__(self, directory, cert, hosts):
        self.dir, self.hosts = directory, hosts
        self.dir.mkdir()
        self.port = free_port()
        self.monitor_ports = [free_port() for _ in hosts]
        self.access_log = self.dir / "solstice-balancer.access.log"
        site = EXAMPLE.read_text()
        replacements = [("/var/log/nginx/", f"{self.dir}/", 4),
                        ("/etc/solstice/fastcgi_params.solstice", str(FASTCGI_PARAMS), 3),
                        (LE_CERT, str(cert[0]), 1), (LE_KEY, str(cert[1]), 1),
                        ("    listen [::]:443 ssl http2;\n", "", 1),
                        ("listen 443 ssl http2;", f"listen 127.0.0.1:{self.port} ssl http2;", 1)]
        for placeholder, host in zip(HOST_ADDRESSES, hosts):
            replacements.append((placeholder, f"127.0.0.1:{host.port}", 2))  # the upstream and its own port
        for listen, port in zip(MONITOR_LISTENS, self.monitor_ports):
            replacements.append((listen, f"listen 127.0.0.1:{port};", 1))
        for old, new, count in replacements:
            # The example changed under the test: say which placeholder went missing instead of testing something else.
            assert site.count(old) == count, f"{EXAMPLE.name}: expected {count} × {old!r}"
            site = site.replace(old, new)
        assert not host_paths(site), host_paths(site)
        (self.dir / "site.conf").write_text(site)
        # Two workers, so that a host's failures are seen by both through the upstream's zone. The temp paths are
        # never written: the pushes (about 7 KB) fit client_body_buffer_size, so nginx's workers (nobody, when the
        # tests run as root) need no access below pytest's 0700 tmp_path; the master opens the logs.
        main = self.dir / "nginx.conf"
        main.write_text(f"""
worker_processes 2;
pid       {self.dir}/nginx.pid;
error_log {self.dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {self.dir}/client_body;
    proxy_temp_path       {self.dir}/proxy;
    fastcgi_temp_path     {self.dir}/fastcgi;
    uwsgi_temp_path       {self.dir}/uwsgi;
    scgi_temp_path        {self.dir}/scgi;
    include               {self.dir}/site.conf;
}}
""")
        self.out = open(self.dir / "nginx.out", "w")
        self.proc = subprocess.Popen(["nginx", "-c", str(main), "-p", f"{self.dir}/", "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=self.out, start_new_session=True)
        self.url = f"https://127.0.0.1:{self.port}"
        self.local = threading.local()
        deadline = time.time() + 15
        while time.time() < deadline and self.proc.poll() is None:
            try:
                requests.get(self.url + "/", verify=False, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the balancer did not start: {(self.dir / 'nginx.out').read_text()}"
                             f"{(self.dir / 'error.log').read_text() if (self.dir / 'error.log').exists() else ''}")

    def post(self, body, delivery, secret):
        """One signed delivery as GitHub sends it: (delivery, status, JSON answer or None). A connection that
        fails counts as status 0, a failed delivery in GitHub's log."""
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        headers = signing.webhook_headers(body, secret, event="push", delivery=delivery)
        try:
            r = session.post(self.url + WEBHOOK_PATH, data=body, headers=headers, verify=False, timeout=20)
        except requests.RequestException:
            return delivery, 0, None
        try:
            answer = r.json()
        except ValueError:
            answer = None
        return delivery, r.status_code, answer

    def post_all(self, sends, secret, workers=16):
        """Posts every (body, delivery) of `sends`, `workers` at a time; the answers in the same order."""
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda s: self.post(s[0], s[1], secret), sends))

    def metrics(self, host_index):
        """The host's METRICS_PATH through its operations port on the balancer, as {'name{labels}': value}."""
        r = requests.get(f"http://127.0.0.1:{self.monitor_ports[host_index]}/solstice/metrics", timeout=10)
        assert r.status_code == 200, r.text
        return samples(r.text)

    def webhook_lines(self):
        """The access log's webhook lines, as dicts (delivery, status, upstream: the addresses tried in order)."""
        lines = []
        for line in self.access_log.read_text().splitlines():
            m = ACCESS_LINE.search(line)
            if m and m["path"] == WEBHOOK_PATH:
                lines.append({**m.groupdict(), "upstream": m["upstream"].split(", ")})
        return lines

    def stop(self):
        """QUIT (finish the requests in hand), then the whole process group if the master does not end."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.out.close()


class TwoHosts:
    """Two responders, host A and host B, each with its own SPOOL_DIR, and the balancer in front of them."""

    def __init__(self, stack, tmp_path, cert):
        self.stack, self.hosts, self.balancer = stack, [], None
        for name in ("a", "b"):
            self.hosts.append(OwnResponder(stack, tmp_path, spool=tmp_path / f"spool-{name}",
                                           log=tmp_path / f"host-{name}.log", FCGI_WORKERS="4", **WITHOUT_APP))
        self.balancer = Balancer(tmp_path / "balancer", cert, self.hosts)

    def address(self, index):
        return f"127.0.0.1:{self.hosts[index].port}"

    def host_of(self, delivery):
        """The indices of the hosts whose SPOOL_DIR records `delivery` (SPEC §7: written once it was published or
        spooled)."""
        gid = group_id(delivery)
        return [i for i, h in enumerate(self.hosts) if records.recorded(h.spool, gid)]

    def send(self, sends, workers=16):
        return self.balancer.post_all(sends, self.stack.secret, workers)

    def stop(self):
        if self.balancer:
            self.balancer.stop()
        for host in self.hosts:
            host.stop()


@pytest.fixture
def two_hosts(clean, tmp_path, cert):
    hosts = None
    try:
        hosts = TwoHosts(clean, tmp_path, cert)
        yield hosts
    finally:
        if hosts:
            hosts.stop()


def jobs_of(stack, deliveries, expect, timeout=30):
    """The jobs now on the queue (waiting up to `timeout` for `expect` of them, then a moment for stragglers), as
    (delivery, message_id, request_id) of those whose delivery is in `deliveries`, and how many others there were."""
    messages = stack.drain(expect=expect, timeout=timeout) + stack.drain(timeout=1.5)
    ours = [(p.headers["x-github-delivery"], p.message_id, b["request_id"]) for p, b in messages
            if p.headers and p.headers.get("x-github-delivery") in deliveries]
    return ours, len(messages) - len(ours)


def test_the_example_passes_nginx_t(tmp_path, cert):
    checked = nginx_check(tmp_path, EXAMPLE.read_text(), cert)
    assert checked.ok and "test is successful" in checked.output, checked


def test_the_example_routes_by_delivery_and_never_resends_a_post():
    """The two choices the rest of this file depends on, as directives (comments aside)."""
    code = "\n".join(line.split("#", 1)[0] for line in EXAMPLE.read_text().splitlines())
    assert re.search(r"upstream solstice_responders \{[^}]*\bhash \$http_x_github_delivery consistent;", code)
    assert re.search(r"fastcgi_next_upstream +error timeout;", code)
    assert "non_idempotent" not in code


def test_100_deliveries_8_copies_each_through_two_hosts_publish_100_jobs(two_hosts):
    stack, balancer = two_hosts.stack, two_hosts.balancer
    deliveries = [str(uuid.uuid4()) for _ in range(100)]
    bodies = {d: push(new_sha()) for d in deliveries}
    # The 8 copies of a delivery are neighbours in the list, so with 16 senders they are in flight together.
    sends = [(bodies[d], d) for d in deliveries for _ in range(8)]
    started = time.monotonic()
    answers = two_hosts.send(sends, workers=16)
    took = time.monotonic() - started

    statuses = collections.Counter(status for _, status, _ in answers)
    assert statuses == {202: 100, 200: 700}, statuses  # no 5xx, no failed connection
    by_delivery = collections.defaultdict(list)
    for d, status, answer in answers:
        by_delivery[d].append((status, answer))
    for d, got in by_delivery.items():
        # All 8 copies met one host: one of them published (202), the others are its record's duplicates.
        assert sorted(s for s, _ in got) == [200] * 7 + [202], (d, got)
        assert {a["jobs"][0]["request_id"] for _, a in got} == {job_id(d)}, (d, got)
        assert all(a["duplicate"] is True for s, a in got if s == 200), (d, got)

    jobs, others = jobs_of(stack, set(deliveries), expect=100)
    per_delivery = collections.Counter(d for d, _, _ in jobs)
    assert len(jobs) == 100 and set(per_delivery) == set(deliveries) and set(per_delivery.values()) == {1}
    assert all(message_id == request_id == job_id(d) for d, message_id, request_id in jobs)

    # Where each delivery went: its record is in exactly one SPOOL_DIR, and nginx logged all 8 copies to that host.
    host_of = {}
    for d in deliveries:
        [host_of[d]] = two_hosts.host_of(d)
    shares = collections.Counter(host_of.values())
    assert shares[0] > 0 and shares[1] > 0, shares  # both hosts took traffic
    lines = balancer.webhook_lines()
    assert len(lines) == 800
    for line in lines:
        assert line["upstream"] == [two_hosts.address(host_of[line["delivery"]])], line

    # Each host's operations port reaches that host: its counters are its share, 1 × 202 and 7 × 200 per delivery.
    for i in (0, 1):
        m = balancer.metrics(i)
        assert m['solstice_webhooks_total{event="push",status="202"}'] == shares[i], (i, shares)
        assert m['solstice_webhooks_total{event="push",status="200"}'] == 7 * shares[i], (i, shares)
        # From outside the allow list (another loopback address), nginx refuses before any responder is asked.
        if test_shipped_configs.other_loopback_address_works():
            assert test_shipped_configs.get(balancer.monitor_ports[i], "/solstice/status", "127.0.0.2", False)[0] == 403
    report("100 deliveries × 8 copies through two hosts", requests=len(answers), seconds=round(took, 1),
           jobs=len(jobs), host_a=shares[0], host_b=shares[1], other_messages=others)


def test_a_lost_host_moves_its_share_and_republishes_only_the_same_message_ids(two_hosts):
    stack, balancer = two_hosts.stack, two_hosts.balancer
    deliveries = [str(uuid.uuid4()) for _ in range(100)]
    sends = [(push(new_sha()), d) for d in deliveries]
    first = two_hosts.send(sends)
    assert collections.Counter(s for _, s, _ in first) == {202: 100}
    first_jobs, _ = jobs_of(stack, set(deliveries), expect=100)
    first_ids = {d: message_id for d, message_id, _ in first_jobs}
    assert len(first_jobs) == 100 and len(first_ids) == 100

    lost = {d for d in deliveries if two_hosts.host_of(d) == [0]}
    kept = {d for d in deliveries if two_hosts.host_of(d) == [1]}
    assert lost and kept and len(lost) + len(kept) == 100, (len(lost), len(kept))

    two_hosts.hosts[0].kill()
    logged_before = len(balancer.webhook_lines())
    # GitHub's redeliveries (or a sender's retries) of every delivery, same GUID, same body.
    again = two_hosts.send(sends)
    statuses = {d: (s, a) for d, s, a in again}
    assert all(s in (200, 202) for s, _ in statuses.values()), collections.Counter(s for s, _ in statuses.values())
    # Host B answers its own share from its records, and takes host A's share as new deliveries: published again,
    # with the ids of the first publication.
    assert {d for d, (s, _) in statuses.items() if s == 200} == kept
    assert {d for d, (s, _) in statuses.items() if s == 202} == lost
    assert all(a["jobs"][0]["request_id"] == first_ids[d] for d, (_, a) in statuses.items())
    assert all(two_hosts.host_of(d) == [0, 1] for d in lost)  # the dead host's disk still holds its records

    republished, others = jobs_of(stack, set(deliveries), expect=len(lost))
    assert collections.Counter(d for d, _, _ in republished) == collections.Counter(lost)
    assert all(message_id == first_ids[d] for d, message_id, _ in republished)
    every_publication = list(first_ids.values()) + [message_id for _, message_id, _ in republished]
    assert len(every_publication) == 100 + len(lost) and len(set(every_publication)) == 100

    # nginx: every redelivery ended on host B; those that tried host A first were passed on after the refused
    # connect (502 from A, then B's answer), which is what kept 5xx away from GitHub.
    lines = balancer.webhook_lines()[logged_before:]
    assert len(lines) == 100 and all(line["upstream"][-1] == two_hosts.address(1) for line in lines)
    passed_on = [line for line in lines if len(line["upstream"]) == 2]
    assert passed_on and all(line["upstream"][0] == two_hosts.address(0) for line in passed_on)
    assert all(line["delivery"] in lost for line in passed_on)

    # Once moved, the share stays answered: a third round publishes nothing.
    third = two_hosts.send(sends)
    assert collections.Counter(s for _, s, _ in third) == {200: 100}
    late, _ = jobs_of(stack, set(deliveries), expect=0, timeout=0)
    assert late == []
    report("host A lost (kill -9), 100 deliveries redelivered", host_a_share=len(lost), host_b_share=len(kept),
           republished=len(republished), distinct_message_ids=len(set(every_publication)),
           passed_on_by_nginx=len(passed_on), other_messages=others)


def test_a_lost_hosts_outbox_drains_from_a_copy_of_its_spool(two_hosts, tmp_path):
    """README's recipe for a host that will not come back: its SPOOL_DIR holds what the broker had not confirmed;
    `solstice-fcgi drain-spool` with SPOOL_DIR pointing at a copy publishes it, with the same ids."""
    stack = two_hosts.stack
    deliveries = [str(uuid.uuid4()) for _ in range(40)]
    sends = [(push(new_sha()), d) for d in deliveries]
    stack.stack("broker-stop")
    try:
        answers = two_hosts.send(sends, workers=8)
        assert [s for _, s, _ in answers] == [202] * 40
        assert all(a["spooled"] is True for _, _, a in answers)
        on_a = {d for d in deliveries if two_hosts.host_of(d) == [0]}
        assert on_a and len(on_a) < 40, len(on_a)
        spool_a = two_hosts.hosts[0].spool
        two_hosts.hosts[0].kill()
        outbox_a = sorted(p.name for p in (spool_a / "outbox").glob("*.json"))
        assert len(outbox_a) == len(on_a)  # one file per delivery it spooled
        copy = tmp_path / "spool-a-copy"
        shutil.copytree(spool_a, copy)
    finally:
        stack.stack("broker-start")

    # Host B drains its own outbox in the background once the broker is back.
    outbox_b = two_hosts.hosts[1].spool / "outbox"
    deadline = time.time() + 30
    while list(outbox_b.glob("*.json")) and time.time() < deadline:
        time.sleep(0.2)
    assert not list(outbox_b.glob("*.json"))
    env = {"PATH": os.environ["PATH"], "AMQP_URL": stack.amqp_url, "SPOOL_DIR": str(copy)}
    drained = subprocess.run([stack.fcgi_bin, "drain-spool"], env=env, capture_output=True, text=True, timeout=60)
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert f"drain-spool: {len(on_a)} file(s) published, 0 left" in drained.stdout, drained.stdout
    assert not list((copy / "outbox").glob("*.json"))

    jobs, others = jobs_of(stack, set(deliveries), expect=40)
    assert collections.Counter(d for d, _, _ in jobs) == collections.Counter(deliveries)
    assert all(message_id == request_id == job_id(d) for d, message_id, request_id in jobs)
    report("host A lost with a full outbox, drained from a copy", spooled_on_a=len(on_a),
           spooled_on_b=40 - len(on_a), jobs=len(jobs), other_messages=others)
