/// An AMQP 0-9-1 peer on 127.0.0.1 that speaks just enough of RabbitMQ for rabbitmq-c: the handshake, channel 1,
/// declarations, `confirm.select`, `basic.qos` and `basic.consume` (it never delivers), and `basic.publish` answered as the test says (ack, nack, return, silence, a
/// dropped connection). The broker half of the publisher's behaviour, in unit tests; the integration suite runs the
/// same cases against RabbitMQ itself (tests/integration).
public final class FakeBroker: Sendable {
    /// A message the broker received.
    public struct Published: Sendable, Equatable {
        /// Its delivery tag: the count of messages published on this connection's channel so far.
        public var tag: UInt64
        /// Its `message_id` property.
        public var messageID: String
        /// Its body.
        public var body: [UInt8]
        /// Which TCP connection carried it, from 0.
        public var connection: Int
    }

    /// What the broker does after receiving a message.
    public enum Answer: Sendable, Equatable {
        /// `basic.ack` of `tag` (and every earlier one when `multiple`).
        case ack(UInt64, multiple: Bool = false)
        /// `basic.nack` of `tag` (and every earlier one when `multiple`).
        case nack(UInt64, multiple: Bool = false)
        /// `basic.return` of this message (312 NO_ROUTE) followed by its ack, as RabbitMQ does for a mandatory
        /// message no queue is bound for.
        case returnUnroutable
        /// Closes the TCP connection without a word.
        case drop
    }

    /// A refusal during the connection setup, as RabbitMQ words it.
    public enum Refusal: Sendable {
        /// `connection.close` 403 ACCESS_REFUSED in answer to the login.
        case login
        /// `channel.close` 406 PRECONDITION_FAILED in answer to the first `queue.declare` (a queue that exists with
        /// other arguments).
        case queueArguments
    }

    private let server: LoopbackServer
    private let received: Mutexed<[Published]>

    /// A broker answering each published message with `answer(message)`, in order (nothing: no confirm), or
    /// refusing the setup as `refusal` says.
    public init(refusal: Refusal? = nil, answer: @escaping @Sendable (Published) -> [Answer] = { _ in [] })
        throws(SocketError)
    {
        let received = Mutexed<[Published]>([])
        self.received = received
        server = try LoopbackServer { connection in
            Session(connection: connection, refusal: refusal, answer: answer, received: received).run()
        }
    }

    /// The port.
    public var port: Int { server.port }
    /// `amqp://guest:guest@127.0.0.1:PORT/`.
    public var url: String { "amqp://guest:guest@127.0.0.1:\(port)/" }
    /// Every message received so far.
    public var published: [Published] { received.value }
    /// How many TCP connections were accepted.
    public var connections: Int { server.connections }

    /// Closes every connection and joins every thread; idempotent.
    public func stop() { server.stop() }
}

/// One connection's conversation.
private struct Session {
    let connection: LoopbackConnection
    let refusal: FakeBroker.Refusal?
    let answer: @Sendable (FakeBroker.Published) -> [FakeBroker.Answer]
    let received: Mutexed<[FakeBroker.Published]>

    static let frameEnd: UInt8 = 0xCE

