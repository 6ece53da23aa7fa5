import AMQP
import Base
import Foundation
import Jobs
import TestSupport
import Testing

@testable import Delivery
@testable import Events
@testable import Webhook

#if canImport(Glibc)
    import Glibc
#endif

/// The responder's use of the spool (SPEC §7): duplicates, concurrent copies, the outbox when the broker fails.
@Suite final class DuplicateDeliveryTests {
    /// The spool directories a test made, removed when it ends (Swift Testing makes one suite instance per test).
    private var directories: [TemporaryDirectory] = []

    deinit { directories.forEach { $0.remove() } }

    private func tempDir() -> String {
        let directory = TemporaryDirectory("spool")
        directories.append(directory)
        return directory.path
    }

    private func responder(_ publisher: RecordingPublisher, spool: SpoolDirectory) -> WebhookResponder {
        var config = WebhookConfiguration()
        config.webhookSecrets = ["s"]
        return WebhookResponder(
            configuration: config, publisher: publisher, spool: spool, logger: Logger(level: .error))
    }

    private static func send(_ r: WebhookResponder, delivery: String) -> WebhookResponse {
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
        let r = responder(publisher, spool: try SpoolDirectory(path: tempDir()))
        let first = Self.send(r, delivery: "d-1")
        #expect(first.status == 202)
        let again = Self.send(r, delivery: "d-1")
        #expect(again.status == 200)
        #expect(json(again)["duplicate"] as? Bool == true)
        // The same body as the first time, plus "duplicate": true.
        #expect(
            String(decoding: again.body, as: UTF8.self) == String(decoding: first.body.dropLast(), as: UTF8.self)
                + ", \"duplicate\": true}")
        #expect(publisher.published.count == 1)
        #expect(Self.send(r, delivery: "d-2").status == 202)
        #expect(publisher.published.count == 2)
    }

    @Test func eightConcurrentCopiesPublishOnce() throws {
        let publisher = RecordingPublisher()
        let r = responder(publisher, spool: try SpoolDirectory(path: tempDir()))
        let statuses = Mutexed<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let status = Self.send(r, delivery: "same").status
            statuses.mutate { $0.append(status) }
        }
        #expect(statuses.value.sorted() == [200, 200, 200, 200, 200, 200, 200, 202])
        #expect(publisher.published.count == 1)
    }

    @Test func brokerDownSpoolsAndAnswers202Spooled() throws {
        let dir = tempDir()
        let spool = try SpoolDirectory(path: dir)
        let publisher = RecordingPublisher(result: .failed("broker unavailable", unconfirmed: [0]))
        let response = Self.send(responder(publisher, spool: spool), delivery: "d-3")
        #expect(response.status == 202)
        #expect(json(response)["spooled"] as? Bool == true)
        #expect(JobOutbox(spool: spool).pendingFiles().count == 1)
        #expect(
            DeliveryRecords(spool: spool).answer(groupID: DeliveryIDs(delivery: "d-3", installationTarget: nil).groupID)
                != nil)
    }

    @Test func neitherPublishedNorSpooledIs503AndNotRecorded() throws {
        let dir = tempDir()
        let spool = try SpoolDirectory(path: dir)
        let publisher = RecordingPublisher(result: .failed("broker unavailable", unconfirmed: [0]))
        #expect(system("rm -rf '\(dir)/outbox' '\(dir)/tmp'") == 0)
        let response = Self.send(responder(publisher, spool: spool), delivery: "d-4")
        #expect(response.status == 503)
        #expect(
            DeliveryRecords(spool: spool).answer(groupID: DeliveryIDs(delivery: "d-4", installationTarget: nil).groupID)
                == nil)
        // Space is back: GitHub's "Redeliver" succeeds.
        _ = try SpoolDirectory(path: dir)
        #expect(Self.send(responder(publisher, spool: spool), delivery: "d-4").status == 202)
    }
}
