#!/usr/bin/env bash
# Brings the local stack up and down by PID (these machines have no systemd):
#   scripts/stack.sh deps            install what the build and the stack need (apt, pip)
#   scripts/stack.sh up [profile]    start RabbitMQ, solstice-fcgi, nginx, the S3 server (moto), the log-service
#                                    stand-in and solstice-results; write $STATE/stack.env
#   scripts/stack.sh down [profile]  stop what `up` started
#   scripts/stack.sh broker-stop|broker-start [profile]   (fault tests)
# Profiles keep a developer's `make run` and the tests apart: run (AMQP 5672, HTTP_ADDR [127.0.0.1:8082]) and
# test (AMQP 5673, HTTP 127.0.0.1:18082), bench (AMQP 5674, HTTP 127.0.0.1:18083), each with its own RabbitMQ node and state under .solstice/.
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
    DIST_PORT=$((AMQP_PORT + 20000))
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
    DIST_PORT=$((AMQP_PORT + 20000))
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
    DIST_PORT=$((AMQP_PORT + 20000))
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
WEB_SERVERS=${WEB_SERVERS:-nginx}
STANDIN_ADDR=${STANDIN_ADDR:-}
APP_ID=4242
RUN_USER=www-data
BUILD=${SOLSTICE_BUILD:-release}
BIN=$ROOT/.build/$BUILD/solstice-fcgi
RESULTS_BIN=$ROOT/.build/$BUILD/solstice-results
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

rabbit_env() {
    export RABBITMQ_NODENAME=$NODE RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$AMQP_PORT
    export RABBITMQ_DIST_PORT=$DIST_PORT ERL_EPMD_ADDRESS=127.0.0.1
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
    if [ ! -f "$STATE/epmd.before" ]; then
        if ss -Hltn 'sport = :4369' | grep -q .; then echo yes; else echo no; fi >"$STATE/epmd.before"
    fi
    if ctl -q ping >/dev/null 2>&1; then
        log "RabbitMQ $NODE already running"
        return
    fi
    log "starting RabbitMQ $NODE on 127.0.0.1:$AMQP_PORT"
    (cd "$STATE/rabbitmq" && "$RABBIT_BIN/rabbitmq-server" -detached >/dev/null 2>&1)
    for _ in $(seq 1 90); do
        ctl -q ping >/dev/null 2>&1 && break
        sleep 1
    done
    ctl -q await_startup --timeout 60 >/dev/null
}

broker_stop() {
    if ctl -q ping >/dev/null 2>&1; then
        log "stopping RabbitMQ $NODE"
        ctl -q shutdown >/dev/null 2>&1 || true
    fi
}

