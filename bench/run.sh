#!/usr/bin/env bash
# make bench. Phase 1 (issues 16 and 15), BENCH_SECONDS each case:
#   - the broker's ceiling for our publisher: publish-bench, one JobPublisher alone (no HTTP) with 64 publisher
#     threads (BENCH_PUBLISHERS), each with one message in flight, publishing the JobRequests the responder published
#     for these webhooks (taken off the queue after the warm-up: same size, properties and headers);
#   - signed webhooks through nginx → solstice-fcgi → RabbitMQ (each answered after its own confirm) at concurrency
#     16 and 64, beside nginx answering a static 202 to the same requests on the same server (nginx's ceiling);
#   - publish-bench again, paced at the rate the c=64 webhook case reached: the broker's own confirm latency at that
#     rate, beside the path's p50/p99 (what is left of the tail is nginx's and ours);
#   - after each c=64 webhook case, the CPU RabbitMQ, nginx, solstice-fcgi and wrk each spent per webhook (/proc);
#   - the same node with quorum queues: its ceiling, the webhook path at c=64 and the broker alone at that rate;
#   - the same ceiling and webhook cases against a local 3-node cluster with quorum queues (scripts/cluster.sh), the
#     stack's responder restarted against its AMQP_URL list (stack.sh's STACK_FCGI_AMQP_URL), then the cluster down.
# An orchestrator stand-in keeps the jobs queue short during every case (drain, below). Prints per second, p50, p99,
# the ratios to nginx static and to the broker ceiling, the peak RSS of the responders and of publish-bench, and the
# single node next to the cluster. Then the spool, GitHub App and results phases.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${BENCH_SECONDS:-10}
PUBLISHERS=${BENCH_PUBLISHERS:-64}
# 64 workers for c=64: a worker holds its webhook until the broker's confirm, so fewer leave requests waiting in the
# listen backlog (measured: quorum queue, c=64, 16/32/64 workers: 3.2k/3.8-4.3k/4.1-5.5k webhooks/s).
export NGINX_ACCESS_LOG=off FCGI_WORKERS=${FCGI_WORKERS:-64} LOG_LEVEL=warning
STACK="scripts/stack.sh"
CLUSTER="scripts/cluster.sh"
PUBLISH_BENCH=$ROOT/.build/release/publish-bench
[ -x "$PUBLISH_BENCH" ] || { echo "missing $PUBLISH_BENCH: swift build -c release --product publish-bench" >&2; exit 1; }
export PYTHONPATH=$ROOT/tests${PYTHONPATH:+:$PYTHONPATH} # tests/support
CLUSTER_STARTED=""
cleanup() { # the cluster only when this run started it; `down bench` also stops the stand-in of phase 2
    if [ -n "$CLUSTER_STARTED" ]; then $CLUSTER down >/dev/null 2>&1 || true; fi
    $STACK down bench >/dev/null 2>&1 || true
}
trap cleanup EXIT
$STACK down bench >/dev/null 2>&1 || true
$STACK up bench
# shellcheck source=/dev/null # written by stack.sh up
. .solstice/bench/stack.env
DIR=$STACK_STATE/bench
python3 bench/prepare.py "$DIR" "$STACK_SECRET" "${GITHUB_PAYLOADS_DIR:-$ROOT/../shared/reference/github-payloads}"
PID=$(cat "$STACK_STATE/fcgi.child")
BROKER_URL=$STACK_AMQP_URL # the broker purge() and take_jobs() read: the single node, or the cluster's first node

purge() { # an orchestrator consumes the queue; without one, a backlog of persistent messages slows the broker
    python3 - "$BROKER_URL" <<'PY'
import sys
import pika
from support import publishing, topology
try:
    publishing.purge(sys.argv[1], topology.JOBS_QUEUE)
except pika.exceptions.AMQPConnectionError:
    pass  # the broker is down (the spool case): nothing to purge
except pika.exceptions.ChannelClosedByBroker as e:
    if e.reply_code != 404:
        raise  # 404: not declared yet (a fresh cluster), nothing to purge
PY
}

