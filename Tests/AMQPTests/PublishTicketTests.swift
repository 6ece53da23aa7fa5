import Dispatch
import Testing

@testable import AMQP

/// A request's share of the publisher pipeline (`PublishTicket`): what the broker said about each of its messages
/// decides what `publish` answers, and so which messages the request spools (SPEC §6, §7: only an ack counts).
@Suite struct PublishTicketTests {
    /// One thing the publisher thread (or the waiting worker) does to a ticket.
    enum Step: Sendable, CustomStringConvertible {
        case ack(Int)
        case fail(Int, String)
        case expire(String)

        func apply(to ticket: PublishTicket) {
            switch self {
            case .ack(let index): ticket.ack(index)
            case .fail(let index, let reason): ticket.fail(index, reason)
            case .expire(let reason): ticket.expire(reason)
            }
        }

        var description: String {
            switch self {
            case .ack(let index): "ack \(index)"
            case .fail(let index, let reason): "fail \(index) (\(reason))"
            case .expire(let reason): "expire (\(reason))"
            }
        }
    }

    static let nacked = "broker nacked the message"
    static let returned = "message returned as unroutable: NO_ROUTE"
    static let lost = "broker connection lost: a socket error occurred"
    static let noConfirm = "no confirm from the broker within 5 s"

    /// Steps on a three-message ticket, and what `publish` then answers.
    @Test(
        arguments: [
            ([.ack(0), .ack(1), .ack(2)], .confirmed),
            ([.ack(2), .ack(0), .ack(1)], .confirmed),
            ([.ack(0), .fail(1, nacked), .ack(2)], .failed(nacked, unconfirmed: [1])),
            ([.fail(0, returned), .ack(1), .ack(2)], .failed(returned, unconfirmed: [0])),
            ([.ack(0), .fail(1, lost), .fail(2, lost)], .failed(lost, unconfirmed: [1, 2])),
            // The first failure names the outcome; every message without an ack is unconfirmed.
            ([.fail(2, nacked), .fail(0, lost), .ack(1)], .failed(nacked, unconfirmed: [0, 2])),
            // The worker gave up: what was acked by then stays acked, the rest goes to the spool.
            ([.ack(1), .expire(noConfirm)], .failed(noConfirm, unconfirmed: [0, 2])),
            ([.expire(noConfirm)], .failed(noConfirm, unconfirmed: [0, 1, 2])),
            // A failure before the expiry keeps its reason.
            ([.fail(0, nacked), .expire(noConfirm)], .failed(nacked, unconfirmed: [0, 1, 2])),
            // Acks arriving after the expiry count for nothing: the worker already spooled those messages.
            ([.ack(0), .expire(noConfirm), .ack(1), .ack(2)], .failed(noConfirm, unconfirmed: [1, 2])),
            // Settled in full before the waiter gave up: its expiry changes nothing.
            ([.ack(0), .ack(1), .ack(2), .expire(noConfirm)], .confirmed),
        ] as [([Step], PublishResult)])
    func outcome(steps: [Step], expected: PublishResult) {
        let ticket = PublishTicket(count: 3)
        for step in steps { step.apply(to: ticket) }
        #expect(ticket.result == expected)
    }

    @Test func theWaiterIsWokenOnceWhenTheLastMessageIsSettled() {
        let ticket = PublishTicket(count: 3)
        ticket.ack(0)
        ticket.fail(1, Self.nacked)
        #expect(!ticket.isDone)
        #expect(ticket.semaphore.wait(timeout: .now()) == .timedOut)
        ticket.ack(2)
        #expect(ticket.isDone)
        #expect(ticket.semaphore.wait(timeout: .now()) == .success)
        // Later events for a settled ticket neither wake anyone nor change the outcome.
        ticket.ack(1)
        ticket.fail(0, Self.lost)
        #expect(ticket.semaphore.wait(timeout: .now()) == .timedOut)
        #expect(ticket.result == .failed(Self.nacked, unconfirmed: [1]))
    }

    @Test func anExpiredTicketIgnoresLateAcksAndNeverSignals() {
        let ticket = PublishTicket(count: 2)
        ticket.ack(0)
        ticket.expire(Self.noConfirm)
        #expect(ticket.isDone)
        ticket.ack(1)
        #expect(ticket.semaphore.wait(timeout: .now()) == .timedOut)
        #expect(ticket.result == .failed(Self.noConfirm, unconfirmed: [1]))
    }

    @Test func acksFromManyThreadsConfirmTheWholeTicket() {
        let count = 2_000
        let ticket = PublishTicket(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { ticket.ack($0) }
        #expect(ticket.result == .confirmed)
        #expect(ticket.semaphore.wait(timeout: .now()) == .success)
        #expect(ticket.semaphore.wait(timeout: .now()) == .timedOut)
    }
}
