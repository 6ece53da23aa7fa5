#!/usr/bin/env bash
# Brings the local stack up and down by PID (these machines have no systemd):
#   scripts/stack.sh deps            install what the build and the stack need (apt, pip)
#   scripts/stack.sh up [profile]    start RabbitMQ, solstice-fcgi, nginx, the S3 server (moto), the log-service
#                                    stand-in and solstice-results; write $STATE/stack.env
#   scripts/stack.sh down [profile]  stop what `up` started
#   scripts/stack.sh broker-stop|broker-start [profile]   (fault tests)
#   scripts/stack.sh fcgi-restart [profile]   restart the responder; with STACK_FCGI_AMQP_URL (and AMQP_QUEUE_TYPE)
#                                    exported it publishes there instead of the profile's node (bench: the cluster)
# Profiles keep a developer's `make run` and the tests apart: run (AMQP 5672, HTTP_ADDR [127.0.0.1:8082]) and
# test (AMQP 5673, HTTP 127.0.0.1:18082), bench (AMQP 5674, HTTP 127.0.0.1:18083), each with its own RabbitMQ node and
# epmd, its state under .solstice/PROFILE and its runtime directory (below).
#
# The web servers' own users cannot enter a checkout under /root or a `mktemp -d` directory (mode 0700): nginx's
# workers run as nobody, Apache's and lighttpd's children, and the solstice-fcgi they spawn, as www-data. Their
# sockets, configurations, logs, pid files, secret file and spool, and copies of the binaries they execute, live in
# a runtime directory of this profile and checkout, /tmp/solstice-PROFILE-HASH (mode 0755, owned by the invoking
# user; refused if it is anyone else's); .solstice/PROFILE/runtime links to it. RabbitMQ, moto, the stand-ins and
# the logs of what runs as root stay under .solstice/PROFILE.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMD=${1:-up}
PROFILE=${2:-run}
shift $(($# > 2 ? 2 : $#))
RABBIT_BIN=/usr/lib/rabbitmq/bin

case "$PROFILE" in
run)
    STATE=$ROOT/.solstice/run
    AMQP_PORT=${STACK_AMQP_PORT:-5672}
    NODE=solstice@localhost
    HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:8082}
    S3_ADDR=${RUN_S3_ADDR:-127.0.0.1:8092}
    LOGS_ADDR=${RUN_LOGS_ADDR:-127.0.0.1:8093}
    # Without a real App exported, `make run` points solstice-fcgi and solstice-results at the GitHub stand-in.
    [ -z "${GITHUB_APP_ID:-}" ] && STANDIN_ADDR=${RUN_STANDIN_ADDR:-127.0.0.1:8090}
    ;;
test)
    STATE=$ROOT/.solstice/test
    AMQP_PORT=${STACK_AMQP_PORT:-5673}
    # Every address can be moved (TEST_*_ADDR, STACK_AMQP_PORT, STACK_NODE) to run beside another checkout's tests.
    NODE=${STACK_NODE:-solstice-test@localhost}
    HTTP_ADDR=${TEST_HTTP_ADDR:-127.0.0.1:18082}
    APACHE_ADDR=${TEST_APACHE_ADDR:-127.0.0.1:18084}
    APACHE_CGI_ADDR=${TEST_APACHE_CGI_ADDR:-127.0.0.1:18086}
    LIGHTTPD_ADDR=${TEST_LIGHTTPD_ADDR:-127.0.0.1:18085}
    WEB_SERVERS=${STACK_WEB:-nginx apache lighttpd}
    STANDIN_ADDR=${TEST_STANDIN_ADDR:-127.0.0.1:18090}
    S3_ADDR=${TEST_S3_ADDR:-127.0.0.1:18092}
    LOGS_ADDR=${TEST_LOGS_ADDR:-127.0.0.1:18093}
    ;;
bench)
    STATE=$ROOT/.solstice/bench
    AMQP_PORT=${STACK_AMQP_PORT:-5674}
    NODE=${STACK_NODE:-solstice-bench@localhost}
    HTTP_ADDR=${BENCH_HTTP_ADDR:-127.0.0.1:18083}
    S3_ADDR=${BENCH_S3_ADDR:-127.0.0.1:18094}
    LOGS_ADDR=${BENCH_LOGS_ADDR:-127.0.0.1:18095}
    ;;
