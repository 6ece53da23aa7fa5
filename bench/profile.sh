#!/usr/bin/env bash
# bench/profile.sh [SECONDS] [CONCURRENCY]: where solstice-fcgi's CPU goes on the webhook path. Brings up the bench
# stack, sends signed webhooks with wrk (c=64 by default) and samples the responder with `perf record -g` meanwhile;
# prints the share of its CPU and the CPU microseconds per webhook of each stage (inclusive), then stops the stack.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=${1:-10}
CONNECTIONS=${2:-64}
export NGINX_ACCESS_LOG=off FCGI_WORKERS=${FCGI_WORKERS:-64} LOG_LEVEL=warning
export PYTHONPATH=$ROOT/tests${PYTHONPATH:+:$PYTHONPATH}
command -v perf >/dev/null || { echo "perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
STACK=scripts/stack.sh
trap '$STACK down bench >/dev/null 2>&1 || true' EXIT
$STACK down bench >/dev/null 2>&1 || true
$STACK up bench >/dev/null
. .solstice/bench/stack.env
DIR=$STACK_STATE/bench
python3 bench/prepare.py "$DIR" "$STACK_SECRET" "${GITHUB_PAYLOADS_DIR:-$ROOT/../shared/reference/github-payloads}"
PID=$(cat "$STACK_STATE/fcgi.child")
BENCH_DIR=$DIR BENCH_RUN=warm wrk -t2 -c16 -d2s -s bench/webhook.lua "$STACK_HTTP_URL$STACK_WEBHOOK_PATH" >/dev/null
BENCH_DIR=$DIR BENCH_RUN="profile-$RANDOM" wrk -t2 -c"$CONNECTIONS" -d"$((SECONDS_EACH + 2))s" --latency \
    -s bench/webhook.lua "$STACK_HTTP_URL$STACK_WEBHOOK_PATH" >"$DIR/profile.wrk" &
WRK=$!
sleep 1
FREQUENCY=499
perf record -e cpu-clock -F $FREQUENCY -g -p "$PID" -o "$DIR/perf.data" -- sleep "$SECONDS_EACH" 2>/dev/null
wait $WRK
perf report -i "$DIR/perf.data" --children --sort sym -g none 2>/dev/null >"$DIR/perf.children"
perf report -i "$DIR/perf.data" --no-children --sort dso -g none 2>/dev/null >"$DIR/perf.dso"
python3 - "$DIR" "$SECONDS_EACH" "$FREQUENCY" <<'PY'
import re, sys
d, seconds, frequency = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
wrk = open(f"{d}/profile.wrk").read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1))
# cpu-clock counts nanoseconds of CPU: the responder's CPU time in the sampled seconds.
cpu_ns = int(re.search(r"Event count \(approx.\): (\d+)", open(f"{d}/perf.children").read()).group(1))
cores = cpu_ns / 1e9 / seconds
per_request = cores * 1e6 / rps  # CPU µs per webhook
print(f"{rps:.0f} webhooks/s; responder {cores:.2f} cores = {per_request:.0f} µs of CPU per webhook")
stages = [  # (label, symbol pattern), inclusive; the largest matching row, or the sum of the rows for "+" (the
    # decoding of each payload type is a specialization of its own, disjoint from the others)
    ("whole request (FastCGIWorker.serveOne)", r"FastCGIWorker.*serveOne"),
    ("  respond (pipeline)", r"0A9ResponderC7respond"),
    ("    signature and request checks (Gate)", r"0A4GateV5check"),
    ("    payload mapping (EventMapper.map)", r"EventMapperO3map5event"),
    ("+      of which JSON reading (check and fields)", r"TapeReadablePAAE4read7payload"),
    ("        of which the check of the text (JSONTape)", r"JSONTapeV10validating"),
    ("    delivery record written", r"RecordsC6record7groupID"),
    ("    delivery record looked up", r"RecordsC6answer7groupID"),
    ("    jobs published (JobDispatcher)", r"JobDispatcherC8dispatch"),
    ("    JSON bodies written (JSONField)", r"JSONFieldO(5bytes|4text|5write)"),
    ("publisher thread", r"PublisherLoop.*run15connectingFirst"),
    ("kernel: openat (record files)", r"\[k\] __x64_sys_openat"),
    ("kernel: all system calls", r"\[k\] do_syscall_64"),
]
rows = [l for l in open(f"{d}/perf.children") if not l.startswith("#") and l.strip()]
for label, pattern in stages:
    shares = [float(l.split()[0].rstrip("%")) for l in rows if re.search(pattern, l.rstrip())]
    share = sum(shares) if label.startswith("+") else max(shares, default=0.0)
    label = label.lstrip("+")
    print(f"  {label:50s} {share:5.1f}%  {share / 100 * per_request:6.0f} µs")
print("by library (self time):")
for l in open(f"{d}/perf.dso"):
    if l.strip() and not l.startswith("#"):
        print("  " + l.strip())
PY
