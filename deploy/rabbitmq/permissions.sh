#!/bin/sh
# One RabbitMQ user per component, each allowed exactly what SPEC §6 gives it (least privilege):
#   solstice-fcgi     declares the jobs' topology and publishes to the jobs exchange; it can never write a result
#   solstice-results  declares the results' topology, consumes the results queue and republishes a result whose
#                     attempt failed to its retry queues (SPEC §8), through the default exchange
#   orchestrator      publishes JobResults to the results exchange and consumes the jobs queue
#
# usage (as root, on a broker node):
#   FCGI_PASSWORD=... RESULTS_PASSWORD=... ORCHESTRATOR_PASSWORD=... sh deploy/rabbitmq/permissions.sh
# then AMQP_URL=amqp://solstice-fcgi:PASSWORD@HOST/%2f for solstice-fcgi, and likewise for the others.
# RABBITMQCTL (default rabbitmqctl) and VHOST (default /) may be set; the names are SPEC §2's defaults — change
# the patterns below with AMQP_* if you renamed anything. `make test` runs this script against its own broker and
# shows each user doing its job and the responder's user refused when it publishes a result.
#
# Why each pattern holds what it holds (RabbitMQ's rules): declaring needs "configure" on the name; binding a
# queue needs "write" on the queue and "read" on the exchange; a queue with a dead-letter exchange needs "read" on
# the queue and "write" on that exchange; publishing needs "write" on the exchange; consuming "read" on the queue.
#
# What solstice-results' retries cost in rights (SPEC §8 v2), and what that means:
#   - its retry queues dead-letter to the results exchange, and RabbitMQ refuses to *create* a queue whose
#     dead-letter exchange the user may not write (ACCESS_REFUSED on exchange 'solstice.results'; a queue that
#     exists already may be declared again without it): so solstice-results may write solstice.results;
#   - it republishes through the default exchange, whose permission name is amq.default. RabbitMQ checks only the
#     exchange there, not the queue the routing key names: "write" on amq.default lets a user put a message into
#     ANY queue of the vhost by name — its retry queues, but also solstice.results.v1 and solstice.jobs.v1.
#   Together: the results daemon's user is not kept from writing results or jobs; it is kept from the jobs
#   exchange, from declaring, binding or deleting anything but its own names, and from reading any queue but its
#   own. It holds the GitHub App key anyway (it can write any Check Run), so a result it forged would give it
#   nothing; a job it injected through amq.default would, which is why its broker password deserves the App key's
#   care. The responder's user (internet-facing) is unaffected: it can still never write a result (SPEC §6).
#   To close the amq.default gap, the retries would need an exchange of their own (a change of SPEC §6/§8).
set -eu
CTL=${RABBITMQCTL:-rabbitmqctl}
VHOST=${VHOST:-/}

user() { # name password configure write read
    $CTL add_user "$1" "$2" >/dev/null 2>&1 || $CTL change_password "$1" "$2" >/dev/null
    $CTL set_permissions -p "$VHOST" "$1" "$3" "$4" "$5" >/dev/null
    echo "$1: configure '$3' write '$4' read '$5'"
}

user solstice-fcgi "${FCGI_PASSWORD:?set FCGI_PASSWORD}" \
    '^solstice\.(jobs|dlx|jobs\.v1|jobs\.v1\.dlq)$' \
    '^solstice\.(jobs|dlx|jobs\.v1|jobs\.v1\.dlq)$' \
    '^solstice\.(jobs|dlx|jobs\.v1)$'

# configure: its exchanges and queues, the four retry queues (AMQP_RESULTS_RETRY_QUEUE + .5s .30s .2m .10m) by name;
# write: the default exchange (retries), solstice.results (the retry queues' dead-letter exchange), solstice.dlx
# (the results queue's), and the two queues it binds; read: what it binds from, consumes, or dead-letters from.
user solstice-results "${RESULTS_PASSWORD:?set RESULTS_PASSWORD}" \
    '^solstice\.(results|dlx|results\.v1|results\.v1\.dlq|results\.v1\.retry\.(5s|30s|2m|10m))$' \
    '^(amq\.default|solstice\.(results|dlx|results\.v1|results\.v1\.dlq))$' \
    '^solstice\.(results|dlx|results\.v1|results\.v1\.retry\.(5s|30s|2m|10m))$'

user orchestrator "${ORCHESTRATOR_PASSWORD:?set ORCHESTRATOR_PASSWORD}" \
    '^$' \
    '^solstice\.results$' \
    '^solstice\.jobs\.v1$'
