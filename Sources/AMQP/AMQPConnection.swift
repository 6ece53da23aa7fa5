internal import CRabbitMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A failure reported by rabbitmq-c or by the broker, with the raw code and the library's or broker's own text.
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    /// rabbitmq-c status (negative), or the broker's reply code (e.g. 406 PRECONDITION_FAILED).
    public var code: Int32
    /// `amqp_error_string2(code)` or the broker's reply text, prefixed with what was being done.
    public var message: String

    public var description: String { message }
}

/// Something the broker sent on the channel, decoded from a method frame.
enum AMQPChannelEvent {
    /// basic.ack of `tag` (and every earlier one when `multiple`).
    case ack(tag: UInt64, multiple: Bool)
    /// basic.nack of `tag` (and every earlier one when `multiple`).
    case nack(tag: UInt64, multiple: Bool)
    /// basic.return of an unroutable mandatory message, identified by its `message_id`.
    case returned(messageID: String?, replyText: String)
    /// basic.deliver of a consumed message.
    case delivery(AMQPDelivery)
    /// connection.blocked / connection.unblocked (broker resource alarm).
    case blocked(Bool)
}

/// A consumed message.
struct AMQPDelivery {
    /// The channel's delivery tag, for ack and reject.
    var tag: UInt64
    /// True when the broker delivered it before (requeued).
    var redelivered: Bool
    /// The raw body.
    var body: [UInt8]
    /// `message_id` property, if any.
    var messageID: String?
    /// The message as rabbitmq-c decoded it (properties and body), kept to read headers and to republish it.
    var received: AMQPReceivedMessage
}

/// Owns one `amqp_message_t` read by `amqp_read_message`: its properties (in the message's pool) and its body.
///
/// Not thread-safe; it lives on the consumer thread that read it. `deinit` calls `amqp_destroy_message`.
final class AMQPReceivedMessage {
    fileprivate var message: amqp_message_t

    fileprivate init(_ message: amqp_message_t) { self.message = message }

    deinit { amqp_destroy_message(&message) }

    /// The value of header `name`, if the message has headers and that one among them.
    func header(_ name: String) -> AMQPHeaderValue? {
        guard message.properties._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0,
            let entries = message.properties.headers.entries
        else { return nil }
        let key = Array(name.utf8)
        for i in 0..<Int(max(0, message.properties.headers.num_entries))
        where AMQPConnection.bytes(entries[i].key) == key {
            return Self.decode(entries[i].value)
        }
        return nil
    }

    private static func decode(_ field: amqp_field_value_t) -> AMQPHeaderValue {
        let v = field.value
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_I8.rawValue: return .integer(Int64(v.i8))
        case AMQP_FIELD_KIND_I16.rawValue: return .integer(Int64(v.i16))
        case AMQP_FIELD_KIND_I32.rawValue: return .integer(Int64(v.i32))
        case AMQP_FIELD_KIND_I64.rawValue: return .integer(v.i64)
        case AMQP_FIELD_KIND_U8.rawValue: return .unsigned(UInt64(v.u8))
        case AMQP_FIELD_KIND_U16.rawValue: return .unsigned(UInt64(v.u16))
        case AMQP_FIELD_KIND_U32.rawValue: return .unsigned(UInt64(v.u32))
        case AMQP_FIELD_KIND_U64.rawValue: return .unsigned(v.u64)
        case AMQP_FIELD_KIND_UTF8.rawValue, AMQP_FIELD_KIND_BYTES.rawValue:
            return .text(String(decoding: AMQPConnection.bytes(v.bytes), as: UTF8.self))
        default: return .other(field.kind)
        }
    }
}

/// The value of a queue argument: `x-message-ttl` must be a number, the others are strings.
enum AMQPArgumentValue: Equatable {
    /// A long string (`S`).
    case string(String)
    /// A signed 64-bit integer (`l`); RabbitMQ compares integer arguments by value, whatever their width.
    case integer(Int64)
}

/// One argument of `queue.declare`.
struct AMQPArgument: Equatable {
    /// `x-dead-letter-exchange`, `x-message-ttl`, `x-queue-type`...
    var name: String
    /// Its value.
    var value: AMQPArgumentValue

    init(_ name: String, _ value: AMQPArgumentValue) {
        self.name = name
        self.value = value
    }
}

