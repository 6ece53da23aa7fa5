"""SPEC §12 against a real 3-node RabbitMQ cluster (scripts/cluster.sh: three local nodes with their own ports and
data, joined with `rabbitmqctl join_cluster`, loopback only) with quorum queues: the queues are replicated, a dead
first URL is passed over, and `kill -9` of the node in use loses no job and answers no webhook 5xx, for
solstice-fcgi and for solstice-results. The cluster is started fresh for this module and stopped by PID after it
(`scripts/stack.sh down test` stops it too if a run is cut short)."""
import concurrent.futures
import json
import pathlib
import subprocess
import threading
import time
import uuid

import pika
import pytest

from responders import OwnResponder
from support import publishing, topology
from support.payloads import new_sha, payload
from support.stack import ROOT, free_port
from support.waiting import wait_for
from test_results import Results

CLUSTER = ROOT / "scripts" / "cluster.sh"
PUSH = json.loads(payload("push.with-new-branch.json"))
STATUS_PATH = "/solstice/status"


class Cluster:
    def __init__(self):
        line = (ROOT / ".solstice" / "cluster" / "cluster.env").read_text().strip()
        # The nodes as cluster.sh wrote them, with the loopback-only default user for pika and our processes.
        self.urls = [u.replace("amqp://", "amqp://guest:guest@") for u in line.split("=", 1)[1].split(",")]
        self.amqp_url = ",".join(self.urls)

    def script(self, *args, timeout=180):
        done = subprocess.run(["bash", str(CLUSTER), *args], capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"cluster.sh {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def node_of(self, node):
        """1, 2 or 3 for "127.0.0.1:5682" and the like."""
        port = node.rsplit(":", 1)[1]
        return next(i + 1 for i, url in enumerate(self.urls) if f":{port}/" in url)

    def survivor(self, dead):
        return self.urls[dead % 3]  # the next node after the dead one

    def queues(self, n=1):
        """name → (type, number of members) as node n sees them."""
        out = self.script("ctl", str(n), "-q", "list_queues", "name", "type", "members", "--formatter", "json")
        return {q["name"]: (q["type"], len(q.get("members") or [])) for q in json.loads(out)}


@pytest.fixture(scope="module")
def cluster():
    try:
        subprocess.run(["bash", str(CLUSTER), "fresh"], check=True, capture_output=True, timeout=300)
        yield Cluster()
    finally:
        subprocess.run(["bash", str(CLUSTER), "down"], capture_output=True, timeout=180)


@pytest.fixture
def restarts(cluster):
    """Nodes a test killed are started again after it, so the next test finds three."""
    killed = []
    yield killed
    for n in killed:
        cluster.script("start", str(n))


def responder(stack, tmp_path, cluster, amqp_url=None, **variables):
    """A solstice-fcgi on the cluster with quorum queues, without the App: one job per push."""
    return OwnResponder(stack, tmp_path, AMQP_URL=amqp_url or cluster.amqp_url, AMQP_QUEUE_TYPE="quorum",
                        GITHUB_APP_ID=None, GITHUB_APP_KEY_PATH=None, GITHUB_API_BASE=None, **variables)


def push_body():
    body = dict(PUSH)
    body["after"] = new_sha("cluster")
    return json.dumps(body).encode()


def test_every_queue_is_a_quorum_queue_on_three_members(stack, tmp_path, cluster):
    fcgi = responder(stack, tmp_path, cluster)
    try:
        status, answer = fcgi.post(push_body(), "push")
        assert status == 202 and answer["spooled"] is False, answer
    finally:
        fcgi.stop()
    queues = cluster.queues()
    assert queues[topology.JOBS_QUEUE] == ("quorum", 3), queues
    assert queues[topology.JOBS_DLQ] == ("quorum", 3), queues
    jobs = publishing.drain(cluster.urls[1], topology.JOBS_QUEUE, expect=1)
    assert [props.message_id for props, _ in jobs] == [answer["jobs"][0]["request_id"]]


def test_a_dead_first_url_is_passed_over(stack, tmp_path, cluster):
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2f"  # nothing listens: refused at once
    fcgi = responder(stack, tmp_path, cluster, amqp_url=f"{dead},{cluster.amqp_url}")
    try:
        answers = [fcgi.post(push_body(), "push") for _ in range(5)]
        status, health = fcgi.get(STATUS_PATH)
    finally:
        fcgi.stop()
    assert [(s, a["spooled"]) for s, a in answers] == [(202, False)] * 5, answers
    assert status == 200 and health["broker"]["connected"] is True, health
    assert health["broker"]["node"] == cluster.urls[0].split("@")[1].split("/")[0]  # the first live node
    ids = {a["jobs"][0]["request_id"] for _, a in answers}
    assert {props.message_id for props, _ in publishing.drain(cluster.urls[2], topology.JOBS_QUEUE, expect=5)} == ids


def test_kill_of_the_node_in_use_loses_no_job_and_answers_no_5xx(stack, tmp_path, cluster, restarts):
    """1,000 webhooks at concurrency 8; after the 300th answer the node the responder publishes to is killed
    with kill -9. Every 202's request id must be on the queue once the outbox has drained, the only extra messages
    repeats of a message_id from the in-flight window, and no answer 5xx."""
    total, concurrency, kill_after = 1000, 8, 300
    fcgi = responder(stack, tmp_path, cluster, FCGI_WORKERS=str(concurrency))
    answered = []  # (status, answer)
    lock = threading.Lock()
    killed = {}

    def send(_):
        result = fcgi.post(push_body(), "push", delivery=str(uuid.uuid4()))
        with lock:
            answered.append(result)
        return result

    def killer():
        wait_for(lambda: len(answered) >= kill_after, 120, "300 answers")
        status, health = fcgi.get(STATUS_PATH)
        assert health["broker"]["connected"], health
        killed["node"] = cluster.node_of(health["broker"]["node"])
        killed["at"] = len(answered)
        cluster.script("kill", str(killed["node"]))
        restarts.append(killed["node"])

    try:
        with concurrent.futures.ThreadPoolExecutor(concurrency + 1) as pool:
            kill = pool.submit(killer)
            list(pool.map(send, range(total)))
            kill.result()
        # The spool's outbox holds what was in flight at the kill; the drainer publishes it on the next node.
        wait_for(lambda: fcgi.get(STATUS_PATH)[1]["spool"]["outbox"] == 0, 60, "the outbox drained",
                 lambda: f"{fcgi.get(STATUS_PATH)[1]}\n{fcgi.log()[-3000:]}")
        status, health = fcgi.get(STATUS_PATH)
    finally:
        fcgi.stop()
    statuses = [s for s, _ in answered]
    assert len(answered) == total and all(s == 202 for s in statuses), {s: statuses.count(s) for s in statuses}
    assert killed["at"] < total, "the kill came after the last webhook"
    assert health["broker"]["connected"] and cluster.node_of(health["broker"]["node"]) != killed["node"], health
    spooled = sum(1 for _, a in answered if a["spooled"])
    expected = [a["jobs"][0]["request_id"] for _, a in answered]
    assert len(set(expected)) == total

    messages = publishing.drain(cluster.survivor(killed["node"]), topology.JOBS_QUEUE, expect=total, wait=30)
    ids = [props.message_id for props, _ in messages]
    assert all(props.message_id == body["request_id"] for props, body in messages)
    missing = set(expected) - set(ids)
    repeats = len(ids) - len(set(ids))
    print(f"kill -9 of node {killed['node']} after {killed['at']} answers: {total} × 202, {spooled} spooled, "
          f"{len(ids)} messages, {len(set(ids))} distinct, {repeats} repeated, {len(missing)} missing")
    assert not missing, f"{len(missing)} request ids answered 202 are not on the queue"
    assert set(ids) == set(expected), "a message nobody was answered for"
    assert repeats <= concurrency, f"{repeats} repeats: more than the {concurrency} webhooks in flight at the kill"


def publish_as_an_orchestrator(results, body):
    """A publish the broker nacks is published again, as an orchestrator must: right after a node is lost, RabbitMQ
    nacks what reaches a quorum queue still electing its leader (seen for a fraction of a second here)."""
    for attempt in range(40):
        try:
            return results.publish(body)
        except (pika.exceptions.NackError, pika.exceptions.AMQPConnectionError):
            if attempt == 39:
                raise
            time.sleep(0.25)


def test_results_keep_being_consumed_across_the_kill_of_their_node(stack, tmp_path, cluster, restarts):
    results = Results()
    results.amqp_url = cluster.urls[1]  # the orchestrator's side publishes through node 2
    repo = f"results-org/cluster{uuid.uuid4().hex[:8]}"
    results.gh.set_installations({repo: 1})
    log_path = tmp_path / "results.log"
    daemon = results.start_daemon(topology.RESULTS_QUEUE, topology.RESULTS_ROUTING_KEY, topology.RESULTS_DLQ,
                                  log_path, AMQP_URL=cluster.amqp_url, AMQP_QUEUE_TYPE="quorum")
    try:
        queues = cluster.queues()
        for name in [topology.RESULTS_QUEUE, topology.RESULTS_DLQ, *topology.retry_queues()]:
            assert queues.get(name) == ("quorum", 3), (name, queues)

        def send(count):
            rids = []
            for _ in range(count):
                sha, rid = new_sha("cluster-results"), str(uuid.uuid4())
                results.seed(repo, sha, rid)
                results.put_log(rid, f"log of {rid}\n")
                publish_as_an_orchestrator(results, publishing.job_result(rid, sha, repo))
                rids.append(rid)
            return rids

        before = send(10)
        results.wait_completed(repo, before)
        # Every worker of the daemon said where it consumes; the node they share is the one to kill.
        ports = {line.split("port=")[1].split()[0] for line in log_path.read_text().splitlines()
                 if "consuming results" in line and "port=" in line}
        assert len(ports) == 1, ports
        node = cluster.node_of(f"127.0.0.1:{ports.pop()}")
        cluster.script("kill", str(node))
        restarts.append(node)
        results.amqp_url = cluster.survivor(node)
        after = send(10)
        done = results.wait_completed(repo, after, timeout=60)
        assert daemon.poll() is None, "solstice-results exited"
        assert all(run["conclusion"] == "success" for run in done.values())
        assert len(results.gh.check_runs(repo)) == 20  # each completed in place, none created twice
    finally:
        daemon.terminate()
        daemon.wait(timeout=15)
    print(pathlib.Path(log_path).read_text()[-1500:])


def test_moving_the_jobs_queue_from_classic_to_quorum_loses_no_job(stack, tmp_path, cluster):
    """README "Moving to quorum queues", step by step: the orchestrator empties the classic queue, it is deleted
    (`--if-empty`), webhooks that arrive meanwhile are returned unroutable and spooled (202), and the responder
    restarted with AMQP_QUEUE_TYPE=quorum declares the quorum queue and publishes its spool there."""
    suffix = uuid.uuid4().hex[:8]
    names = {"AMQP_EXCHANGE": f"migrate.{suffix}", "AMQP_QUEUE": f"migrate.{suffix}.jobs",
             "AMQP_DLX": f"migrate.{suffix}.dlx", "AMQP_DLQ": f"migrate.{suffix}.dlq"}
    queue = names["AMQP_QUEUE"]
    spool = tmp_path / "spool"
    classic = OwnResponder(stack, tmp_path, spool=spool, AMQP_URL=cluster.amqp_url, AMQP_QUEUE_TYPE="classic",
                           GITHUB_APP_ID=None, GITHUB_APP_KEY_PATH=None, GITHUB_API_BASE=None, **names)
    try:
        before = [classic.post(push_body(), "push") for _ in range(5)]
        assert [(s, a["spooled"]) for s, a in before] == [(202, False)] * 5
        assert cluster.queues()[queue][0] == "classic"
        taken = publishing.drain(cluster.urls[0], queue, expect=5)  # the orchestrator empties it
        cluster.script("ctl", "1", "-q", "delete_queue", queue, "--if-empty")
        cluster.script("ctl", "1", "-q", "delete_queue", names["AMQP_DLQ"], "--if-empty")
        meanwhile = [classic.post(push_body(), "push") for _ in range(5)]
    finally:
        classic.stop()
    assert [(s, a["spooled"]) for s, a in meanwhile] == [(202, True)] * 5, meanwhile
    quorum = OwnResponder(stack, tmp_path, spool=spool, AMQP_URL=cluster.amqp_url, AMQP_QUEUE_TYPE="quorum",
                          GITHUB_APP_ID=None, GITHUB_APP_KEY_PATH=None, GITHUB_API_BASE=None, **names)
    try:
        wait_for(lambda: quorum.get(STATUS_PATH)[1]["spool"]["outbox"] == 0, 30, "the spool drained")
        after = quorum.post(push_body(), "push")
    finally:
        quorum.stop()
    assert after[0] == 202 and after[1]["spooled"] is False
    assert cluster.queues()[queue] == ("quorum", 3)
    published = publishing.drain(cluster.urls[0], queue, expect=6)
    ids = lambda answers: [a["jobs"][0]["request_id"] for _, a in answers]  # noqa: E731
    assert sorted(props.message_id for props, _ in taken) == sorted(ids(before))
    assert sorted(props.message_id for props, _ in published) == sorted(ids(meanwhile) + ids([after]))
