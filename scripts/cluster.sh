#!/usr/bin/env bash
# A local 3-node RabbitMQ cluster (prototype for issue 15), by PID only, loopback only, its own ports and epmd:
#   scripts/cluster.sh up | fresh | down | status | kill N | start N | ctl N ARGS...
# Nodes solstice-c1..c3@localhost on AMQP 127.0.0.1:5681..5683 (CLUSTER_PORT_BASE), dist ports 25681..25683,
# epmd port 24681 (CLUSTER_EPMD_PORT); state under .solstice/cluster/ (HOME there holds the shared .erlang.cookie).
# `kill N` is kill -9 of node N's beam (fault tests); `down` stops every node it started and the epmd it caused.
# `fresh` is `down`, the nodes' data removed, then `up`: the tests start from a cluster without queues or messages.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CMD=${1:-status}
shift $(($# > 0 ? 1 : 0))
RABBIT_BIN=/usr/lib/rabbitmq/bin
STATE=$ROOT/.solstice/cluster
BASE=${CLUSTER_PORT_BASE:-5681}
EPMD_PORT=${CLUSTER_EPMD_PORT:-24681}
NODES=(1 2 3)

log() { echo "cluster: $*" >&2; }

# shellcheck source=scripts/processes.sh
. "$ROOT/scripts/processes.sh"

node_name() { echo "solstice-c$1@localhost"; }
node_dir() { echo "$STATE/n$1"; }

rabbit_env() { # n
    local dir
    dir=$(node_dir "$1")
    export HOME=$STATE # one .erlang.cookie for the nodes and rabbitmqctl
    export RABBITMQ_NODENAME=$(node_name "$1") RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$((BASE + $1 - 1)) RABBITMQ_DIST_PORT=$((BASE + 20000 + $1 - 1))
    export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
    export RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log RABBITMQ_PID_FILE=$dir/rabbit.pid
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins RABBITMQ_CONFIG_FILE=$dir/rabbitmq
}
ctl() { # n args...
    local n=$1
    shift
    (rabbit_env "$n" && "$RABBIT_BIN/rabbitmqctl" -n "$(node_name "$n")" "$@")
}

node_pid() { pid_in "$(node_dir "$1")/rabbit.pid" 'beam*'; }

node_start() { # n: start detached, wait until it answers
    local dir
    dir=$(node_dir "$1")
    mkdir -p "$dir/mnesia" "$dir/log"
    [ -f "$dir/enabled_plugins" ] || echo '[].' >"$dir/enabled_plugins"
    echo 'vm_memory_high_watermark.relative = 0.2' >"$dir/rabbitmq.conf"
    if [ -n "$(node_pid "$1")" ]; then log "node $1 already running"; return; fi
    log "starting $(node_name "$1") on 127.0.0.1:$((BASE + $1 - 1))"
    (rabbit_env "$1" && cd "$dir" && "$RABBIT_BIN/rabbitmq-server" -detached >/dev/null 2>&1)
}
node_wait() { # n
    for _ in $(seq 1 90); do ctl "$1" -q ping >/dev/null 2>&1 && break; sleep 1; done
    ctl "$1" -q await_startup --timeout 60 >/dev/null
}

running_count() { # from node n's view
    ctl "$1" -q cluster_status --formatter json 2>/dev/null |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("running_nodes", [])))' 2>/dev/null || echo 0
}

cluster_up() {
    local t0 n
    t0=$(date +%s.%N)
    epmd_note
    mkdir -p "$STATE"
    if [ ! -f "$STATE/.erlang.cookie" ]; then
        head -c 32 /dev/urandom | sha256sum | cut -c1-32 >"$STATE/.erlang.cookie"
    fi
    chmod 400 "$STATE/.erlang.cookie"
    for n in "${NODES[@]}"; do node_start "$n"; done
    for n in "${NODES[@]}"; do node_wait "$n"; done
    log "3 nodes answer after $(echo "$(date +%s.%N) - $t0" | bc) s"
    for n in 2 3; do
        if ctl "$n" -q cluster_status --formatter json 2>/dev/null | grep -q "$(node_name 1)"; then continue; fi
        log "joining $(node_name "$n") to $(node_name 1)"
        ctl "$n" -q stop_app >/dev/null
        ctl "$n" -q reset >/dev/null
        ctl "$n" -q join_cluster "$(node_name 1)" >>"$STATE/join.log" 2>&1
        ctl "$n" -q start_app >>"$STATE/join.log" 2>&1
    done
    for _ in $(seq 1 60); do
        [ "$(running_count 1)" = 3 ] && break
        sleep 1
    done
    if [ "$(running_count 1)" != 3 ]; then log "cluster_status does not show 3 running nodes"; exit 1; fi
    log "cluster of 3 running after $(echo "$(date +%s.%N) - $t0" | bc) s"
    echo "AMQP_URL=amqp://127.0.0.1:$BASE/%2f,amqp://127.0.0.1:$((BASE + 1))/%2f,amqp://127.0.0.1:$((BASE + 2))/%2f" \
        >"$STATE/cluster.env"
    cat "$STATE/cluster.env"
}

node_stop() { # n: rabbitmqctl shutdown when it answers, then by PID, then what it left below it
    local pid below
    pid=$(node_pid "$1")
    [ -n "$pid" ] || return 0
    log "stopping $(node_name "$1") (PID $pid)"
    below=$(descendants "$pid")
    ctl "$1" -q shutdown >/dev/null 2>&1 || true
    stop_pid "$pid"
    # shellcheck disable=SC2086
    stop_listed $below
}

cluster_down() {
    local n
    # Stop in reverse: node 1 last, so the others' departure is seen by a running node.
    for n in 3 2 1; do node_stop "$n"; done
    epmd_stop
}

case "$CMD" in
up) cluster_up ;;
fresh)
    cluster_down
    rm -rf "$STATE"/n[123] "$STATE/cluster.env" "$STATE/join.log"
    cluster_up
    ;;
down) cluster_down ;;
status)
    for n in "${NODES[@]}"; do
        pid=$(node_pid "$n")
        echo "node $n $(node_name "$n") port $((BASE + n - 1)) pid ${pid:-none}"
    done
    for n in "${NODES[@]}"; do
        if [ -n "$(node_pid "$n")" ]; then ctl "$n" -q cluster_status; break; fi
    done
    ;;
kill)
    pid=$(node_pid "${1:?node number}")
    [ -n "$pid" ] || { log "node $1 not running"; exit 1; }
    log "kill -9 $(node_name "$1") (PID $pid)"
    below=$(descendants "$pid")
    kill -KILL "$pid"
    # erl_child_setup and friends would otherwise be orphans
    # shellcheck disable=SC2086
    stop_listed $below
    ;;
start) node_start "${1:?node number}"; node_wait "$1" ;;
ctl)
    n=${1:?node number}
    shift
    ctl "$n" "$@"
    ;;
*)
    echo "usage: $0 up|fresh|down|status|kill N|start N|ctl N ARGS" >&2
    exit 2
    ;;
esac