    func run() {
        guard connection.read(8) == Array("AMQP".utf8) + [0, 0, 9, 1] else { return }
        // connection.start: version 0-9, no server properties, PLAIN, en_US.
        send(method: 10, 10, [0, 9] + Wire.table() + Wire.longString("PLAIN") + Wire.longString("en_US"))
        var tag: UInt64 = 0
        while let frame = readFrame() {
            guard frame.type == 1, frame.payload.count >= 4 else { continue }  // heartbeats and strays
            let classID = Wire.uint16(frame.payload, 0)
            let methodID = Wire.uint16(frame.payload, 2)
            switch (classID, methodID) {
            case (10, 11):  // start-ok
                if refusal == .login {
                    send(
                        method: 10, 50,
                        Wire.uint16(403) + Wire.shortString("ACCESS_REFUSED - Login was refused") + [0, 0, 0, 0])
                    return
                }
                // connection.tune: no channel limit, 128 KiB frames, no heartbeat.
                send(method: 10, 30, Wire.uint16(0) + Wire.uint32(131_072) + Wire.uint16(0))
            case (10, 31): break  // tune-ok
            case (10, 40): send(method: 10, 41, Wire.shortString(""))
            case (10, 50):
                send(method: 10, 51, [])
                return
            case (20, 10): send(method: 20, 11, Wire.longString(""), channel: 1)
            case (20, 40):
                send(method: 20, 41, [], channel: 1)
            case (40, 10): send(method: 40, 11, [], channel: 1)
            case (50, 10):
                if refusal == .queueArguments {
                    let text = "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue"
                    send(
                        method: 20, 40, Wire.uint16(406) + Wire.shortString(text) + Wire.uint16(50) + Wire.uint16(10),
                        channel: 1)
                    continue
                }
                // reserved short, then the queue name.
                let name = Wire.shortStringBytes(frame.payload, 6)
                send(method: 50, 11, [UInt8(name.count)] + name + Wire.uint32(0) + Wire.uint32(0), channel: 1)
            case (50, 20): send(method: 50, 21, [], channel: 1)
            case (85, 10): send(method: 85, 11, [], channel: 1)
            case (60, 10): send(method: 60, 11, [], channel: 1)  // basic.qos
            case (60, 20): send(method: 60, 21, Wire.shortString("fake-consumer"), channel: 1)  // basic.consume
            case (60, 40):
                guard let header = readFrame(), header.type == 2, header.payload.count >= 14 else { return }
                let size = Int(Wire.uint64(header.payload, 4))
                var body: [UInt8] = []
                while body.count < size {
                    guard let part = readFrame(), part.type == 3 else { return }
                    body += part.payload
                }
                tag += 1
                let message = FakeBroker.Published(
                    tag: tag, messageID: Wire.messageID(header.payload) ?? "", body: body, connection: connection.index)
                received.mutate { $0.append(message) }
                for reply in answer(message) {
                    switch reply {
                    case .ack(let tag, let multiple):
                        send(method: 60, 80, Wire.uint64(tag) + [multiple ? 1 : 0], channel: 1)
                    case .nack(let tag, let multiple):
                        send(method: 60, 120, Wire.uint64(tag) + [multiple ? 1 : 0], channel: 1)
                    case .returnUnroutable:
                        // basic.return, then the message as it came (its header holds message_id), then the ack.
                        send(
                            method: 60, 50,
                            Wire.uint16(312) + Wire.shortString("NO_ROUTE") + Wire.shortString("solstice.jobs")
                                + Wire.shortString("jobrequest.v1"), channel: 1)
                        connection.write(Wire.frame(type: 2, channel: 1, header.payload))
                        if !body.isEmpty { connection.write(Wire.frame(type: 3, channel: 1, body)) }
                        send(method: 60, 80, Wire.uint64(tag) + [0], channel: 1)
                    case .drop:
                        connection.drop()
                        return
                    }
                }
            default:
                break
            }
        }
    }

    private func readFrame() -> (type: UInt8, payload: [UInt8])? {
        guard let head = connection.read(7) else { return nil }
        let size = Int(Wire.uint32(head, 3))
        guard let rest = connection.read(size + 1), rest.last == Self.frameEnd else { return nil }
        return (head[0], Array(rest.dropLast()))
    }

    private func send(method classID: UInt16, _ methodID: UInt16, _ arguments: [UInt8], channel: UInt16 = 0) {
        connection.write(
            Wire.frame(type: 1, channel: channel, Wire.uint16(classID) + Wire.uint16(methodID) + arguments))
    }
}

/// AMQP 0-9-1 encoding: big-endian integers, short and long strings, tables, frames.
private enum Wire {
    static func uint16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func uint32(_ value: UInt32) -> [UInt8] { (0..<4).reversed().map { UInt8((value >> ($0 * 8)) & 0xFF) } }
    static func uint64(_ value: UInt64) -> [UInt8] { (0..<8).reversed().map { UInt8((value >> ($0 * 8)) & 0xFF) } }

    static func uint16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]) }
    static func uint32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 << 8 | UInt32(bytes[at + $1]) }
    }
    static func uint64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 << 8 | UInt64(bytes[at + $1]) }
    }

    static func shortString(_ text: String) -> [UInt8] { [UInt8(text.utf8.count)] + Array(text.utf8) }
    static func longString(_ text: String) -> [UInt8] { uint32(UInt32(text.utf8.count)) + Array(text.utf8) }
    static func table() -> [UInt8] { uint32(0) }

    static func shortStringBytes(_ bytes: [UInt8], _ at: Int) -> [UInt8] {
        guard at < bytes.count else { return [] }
        let length = Int(bytes[at])
        return Array(bytes[(at + 1)..<min(bytes.count, at + 1 + length)])
    }

    static func frame(type: UInt8, channel: UInt16, _ payload: [UInt8]) -> [UInt8] {
        [type] + uint16(channel) + uint32(UInt32(payload.count)) + payload + [0xCE]
    }

    /// The `message_id` of a basic content header (class, weight, body size, flags, then the properties in flag
    /// order: content-type, content-encoding, headers, delivery-mode, priority, correlation-id, reply-to,
    /// expiration, message-id).
    static func messageID(_ header: [UInt8]) -> String? {
        let flags = uint16(header, 12)
        var at = 14
        for bit in (7...15).reversed() where flags & (1 << bit) != 0 {
            switch bit {
            case 7: return String(decoding: shortStringBytes(header, at), as: UTF8.self)
            case 13: at += 4 + Int(uint32(header, at))  // table
            case 12, 11: at += 1  // octets
            default: at += 1 + Int(header[at])  // short strings
            }
        }
        return nil
    }
}