/// One outgoing message with the properties of SPEC §6.
public struct AMQPMessage: Sendable {
    /// The JSON body.
    public var body: [UInt8]
    /// `message_id` (the request id).
    public var messageID: String
    /// `type` (the schema, e.g. `jobrequest.v1`).
    public var type: String
    /// `timestamp`, seconds since 1970.
    public var timestamp: UInt64
    /// String headers (`x-github-delivery`, `x-github-event`).
    public var headers: [(String, String)]

    /// A persistent JSON message.
    public init(body: [UInt8], messageID: String, type: String, timestamp: UInt64, headers: [(String, String)]) {
        self.body = body
        self.messageID = messageID
        self.type = type
        self.timestamp = timestamp
        self.headers = headers
    }
}

/// Owns one `amqp_connection_state_t` with its TCP socket and channel 1.
///
/// Not thread-safe: one thread owns a connection at a time (the publisher thread, or a consumer loop). `deinit`
/// closes the connection politely when it is still open and destroys the state.
final class AMQPConnection {
    private let state: amqp_connection_state_t
    private(set) var isOpen = false
    private static let channel: amqp_channel_t = 1

    /// Connects, logs in and opens channel 1 (wraps `amqp_socket_open_noblock`, `amqp_login`,
    /// `amqp_channel_open`). `timeout` bounds the TCP connect, the handshake and every later RPC.
    init(address: AMQPAddress, timeout: Double, heartbeatSeconds: Int32 = 60) throws(AMQPError) {
        guard let state = amqp_new_connection() else {
            throw AMQPError(code: -1, message: "amqp_new_connection: out of memory")
        }
        self.state = state
        // From here on a throw runs deinit, which destroys `state` and the socket it owns.
        guard let socket = amqp_tcp_socket_new(state) else {
            throw AMQPError(code: -1, message: "amqp_tcp_socket_new failed")
        }
        var tv = Self.timeval(seconds: timeout)
        _ = amqp_set_handshake_timeout(state, &tv)
        _ = amqp_set_rpc_timeout(state, &tv)
        let status = amqp_socket_open_noblock(socket, address.host, Int32(address.port), &tv)
        guard status == AMQP_STATUS_OK.rawValue else {
            // rabbitmq-c's non-blocking connect reports only "a socket error occurred" (refused or unreachable).
            throw AMQPError(
                code: status,
                message: "cannot connect to \(address.host):\(address.port): \(Self.errorString(status))")
        }
        try check(
            crabbitmq_login_plain(
                state, address.vhost, 0, 131_072, heartbeatSeconds, address.user, address.password),
            "login to vhost \(address.vhost)")
        amqp_channel_open(state, Self.channel)
        try check(amqp_get_rpc_reply(state), "channel.open")
        isOpen = true
    }

    deinit {
        if isOpen {
            _ = amqp_channel_close(state, Self.channel, AMQP_REPLY_SUCCESS)
            _ = amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        }
        amqp_destroy_connection(state)
    }

    /// The socket's file descriptor, for `poll(2)`.
    var socketFD: Int32 { amqp_get_sockfd(state) }

