import Base
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where the responder sends a delivery's messages; the seam tests and the fuzzer replace.
public protocol MessagePublishing: Sendable {
    /// Publishes every message and returns once each was acked or failed (or the confirm timeout passed).
    func publish(_ messages: [AMQPMessage]) -> PublishResult
}

/// How a publish ended (SPEC §6: only a broker ack counts).
public enum PublishResult: Sendable, Equatable {
    /// Every message was acked by the broker.
    case confirmed
    /// At least one message was nacked, returned, lost with the connection or not confirmed in time;
    /// `unconfirmed` holds the indices of the messages without an ack, which must go to the spool.
    case failed(String, unconfirmed: [Int])
}

/// Publishes with confirms pipelined across concurrent requests.
///
/// Concurrency model: one publisher thread owns the only `AMQPConnection`. Worker threads hand it messages
/// through a mutex-protected queue, wake it through a pipe, and block on their own ticket's semaphore until every
/// delivery tag of theirs is acked (or nacked, returned, lost, or 5 s pass). Many publishes are in flight on the
/// channel at once, so one broker round trip confirms a whole batch of requests. The connection is opened on
/// first use, kept, and opened again on the next publish after any failure.
///
/// Several nodes (`AMQP_URL` a comma-separated list, SPEC §12): a connect tries them in order from the node in
/// favour, the first at start; a node that refuses is passed over for the next. A lost connection puts the next
/// node in favour, so the reconnect goes there first. Messages in flight on a lost connection still fail to their
/// callers, which spool them (SPEC §7); they are not republished here.
public final class JobPublisher: MessagePublishing {
    private let settings: AMQPSettings
    private let addresses: [AMQPAddress]
    /// The node a connect tries first: the one connected to, or the next after one lost.
    private let node = Atomic<Int>(0)
    private let logger: Logger
    private let confirmTimeout: Double
    /// Messages waiting for the publisher thread, and whether that thread sleeps and must be woken.
    private let pending = Mutex<(queue: [(AMQPMessage, PublishTicket, Int)], sleeping: Bool)>(([], false))
    private let wakeRead: Int32
    /// Whether the publisher thread holds an open connection now (status, SPEC §11).
    private let connected = Atomic<Bool>(false)
    private let wakeWrite: Int32