# An orchestrator stand-in during each case: the jobs queue purged every 200 ms, so it stays as short as behind
# orchestrators that keep up. A classic queue whose backlog of persistent messages grows confirms in bursts: the
# publisher alone at 4,500/s had a p99 of 72-74 ms with the backlog growing, 9-13 ms with it purged so. BENCH_DRAIN=0
# leaves the backlog to grow, as runs before this stand-in did. `drain` starts it as a child of the calling shell,
# its PID in $drainer for `stop_drain`, which stops and reaps it; it also ends by itself when this script is gone or
# the case's time is long past, so an interrupted run leaves nothing running.
drain() {
    drainer=""
    [ "${BENCH_DRAIN:-1}" = 1 ] || return 0
    python3 - "$BROKER_URL" "$$" "$((SECONDS_EACH + 60))" >/dev/null 2>&1 <<'PY' &
import os, sys, time
import pika
from support import publishing, topology
bench, end = int(sys.argv[2]), time.monotonic() + float(sys.argv[3])
def wanted():
    try:
        os.kill(bench, 0)
    except ProcessLookupError:
        return False
    return time.monotonic() < end
while wanted():  # a broker that is down (the spool case) is tried again
    try:
        with publishing.channel(sys.argv[1]) as ch:
            while wanted():
                ch.queue_purge(topology.JOBS_QUEUE)
                time.sleep(0.2)
    except (pika.exceptions.AMQPError, OSError):
        time.sleep(0.5)
PY
    drainer=$!
}

stop_drain() { [ -z "$drainer" ] || { kill "$drainer" 2>/dev/null || true; wait "$drainer" 2>/dev/null || true; }; }

run_wrk() { # name url path connections; wrk's own CPU seconds (user + system) go to $DIR/name.cpu
    purge
    local TIMEFORMAT='%U %S' drainer
    drain
    { time BENCH_DIR=$DIR BENCH_RUN="$1-$RANDOM" BENCH_PATH=$3 wrk -t2 -c"$4" -d"${SECONDS_EACH}s" --latency \
        -s bench/webhook.lua "$2$3" >"$DIR/$1.out"; } 2>"$DIR/$1.cpu"
    stop_drain
    python3 - "$DIR/$1.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def lat(p):
    m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", t, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
errors = re.search(r"Socket errors: (.*)", t)
print(f"{rps:.0f} {lat(50):.2f} {lat(99):.2f} {bad.group(1) if bad else 0} {(errors.group(1) if errors else '').replace(' ', '')}")
PY
}

# The jobs queues of one type: deleted, then declared by the restarted responder. The broker keeps its data between
# runs, so a run stopped while they were quorum queues would leave the next one's classic declaration refused.
redeclare_jobs() { # queue type: delete the jobs queues, restart the responder, which declares them with that type
    python3 - "$STACK_AMQP_URL" <<'PY'
import sys
from support import publishing, topology
with publishing.channel(sys.argv[1]) as ch:
    for queue in (topology.JOBS_QUEUE, topology.JOBS_DLQ):
        ch.queue_delete(queue)
PY
    AMQP_QUEUE_TYPE=$1 $STACK fcgi-restart bench 2>/dev/null
    PID=$(cat "$STACK_STATE/fcgi.child")
}