*)
    echo "unknown profile $PROFILE (run, test or bench)" >&2
    exit 2
    ;;
esac
DIST_PORT=$((AMQP_PORT + 20000))
# An epmd of the profile's own (RUNBOOK: a shared one makes boots flaky, and outlives the node that started it).
EPMD_PORT=${STACK_EPMD_PORT:-$((AMQP_PORT + 19000))}
WEB_SERVERS=${WEB_SERVERS:-nginx}
STANDIN_ADDR=${STANDIN_ADDR:-}
APP_ID=4242
RUN_USER=www-data
BUILD=${SOLSTICE_BUILD:-release}
BUILT=$ROOT/.build/$BUILD
RUNTIME=/tmp/solstice-$PROFILE-$(cd "$ROOT" && pwd -P | sha256sum | cut -c1-12)
BIN=$RUNTIME/bin/solstice-fcgi
RESULTS_BIN=$RUNTIME/bin/solstice-results
SOCKET=$RUNTIME/fcgi.sock
S3_BUCKET=solstice-logs
SECRET=${GITHUB_WEBHOOK_SECRET:-solstice-dev-secret}
WEBHOOK_PATH=${WEBHOOK_PATH:-/webhooks/github}
MAX_BODY_BYTES=${MAX_BODY_BYTES:-26214400}

log() { printf '[stack] %s\n' "$*" >&2; }

