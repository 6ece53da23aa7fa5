import Foundation
import Testing

@testable import Delivery

#if canImport(Glibc)
    import Glibc
#endif

/// The outbox and delivery records (SPEC §7) on a real directory, and the responder's use of them.
@Suite struct SpoolTests {
    private func tempDir() -> String {
        var template = Array("/tmp/solstice-spool-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template))
    }

    private func message(_ id: String) -> AMQPMessage {
        AMQPMessage(
            body: Array("{\"request_id\": \"\(id)\"}".utf8), messageID: id, type: "jobrequest.v1", timestamp: 7,
            headers: [("x-github-delivery", "d"), ("x-github-event", "push")])
    }

    @Test func enqueuedMessagesDrainInArrivalOrderAndOnlyAfterConfirm() throws {
        let spool = try Spool(directory: tempDir())
        try spool.enqueue(groupID: "g1", messages: [message("a"), message("b")])
        try spool.enqueue(groupID: "g2", messages: [message("c")])
        #expect(spool.pendingFiles().count == 2)
        var seen: [String] = []
        // The broker is away: nothing is removed.
        let failed = spool.drain(spool.pendingFiles()[0]) { _ in .failed("down", unconfirmed: [0, 1]) }
        #expect(failed == .failed("down"))
        #expect(spool.pendingFiles().count == 2)
        var shapes: [Bool] = []
        for name in spool.pendingFiles() {
            let outcome = spool.drain(name) { messages in
                seen += messages.map(\.messageID)
                shapes.append(
                    messages.allSatisfy { $0.type == "jobrequest.v1" && $0.timestamp == 7 }
                        && messages[0].headers.map(\.0) == ["x-github-delivery", "x-github-event"])
                return .confirmed
            }
            #expect(outcome == .published)
        }
        #expect(shapes == [true, true])
        #expect(seen == ["a", "b", "c"])
        #expect(spool.pendingFiles().isEmpty)
    }

    @Test func partialFailureKeepsOnlyTheUnconfirmedMessages() throws {
        let spool = try Spool(directory: tempDir())
        try spool.enqueue(groupID: "g", messages: [message("a"), message("b"), message("c")])
        let name = spool.pendingFiles()[0]
        _ = spool.drain(name) { _ in .failed("nack", unconfirmed: [1]) }
        var left: [String] = []
        _ = spool.drain(name) { messages in
            left = messages.map(\.messageID)
            return .confirmed
        }
        #expect(left == ["b"])
    }

    @Test func aFileHeldByAnotherDrainerIsSkipped() throws {
        let spool = try Spool(directory: tempDir())
        try spool.enqueue(groupID: "g", messages: [message("a")])
        let name = spool.pendingFiles()[0]
        let fd = open(spool.directory + "/outbox/" + name, O_RDONLY)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        #expect(spool.drain(name) { _ in .confirmed } == .skipped)
        flock(fd, LOCK_UN)
        #expect(spool.drain(name) { _ in .confirmed } == .published)
        #expect(spool.drain(name) { _ in .confirmed } == .skipped)
    }

    @Test func recordsRoundTripAndExpire() throws {
        let spool = try Spool(directory: tempDir())
        #expect(spool.record(groupID: "g") == nil)
        try spool.writeRecord(groupID: "g", body: Array("{\"a\": 1}".utf8))
        #expect(spool.record(groupID: "g") == Array("{\"a\": 1}".utf8))
        #expect(spool.sweep(now: Int(time(nil)) + 7 * 86_400) == 0)
        #expect(spool.sweep(now: Int(time(nil)) + 9 * 86_400) >= 1)
        #expect(spool.record(groupID: "g") == nil)
    }

    @Test func unwritableSpoolThrows() throws {
        let dir = tempDir()
        let spool = try Spool(directory: dir)
        // The directory vanishes under us (as a full or read-only disk would refuse the write).
        #expect(system("rm -rf '\(dir)'") == 0)
        #expect(throws: SpoolError.self) { try spool.enqueue(groupID: "g", messages: [message("a")]) }
    }

    // MARK: - Through the responder

    private func responder(_ publisher: RecordingPublisher, spool: Spool) -> WebhookResponder {
        var config = Configuration()
        config.webhookSecrets = ["s"]
        return WebhookResponder(
            configuration: config, publisher: publisher, spool: spool, logger: Logger(level: .error))
    }

    private func send(_ r: WebhookResponder, delivery: String) -> WebhookResponse {
        let body = WebhookResponderTests.push
        let request = WebhookRequest(
            method: "POST", path: "/webhooks/github", contentType: "application/json", contentLength: body.count,
            signature: SignatureVerifier.signature(secret: "s", body: body), event: "push", delivery: delivery)
        return r.respond(to: request) { _ in body }
    }

    private func json(_ r: WebhookResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:]
    }

