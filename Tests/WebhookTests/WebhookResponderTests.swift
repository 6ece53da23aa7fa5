import AMQP
import Base
import Foundation
import Jobs
import TestSupport
import Testing

@testable import Events
@testable import Webhook

/// SPEC §3, row by row, through the transport-neutral responder with the broker replaced at its seam.
@Suite struct WebhookResponderTests {
    static let secret = "test-secret"
    static let push = try! TestPaths.payload("push.with-new-branch.json")

    private func responder(
        _ publisher: RecordingPublisher, configure: (inout WebhookConfiguration) -> Void = { _ in }
    ) -> WebhookResponder {
        var config = WebhookConfiguration()
        config.webhookSecrets = [Self.secret]
        configure(&config)
        return WebhookResponder(
            configuration: config, publisher: publisher, logger: Logger(level: .error), clock: { 1_795_953_600 })
    }

    private func signed(
        _ body: [UInt8], event: String? = "push", contentType: String? = "application/json",
        method: String = "POST", path: String = "/webhooks/github", delivery: String? = "d-1",
        signature: String? = nil
    ) -> (WebhookRequest, [UInt8]) {
        let request = WebhookRequest(
            method: method, path: path, contentType: contentType, contentLength: body.count,
            signature: signature ?? SignatureVerifier.signature(secret: Self.secret, body: body), event: event,
            delivery: delivery)
        return (request, body)
    }

    private func send(_ responder: WebhookResponder, _ pair: (WebhookRequest, [UInt8])) -> WebhookResponse {
        responder.respond(to: pair.0) { _ in pair.1 }
    }

    private func json(_ response: WebhookResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
    }

    @Test func signedPushIsPublishedAnd202() {
        let publisher = RecordingPublisher()
        let response = send(responder(publisher), signed(Self.push))
        #expect(response.status == 202)
        let body = json(response)
        #expect(body["delivery"] as? String == "d-1")
        #expect(body["event"] as? String == "push")
        #expect(body["spooled"] as? Bool == false)
        #expect(body["group_id"] as? String == DeliveryIDs.uuid5("d-1"))
        let jobs = body["jobs"] as? [[String: Any]] ?? []
        #expect(jobs.count == 1)
        #expect(jobs.first?["request_id"] as? String == DeliveryIDs.uuid5("d-1/default"))
        #expect(jobs.first?["workflow_job_id"] is NSNull)
        #expect(publisher.published.count == 1)
        let message = publisher.published[0]
        #expect(message.messageID == DeliveryIDs.uuid5("d-1/default"))
        #expect(message.type == "jobrequest.v1")
        #expect(message.headers.map(\.0) == ["x-github-delivery", "x-github-event"])
        #expect(message.headers.map(\.1) == ["d-1", "push"])
        let job = try? JSONDecoder().decode(JobRequest.self, from: Data(message.body))
        #expect(job?.commitSHA == "6113728f27ae82c7b1a177c8d03f9e96e0adf246")
    }