cpu_ticks() { # pid...: the CPU ticks (user + system, 1/100 s) the processes have used so far
    local total=0 pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

# The CPU each process spent per webhook during a webhook case, from /proc (issue 16: on these 2 cores the path shares
# the CPU with the broker, nginx and wrk, so its rate is bounded by their sum). `cpu_split start` before the case,
# `cpu_split report NAME` after it (NAME: run_wrk's).
cpu_split() {
    local broker nginx=()
    broker=$(cat "$STACK_STATE/rabbitmq/rabbit.pid" 2>/dev/null || true)
    mapfile -t nginx < <(pgrep -P "$(cat "$STACK_STATE/runtime/nginx/nginx.pid" 2>/dev/null || echo 1)")
    if [ "$1" = start ]; then
        split_start=("$(cpu_ticks "$broker")" "$(cpu_ticks "${nginx[@]}")" "$(cpu_ticks "$PID")")
        return
    fi
    python3 - "$DIR/$2.out" "$DIR/$2.cpu" "${split_start[@]}" "$(cpu_ticks "$broker")" "$(cpu_ticks "${nginx[@]}")" \
        "$(cpu_ticks "$PID")" <<'PY'
import re, sys
out, cpu, b0, n0, f0, b1, n1, f1 = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
requests = int(re.search(r"(\d+) requests in", open(out).read()).group(1))
wrk = sum(float(x) for x in open(cpu).read().split()[-2:])
per = lambda seconds: seconds * 1e6 / max(requests, 1)  # CPU µs per webhook
parts = {"RabbitMQ": per((b1 - b0) / 100), "nginx": per((n1 - n0) / 100), "solstice-fcgi": per((f1 - f0) / 100),
         "wrk": per(wrk)}
total = sum(parts.values())
print("  CPU per webhook: " + ", ".join(f"{k} {v:.0f} µs" for k, v in parts.items())
      + f"; {total:.0f} µs in all, so 2 cores carry at most {2e6 / total:.0f}/s at these costs")
PY
}

warm() { # the responder's broker connection, the caches and the queue
    BENCH_DIR=$DIR BENCH_RUN="warm-$RANDOM" wrk -t2 -c16 -d2s -s bench/webhook.lua "$STACK_HTTP_URL$STACK_WEBHOOK_PATH" \
        >/dev/null
}

take_jobs() { # publish-bench's bodies: the JobRequests the warm-up left on the queue, one per commit and event
    python3 - "$BROKER_URL" "$DIR" <<'PY'
import glob, json, os, sys
from support import publishing, topology
seen = {}
with publishing.channel(sys.argv[1]) as ch:
    for _ in range(200):
        method, _, body = ch.basic_get(topology.JOBS_QUEUE, auto_ack=True)
        if method is None:
            break
        job = json.loads(body)
        seen.setdefault((job["event"], job["commit_sha"]), body)
if not seen:
    sys.exit("no JobRequest on the queue after the warm-up")
for old in glob.glob(os.path.join(sys.argv[2], "job-*.json")):
    os.remove(old)
for i, body in enumerate(seen.values()):
    open(os.path.join(sys.argv[2], f"job-{i}.json"), "wb").write(body)
sizes = sorted(len(b) for b in seen.values())
print(f"publish-bench publishes the {len(sizes)} JobRequests the responder published for these payloads, "
      f"{sizes[0]}-{sizes[-1]} bytes each")
PY
}

publish_ceiling() { # name AMQP_URL QUEUE_TYPE [publish-bench flags]: JobPublisher alone; prints "rate p50 p99 failed rss_mb"
    purge
    local drainer
    drain
    AMQP_URL=$2 AMQP_QUEUE_TYPE=$3 "$PUBLISH_BENCH" --publishers "$PUBLISHERS" --seconds "$SECONDS_EACH" "${@:4}" \
        "$DIR"/job-*.json >"$DIR/$1.out" 2>&1 || true
    stop_drain
    purge
    python3 - "$DIR/$1.out" <<'PY'
import sys
line = next((l for l in open(sys.argv[1]) if l.startswith("RESULT ")), None)
if line is None:
    print("- - - - -")
    sys.exit()
f = dict(kv.split("=", 1) for kv in line.split()[1:])
print(f["rate"], f["p50_ms"], f["p99_ms"], f["failed"], f["rss_mb"])
PY
}

ratio() { # a b: a/b with 3 decimals, or - when either is missing
    python3 -c "import sys
try: print(f'{float(sys.argv[1]) / float(sys.argv[2]):.3f}')
except (ValueError, ZeroDivisionError): print('-')" "$1" "$2"
}

peak_rss() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo -; } # pid: MB

