# Sourced by scripts/stack.sh and scripts/cluster.sh: stopping processes by PID only, never by name. Callers
# define log().
# -- Processes, by PID only. PID 1 here reaps exited children slowly: a zombie (state Z) counts as gone.

proc_field() { # pid index: a field of /proc/PID/stat after the command name (0 state, 1 ppid, 19 start time)
    local stat fields
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
    read -r -a fields <<<"${stat##*) }" # the command name may hold spaces and parentheses
    printf '%s' "${fields[$2]:-}"
}

alive() { # pid: it runs and has not exited
    local state
    state=$(proc_field "$1" 0)
    [ -n "$state" ] && [ "$state" != Z ]
}

stop_pid() { # pid [signal]: send it SIGNAL (TERM), wait 10 s for its exit, then KILL
    local pid=$1 sig=${2:-TERM}
    [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] && [ "$pid" != $$ ] || return 0
    alive "$pid" || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        alive "$pid" || return 0
        sleep 0.1
    done
    log "PID $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) did not exit on SIG$sig within 10 s: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive "$pid" || return 0
        sleep 0.1
    done
}

descendants() { # pid: the processes below it (children, theirs, ...) as PID:STARTTIME, walking /proc parent links
    local -A below=()
    local file stat pid fields queue=("$1") entry
    for file in /proc/[0-9]*/stat; do
        { read -r stat <"$file"; } 2>/dev/null || continue
        pid=${stat%% *}
        read -r -a fields <<<"${stat##*) }"
        below[${fields[1]}]+=" $pid:${fields[19]}"
    done
    while ((${#queue[@]})); do
        for entry in ${below[${queue[0]}]:-}; do
            echo "$entry"
            queue+=("${entry%%:*}")
        done
        queue=("${queue[@]:1}")
    done
}

stop_listed() { # PID:STARTTIME ...: stop_pid each that is still the same process (not a PID given out again since)
    local entry pid
    for entry in "$@"; do
        pid=${entry%%:*}
        if [ "$(proc_field "$pid" 19)" = "${entry#*:}" ]; then stop_pid "$pid"; fi
    done
}

stop_tree() { # pid [signal]: stop a server, then what is left of the processes it had below it (a web server's
    # children, mod_fcgid's and lighttpd's solstice-fcgi), which would otherwise be orphans no PID file names
    local pid=$1 below
    alive "$pid" || return 0
    below=$(descendants "$pid")
    stop_pid "$pid" "${2:-TERM}"
    # shellcheck disable=SC2086
    stop_listed $below
}

pid_in() { # file program: the PID the file names, if that process runs PROGRAM (/proc/PID/comm, a glob); nothing
    # for a stale file, or one naming a process that has since been given the number
    local pid comm
    pid=$(cat "$1" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
    # shellcheck disable=SC2053
    if [[ "$comm" == $2 ]] && alive "$pid"; then echo "$pid"; fi
}

stop_pidfile() { # file program [signal]: stop_tree the process the file names, then remove the file
    local pid
    pid=$(pid_in "$1" "$2")
    if [ -n "$pid" ]; then stop_tree "$pid" "${3:-TERM}"; fi
    rm -f "$1"
}

# The epmd of a RabbitMQ setup (stack.sh's node, cluster.sh's nodes): callers set EPMD_PORT and STATE.
# Any rabbitmqctl call starts epmd when none runs, and it outlives the node: epmd_note records whether one listened on
# EPMD_PORT before us, and epmd_stop ends only an epmd we caused.
epmd_pid() { # the epmd listening on EPMD_PORT, if any
    local pid
    pid=$(ss -Hltnp "sport = :$EPMD_PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = epmd ]; then echo "$pid"; fi
}

epmd_note() {
    mkdir -p "$STATE"
    if [ ! -f "$STATE/epmd.before" ]; then
        if [ -n "$(epmd_pid)" ]; then echo yes; else echo no; fi >"$STATE/epmd.before"
    fi
}

epmd_stop() {
    if [ "$(cat "$STATE/epmd.before" 2>/dev/null)" = no ]; then stop_pid "$(epmd_pid)"; fi
    rm -f "$STATE/epmd.before"
}