    /// Each row: a request that fails one check (and would pass every later one), its status, and a word of the
    /// error. Nothing is published for any of them.
    @Test(arguments: [
        ("wrong path", 404, "not found"),
        ("path with query still matches", 202, ""),
        ("GET", 405, "method GET"),
        ("too large", 413, "MAX_BODY_BYTES"),
        ("no signature", 401, "missing X-Hub-Signature-256"),
        ("bad signature", 401, "does not match"),
        ("signature of other body", 401, "does not match"),
        ("no event", 400, "X-GitHub-Event"),
        ("no content type", 415, "Content-Type"),
        ("xml", 415, "application/xml"),
        ("invalid json", 400, "not valid JSON"),
        ("missing field", 400, "repository.clone_url"),
        ("ignored event", 204, ""),
        ("no delivery", 400, "X-GitHub-Delivery"),
    ])
    func rowsOfSpec3(name: String, status: Int, word: String) {
        let publisher = RecordingPublisher()
        let r = responder(publisher) { $0.maxBodyBytes = 20_000 }
        let pair: (WebhookRequest, [UInt8])
        switch name {
        case "wrong path": pair = signed(Self.push, path: "/webhooks/gitlab")
        case "path with query still matches":
            var p = signed(Self.push)
            p.0 = WebhookRequest(cgi: {
                [
                    "REQUEST_URI": "/webhooks/github?x=1", "REQUEST_METHOD": "POST",
                    "CONTENT_TYPE": "application/json", "HTTP_X_GITHUB_EVENT": "push", "HTTP_X_GITHUB_DELIVERY": "d-1",
                    "HTTP_X_HUB_SIGNATURE_256": p.0.signature!,
                ][$0]
            })
            pair = p
        case "GET": pair = signed(Self.push, method: "GET")
        case "too large": pair = signed(Self.push + [UInt8](repeating: 32, count: 20_000))
        case "no signature":
            var p = signed(Self.push)
            p.0.signature = nil
            pair = p
        case "bad signature": pair = signed(Self.push, signature: "sha256=" + String(repeating: "0", count: 64))
        case "signature of other body":
            pair = signed(Self.push, signature: SignatureVerifier.signature(secret: Self.secret, body: Array("x".utf8)))
        case "no event": pair = signed(Self.push, event: nil)
        case "no content type": pair = signed(Self.push, contentType: nil)
        case "xml": pair = signed(Self.push, contentType: "application/xml")
        case "invalid json": pair = signed(Array("{not json".utf8))
        case "missing field":
            pair = signed(
                Array(
                    #"{"ref": "refs/heads/a", "after": "abc", "repository": {"name": "r", "owner": {"login": "o"}}}"#
                        .utf8))
        case "ignored event": pair = signed(Self.push, event: "issues")
        case "no delivery": pair = signed(Self.push, delivery: nil)
        default: fatalError("unknown row \(name)")
        }
        let response = send(r, pair)
        #expect(response.status == status, "\(name)")
        if status >= 400 {
            let error = json(response)["error"] as? String ?? ""
            #expect(error.contains(word), "\(name): \(error)")
            #expect(json(response).keys.contains("delivery"))
            #expect(publisher.published.isEmpty, "\(name) published")
        }
        if status == 405 { #expect(response.headers.contains(.init(name: "Allow", value: "POST"))) }
        if status == 204 {
            #expect(response.body.isEmpty)
            #expect(response.headers.first?.name == "X-Solstice-Ignored")
            #expect(publisher.published.isEmpty)
        }
    }

    @Test func oversizeIsRefusedBeforeReadingTheBody() {
        let r = responder(RecordingPublisher()) { $0.maxBodyBytes = 100 }
        var read = false
        let request = WebhookRequest(method: "POST", path: "/webhooks/github", contentLength: 101)
        let response = r.respond(to: request) { _ in
            read = true
            return []
        }
        #expect(response.status == 413)
        #expect(!read)
    }

    @Test func undeclaredOversizeBodyIs413() {
        let r = responder(RecordingPublisher()) { $0.maxBodyBytes = 100 }
        let request = WebhookRequest(method: "POST", path: "/webhooks/github", contentLength: nil)
        #expect(r.respond(to: request) { limit in [UInt8](repeating: 1, count: limit + 1) }.status == 413)
    }

    @Test func unreadableBodyIs400() {
        let request = WebhookRequest(method: "POST", path: "/webhooks/github", contentLength: 10)
        #expect(responder(RecordingPublisher()).respond(to: request) { _ in nil }.status == 400)
    }

    @Test func formEncodedPayloadIsVerifiedOverTheRawBody() {
        let publisher = RecordingPublisher()
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encoded = String(decoding: Self.push, as: UTF8.self).addingPercentEncoding(withAllowedCharacters: allowed)!
        let form = Array(("payload=" + encoded).utf8)
        let response = send(
            responder(publisher), signed(form, contentType: "application/x-www-form-urlencoded; charset=utf-8"))
        #expect(response.status == 202)
        #expect(publisher.published.count == 1)
        // Signed over the decoded JSON instead of the raw form: refused.
        var wrong = signed(form, contentType: "application/x-www-form-urlencoded")
        wrong.0.signature = SignatureVerifier.signature(secret: Self.secret, body: Self.push)
        #expect(send(responder(publisher), wrong).status == 401)
    }

    @Test func formWithoutPayloadIs400() {
        let response = send(
            responder(RecordingPublisher()),
            signed(Array("other=1".utf8), contentType: "application/x-www-form-urlencoded"))
        #expect(response.status == 400)
    }

    @Test func contentTypeParametersAreAllowed() {
        let response = send(
            responder(RecordingPublisher()), signed(Self.push, contentType: "Application/JSON; charset=UTF-8"))
        #expect(response.status == 202)
    }

    @Test func pingAnswers200WithZen() throws {
        let publisher = RecordingPublisher()
        let response = send(responder(publisher), signed(try TestPaths.payload("ping.json"), event: "ping"))
        #expect(response.status == 200)
        #expect(json(response)["ok"] as? Bool == true)
        #expect(json(response)["event"] as? String == "ping")
        #expect(json(response)["zen"] is String)
        #expect(publisher.published.isEmpty)
    }

    @Test func brokerFailureIs503AndSaysWhy() {
        let publisher = RecordingPublisher(result: .failed("broker unavailable: connection refused", unconfirmed: [0]))
        let response = send(responder(publisher), signed(Self.push))
        #expect(response.status == 503)
        #expect((json(response)["error"] as? String)?.contains("connection refused") == true)
        #expect(json(response)["delivery"] as? String == "d-1")
    }

    @Test(
        arguments: [
            ("Codertocat/*", nil, 202), ("other/*", nil, 204), (nil, "master", 202), (nil, "main,release/*", 204),
            ("codertocat/hello-world,Codertocat/Hello-World", "mas*", 202),
        ] as [(String?, String?, Int)])
    func allowlists(repos: String?, branches: String?, status: Int) {
        let publisher = RecordingPublisher()
        let r = responder(publisher) { config in
            config.repoAllowlist = repos.map { $0.split(separator: ",").map(String.init) }
            config.branchAllowlist = branches.map { $0.split(separator: ",").map(String.init) }
        }
        let response = send(r, signed(Self.push))
        #expect(response.status == status)
        if status == 204 {
            #expect(response.headers.first?.value.contains("ALLOWLIST") == true)
            #expect(publisher.published.isEmpty)
        }
    }

    @Test func devModeAcceptsUnsignedRequests() {
        var config = WebhookConfiguration()
        config.webhookSecrets = []
        let r = WebhookResponder(configuration: config, publisher: RecordingPublisher(), logger: Logger(level: .error))
        let request = WebhookRequest(
            method: "POST", path: "/webhooks/github", contentType: "application/json", contentLength: Self.push.count,
            event: "push", delivery: "d-2")
        #expect(r.respond(to: request) { _ in Self.push }.status == 202)
    }

    @Test func runsOnLabelReachesTheJob() throws {
        let publisher = RecordingPublisher()
        var payload =
            try JSONSerialization.jsonObject(with: Data(try TestPaths.payload("pull_request.opened.json")))
            as! [String: Any]
        var pr = payload["pull_request"] as! [String: Any]
        pr["labels"] = [["name": "bug"], ["name": "runs-on:omnios-r151054"]]
        payload["pull_request"] = pr
        let body = Array(try JSONSerialization.data(withJSONObject: payload))
        let response = send(responder(publisher) { $0.runsOnDefault = "fallback" }, signed(body, event: "pull_request"))
        #expect(response.status == 202)
        let job = try JSONDecoder().decode(JobRequest.self, from: Data(publisher.published[0].body))
        #expect(job.runsOn == "omnios-r151054")
    }
}