max_mb() { python3 -c "import sys; print(max(sys.argv[1:], key=lambda v: float(v) if v != '-' else -1))" "$@"; }

row() { # label columns...: the label padded by characters (printf pads bytes, and → is three)
    printf '%s%*s' "$1" $((46 - ${#1})) ""
    shift
    printf ' %9s %8s %8s %8s %8s %8s\n' "$@"
}

redeclare_jobs classic
# Warm up, and keep the JobRequests the responder published as publish-bench's bodies (from an empty queue: the
# broker keeps its data between runs, and the last run's App phase left JobRequests of workflow jobs on it).
purge
warm
take_jobs
purge

declare -A single cluster static
echo
row "case" "per s" "p50 ms" "p99 ms" "non-2xx" "/static" "/broker"
read -r c_rate c_p50 c_p99 c_failed pb_rss < <(publish_ceiling ceiling-single "$STACK_AMQP_URL" classic)
single[ceiling]=$c_rate single[ceiling_p99]=$c_p99
row "broker ceiling: JobPublisher alone, $PUBLISHERS pub." "$c_rate" "$c_p50" "$c_p99" "$c_failed" "" "1.000"
[ "$c_rate" != - ] || { echo "publish-bench failed: see $DIR/ceiling-single.out"; exit 1; }
for c in 16 64; do
    read -r s_rps s_p50 s_p99 s_bad _ < <(run_wrk "static-c$c" "$STACK_HTTP_URL" /bench/static202 "$c")
    cpu_split start
    read -r w_rps w_p50 w_p99 w_bad w_err < <(run_wrk "webhook-c$c" "$STACK_HTTP_URL" "$STACK_WEBHOOK_PATH" "$c")
    static[$c]=$s_rps single[$c]=$w_rps single[${c}_p99]=$w_p99
    row "nginx static 202, c=$c" "$s_rps" "$s_p50" "$s_p99" "$s_bad" "1.000" ""
    row "webhook → confirm, c=$c" "$w_rps" "$w_p50" "$w_p99" "$w_bad" "$(ratio "$w_rps" "$s_rps")" \
        "$(ratio "$w_rps" "$c_rate")"
    [ -n "$w_err" ] && echo "  socket errors: $w_err"
    [ "$c" = 64 ] && cpu_split report "webhook-c$c"
done
single[rss]=$(peak_rss "$PID")
# Tail latency (issue 16): the broker's own confirm latency with no HTTP, at the rate the c=64 webhook case reached.
# The path's p99 minus this p99 is what nginx and the responder add to the tail.
if [ "${single[64]:--}" != - ]; then
    read -r r_rate r_p50 r_p99 r_failed _ < <(publish_ceiling at-path-rate "$STACK_AMQP_URL" classic --rate "${single[64]}")
    row "JobPublisher alone at the c=64 rate" "$r_rate" "$r_p50" "$r_p99" "$r_failed" "" "$(ratio "$r_rate" "$c_rate")"
fi

# The same node with quorum queues (AMQP_QUEUE_TYPE=quorum), measured as the classic queue was: the ceiling, the
# path at c=64 and the broker alone at its rate, so a queue type's own tail shows beside the path's. The jobs queues
# are declared again as quorum queues, then as classic ones for what follows.
redeclare_jobs quorum
warm
read -r qs_rate qs_p50 qs_p99 qs_failed _ < <(publish_ceiling ceiling-quorum "$STACK_AMQP_URL" quorum)
row "quorum queue: JobPublisher alone, $PUBLISHERS pub." "$qs_rate" "$qs_p50" "$qs_p99" "$qs_failed" "" "1.000"
cpu_split start
read -r w_rps w_p50 w_p99 w_bad w_err < <(run_wrk "quorum-webhook-c64" "$STACK_HTTP_URL" "$STACK_WEBHOOK_PATH" 64)
single[q64]=$w_rps single[q64_p99]=$w_p99
row "quorum queue: webhook → confirm, c=64" "$w_rps" "$w_p50" "$w_p99" "$w_bad" "$(ratio "$w_rps" "${static[64]}")" \
    "$(ratio "$w_rps" "$qs_rate")"
[ -n "$w_err" ] && echo "  socket errors: $w_err"
cpu_split report quorum-webhook-c64
if [ "$w_rps" != - ]; then
    read -r r_rate r_p50 r_p99 r_failed _ < <(publish_ceiling quorum-at-path-rate "$STACK_AMQP_URL" quorum --rate "$w_rps")
    row "quorum queue: JobPublisher alone at that rate" "$r_rate" "$r_p50" "$r_p99" "$r_failed" "" \
        "$(ratio "$r_rate" "$qs_rate")"
fi
single[rss]=$(max_mb "${single[rss]}" "$(peak_rss "$PID")")
redeclare_jobs classic

# The cluster (issue 15): the same cases against 3 nodes and quorum queues. The stack's own responder is restarted
# with the cluster's AMQP_URL list (same nginx, socket, workers and spool), and back on the single node afterwards.
cluster_note=""
if ss -Hltn | awk '{print $4}' | grep -Eq ':(5681|5682|5683)$'; then
    cluster_note="skipped: something listens on the cluster's ports 5681-5683 already (not this run's to stop)"
else
    CLUSTER_STARTED=yes
    t0=$(date +%s%N)
    if $CLUSTER up >"$DIR/cluster-up.log" 2>&1; then
        CLUSTER_URL=$(sed -n 's/^AMQP_URL=//p' .solstice/cluster/cluster.env)
        echo "  (3-node cluster up in $((($(date +%s%N) - t0) / 1000000)) ms; responder restarted on $CLUSTER_URL)"
        BROKER_URL=${CLUSTER_URL%%,*}
        STACK_FCGI_AMQP_URL=$CLUSTER_URL AMQP_QUEUE_TYPE=quorum $STACK fcgi-restart bench 2>/dev/null
        PID=$(cat "$STACK_STATE/fcgi.child")
        purge
        warm
        read -r q_rate q_p50 q_p99 q_failed _ < <(publish_ceiling ceiling-cluster "$CLUSTER_URL" quorum)
        cluster[ceiling]=$q_rate cluster[ceiling_p99]=$q_p99
        row "cluster: JobPublisher alone, $PUBLISHERS pub." "$q_rate" "$q_p50" "$q_p99" "$q_failed" "" "1.000"
        for c in 16 64; do
            read -r w_rps w_p50 w_p99 w_bad w_err < <(run_wrk "cluster-webhook-c$c" "$STACK_HTTP_URL" \
                "$STACK_WEBHOOK_PATH" "$c")
            cluster[$c]=$w_rps cluster[${c}_p99]=$w_p99
            row "cluster: webhook → confirm, c=$c" "$w_rps" "$w_p50" "$w_p99" "$w_bad" \
                "$(ratio "$w_rps" "${static[$c]}")" "$(ratio "$w_rps" "$q_rate")"
            [ -n "$w_err" ] && echo "  socket errors: $w_err"
        done
        cluster[rss]=$(peak_rss "$PID")
        spooled=$(find "$STACK_STATE/spool/outbox" -name '*.json' 2>/dev/null | wc -l)
        [ "$spooled" -eq 0 ] || echo "  $spooled deliveries spooled against the cluster (unconfirmed): see $STACK_STATE/fcgi.log"
        purge
    else
        cluster_note="did not come up: see $DIR/cluster-up.log"
    fi
    BROKER_URL=$STACK_AMQP_URL
    $STACK fcgi-restart bench 2>/dev/null
    PID=$(cat "$STACK_STATE/fcgi.child")
    t0=$(date +%s%N)
    $CLUSTER down >"$DIR/cluster-down.log" 2>&1 || cluster_note="down failed: see $DIR/cluster-down.log"
    CLUSTER_STARTED=""
    echo "  (cluster down in $((($(date +%s%N) - t0) / 1000000)) ms)"
fi

echo
echo "== single node vs 3-node quorum cluster (same run, ${SECONDS_EACH} s each) =="
printf '%-38s %10s %8s   %10s %8s   %14s\n' "" "single/s" "p99 ms" "cluster/s" "p99 ms" "cluster/single"
for k in ceiling 16 64; do
    case $k in
    ceiling) label="JobPublisher alone, $PUBLISHERS publishers" ;;
    *) label="webhook -> confirm, c=$k" ;;
    esac
    printf '%-38s %10s %8s   %10s %8s   %14s\n' "$label" "${single[$k]:--}" "${single[${k}_p99]:--}" \
        "${cluster[$k]:--}" "${cluster[${k}_p99]:--}" "$(ratio "${cluster[$k]:-}" "${single[$k]:-}")"
done
[ -z "$cluster_note" ] || echo "cluster $cluster_note"
echo "peak RSS: solstice-fcgi ${single[rss]} MB on the single node, ${cluster[rss]:--} MB on the cluster" \
    "(FCGI_WORKERS=$FCGI_WORKERS); publish-bench ${pb_rss} MB"
echo "single node with quorum queues: webhook c=64 ${single[q64]:--}/s, p99 ${single[q64_p99]:--} ms"
echo "targets (issue 16): webhook c=64 ≥ 70% of the broker ceiling, p99 ≤ 30 ms, solstice-fcgi peak RSS ≤ 40 MB"

# Phase 1b (reliability issue): the broker down, webhooks answered 202 from the spool (fsync per delivery); then the
# broker back and the background drainer publishing the outbox.
echo
echo "== broker down: spooling, then draining =="
$STACK broker-stop bench
read -r sp_rps sp_p50 sp_p99 sp_bad _ < <(run_wrk "spool-c16" "$STACK_HTTP_URL" "$STACK_WEBHOOK_PATH" 16)
files=$(find "$STACK_STATE/spool/outbox" -name '*.json' | wc -l)
printf '%-34s %10s %9s %9s %8s\n' "case" "req/s" "p50 ms" "p99 ms" "non-2xx"
printf '%-34s %10s %9s %9s %8s\n' "webhook → spool (broker down), c=16" "$sp_rps" "$sp_p50" "$sp_p99" "$sp_bad"
$STACK broker-start bench
start=$(date +%s%N)
while [ "$(find "$STACK_STATE/spool/outbox" -name '*.json' | wc -l)" -gt 0 ] &&
    [ $((($(date +%s%N) - start) / 1000000000)) -lt 300 ]; do
    sleep 0.2
done
took_ms=$((($(date +%s%N) - start) / 1000000))
left=$(find "$STACK_STATE/spool/outbox" -name '*.json' | wc -l)
echo "drained $((files - left)) spooled deliveries in ${took_ms} ms after the broker came back (includes the reconnect):" \
    "$(python3 -c "print(f'{($files - $left) * 1000 / max($took_ms, 1):.0f}')") deliveries/s; $left left"

# Phase 2 (GitHub App issue): the full path with the App configured against the GitHub stand-in on loopback,
# a 3-job workflow per push: webhooks/s, jobs/s, p50/p99, and the share of time spent waiting on GitHub.
echo
echo "== with the GitHub App (stand-in on loopback, 3-job workflow per push) =="
export STANDIN_ADDR=${BENCH_STANDIN_ADDR:-127.0.0.1:18091} LOG_LEVEL=info
scripts/stack.sh standin-start bench
# 32 workers here, as in the earlier runs of this phase: its figures compare across runs (with 64 the responder's
# peak RSS went from 39 to 44 MB: more requests hold a GitHub answer at once).
FCGI_WORKERS=${BENCH_APP_WORKERS:-32} scripts/stack.sh fcgi-restart bench
PID=$(cat "$STACK_STATE/fcgi.child")
python3 - "$DIR" <<'PY'
import json, os, sys
from support import stack
gh = stack.standin("http://" + os.environ["STANDIN_ADDR"])
gh.reset()
gh.set_installations({"Codertocat/Hello-World": 1})
workflow = 'job "lint" runs_on="ubuntu-24.04"\njob "build" script=".solstice/job.sh"\njob "test"\n'
for line in open(os.path.join(sys.argv[1], "index.txt")):
    body = json.load(open(os.path.join(sys.argv[1], line.split()[0])))
    sha = body.get("after") or body["pull_request"]["head"]["sha"]
    gh.add_file("Codertocat/Hello-World", sha, ".solstice/workflow.kdl", workflow)
PY
: >"$STACK_STATE/fcgi.log"
printf '%-34s %10s %9s %9s %8s %9s\n' "case" "webhooks/s" "p50 ms" "p99 ms" "non-2xx" "jobs/s"
read -r a_rps a_p50 a_p99 a_bad _ < <(run_wrk "app-c16" "$STACK_HTTP_URL" "$STACK_WEBHOOK_PATH" 16)
printf '%-34s %10s %9s %9s %8s %9s\n' "webhook + App, c=16" "$a_rps" "$a_p50" "$a_p99" "$a_bad" \
    "$(python3 -c "print(f'{$a_rps*3:.0f}')")"
# The Checks outbox: what the webhooks left in SPOOL_DIR/checks/ drains on the background thread (pacing off in
# this profile, four sender threads): Check Runs written per second from the end of the load, for at most 60 s.
left=$(find "$STACK_STATE/spool/checks" -name '*.json' | wc -l)
start=$(date +%s%N)
while [ "$(find "$STACK_STATE/spool/checks" -name '*.json' | wc -l)" -gt 0 ] && [ $(($(date +%s%N) - start)) -lt 60000000000 ]; do
    sleep 0.2
done
took_ms=$((($(date +%s%N) - start) / 1000000))
rest=$(find "$STACK_STATE/spool/checks" -name '*.json' | wc -l)
echo "Checks outbox after the load: $((left - rest)) of $left deliveries' writes ($(((left - rest) * 3)) runs) drained" \
    "in ${took_ms} ms: $(python3 -c "print(f'{($left - $rest) * 3 * 1000 / max($took_ms, 1):.0f}')") runs/s; $rest left"
python3 - "$STACK_STATE/fcgi.log" <<'PY'
import re, sys
total = github = n = 0
for line in open(sys.argv[1]):
    if "msg=webhook" in line and "status=202" in line:
        n += 1
        total += float(re.search(r" ms=([\d.]+)", line).group(1))
        github += float(re.search(r"github_ms=([\d.]+)", line).group(1))
if n:
    print(f"share of webhook time waiting on GitHub (workflow read): {github / total:.0%} "
          f"({github / n:.2f} of {total / n:.2f} ms per webhook); Check Runs are written by the outbox thread")
PY
echo "solstice-fcgi peak RSS with the App: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/"$PID"/status) (FCGI_WORKERS=${BENCH_APP_WORKERS:-32})"

# Phase 3 (results issue): JobResults through solstice-results with the stand-in, the log stand-in and the S3 server
# (moto, signatures checked) on loopback: results/s from the first publish to the last Check Run written.
echo
echo "== solstice-results (GitHub stand-in, log stand-in and S3 on loopback) =="
scripts/stack.sh results-restart bench
python3 bench/results.py "${BENCH_RESULTS:-2000}"
PID=$(cat "$STACK_STATE/results.pid")
echo "solstice-results peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/"$PID"/status)"