    @Test func sameDeliveryAgainIsADuplicateAndPublishesNothing() throws {
        let publisher = RecordingPublisher()
        let r = responder(publisher, spool: try Spool(directory: tempDir()))
        let first = send(r, delivery: "d-1")
        #expect(first.status == 202)
        let again = send(r, delivery: "d-1")
        #expect(again.status == 200)
        #expect(json(again)["duplicate"] as? Bool == true)
        // The same body as the first time, plus "duplicate": true.
        #expect(
            String(decoding: again.body, as: UTF8.self) == String(decoding: first.body.dropLast(), as: UTF8.self)
                + ", \"duplicate\": true}")
        #expect(publisher.published.count == 1)
        #expect(send(r, delivery: "d-2").status == 202)
        #expect(publisher.published.count == 2)
    }

    @Test func eightConcurrentCopiesPublishOnce() throws {
        let publisher = RecordingPublisher()
        let r = responder(publisher, spool: try Spool(directory: tempDir()))
        let statuses = Mutexed<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let status = send(r, delivery: "same").status
            statuses.mutate { $0.append(status) }
        }
        #expect(statuses.value.sorted() == [200, 200, 200, 200, 200, 200, 200, 202])
        #expect(publisher.published.count == 1)
    }

    @Test func brokerDownSpoolsAndAnswers202Spooled() throws {
        let dir = tempDir()
        let spool = try Spool(directory: dir)
        let publisher = RecordingPublisher(result: .failed("broker unavailable", unconfirmed: [0]))
        let response = send(responder(publisher, spool: spool), delivery: "d-3")
        #expect(response.status == 202)
        #expect(json(response)["spooled"] as? Bool == true)
        #expect(spool.pendingFiles().count == 1)
        #expect(spool.record(groupID: DeliveryIDs(delivery: "d-3", installationTarget: nil).groupID) != nil)
    }

    @Test func neitherPublishedNorSpooledIs503AndNotRecorded() throws {
        let dir = tempDir()
        let spool = try Spool(directory: dir)
        let publisher = RecordingPublisher(result: .failed("broker unavailable", unconfirmed: [0]))
        #expect(system("rm -rf '\(dir)/outbox' '\(dir)/tmp'") == 0)
        let response = send(responder(publisher, spool: spool), delivery: "d-4")
        #expect(response.status == 503)
        #expect(spool.record(groupID: DeliveryIDs(delivery: "d-4", installationTarget: nil).groupID) == nil)
        // Space is back: GitHub's "Redeliver" succeeds.
        _ = try Spool(directory: dir)
        #expect(send(responder(publisher, spool: spool), delivery: "d-4").status == 202)
    }
}

/// A value behind a lock, for collecting results from concurrent test code.
final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLockLike()
    private var _value: T
    init(_ value: T) { _value = value }
    var value: T { lock.locked { _value } }
    func mutate(_ body: (inout T) -> Void) { lock.locked { body(&_value) } }
}