deps() {
    local need=()
    for pkg in libfcgi-dev libssl-dev librabbitmq-dev libcurl4-openssl-dev pkg-config; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    command -v rabbitmq-server >/dev/null || need+=(rabbitmq-server)
    command -v nginx >/dev/null || need+=(nginx-light)
    command -v spawn-fcgi >/dev/null || need+=(spawn-fcgi)
    command -v wrk >/dev/null || need+=(wrk)
    command -v ss >/dev/null || need+=(iproute2)
    command -v apache2 >/dev/null || need+=(apache2)
    dpkg -s libapache2-mod-fcgid >/dev/null 2>&1 || need+=(libapache2-mod-fcgid)
    command -v lighttpd >/dev/null || need+=(lighttpd)
    command -v systemd-analyze >/dev/null || need+=(systemd)
    command -v openssl >/dev/null || need+=(openssl)
    command -v promtool >/dev/null || need+=(prometheus)
    if ((${#need[@]})); then
        log "apt-get install ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    if ! python3 -c 'import pika, pytest, requests, cryptography, boto3, moto.server, flask_cors' 2>/dev/null; then
        log "pip install pika pytest requests cryptography boto3 moto[server]"
        python3 -m pip install -q --disable-pip-version-check pika pytest requests cryptography boto3 'moto[server]'
    fi
}

# -- Processes, by PID only (shared with scripts/cluster.sh).
# shellcheck source=scripts/processes.sh
. "$ROOT/scripts/processes.sh"

# -- The runtime directory: reachable by nobody and www-data, and written only by us.

runtime_check() {
    if [ -L "$RUNTIME" ] || { [ -e "$RUNTIME" ] && { [ ! -d "$RUNTIME" ] || [ ! -O "$RUNTIME" ]; }; }; then
        log "refusing $RUNTIME: it exists and is not a directory owned by $(id -un)"
        exit 1
    fi
}

runtime_start() {
    runtime_check
    mkdir -p "$STATE"
    mkdir -m 0755 "$RUNTIME" 2>/dev/null || true
    runtime_check # nobody else made it in the meantime
    chmod 0755 "$RUNTIME"
    # solstice-fcgi gives its socket mode 0660 and this directory's group: the group of nginx's workers (nobody).
    chgrp "$(id -gn nobody)" "$RUNTIME"
    mkdir -p -m 0755 "$RUNTIME/bin"
    local bin
    for bin in solstice-fcgi solstice-results; do
        [ -x "$BUILT/$bin" ] || { log "missing $BUILT/$bin: run swift build -c $BUILD first"; exit 1; }
        # Under a new name, then renamed: a copy that still runs is replaced, not rewritten (ETXTBSY).
        install -m 0755 "$BUILT/$bin" "$RUNTIME/bin/.$bin.new"
        mv -f "$RUNTIME/bin/.$bin.new" "$RUNTIME/bin/$bin"
    done
    ln -sfn "$RUNTIME" "$STATE/runtime"
}

runtime_stop() { # the copies, sockets and secret go; logs and configurations stay for a look after a failed run
    [ -d "$RUNTIME" ] || return 0
    rm -rf "$RUNTIME/bin"
    rm -f "$SOCKET" "$RUNTIME/webhook-secret" "$RUNTIME/lighttpd.pid" "$RUNTIME/apache/cgid.sock"
}

# -- RabbitMQ and its epmd

rabbit_env() {
    export RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$DIST_PORT ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_MNESIA_BASE=$STATE/rabbitmq/mnesia RABBITMQ_LOG_BASE=$STATE/rabbitmq/log
    export RABBITMQ_PID_FILE=$STATE/rabbitmq/rabbit.pid RABBITMQ_ENABLED_PLUGINS_FILE=$STATE/rabbitmq/enabled_plugins
    export RABBITMQ_CONFIG_FILE=$STATE/rabbitmq/rabbitmq
}

ctl() { rabbit_env; "$RABBIT_BIN/rabbitmqctl" -n "$NODE" "$@"; }

broker_start() {
    rabbit_env
    mkdir -p "$STATE/rabbitmq/mnesia" "$STATE/rabbitmq/log"
    [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    # Tests fill and drain queues quickly; the default disk alarm (50 MB free) is fine, but keep memory modest.
    echo 'vm_memory_high_watermark.relative = 0.2' >"$STATE/rabbitmq/rabbitmq.conf"
    # More rabbitmq.conf lines, one per line (measuring a broker setting with `make bench`, say).
    [ -z "${STACK_RABBITMQ_CONF:-}" ] || printf '%s\n' "$STACK_RABBITMQ_CONF" >>"$STATE/rabbitmq/rabbitmq.conf"
    if ctl -q ping >/dev/null 2>&1; then
        log "RabbitMQ $NODE already running"
        return
    fi
    log "starting RabbitMQ $NODE on 127.0.0.1:$AMQP_PORT (epmd port $EPMD_PORT)"
    (cd "$STATE/rabbitmq" && "$RABBIT_BIN/rabbitmq-server" -detached >/dev/null 2>&1)
    for _ in $(seq 1 90); do
        ctl -q ping >/dev/null 2>&1 && break
        sleep 1
    done
    ctl -q await_startup --timeout 60 >/dev/null
}

broker_stop() {
    # By its PID file first: no rabbitmqctl call (which would start an epmd) when no node of ours runs.
    local pid below
    pid=$(pid_in "$STATE/rabbitmq/rabbit.pid" 'beam*')
    [ -n "$pid" ] || return 0
    log "stopping RabbitMQ $NODE"
    below=$(descendants "$pid")
    ctl -q shutdown >/dev/null 2>&1 || true
    stop_pid "$pid"
    # shellcheck disable=SC2086
    stop_listed $below
}

# -- The stand-ins, S3, solstice-fcgi and solstice-results: root's processes, state under $STATE

wait_port() { # host:port seconds: until something listens there (a TCP connect, no request: moto counts those)
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

app_key() {
    # A throwaway GitHub App key (PKCS#1, as GitHub hands them out) for the stand-in of GitHub's API.
    if [ ! -f "$STATE/app-key.pem" ]; then
        openssl genrsa -traditional -out "$STATE/app-key.pem" 2048 2>/dev/null
        openssl rsa -in "$STATE/app-key.pem" -pubout -out "$STATE/app-key.pub.pem" 2>/dev/null
    fi
}

standin_start() {
    mkdir -p "$STATE"
    app_key
    log "starting the GitHub API stand-in on http://$STANDIN_ADDR (App $APP_ID)"
    python3 "$ROOT/tests/github_standin/standin.py" --host "${STANDIN_ADDR%:*}" --port "${STANDIN_ADDR##*:}" \
        --app-id "$APP_ID" --public-key "$STATE/app-key.pub.pem" --log "$STATE/standin.log" \
        >"$STATE/standin.out" 2>&1 &
    echo $! >"$STATE/standin.pid"
    for _ in $(seq 1 100); do
        grep -q ready "$STATE/standin.out" 2>/dev/null && return 0
        sleep 0.1
    done
    log "the stand-in did not start; see $STATE/standin.out"
    exit 1
}

standin_stop() { stop_pidfile "$STATE/standin.pid" 'python*'; }

s3_start() {
    # moto's S3 on loopback. It checks Signature V4 only after INITIAL_NO_AUTH_ACTION_COUNT unsigned calls, which
    # s3_setup.py spends on an IAM user, its access key and the bucket; from then on every request must be signed.
    log "starting the S3 server (moto) on http://$S3_ADDR, bucket $S3_BUCKET"
    INITIAL_NO_AUTH_ACTION_COUNT=4 python3 -m moto.server -H "${S3_ADDR%:*}" -p "${S3_ADDR##*:}" \
        >"$STATE/s3.log" 2>&1 &
    echo $! >"$STATE/s3.pid"
    wait_port "$S3_ADDR" 30 || { log "the S3 server did not start; see $STATE/s3.log"; exit 1; }
    python3 "$ROOT/scripts/s3_setup.py" "http://$S3_ADDR" "$S3_BUCKET" "$STATE/s3.env"
}

s3_stop() { stop_pidfile "$STATE/s3.pid" 'python*'; }

logs_start() {
    log "starting the log-service stand-in on http://$LOGS_ADDR (logs in $STATE/logs)"
    python3 "$ROOT/tests/logs_standin/logs_standin.py" --dir "$STATE/logs" --host "${LOGS_ADDR%:*}" \
        --port "${LOGS_ADDR##*:}" >"$STATE/logs.out" 2>&1 &
    echo $! >"$STATE/logs.pid"
    wait_port "$LOGS_ADDR" 10 || { log "the log stand-in did not start; see $STATE/logs.out"; exit 1; }
}

logs_stop() { stop_pidfile "$STATE/logs.pid" 'python*'; }

fcgi_start() {
    [ -x "$BIN" ] || { log "missing $BIN: scripts/stack.sh up $PROFILE copies it from $BUILT"; exit 1; }
    log "starting solstice-fcgi on $SOCKET (supervised: restarted when it dies)"
    local app_env=()
    if [ -n "$STANDIN_ADDR" ]; then
        app_env=(GITHUB_APP_ID="$APP_ID" GITHUB_APP_KEY_PATH="$STATE/app-key.pem"
            GITHUB_API_BASE="http://$STANDIN_ADDR" LOGS_BASE_URL="http://logs.solstice.test")
        # The test stack's responder serves many tests writing runs in quick succession against a stand-in that
        # enforces no limit (pacing, GITHUB_WRITES_PER_MINUTE, is tested with responders of its tests' own); the
        # bench measures how fast the Checks outbox drains, not the pace GitHub would allow.
        if [ "$PROFILE" != run ]; then app_env+=(GITHUB_WRITES_PER_MINUTE=1000000); fi
    fi
    rm -f "$SOCKET"
    # The tests count what ends up on the queue and on GitHub: they start from an empty spool (no deferred
    # expansions or Check Run writes left by an earlier run of the suite).
    # The bench too, so that each run measures the same thing: its records of earlier runs (hundreds of thousands
    # after a few runs, kept 8 days) made each new record's file creation slower run after run.
    if [ "$PROFILE" = test ] || [ "$PROFILE" = bench ]; then rm -rf "$STATE/spool"; fi
    # A minimal supervisor, as systemd's Restart=on-failure or spawn-fcgi under a loop would be in production:
    # the fault tests kill -9 the responder and expect it back. fcgi.pid is the supervisor, fcgi.child the
    # responder. It runs as root and binds the socket mode 0666, so nginx's workers (nobody) reach it.
    (
        set +e # a child killed with -9 is what this loop is for
        trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
        while true; do
            # GAP_REPAIR_INTERVAL=0: the stand-in's delivery log is shared by every test, so periodic gap repair
            # here would redeliver other tests' failed deliveries mid-test; test_gap_repair.py runs it on purpose.
            env "${app_env[@]}" GAP_REPAIR_INTERVAL=0 GITHUB_WEBHOOK_SECRET="$SECRET" \
                AMQP_URL="${STACK_FCGI_AMQP_URL:-amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f}" \
                WEBHOOK_PATH="$WEBHOOK_PATH" \
                MAX_BODY_BYTES="$MAX_BODY_BYTES" SPOOL_DIR="$STATE/spool" FCGI_WORKERS="${FCGI_WORKERS:-16}" \
                "$BIN" --listen "$SOCKET" >>"$STATE/fcgi.log" 2>&1 &
            child=$!
            echo "$child" >"$STATE/fcgi.child"
            wait "$child"
            sleep 0.2
        done
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$STATE/fcgi.pid"
    for _ in $(seq 1 50); do
        [ -S "$SOCKET" ] && return 0
        sleep 0.1
    done
    log "solstice-fcgi did not start; see $STATE/fcgi.log"
    exit 1
}

fcgi_stop() {
    stop_pidfile "$STATE/fcgi.pid" bash        # the supervisor, and the responder below it
    stop_pidfile "$STATE/fcgi.child" 'solstice-fcgi' # a responder whose supervisor was gone already
    rm -f "$SOCKET"
}

results_env() { # the environment solstice-results runs with in this stack
    local env=(AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f" LOGS_BASE_URL="http://$LOGS_ADDR"
        S3_ENDPOINT="http://$S3_ADDR" S3_BUCKET="$S3_BUCKET" S3_REGION=us-east-1 TMPDIR="$STATE")
    if [ -n "$STANDIN_ADDR" ]; then
        env+=(GITHUB_APP_ID="$APP_ID" GITHUB_APP_KEY_PATH="$STATE/app-key.pem" GITHUB_API_BASE="http://$STANDIN_ADDR")
    fi
    printf '%s\n' "${env[@]}"
}

results_start() {
    [ -x "$RESULTS_BIN" ] || { log "missing $RESULTS_BIN: scripts/stack.sh up $PROFILE copies it from $BUILT"; exit 1; }
    if [ -z "$STANDIN_ADDR" ] && [ -z "${GITHUB_APP_ID:-}" ]; then
        log "solstice-results not started: no GitHub App (GITHUB_APP_ID) and no stand-in in this profile"
        return 0
    fi
    log "starting solstice-results (log $STATE/results.log)"
    : >>"$STATE/results.log"
    local start_size
    start_size=$(stat -c %s "$STATE/results.log")
    # shellcheck disable=SC1091
    (. "$STATE/s3.env" && mapfile -t vars < <(results_env) && exec env "${vars[@]}" "$RESULTS_BIN") \
        >>"$STATE/results.log" 2>&1 &
    echo $! >"$STATE/results.pid"
    for _ in $(seq 1 100); do
        tail -c +$((start_size + 1)) "$STATE/results.log" | grep -q "consuming results" && return 0
        sleep 0.1
    done
    log "solstice-results did not start; see $STATE/results.log"
    exit 1
}

results_stop() { stop_pidfile "$STATE/results.pid" 'solstice-result*'; } # comm keeps 15 characters

# -- The web servers: everything they or their children open is under $RUNTIME

nginx_start() {
    local prefix=$RUNTIME/nginx
    mkdir -p -m 0755 "$prefix"
    cp "$ROOT/nginx/fastcgi_params.solstice" "$prefix/"
    sed -e "s|@PREFIX@|$prefix|g" -e "s|@HTTP_ADDR@|$HTTP_ADDR|g" -e "s|@SOCKET@|$SOCKET|g" \
        -e "s|@WEBHOOK_PATH@|$WEBHOOK_PATH|g" -e "s|@MAX_BODY_BYTES@|$MAX_BODY_BYTES|g" \
        -e "s|@ACCESS_LOG@|${NGINX_ACCESS_LOG:-$prefix/access.log}|g" \
        "$ROOT/nginx/solstice-local.conf.template" >"$prefix/nginx.conf"
    log "starting nginx on http://$HTTP_ADDR"
    nginx -c "$prefix/nginx.conf" -p "$prefix/"
}

nginx_stop() { stop_pidfile "$RUNTIME/nginx/nginx.pid" nginx QUIT; } # QUIT: finish the requests in hand

web_secret() {
    # mod_fcgid and lighttpd children run as $RUN_USER and read the secret from a file, as in production.
    printf '%s\n' "$SECRET" >"$RUNTIME/webhook-secret"
    chgrp "$RUN_USER" "$RUNTIME/webhook-secret"
    chmod 0640 "$RUNTIME/webhook-secret"
    if [ "$PROFILE" = test ]; then rm -rf "$RUNTIME/spool-web"; fi
    mkdir -p "$RUNTIME/spool-web"
    chown "$RUN_USER:$RUN_USER" "$RUNTIME/spool-web"
}

fill() { # template output: substitute the @NAMES@ every web-server template uses
    sed -e "s|@HTTP_ADDR@|$ADDR|g" -e "s|@HTTP_HOST@|${ADDR%:*}|g" -e "s|@HTTP_PORT@|${ADDR##*:}|g" \
        -e "s|@CGI_ADDR@|${CGI_ADDR:-}|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@PID_FILE@|${PID_FILE:-}|g" \
        -e "s|@BIN@|$BIN|g" -e "s|@SECRET_FILE@|$RUNTIME/webhook-secret|g" \
        -e "s|@AMQP_URL@|amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f|g" \
        -e "s|@WEBHOOK_PATH@|$WEBHOOK_PATH|g" -e "s|@MAX_BODY_BYTES@|$MAX_BODY_BYTES|g" \
        -e "s|@MAX_BODY_KB@|$((MAX_BODY_BYTES / 1024))|g" -e "s|@SPOOL_DIR@|$RUNTIME/spool-web|g" \
        -e "s|@RUN_USER@|$RUN_USER|g" -e "s|@RUN_GROUP@|$RUN_USER|g" "$1" >"$2"
}

apache_start() {
    local PREFIX=$RUNTIME/apache ADDR=$APACHE_ADDR CGI_ADDR=$APACHE_CGI_ADDR
    web_secret
    mkdir -p -m 0755 "$PREFIX/fcgid"
    chown "$RUN_USER" "$PREFIX/fcgid"
    fill "$ROOT/deploy/apache/solstice-local.conf.template" "$PREFIX/apache.conf"
    log "starting Apache (mod_fcgid) on http://$APACHE_ADDR, CGI on http://$APACHE_CGI_ADDR"
    apache2 -f "$PREFIX/apache.conf" -k start
}

# mod_fcgid does not always take its solstice-fcgi children down with it: stop_tree ends those by PID.
apache_stop() { stop_pidfile "$RUNTIME/apache/httpd.pid" apache2; }

lighttpd_start() {
    # lighttpd opens its error log and binds the spawned responder's socket as $RUN_USER: its prefix is
    # $RUN_USER's. The PID file, which root trusts at `down`, is written before that, into root's directory.
    local PREFIX=$RUNTIME/lighttpd ADDR=$LIGHTTPD_ADDR PID_FILE=$RUNTIME/lighttpd.pid
    web_secret
    mkdir -p -m 0755 "$PREFIX/www" "$PREFIX/uploads"
    chown "$RUN_USER" "$PREFIX" "$PREFIX/uploads"
    fill "$ROOT/deploy/lighttpd/solstice-local.conf.template" "$RUNTIME/lighttpd.conf"
    log "starting lighttpd (mod_fastcgi) on http://$LIGHTTPD_ADDR"
    lighttpd -f "$RUNTIME/lighttpd.conf"
}

# lighttpd's spawned responders exit when their socket closes; stop_tree ends any that linger, by PID.
lighttpd_stop() { stop_pidfile "$RUNTIME/lighttpd.pid" lighttpd; }

# -- The stack: one row a service, in start order. `up` starts those this profile wants; `down` stops every row,
# last first, whether or not this profile started it (bench starts the stand-in by hand).
SERVICES=(
    # name    start           stop
    "runtime  runtime_start   runtime_stop"
    "epmd     epmd_note       epmd_stop"
    "broker   broker_start    broker_stop"
    "standin  standin_start   standin_stop"
    "s3       s3_start        s3_stop"
    "logs     logs_start      logs_stop"
    "fcgi     fcgi_start      fcgi_stop"
    "nginx    nginx_start     nginx_stop"
    "results  results_start   results_stop"
    "apache   apache_start    apache_stop"
    "lighttpd lighttpd_start  lighttpd_stop"
)

wanted() { # service: whether `up` starts it in this profile
    case "$1" in
    standin) [ -n "$STANDIN_ADDR" ] ;;
    apache | lighttpd) [[ " $WEB_SERVERS " == *" $1 "* ]] ;;
    *) true ;;
    esac
}

up() {
    local name start stop
    for row in "${SERVICES[@]}"; do
        read -r name start stop <<<"$row"
        if wanted "$name"; then "$start"; fi
    done
    write_env
}

down() {
    local i name start stop
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        read -r name start stop <<<"${SERVICES[i]}"
        "$stop"
    done
    # The cluster tests (tests/integration/test_cluster.py) start and stop a 3-node cluster of their own; a run cut
    # short leaves it to this safety net, which finds its nodes by PID file and does nothing when none runs.
    if [ "$PROFILE" = test ] && [ -d "$ROOT/.solstice/cluster" ]; then "$ROOT/scripts/cluster.sh" down; fi
}

write_env() { # what the tests, demo.py and bench read; `. $STATE/stack.env`
    local vars=(
        STACK_PROFILE="$PROFILE"
        STACK_STATE="$STATE"
        STACK_RUN_DIR="$RUNTIME"
        STACK_HTTP_URL="http://$HTTP_ADDR"
        STACK_WEBHOOK_PATH="$WEBHOOK_PATH"
        STACK_SECRET="$SECRET"
        STACK_AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
        STACK_AMQP_PORT="$AMQP_PORT"
        STACK_FCGI_BIN="$BIN"
        STACK_FCGI_SOCKET="$SOCKET"
        STACK_SPOOL_DIRS="$STATE/spool:$RUNTIME/spool-web"
        STACK_NGINX_CONF="$RUNTIME/nginx/nginx.conf"
        STACK_WEB_SERVERS="$WEB_SERVERS"
        STACK_URL_NGINX="http://$HTTP_ADDR"
        STACK_URL_APACHE="http://${APACHE_ADDR:-}"
        STACK_URL_APACHE_CGI="http://${APACHE_CGI_ADDR:-}"
        STACK_URL_LIGHTTPD="http://${LIGHTTPD_ADDR:-}"
        STACK_STANDIN_URL="${STANDIN_ADDR:+http://$STANDIN_ADDR}"
        STACK_APP_ID="$APP_ID"
        STACK_S3_URL="http://$S3_ADDR"
        STACK_S3_BUCKET="$S3_BUCKET"
        STACK_S3_ENV="$STATE/s3.env"
        STACK_LOGS_URL="http://$LOGS_ADDR"
        STACK_LOGS_DIR="$STATE/logs"
        STACK_RESULTS_BIN="$RESULTS_BIN"
    )
    local var
    for var in "${vars[@]}"; do
        printf 'export %s=%q\n' "${var%%=*}" "${var#*=}"
    done >"$STATE/stack.env"
}

runtime_check
case "$CMD" in
deps) deps ;;
up) up ;;
down) down ;;
broker-stop) broker_stop ;;
broker-start) broker_start ;;
ctl) ctl -q "$@" ;;
standin-start) standin_start ;;
standin-stop) standin_stop ;;
fcgi-restart)
    fcgi_stop
    fcgi_start
    ;;
results-restart)
    results_stop
    results_start
    ;;
results-stop) results_stop ;;
results-env) results_env ;;
*)
    echo "usage: $0 deps|up|down|broker-stop|broker-start|ctl|standin-start|standin-stop|fcgi-restart|results-restart|results-stop|results-env [run|test|bench] [args]" >&2
    exit 2
    ;;
esac