    /// A publisher for `settings`; the thread starts now, the connection on the first publish.
    ///
    /// With `connectAtStart` the thread connects (and so declares the jobs' topology) right away, so the queue
    /// exists for the orchestrator before the first webhook; a failure then is only logged, the next publish tries
    /// again.
    public init(
        settings: AMQPSettings, logger: Logger, confirmTimeout: Double = 5, connectAtStart: Bool = false
    ) throws(AMQPAddressError) {
        self.settings = settings
        self.addresses = try AMQPAddress.list(settings.url)
        self.logger = logger
        self.confirmTimeout = confirmTimeout
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0, "pipe failed")
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let loop = PublisherLoop(owner: self)
        Threads.start { loop.run(connectingFirst: connectAtStart) }
    }

    /// Queues `messages` for the publisher thread and waits for their confirms (at most the confirm timeout).
    public func publish(_ messages: [AMQPMessage]) -> PublishResult {
        guard !messages.isEmpty else { return .confirmed }
        let ticket = PublishTicket(count: messages.count)
        let wake = pending.withLock { state in
            for (index, message) in messages.enumerated() { state.queue.append((message, ticket, index)) }
            defer { state.sleeping = false }
            return state.sleeping
        }
        // Only a sleeping publisher thread needs the (syscall-priced) wakeup.
        if wake {
            var one: UInt8 = 1
            _ = write(wakeWrite, &one, 1)
        }
        // The worker keeps its own deadline, so a publisher thread stuck in a blocked socket cannot hold it.
        if ticket.semaphore.wait(timeout: .now() + confirmTimeout + 0.5) == .timedOut {
            ticket.expire("no confirm from the broker within \(Self.seconds(confirmTimeout))")
        }
        return ticket.result
    }

    /// Whether the broker connection is up now. A publisher that connected at start reconnects by itself within a
    /// few seconds of the broker's return; otherwise on the next publish.
    public var isConnected: Bool { connected.load(ordering: .relaxed) }

    /// `host:port` of the node connected to now, nil while not connected (status, SPEC §12).
    public var connectedNode: String? { isConnected ? nodeInFavour.node : nil }

    /// The node connected to, or while not connected the one the next connect tries first.
    public var nodeInFavour: AMQPAddress { addresses[node.load(ordering: .relaxed) % addresses.count] }

    fileprivate func setConnected(_ value: Bool) { connected.store(value, ordering: .relaxed) }

    /// The connection to the node in favour was lost: the next connect tries the next node first.
    fileprivate func failOver() {
        let lost = node.load(ordering: .relaxed)
        node.store(AMQPFailover.next(after: lost, of: addresses.count), ordering: .relaxed)
    }

    /// Declares the jobs' topology once on a fresh connection, as the publisher does on connect; for `check-config`.
    public static func declareTopology(_ settings: AMQPSettings, timeout: Double = 5) throws(AMQPError) {
        let addresses: [AMQPAddress]
        do { addresses = try AMQPAddress.list(settings.url) } catch {
            throw AMQPError(code: -1, message: "AMQP_URL: \(error.message)")
        }
        _ = try AMQPFailover.connect(addresses, from: 0) { address throws(AMQPError) in
            let connection = try AMQPConnection(address: address, timeout: timeout)
            try AMQPTopology.declareJobs(on: connection, settings)
        }
    }

    fileprivate func takePending() -> [(AMQPMessage, PublishTicket, Int)] {
        pending.withLock { state in
            defer { state.queue.removeAll(keepingCapacity: true) }
            return state.queue
        }
    }

    /// Marks the publisher thread as about to sleep unless work is waiting; true when it may sleep.
    fileprivate func prepareToSleep() -> Bool {
        pending.withLock { state in
            state.sleeping = state.queue.isEmpty
            return state.sleeping
        }
    }

    fileprivate func awake() {
        pending.withLock { $0.sleeping = false }
    }

    fileprivate func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    /// `5 s`, `0.1 s`: a timeout as log lines and failure reasons show it.
    static func seconds(_ t: Double) -> String {
        t == t.rounded() ? "\(Int(t)) s" : "\(t) s"
    }

    fileprivate var wakeFD: Int32 { wakeRead }
    fileprivate var exchange: String { settings.exchange }
    fileprivate var routingKey: String { settings.routingKey }
    fileprivate var timeout: Double { confirmTimeout }

    fileprivate func connect() throws(AMQPError) -> AMQPConnection {
        let (connection, index) = try AMQPFailover.connect(addresses, from: node.load(ordering: .relaxed)) {
            address throws(AMQPError) in
            let connection = try AMQPConnection(address: address, timeout: 2)
            try AMQPTopology.declareJobs(on: connection, settings)
            try connection.enableConfirms()
            return connection
        }
        node.store(index, ordering: .relaxed)
        setConnected(true)
        let address = addresses[index]
        logger.log(.info, "connected to broker", ["host": .string(address.host), "port": .int(address.port)])
        return connection
    }

    fileprivate func log(_ level: LogLevel, _ message: String, _ error: String? = nil) {
        if let error { logger.log(level, message, ["error": .string(error)]) } else { logger.log(level, message) }
    }
}

/// One request's share of the pipeline: which of its messages the broker acked, and the first failure. It is
/// settled once every message was acked or failed, or when its waiter gives up.
final class PublishTicket: Sendable {
    let semaphore = DispatchSemaphore(value: 0)
    private let state: Mutex<(acked: Set<Int>, settled: Int, count: Int, failure: String?, done: Bool)>

    init(count: Int) { state = Mutex((acked: [], settled: 0, count: count, failure: nil, done: false)) }

    /// True once the ticket was settled; later acks for it are ignored.
    var isDone: Bool { state.withLock { $0.done } }

