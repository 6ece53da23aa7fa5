#!/usr/bin/env bash
# make bench: signed webhooks through nginx → solstice-fcgi → RabbitMQ (each answered after its own confirm), at
# concurrency 16 and 64 for BENCH_SECONDS each, beside nginx answering a static 202 with the same requests on
# the same server in the same run (the ceiling). Prints req/s, p50, p99, the ratio, and solstice-fcgi's peak RSS.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${BENCH_SECONDS:-10}
export NGINX_ACCESS_LOG=off FCGI_WORKERS=${FCGI_WORKERS:-32} LOG_LEVEL=warning
STACK="scripts/stack.sh"
export PYTHONPATH=$ROOT/tests${PYTHONPATH:+:$PYTHONPATH} # tests/support
trap '$STACK down bench >/dev/null 2>&1 || true' EXIT
$STACK down bench >/dev/null 2>&1 || true
$STACK up bench
. .solstice/bench/stack.env
DIR=$STACK_STATE/bench
python3 bench/prepare.py "$DIR" "$STACK_SECRET" "${GITHUB_PAYLOADS_DIR:-$ROOT/../shared/reference/github-payloads}"
PID=$(cat "$STACK_STATE/fcgi.child")

purge() { # an orchestrator consumes the queue; without one, a backlog of persistent messages slows the broker
    python3 - "$STACK_AMQP_URL" <<'PY'
import sys
import pika
from support import publishing, topology
try:
    publishing.purge(sys.argv[1], topology.JOBS_QUEUE)
except pika.exceptions.AMQPConnectionError:
    pass  # the broker is down (the spool case): nothing to purge
PY
}

run_wrk() { # name url path connections
    purge
    BENCH_DIR=$DIR BENCH_RUN="$1-$RANDOM" BENCH_PATH=$3 wrk -t2 -c"$4" -d"${SECONDS_EACH}s" --latency \
        -s bench/webhook.lua "$2$3" >"$DIR/$1.out"
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

# Warm up the connection, the caches and the queue.
BENCH_DIR=$DIR BENCH_RUN=warm wrk -t2 -c16 -d2s -s bench/webhook.lua "$STACK_HTTP_URL$STACK_WEBHOOK_PATH" >/dev/null

printf '\n%-34s %10s %9s %9s %8s %7s\n' "case" "req/s" "p50 ms" "p99 ms" "non-2xx" "ratio"
for c in 16 64; do
    read -r s_rps s_p50 s_p99 s_bad _ < <(run_wrk "static-c$c" "$STACK_HTTP_URL" /bench/static202 "$c")
    read -r w_rps w_p50 w_p99 w_bad w_err < <(run_wrk "webhook-c$c" "$STACK_HTTP_URL" "$STACK_WEBHOOK_PATH" "$c")
    printf '%-34s %10s %9s %9s %8s %7s\n' "nginx static 202, c=$c" "$s_rps" "$s_p50" "$s_p99" "$s_bad" "1.00"
    printf '%-34s %10s %9s %9s %8s %7s\n' "webhook → confirm, c=$c" "$w_rps" "$w_p50" "$w_p99" "$w_bad" \
        "$(python3 -c "print(f'{$w_rps/$s_rps:.3f}')")"
    [ -n "$w_err" ] && echo "  socket errors: $w_err"
done
echo
echo "solstice-fcgi peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$PID/status) (FCGI_WORKERS=$FCGI_WORKERS)"
python3 - "$STACK_AMQP_URL" <<'PY'
import sys
from support import publishing, topology
print(f"messages on {topology.JOBS_QUEUE} after the run: {publishing.count(sys.argv[1], topology.JOBS_QUEUE)}")
publishing.purge(sys.argv[1], topology.JOBS_QUEUE)
PY

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
trap 'scripts/stack.sh standin-stop bench >/dev/null 2>&1 || true; $STACK down bench >/dev/null 2>&1 || true' EXIT
scripts/stack.sh fcgi-restart bench
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
echo "solstice-fcgi peak RSS with the App: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$PID/status)"

# Phase 3 (results issue): JobResults through solstice-results with the stand-in, the log stand-in and the S3 server
# (moto, signatures checked) on loopback: results/s from the first publish to the last Check Run written.
echo
echo "== solstice-results (GitHub stand-in, log stand-in and S3 on loopback) =="
scripts/stack.sh results-restart bench
python3 bench/results.py "${BENCH_RESULTS:-2000}"
PID=$(cat "$STACK_STATE/results.pid")
echo "solstice-results peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$PID/status)"
