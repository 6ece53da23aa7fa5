#ifndef SOLSTICE_CRABBITMQ_SHIM_H
#define SOLSTICE_CRABBITMQ_SHIM_H
// rabbitmq-c 0.11 (Debian bookworm) keeps its headers at the top of /usr/include.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

// amqp_login is variadic (the SASL arguments), which Swift cannot call: PLAIN only.
static inline amqp_rpc_reply_t crabbitmq_login_plain(amqp_connection_state_t state, const char *vhost,
        int channel_max, int frame_max, int heartbeat, const char *user, const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user, password);
}

// The method ids are macros with casts, which Swift does not import.
static const amqp_method_number_t crabbitmq_basic_ack = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t crabbitmq_basic_nack = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t crabbitmq_basic_return = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t crabbitmq_basic_deliver = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t crabbitmq_channel_close = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t crabbitmq_connection_close = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t crabbitmq_connection_blocked = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t crabbitmq_connection_unblocked = AMQP_CONNECTION_UNBLOCKED_METHOD;
#endif