    /// The outcome; meaningful once the semaphore was signalled or the wait timed out.
    var result: PublishResult {
        state.withLock { s in
            if s.acked.count == s.count { return .confirmed }
            let unconfirmed = (0..<s.count).filter { !s.acked.contains($0) }
            return .failed(s.failure ?? "unconfirmed", unconfirmed: unconfirmed)
        }
    }

    /// Message `index` was acked.
    func ack(_ index: Int) { settle(index, failure: nil) }

    /// Message `index` was nacked, returned or lost.
    func fail(_ index: Int, _ reason: String) { settle(index, failure: reason) }

    /// The waiter gives up: whatever is not acked now counts as unconfirmed.
    func expire(_ reason: String) {
        state.withLock { s in
            guard !s.done else { return }
            if s.failure == nil { s.failure = reason }
            s.done = true
        }
    }

    private func settle(_ index: Int, failure: String?) {
        let finished = state.withLock { s -> Bool in
            guard !s.done else { return false }
            if let failure {
                if s.failure == nil { s.failure = failure }
            } else {
                s.acked.insert(index)
            }
            s.settled += 1
            if s.settled >= s.count { s.done = true }
            return s.done
        }
        if finished { semaphore.signal() }
    }
}

/// The publisher thread's state; touched only by that thread.
private final class PublisherLoop: @unchecked Sendable {
    private struct InFlight {
        let ticket: PublishTicket
        let index: Int
        let messageID: String
        let deadline: Double
    }

    /// Strong: the thread keeps its publisher alive (a publisher lives as long as its process; an unowned reference
    /// trapped when a test let go of one).
    private let owner: JobPublisher
    private var connection: AMQPConnection?
    private var nextTag: UInt64 = 0
    private var inFlight: [UInt64: InFlight] = [:]
    private var retryAfter = 0.0
    private var lastConnectError = ""
    private var idleRetryAt = 0.0
    /// A nack arrived in the events just handled.
    private var nacked = false

    init(owner: JobPublisher) { self.owner = owner }

    func run(connectingFirst: Bool) {
        if connectingFirst {
            do {
                connection = try owner.connect()
            } catch {
                owner.log(
                    .warning, "broker not reachable at start: connecting again on the first publish", error.message)
            }
        }
        while true {
            publishPending()
            if connection == nil, connectingFirst, MonotonicClock.now() >= idleRetryAt {
                // A serving publisher keeps its connection (and so its status) up while idle.
                idleRetryAt = MonotonicClock.now() + 2
                if let fresh = try? owner.connect() {
                    connection = fresh
                    nextTag = 0
                }
            }
            guard let connection else {
                if owner.prepareToSleep() { waitForWork(timeout: 1) }
                owner.awake()
                continue
            }
            let nearest = inFlight.values.map(\.deadline).min().map { max(0, $0 - MonotonicClock.now()) } ?? 1
            let ready: (Bool, Bool)
            if connection.hasBufferedData {
                ready = (true, false)
            } else {
                ready = connection.waitReadable(
                    wakeFD: owner.wakeFD, timeout: owner.prepareToSleep() ? min(1, nearest) : 0)
                owner.awake()
            }
            if ready.1 { owner.drainWakeups() }
            do {
                // A short read also services heartbeats while idle.
                let events = try connection.readEvents(timeout: ready.0 ? 0 : 0.001)
                handle(events)
            } catch {
                dropConnection(error.message)
            }
            if nacked { renewAfterNack() }
            expireDeadlines()
        }
    }

    private func waitForWork(timeout: Double) {
        var fd = pollfd(fd: owner.wakeFD, events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, Int32(timeout * 1000))
        owner.drainWakeups()
    }

