import AMQP
import Base
import Delivery
import Foundation
import Jobs
import TestSupport
import Testing

@testable import Webhook

/// SPEC §11 and §3's first row: `STATUS_PATH` and `METRICS_PATH` answer GET and HEAD before the path check, the
/// metrics name every family before anything was counted, and only `WEBHOOK_PATH` requests count as webhooks.
@Suite struct OperationsEndpointsTests {
    static let families = [
        "solstice_webhooks_total counter", "solstice_webhook_duration_seconds histogram",
        "solstice_jobs_published_total counter", "solstice_jobs_spooled_total counter",
        "solstice_deliveries_duplicate_total counter", "solstice_outbox_messages gauge",
        "solstice_outbox_oldest_age_seconds gauge", "solstice_expansions_deferred gauge",
        "solstice_checks_outbox gauge", "solstice_github_requests_total counter",
        "solstice_github_rate_limit_remaining gauge", "solstice_checkruns_timed_out_total counter",
        "solstice_gap_repair_redeliveries_total counter", "solstice_build_info gauge",
    ]

    struct Fixture {
        let directory: TemporaryDirectory
        let spool: SpoolDirectory
        let responder: WebhookResponder
        let connected: Mutexed<Bool>
    }

    func fixture() throws -> Fixture {
        let directory = TemporaryDirectory("operations")
        let spool = try SpoolDirectory(path: directory.path)
        let connected = Mutexed(true)
        var config = WebhookConfiguration()
        config.webhookSecrets = ["s"]
        let operations = OperationsEndpoints(
            configuration: config, spool: spool, counters: try SharedCounters(spool: spool),
            deferred: try SpoolQueue(spool: spool, name: "deferred"),
            checks: try SpoolQueue(spool: spool, name: "checks"),
            sources: .init(
                version: "9.9.9", brokerConnected: { connected.value },
                brokerNode: { ("broker.example", "broker.example:5671") },
                githubConfigured: false),
            clock: { 2_000_000_000 })
        let responder = WebhookResponder(
            configuration: config,
            dispatcher: JobDispatcher(
                publisher: RecordingPublisher(), outbox: JobOutbox(spool: spool), logger: Logger(level: .error)),
            spool: spool, operations: operations, logger: Logger(level: .error))
        return Fixture(directory: directory, spool: spool, responder: responder, connected: connected)
    }

    func get(_ f: Fixture, _ path: String, method: String = "GET") -> WebhookResponse {
        f.responder.respond(to: WebhookRequest(method: method, path: path)) { _ in [] }
    }

    func text(_ response: WebhookResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    @Test func metricsNameEveryFamilyBeforeAnythingWasCounted() throws {
        let f = try fixture()
        defer { f.directory.remove() }
        let response = get(f, "/solstice/metrics")
        #expect(response.status == 200)
        #expect(response.contentType == "text/plain; version=0.0.4; charset=utf-8")
        let body = text(response)
        for family in Self.families {
            #expect(body.contains("# TYPE \(family)\n"), "\(family)")
            #expect(body.contains("# HELP \(family.split(separator: " ")[0]) "), "\(family)")
        }
        #expect(body.contains("solstice_webhook_duration_seconds_bucket{le=\"+Inf\"} 0\n"))
        #expect(body.contains("solstice_outbox_messages 0\n"))
        #expect(body.contains("solstice_build_info{version=\"9.9.9\"} 1\n"))
        #expect(!body.contains("solstice_webhooks_total{"))
        #expect(body.hasSuffix("\n"))
    }

    @Test func onlyWebhookPathRequestsCountAsWebhooks() throws {
        let f = try fixture()
        defer { f.directory.remove() }
        _ = get(f, "/solstice/status")
        _ = get(f, "/elsewhere")
        _ = get(f, "/webhooks/github")  // 405
        let unsigned = WebhookRequest(
            method: "POST", path: "/webhooks/github", contentType: "application/json", contentLength: 2, event: "push")
        _ = f.responder.respond(to: unsigned) { _ in Array("{}".utf8) }  // 401
        let body = text(get(f, "/solstice/metrics"))
        #expect(body.contains("solstice_webhooks_total{event=\"other\",status=\"405\"} 1\n"))
        #expect(body.contains("solstice_webhooks_total{event=\"push\",status=\"401\"} 1\n"))
        #expect(body.contains("solstice_webhook_duration_seconds_count 2\n"))
        #expect(!body.contains("status=\"404\""))
    }

    @Test func headAnswersWithoutBodyAndOtherMethodsFallThroughToTheGate() throws {
        let f = try fixture()
        defer { f.directory.remove() }
        let head = get(f, "/solstice/metrics", method: "HEAD")
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.headers.contains { $0.name == "Content-Type" && $0.value.hasPrefix("text/plain") })
        #expect(get(f, "/solstice/status", method: "POST").status == 404)
    }

    @Test func statusIsOkDegradedWithoutBrokerAndFailingWithoutSpool() throws {
        let f = try fixture()
        defer { f.directory.remove() }
        func status() -> (Int, [String: Any]) {
            let response = get(f, "/solstice/status")
            return (
                response.status, (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            )
        }
        var (code, body) = status()
        #expect(code == 200 && body["status"] as? String == "ok" && body["version"] as? String == "9.9.9")
        #expect((body["broker"] as? [String: Any])?["url_host"] as? String == "broker.example")
        #expect((body["broker"] as? [String: Any])?["node"] as? String == "broker.example:5671")
        let spool = body["spool"] as? [String: Any] ?? [:]
        #expect(spool["writable"] as? Bool == true && spool["outbox"] as? Int == 0)
        #expect(spool["oldest_outbox_age_s"] as? Int == 0 && spool["checks_outbox"] as? Int == 0)
        #expect((body["github"] as? [String: Any])?["last_ok_at"] is NSNull)
        f.connected.mutate { $0 = false }
        (code, body) = status()
        #expect(code == 200 && body["status"] as? String == "degraded")
        // The spool cannot make a file durable: webhooks cannot be taken.
        #expect(rmdir(f.spool.path + "/tmp") == 0)
        (code, body) = status()
        #expect(code == 503 && body["status"] as? String == "failing")
    }

    @Test func theOutboxGaugesCountFilesAndTheOldestAge() throws {
        let f = try fixture()
        defer { f.directory.remove() }
        try JobOutbox(spool: f.spool).enqueue(
            groupID: "g", messages: [OutboxMessage(messageID: "m", type: "t", timestamp: 0, headers: [], body: [1])])
        let body = text(get(f, "/solstice/metrics"))
        #expect(body.contains("solstice_outbox_messages 1\n"))
        // The clock is fixed far ahead of the file's stamp: the age is large and positive.
        #expect(!body.contains("solstice_outbox_oldest_age_seconds 0\n"))
    }

    @Test func labelValuesAndNumbersAreEscapedAndFormatted() {
        var out = PrometheusText()
        out.sample("m", [("l", "a\"b\\c\nd")], 0.25)
        out.sample("m", [], 3)
        out.sample("m", [], .infinity)
        #expect(out.text == "m{l=\"a\\\"b\\\\c\\nd\"} 0.25\nm 3\nm +Inf\n")
    }
}