    /// Holds back partial TCP segments while `on` (`TCP_CORK`): rabbitmq-c sends each frame of each message with
    /// its own `send`, so a batch of messages left as a burst of small segments, and the broker paid a read for
    /// each. Uncorking sends what is held at once.
    func cork(_ on: Bool) {
        var value: Int32 = on ? 1 : 0
        _ = setsockopt(socketFD, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Puts channel 1 in confirm mode (wraps `amqp_confirm_select`).
    func enableConfirms() throws(AMQPError) {
        amqp_confirm_select(state, Self.channel)
        try check(amqp_get_rpc_reply(state), "confirm.select")
    }

    /// Limits unacknowledged deliveries to `count` (wraps `amqp_basic_qos`).
    func setPrefetch(_ count: UInt16) throws(AMQPError) {
        amqp_basic_qos(state, Self.channel, 0, count, 0)
        try check(amqp_get_rpc_reply(state), "basic.qos")
    }

    /// Declares a durable direct exchange (wraps `amqp_exchange_declare`).
    func declareExchange(_ name: String) throws(AMQPError) {
        name.withCString { n in
            _ = amqp_exchange_declare(
                state, Self.channel, amqp_cstring_bytes(n), amqp_cstring_bytes("direct"), 0, 1, 0, 0, amqp_empty_table)
        }
        try check(amqp_get_rpc_reply(state), "declare exchange \(name)")
    }

    /// Declares a durable queue with arguments such as `x-dead-letter-exchange` (wraps `amqp_queue_declare`).
    func declareQueue(_ name: String, arguments: [AMQPArgument]) throws(AMQPError) {
        withTable(arguments.map { ($0.name, $0.value) }) { table in
            name.withCString { n in
                _ = amqp_queue_declare(state, Self.channel, amqp_cstring_bytes(n), 0, 1, 0, 0, table)
            }
        }
        try check(amqp_get_rpc_reply(state), "declare queue \(name)")
    }

    /// Binds `queue` to `exchange` with `routingKey` (wraps `amqp_queue_bind`).
    func bind(queue: String, exchange: String, routingKey: String) throws(AMQPError) {
        queue.withCString { q in
            exchange.withCString { e in
                routingKey.withCString { r in
                    _ = amqp_queue_bind(
                        state, Self.channel, amqp_cstring_bytes(q), amqp_cstring_bytes(e), amqp_cstring_bytes(r),
                        amqp_empty_table)
                }
            }
        }
        try check(amqp_get_rpc_reply(state), "bind \(queue) to \(exchange) with \(routingKey)")
    }

    /// Sends one persistent, mandatory JSON message (wraps `amqp_basic_publish`). With confirms on, its delivery tag
    /// is the count of messages published on this channel so far.
    func publish(_ message: AMQPMessage, exchange: String, routingKey: String) throws(AMQPError) {
        var props = amqp_basic_properties_t()
        props._flags =
            amqp_flags_t(AMQP_BASIC_CONTENT_TYPE_FLAG) | amqp_flags_t(AMQP_BASIC_DELIVERY_MODE_FLAG)
            | amqp_flags_t(AMQP_BASIC_MESSAGE_ID_FLAG) | amqp_flags_t(AMQP_BASIC_TYPE_FLAG)
            | amqp_flags_t(AMQP_BASIC_TIMESTAMP_FLAG) | amqp_flags_t(AMQP_BASIC_HEADERS_FLAG)
        props.delivery_mode = 2
        props.timestamp = message.timestamp
        let status: Int32 = withTable(message.headers.map { ($0.0, .string($0.1)) }) { headers in
            props.headers = headers
            return "application/json".withCString { contentType in
                message.messageID.withCString { messageID in
                    message.type.withCString { type in
                        exchange.withCString { e in
                            routingKey.withCString { r in
                                message.body.withUnsafeBytes { body in
                                    props.content_type = amqp_cstring_bytes(contentType)
                                    props.message_id = amqp_cstring_bytes(messageID)
                                    props.type = amqp_cstring_bytes(type)
                                    let bytes = amqp_bytes_t(
                                        len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress))
                                    return amqp_basic_publish(
                                        state, Self.channel, amqp_cstring_bytes(e), amqp_cstring_bytes(r), 1, 0,
                                        &props, bytes)
                                }
                            }
                        }
                    }
                }
            }
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            isOpen = false
            throw AMQPError(code: status, message: "publish: \(Self.errorString(status))")
        }
    }

    /// Publishes a consumed message again, through the default exchange to the queue `routingKey`, mandatory and
    /// persistent, with its own properties (`message_id`, `type`, `content_type`, `timestamp`, headers...) and
    /// body, and header `header` set to `value` (wraps `amqp_basic_publish`). With confirms on, its delivery tag is
    /// the count of messages published on this channel so far.
    func republish(_ delivery: AMQPDelivery, routingKey: String, header: String, value: Int32) throws(AMQPError) {
        let received = delivery.received
        var props = received.message.properties
        let key = Array(header.utf8)
        var entries: [amqp_table_entry_t] = []
        if props._flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0, let old = props.headers.entries {
            for i in 0..<Int(max(0, props.headers.num_entries)) where Self.bytes(old[i].key) != key {
                entries.append(old[i])  // points into the received message's pool, alive for this call
            }
        }
        props._flags |= amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) | amqp_flags_t(AMQP_BASIC_DELIVERY_MODE_FLAG)
        props.delivery_mode = 2  // a result waiting out its delay must survive a broker restart
        let status: Int32 = key.withUnsafeBytes { keyBytes in
            var entry = amqp_table_entry_t()
            entry.key = amqp_bytes_t(
                len: keyBytes.count, bytes: UnsafeMutableRawPointer(mutating: keyBytes.baseAddress))
            entry.value.kind = UInt8(AMQP_FIELD_KIND_I32.rawValue)
            entry.value.value.i32 = value
            entries.append(entry)
            return entries.withUnsafeMutableBufferPointer { buffer in
                props.headers = amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress)
                return routingKey.withCString { r in
                    withExtendedLifetime(received) {
                        amqp_basic_publish(
                            state, Self.channel, amqp_empty_bytes, amqp_cstring_bytes(r), 1, 0, &props,
                            received.message.body)
                    }
                }
            }
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            isOpen = false
            throw AMQPError(code: status, message: "republish to \(routingKey): \(Self.errorString(status))")
        }
    }

    /// Starts a consumer on `queue` with manual acks (wraps `amqp_basic_consume`).
    func consume(queue: String) throws(AMQPError) {
        queue.withCString { q in
            _ = amqp_basic_consume(
                state, Self.channel, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table)
        }
        try check(amqp_get_rpc_reply(state), "consume \(queue)")
    }

    /// Acknowledges a delivery (wraps `amqp_basic_ack`).
    func ack(_ tag: UInt64) throws(AMQPError) {
        let status = amqp_basic_ack(state, Self.channel, tag, 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            isOpen = false
            throw AMQPError(code: status, message: "ack: \(Self.errorString(status))")
        }
    }

    /// Rejects a delivery, to the dead-letter exchange unless `requeue` (wraps `amqp_basic_reject`).
    func reject(_ tag: UInt64, requeue: Bool) throws(AMQPError) {
        let status = amqp_basic_reject(state, Self.channel, tag, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else {
            isOpen = false
            throw AMQPError(code: status, message: "reject: \(Self.errorString(status))")
        }
    }

    /// True when frames are already buffered and `readEvents` will return without touching the socket.
    var hasBufferedData: Bool { amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0 }

    /// Reads the frames that arrive within `timeout` seconds (0: only what is already there) and decodes them.
    /// Servicing the socket this way also sends heartbeats when they are due. Throws when the connection or the
    /// channel is closed; the connection is then unusable.
    func readEvents(timeout: Double) throws(AMQPError) -> [AMQPChannelEvent] {
        var events: [AMQPChannelEvent] = []
        var wait = timeout
        while true {
            var frame = amqp_frame_t()
            var tv = Self.timeval(seconds: wait)
            let status = amqp_simple_wait_frame_noblock(state, &frame, &tv)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            guard status == AMQP_STATUS_OK.rawValue else {
                isOpen = false
                throw AMQPError(code: status, message: "read: \(Self.errorString(status))")
            }
            wait = 0
            guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { continue }
            let method = frame.payload.method
            switch method.id {
            case crabbitmq_basic_ack:
                let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
                events.append(.ack(tag: ack.delivery_tag, multiple: ack.multiple != 0))
            case crabbitmq_basic_nack:
                let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
                events.append(.nack(tag: nack.delivery_tag, multiple: nack.multiple != 0))
            case crabbitmq_basic_return:
                let ret = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
                let text = Self.string(ret.reply_text)
                var message = amqp_message_t()
                let reply = amqp_read_message(state, Self.channel, &message, 0)
                guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                    isOpen = false
                    throw AMQPError(code: -1, message: "read returned message: \(describe(reply))")
                }
                let id =
                    message.properties._flags & amqp_flags_t(AMQP_BASIC_MESSAGE_ID_FLAG) != 0
                    ? Self.string(message.properties.message_id) : nil
                amqp_destroy_message(&message)
                events.append(.returned(messageID: id, replyText: text))
            case crabbitmq_basic_deliver:
                let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
                var message = amqp_message_t()
                let reply = amqp_read_message(state, Self.channel, &message, 0)
                guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                    isOpen = false
                    throw AMQPError(code: -1, message: "read delivery: \(describe(reply))")
                }
                let received = AMQPReceivedMessage(message)  // destroys the message when let go of
                let body = Self.bytes(message.body)
                let id =
                    message.properties._flags & amqp_flags_t(AMQP_BASIC_MESSAGE_ID_FLAG) != 0
                    ? Self.string(message.properties.message_id) : nil
                events.append(
                    .delivery(
                        AMQPDelivery(
                            tag: deliver.delivery_tag, redelivered: deliver.redelivered != 0, body: body, messageID: id,
                            received: received)
                    ))
            case crabbitmq_channel_close:
                let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                isOpen = false
                throw AMQPError(
                    code: Int32(close.reply_code), message: "channel closed by broker: \(Self.string(close.reply_text))"
                )
            case crabbitmq_connection_close:
                let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                isOpen = false
                throw AMQPError(
                    code: Int32(close.reply_code),
                    message: "connection closed by broker: \(Self.string(close.reply_text))")
            case crabbitmq_connection_blocked:
                events.append(.blocked(true))
            case crabbitmq_connection_unblocked:
                events.append(.blocked(false))
            default:
                break
            }
        }
        amqp_maybe_release_buffers(state)
        return events
    }

    /// Waits until the socket is readable or `wakeFD` is, at most `timeout` seconds (wraps `poll(2)`).
    func waitReadable(wakeFD: Int32, timeout: Double) -> (socket: Bool, wake: Bool) {
        var fds = [
            pollfd(fd: socketFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        let ms = Int32(max(0, min(timeout, 3600)) * 1000)
        guard poll(&fds, 2, ms) > 0 else { return (false, false) }
        return (fds[0].revents != 0, fds[1].revents != 0)
    }

    // MARK: - Helpers

    private func check(_ reply: amqp_rpc_reply_t, _ context: String) throws(AMQPError) {
        guard reply.reply_type != AMQP_RESPONSE_NORMAL else { return }
        isOpen = false
        throw AMQPError(code: replyCode(reply), message: "\(context): \(describe(reply))")
    }

    private func replyCode(_ reply: amqp_rpc_reply_t) -> Int32 {
        switch reply.reply_type {
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return reply.library_error
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == crabbitmq_connection_close {
                return Int32(
                    reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee.reply_code)
            }
            if reply.reply.id == crabbitmq_channel_close {
                return Int32(reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee.reply_code)
            }
            return -1
        default: return -1
        }
    }

    private func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_NONE: return "missing RPC reply"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return Self.errorString(reply.library_error)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == crabbitmq_connection_close {
                let m = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "broker closed the connection: \(m.reply_code) \(Self.string(m.reply_text))"
            }
            if reply.reply.id == crabbitmq_channel_close {
                let m = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "broker closed the channel: \(m.reply_code) \(Self.string(m.reply_text))"
            }
            return "broker error (method \(reply.reply.id))"
        default: return "unknown reply"
        }
    }

    /// Runs `body` with an AMQP table of string and integer entries whose memory lives for the call.
    private func withTable<R>(_ entries: [(String, AMQPArgumentValue)], _ body: (amqp_table_t) -> R) -> R {
        let keys = entries.map { Array($0.0.utf8) }
        let values = entries.map { entry -> [UInt8] in
            if case .string(let text) = entry.1 { return Array(text.utf8) }
            return []
        }
        var table = [amqp_table_entry_t](repeating: amqp_table_entry_t(), count: entries.count)
        return Self.withPinned(keys) { keyPointers in
            Self.withPinned(values) { valuePointers in
                for i in entries.indices {
                    table[i].key = amqp_bytes_t(len: keys[i].count, bytes: keyPointers[i])
                    switch entries[i].1 {
                    case .string:
                        table[i].value.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
                        table[i].value.value.bytes = amqp_bytes_t(len: values[i].count, bytes: valuePointers[i])
                    case .integer(let n):
                        table[i].value.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
                        table[i].value.value.i64 = n
                    }
                }
                return table.withUnsafeMutableBufferPointer { buffer in
                    body(amqp_table_t(num_entries: Int32(buffer.count), entries: buffer.baseAddress))
                }
            }
        }
    }

    /// Copies byte arrays to memory that stays put for the call and hands out their addresses.
    private static func withPinned<R>(_ arrays: [[UInt8]], _ body: ([UnsafeMutableRawPointer?]) -> R) -> R {
        let buffers = arrays.map { bytes -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, bytes.count), alignment: 1)
            buffer.copyBytes(from: bytes)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        return body(buffers.map { $0.baseAddress })
    }

    private static func timeval(seconds: Double) -> Glibc.timeval {
        let whole = Int(seconds)
        return Glibc.timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }

    private static func errorString(_ status: Int32) -> String {
        String(cString: amqp_error_string2(status))
    }

    fileprivate static func bytes(_ b: amqp_bytes_t) -> [UInt8] {
        guard let base = b.bytes, b.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: base, count: b.len))
    }

    private static func string(_ b: amqp_bytes_t) -> String {
        String(decoding: bytes(b), as: UTF8.self)
    }
}