    private func publishPending() {
        let batch = owner.takePending()
        guard !batch.isEmpty else { return }
        if connection == nil || connection?.isOpen == false {
            if connection != nil { owner.failOver() }  // closed under us: the next node first
            connection = nil
            owner.setConnected(false)
            guard MonotonicClock.now() >= retryAfter else {
                batch.forEach { $0.1.fail($0.2, "broker unavailable: \(lastConnectError)") }
                return
            }
            do {
                connection = try owner.connect()
                nextTag = 0
            } catch {
                lastConnectError = error.message
                retryAfter = MonotonicClock.now() + 0.2
                owner.log(.error, "broker connection failed", error.message)
                batch.forEach { $0.1.fail($0.2, "broker unavailable: \(error.message)") }
                return
            }
        }
        guard let connection else { return }
        let deadline = MonotonicClock.now() + owner.timeout
        // A batch goes out in as few segments as its size allows; a lone message needs no cork (rabbitmq-c already
        // sends its three frames with MSG_MORE).
        let corked = batch.count > 1
        if corked { connection.cork(true) }
        defer { if corked { connection.cork(false) } }
        for (position, (message, ticket, index)) in batch.enumerated() {
            if ticket.isDone { continue }
            do {
                try connection.publish(message, exchange: owner.exchange, routingKey: owner.routingKey)
                nextTag += 1
                inFlight[nextTag] = InFlight(
                    ticket: ticket, index: index, messageID: message.messageID, deadline: deadline)
            } catch {
                // This message and the rest of the batch fail; their requests spool them.
                batch[position...].forEach { $0.1.fail($0.2, "publish failed: \(error.message)") }
                dropConnection(error.message)
                return
            }
        }
    }

    private func handle(_ events: [AMQPChannelEvent]) {
        for event in events {
            switch event {
            case .ack(let tag, let multiple):
                settle(tag: tag, multiple: multiple) { $0.ticket.ack($0.index) }
            case .nack(let tag, let multiple):
                settle(tag: tag, multiple: multiple) { $0.ticket.fail($0.index, "broker nacked the message") }
                nacked = true
            case .returned(let messageID, let replyText):
                // A return precedes the ack of the same message: settle it as failed now, and drop it so that
                // its ack counts for nothing.
                if let (tag, entry) = inFlight.filter({ $0.value.messageID == messageID }).min(by: { $0.key < $1.key })
                {
                    inFlight.removeValue(forKey: tag)
                    entry.ticket.fail(entry.index, "message returned as unroutable: \(replyText)")
                }
            case .blocked(let blocked):
                owner.log(.warning, blocked ? "broker blocked publishing" : "broker unblocked publishing")
            case .delivery:
                break
            }
        }
    }

    private func settle(tag: UInt64, multiple: Bool, _ action: (InFlight) -> Void) {
        if multiple {
            for key in inFlight.keys where key <= tag {
                action(inFlight.removeValue(forKey: key)!)
            }
        } else if let entry = inFlight.removeValue(forKey: tag) {
            action(entry)
        }
    }

    private func expireDeadlines() {
        let now = MonotonicClock.now()
        for (tag, entry) in inFlight where entry.deadline <= now {
            entry.ticket.fail(entry.index, "no confirm from the broker within \(JobPublisher.seconds(owner.timeout))")
            inFlight.removeValue(forKey: tag)
        }
    }

    /// After a nack the channel is not trusted again: a quorum queue's channel that began publishing while the
    /// queue was electing a leader (the node in use was just lost) nacked every later message until it closed,
    /// seen against RabbitMQ 3.10 (tests/integration/test_cluster.py). A fresh connection, to the same node and
    /// after a short pause (an election takes a fraction of a second), starts with the queue's new leader. What
    /// is still in flight fails to its callers, which spool it (SPEC §7); a nack is rare, so this costs little.
    private func renewAfterNack() {
        nacked = false
        guard connection != nil else { return }
        owner.log(.warning, "broker nacked a message: opening a fresh connection")
        letGo(failing: "broker nacked a message on this channel")
        retryAfter = MonotonicClock.now() + 0.2
        idleRetryAt = retryAfter
    }

    private func dropConnection(_ reason: String) {
        owner.log(.error, "broker connection lost", reason)
        letGo(failing: "broker connection lost: \(reason)")
        owner.failOver()
    }

    /// Lets go of the connection; what is in flight on it fails to its callers with `reason`.
    private func letGo(failing reason: String) {
        for entry in inFlight.values { entry.ticket.fail(entry.index, reason) }
        inFlight.removeAll()
        connection = nil
        owner.setConnected(false)
    }
}
