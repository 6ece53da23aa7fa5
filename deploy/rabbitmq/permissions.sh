#!/bin/sh
# One RabbitMQ user per component, each allowed exactly what SPEC §6 gives it (least privilege):
#   solstice-fcgi     declares the jobs' topology and publishes to the jobs exchange; it can never write a result
#   solstice-results  declares the results' topology and consumes the results queue
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

user solstice-results "${RESULTS_PASSWORD:?set RESULTS_PASSWORD}" \
    '^solstice\.(results|dlx|results\.v1|results\.v1\.dlq|results\.v1\.retry\..+)$' \
    '^(amq\.default|solstice\.(dlx|results\.v1|results\.v1\.dlq|results\.v1\.retry\..+))$' \
    '^solstice\.(results|dlx|results\.v1|results\.v1\.retry\..+)$'

user orchestrator "${ORCHESTRATOR_PASSWORD:?set ORCHESTRATOR_PASSWORD}" \
    '^$' \
    '^solstice\.results$' \
    '^solstice\.jobs\.v1$'