epmd_stop() {
    # rabbitmqctl starts epmd when none runs, and it outlives the node: end it only if we caused it.
    if [ "$(cat "$STATE/epmd.before" 2>/dev/null)" = no ]; then
        local pid
        pid=$(ss -Hltnp 'sport = :4369' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/epmd.before"
}

wait_gone() { # pid: wait until it exited (a zombie counts as gone: PID 1 here reaps slowly)
    for _ in $(seq 1 100); do
        kill -0 "$1" 2>/dev/null || return 0
        [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
        sleep 0.1
    done
    return 1
}

app_key() {
    # A throwaway GitHub App key (PKCS#1, as GitHub hands them out) for the stand-in of GitHub's API.
    if [ ! -f "$STATE/app-key.pem" ]; then
        openssl genrsa -traditional -out "$STATE/app-key.pem" 2048 2>/dev/null
        openssl rsa -in "$STATE/app-key.pem" -pubout -out "$STATE/app-key.pub.pem" 2>/dev/null
    fi
}

standin_start() {
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

standin_stop() {
    local pid
    pid=$(cat "$STATE/standin.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/standin.pid"
}

fcgi_start() {
    [ -x "$BIN" ] || { log "missing $BIN: run swift build -c $BUILD first"; exit 1; }
    log "starting solstice-fcgi on $STATE/fcgi.sock (supervised: restarted when it dies)"
    local app_env=()
    if [ -n "$STANDIN_ADDR" ]; then
        app_env=(GITHUB_APP_ID="$APP_ID" GITHUB_APP_KEY_PATH="$STATE/app-key.pem"
            GITHUB_API_BASE="http://$STANDIN_ADDR" LOGS_BASE_URL="http://logs.solstice.test")
    fi
    rm -f "$STATE/fcgi.sock"
    # A minimal supervisor, as systemd's Restart=on-failure or spawn-fcgi under a loop would be in production:
    # the fault tests kill -9 the responder and expect it back. fcgi.pid is the supervisor, fcgi.child the
    # responder.
    (
        set +e  # a child killed with -9 is what this loop is for
        trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
        while true; do
            env "${app_env[@]}" GITHUB_WEBHOOK_SECRET="$SECRET" \
                AMQP_URL="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f" WEBHOOK_PATH="$WEBHOOK_PATH" \
                MAX_BODY_BYTES="$MAX_BODY_BYTES" SPOOL_DIR="$STATE/spool" FCGI_WORKERS="${FCGI_WORKERS:-16}" \
                "$BIN" --listen "$STATE/fcgi.sock" >>"$STATE/fcgi.log" 2>&1 &
            child=$!
            echo "$child" >"$STATE/fcgi.child"
            wait "$child"
            sleep 0.2
        done
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$STATE/fcgi.pid"
    for _ in $(seq 1 50); do
        [ -S "$STATE/fcgi.sock" ] && return 0
        sleep 0.1
    done
    log "solstice-fcgi did not start; see $STATE/fcgi.log"
    exit 1
}

fcgi_stop() {
    local pid child
    pid=$(cat "$STATE/fcgi.pid" 2>/dev/null || true)
    child=$(cat "$STATE/fcgi.child" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        kill "$child" 2>/dev/null || true
        wait_gone "$child" || kill -9 "$child" 2>/dev/null || true
    fi
    rm -f "$STATE/fcgi.pid" "$STATE/fcgi.child" "$STATE/fcgi.sock"
}

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

logs_start() {
    log "starting the log-service stand-in on http://$LOGS_ADDR (logs in $STATE/logs)"
    python3 "$ROOT/tests/logs_standin/logs_standin.py" --dir "$STATE/logs" --host "${LOGS_ADDR%:*}" \
        --port "${LOGS_ADDR##*:}" >"$STATE/logs.out" 2>&1 &
    echo $! >"$STATE/logs.pid"
    wait_port "$LOGS_ADDR" 10 || { log "the log stand-in did not start; see $STATE/logs.out"; exit 1; }
}

stop_pidfile() { # file: end the process it names (TERM, then KILL after 10 s)
    local pid
    pid=$(cat "$1" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
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
    [ -x "$RESULTS_BIN" ] || { log "missing $RESULTS_BIN: run swift build -c $BUILD first"; exit 1; }
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

nginx_start() {
    mkdir -p "$STATE/nginx"
    cp "$ROOT/nginx/fastcgi_params.solstice" "$STATE/nginx/"
    sed -e "s|@PREFIX@|$STATE/nginx|g" -e "s|@HTTP_ADDR@|$HTTP_ADDR|g" -e "s|@SOCKET@|$STATE/fcgi.sock|g" \
        -e "s|@WEBHOOK_PATH@|$WEBHOOK_PATH|g" -e "s|@MAX_BODY_BYTES@|$MAX_BODY_BYTES|g" \
        -e "s|@ACCESS_LOG@|${NGINX_ACCESS_LOG:-$STATE/nginx/access.log}|g" \
        "$ROOT/nginx/solstice-local.conf.template" >"$STATE/nginx/nginx.conf"
    log "starting nginx on http://$HTTP_ADDR"
    nginx -c "$STATE/nginx/nginx.conf" -p "$STATE/nginx/"
}

nginx_stop() {
    local pid
    pid=$(cat "$STATE/nginx/nginx.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -QUIT "$pid" 2>/dev/null || true
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
}

secret_file() {
    # mod_fcgid and lighttpd children run as $RUN_USER and read the secret from a file, as in production.
    printf '%s\n' "$SECRET" >"$STATE/webhook-secret"
    chgrp "$RUN_USER" "$STATE/webhook-secret"
    chmod 0640 "$STATE/webhook-secret"
    mkdir -p "$STATE/spool-web"
    chown "$RUN_USER:$RUN_USER" "$STATE/spool-web"
}

fill() { # template output: substitute the @NAMES@ every web-server template uses
    sed -e "s|@HTTP_ADDR@|$ADDR|g" -e "s|@HTTP_HOST@|${ADDR%:*}|g" -e "s|@HTTP_PORT@|${ADDR##*:}|g" \
        -e "s|@CGI_ADDR@|${CGI_ADDR:-}|g" -e "s|@PREFIX@|$PREFIX|g" -e "s|@BIN@|$BIN|g" \
        -e "s|@SECRET_FILE@|$STATE/webhook-secret|g" -e "s|@AMQP_URL@|amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f|g" \
        -e "s|@WEBHOOK_PATH@|$WEBHOOK_PATH|g" -e "s|@MAX_BODY_BYTES@|$MAX_BODY_BYTES|g" \
        -e "s|@MAX_BODY_KB@|$((MAX_BODY_BYTES / 1024))|g" -e "s|@SPOOL_DIR@|$STATE/spool-web|g" \
        -e "s|@RUN_USER@|$RUN_USER|g" -e "s|@RUN_GROUP@|$RUN_USER|g" "$1" >"$2"
}

apache_start() {
    PREFIX=$STATE/apache ADDR=$APACHE_ADDR CGI_ADDR=$APACHE_CGI_ADDR
    mkdir -p "$PREFIX/fcgid"
    chown "$RUN_USER" "$PREFIX/fcgid"
    fill "$ROOT/deploy/apache/solstice-local.conf.template" "$PREFIX/apache.conf"
    log "starting Apache (mod_fcgid) on http://$APACHE_ADDR, CGI on http://$APACHE_CGI_ADDR"
    apache2 -f "$PREFIX/apache.conf" -k start
}

apache_stop() {
    [ -f "$STATE/apache/apache.conf" ] || return 0
    local pid
    pid=$(cat "$STATE/apache/httpd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        apache2 -f "$STATE/apache/apache.conf" -k stop 2>/dev/null || kill "$pid"
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    # mod_fcgid does not always take its children down with it; they run the binary without arguments.
    pkill -f "^$BIN\$" 2>/dev/null || true
}

lighttpd_start() {
    PREFIX=$STATE/lighttpd ADDR=$LIGHTTPD_ADDR
    mkdir -p "$PREFIX/www" "$PREFIX/uploads"
    chown "$RUN_USER" "$PREFIX" "$PREFIX/uploads"
    fill "$ROOT/deploy/lighttpd/solstice-local.conf.template" "$PREFIX/lighttpd.conf"
    log "starting lighttpd (mod_fastcgi) on http://$LIGHTTPD_ADDR"
    lighttpd -f "$PREFIX/lighttpd.conf"
}

lighttpd_stop() {
    local pid
    pid=$(cat "$STATE/lighttpd/lighttpd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_gone "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    # lighttpd's spawned children exit when their socket closes; end any that linger.
    pkill -f "^$BIN\$" 2>/dev/null || true
}

write_env() {
    cat >"$STATE/stack.env" <<EOT
export STACK_PROFILE=$PROFILE
export STACK_STATE=$STATE
export STACK_HTTP_URL=http://$HTTP_ADDR
export STACK_WEBHOOK_PATH=$WEBHOOK_PATH
export STACK_SECRET='$SECRET'
export STACK_AMQP_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f
export STACK_AMQP_PORT=$AMQP_PORT
export STACK_FCGI_BIN=$BIN
export STACK_WEB_SERVERS='$WEB_SERVERS'
export STACK_URL_NGINX=http://$HTTP_ADDR
export STACK_URL_APACHE=http://${APACHE_ADDR:-}
export STACK_URL_APACHE_CGI=http://${APACHE_CGI_ADDR:-}
export STACK_URL_LIGHTTPD=http://${LIGHTTPD_ADDR:-}
export STACK_STANDIN_URL=${STANDIN_ADDR:+http://$STANDIN_ADDR}
export STACK_APP_ID=$APP_ID
export STACK_S3_URL=http://$S3_ADDR
export STACK_S3_BUCKET=$S3_BUCKET
export STACK_S3_ENV=$STATE/s3.env
export STACK_LOGS_URL=http://$LOGS_ADDR
export STACK_LOGS_DIR=$STATE/logs
export STACK_RESULTS_BIN=$RESULTS_BIN
EOT
}

case "$CMD" in
deps) deps ;;
up)
    mkdir -p "$STATE"
    broker_start
    [ -n "$STANDIN_ADDR" ] && standin_start
    s3_start
    logs_start
    fcgi_start
    nginx_start
    results_start
    if [[ " $WEB_SERVERS " == *" apache "* || " $WEB_SERVERS " == *" lighttpd "* ]]; then secret_file; fi
    [[ " $WEB_SERVERS " == *" apache "* ]] && apache_start
    [[ " $WEB_SERVERS " == *" lighttpd "* ]] && lighttpd_start
    write_env
    ;;
down)
    lighttpd_stop
    apache_stop
    stop_pidfile "$STATE/results.pid"
    nginx_stop
    fcgi_stop
    stop_pidfile "$STATE/logs.pid"
    stop_pidfile "$STATE/s3.pid"
    standin_stop
    broker_stop
    epmd_stop
    ;;
broker-stop) broker_stop ;;
ctl) ctl -q "$@" ;;
broker-start) broker_start ;;
standin-start) standin_start ;;
standin-stop) standin_stop ;;
fcgi-restart)
    fcgi_stop
    fcgi_start
    ;;
results-restart)
    stop_pidfile "$STATE/results.pid"
    results_start
    ;;
results-env) results_env ;;
*)
    echo "usage: $0 deps|up|down|broker-stop|broker-start|fcgi-restart [run|test|bench]" >&2
    exit 2
    ;;
esac
