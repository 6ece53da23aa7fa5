import Base
import Crypto
import HTTP
import TestSupport
import Testing

@testable import GitHub

/// SPEC §7 gap repair's reading of the App's delivery log: newest first, cursor pages followed as GitHub links
/// them, stopping at the watermark or at the page bound, and every entry checked before it is believed.
@Suite struct HookDeliveriesTests {
    /// 2026-11-24T12:00:00Z.
    static let noon = 1_795_521_600

    /// An entry as GitHub lists it.
    static func entry(
        _ id: Int, guid: String = "5e3f1a2c-0d4b-4c1e-9f00-000000000000", at: Int, status: Int = 502,
        event: String = "push"
    ) -> String {
        #"{"id": \#(id), "guid": "\#(guid)", "delivered_at": "\#(RFC3339.format(secondsSince1970: at))", "#
            + #""redelivery": false, "duration": 0.25, "status": "failed to connect", "status_code": \#(status), "#
            + #""event": "\#(event)", "action": null, "installation_id": 1, "repository_id": 2}"#
    }

    /// A log of `pages` pages of `perPage` entries, one minute apart, newest (`noon`) first, linked by cursor.
    private func log(pages: Int, perPage: Int = 3) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            guard request.path == "/app/hook/deliveries" else { return .json(404, #"{"message": "Not Found"}"#) }
            let page = request.target.contains("cursor=p") ? Int(request.target.split(separator: "p").last!)! : 0
            let first = page * perPage
            let items = (first..<first + perPage).map { Self.entry(1000 - $0, at: Self.noon - 60 * $0) }
            let host = request.headers["host"] ?? ""
            let link: [(String, String)] =
                page + 1 < pages
                ? [("Link", "<http://\(host)/app/hook/deliveries?per_page=100&cursor=p\(page + 1)>; rel=\"next\"")] : []
            return .json(200, "[" + items.joined(separator: ", ") + "]", headers: link)
        }
    }

    private func client(_ server: LoopbackHTTPServer) throws -> GitHubClient {
        GitHubClient(
            credentials: GitHubAppCredentials(appID: "4242", key: try RSAPrivateKey(pem: TestKeys.rsaPKCS1)),
            apiBase: server.baseURL, logger: Logger(level: .error))
    }

    @Test(arguments: [
        // (minutes back the watermark is, pages read): page 0 holds minutes 0–2, page 1 minutes 3–5, ...; a page
        // ending exactly at the watermark is followed, since the next may hold more of that second.
        (1, 1), (2, 2), (3, 2), (5, 3), (6, 3), (100, 4),
    ])
    func theListingStopsAtThePageThatReachesTheWatermark(minutesBack: Int, pagesRead: Int) throws {
        let server = try log(pages: 4)
        defer { server.stop() }
        let listing = try client(server).hookDeliveries(
            since: Self.noon - 60 * minutesBack, deadline: MonotonicClock.now() + 10)
        #expect(listing.pages == pagesRead)
        #expect(server.requests.count == pagesRead)
        #expect(listing.complete)
        #expect(listing.deliveries.count == 3 * pagesRead)
        #expect(listing.deliveries.first?.id == 1000)
        #expect(server.requests.first?.target == "/app/hook/deliveries?per_page=100")
        #expect(server.requests.allSatisfy { $0.headers["authorization"]?.hasPrefix("Bearer ") == true })
    }

    @Test func thePageBoundCutsTheListingAndSaysSo() throws {
        let server = try log(pages: 10)
        defer { server.stop() }
        let listing = try client(server).hookDeliveries(
            since: Self.noon - 86_400, maxPages: 2, deadline: MonotonicClock.now() + 10)
        #expect((listing.pages, listing.complete, server.requests.count) == (2, false, 2))
    }

    @Test(arguments: [
        ("continuing", [Self.noon, Self.noon - 60], Self.noon - 60, true),
        ("reached", [Self.noon, Self.noon - 120], Self.noon - 60, false),
        ("empty page", [], Self.noon, false),
    ])
    func pagingStop(_ name: String, times: [Int], since: Int, continues: Bool) {
        let page = times.enumerated().map {
            HookDelivery(id: $0.offset + 1, guid: "g", deliveredAt: $0.element, statusCode: 502, event: "push")
        }
        #expect(GitHubClient.continuesPast(page: page, since: since) == continues, "\(name)")
    }

    @Test(arguments: [
        ("a non-positive id", entry(0, at: noon)),
        ("a guid with a newline", entry(1, guid: "a\\nb", at: noon)),
        ("a guid with a slash", entry(1, guid: "../x", at: noon)),
        ("an overlong guid", entry(1, guid: String(repeating: "a", count: 65), at: noon)),
        ("a status beyond 599", entry(1, at: noon, status: 700)),
        ("an event with a space", entry(1, at: noon, event: "push now")),
        (
            "a time that is no time",
            #"{"id": 1, "guid": "g", "delivered_at": "yesterday", "status_code": 502, "event": "push"}"#
        ),
        (
            "a string id",
            #"{"id": "1", "guid": "g", "delivered_at": "2026-11-24T12:00:00Z", "status_code": 502, "event": "push"}"#
        ),
        ("no status", #"{"id": 1, "guid": "g", "delivered_at": "2026-11-24T12:00:00Z", "event": "push"}"#),
        ("not an object", "42"),
    ])
    func entriesThatAreNotAttemptsAreLeftOut(_ name: String, bad: String) throws {
        let body = "[" + Self.entry(7, at: Self.noon) + ", " + bad + "]"
        let response = HTTPResponse(status: 200, headers: [:], body: Array(body.utf8))
        let (attempts, invalid) = try GitHubClient.parseHookDeliveries(response)
        #expect(attempts.map(\.id) == [7], "\(name)")
        #expect(invalid == 1, "\(name)")
    }

    @Test func anEntryIsReadWithEveryField() throws {
        let body =
            #"[{"id": 12345678901, "guid": "0b989ba4-242f-11e5-81e1-c7b6966d2516", "#
            + #""delivered_at": "2019-06-03T00:57:16Z", "redelivery": true, "duration": 0.27, "status": "OK", "#
            + #""status_code": 200, "event": "issues", "action": "opened", "installation_id": 123, "#
            + #""repository_id": 456, "throttled_at": null}]"#
        let (attempts, invalid) = try GitHubClient.parseHookDeliveries(
            HTTPResponse(status: 200, headers: [:], body: Array(body.utf8)))
        #expect(invalid == 0)
        #expect(
            attempts == [
                HookDelivery(
                    id: 12_345_678_901, guid: "0b989ba4-242f-11e5-81e1-c7b6966d2516",
                    deliveredAt: RFC3339.parse("2019-06-03T00:57:16Z")!, statusCode: 200, redelivery: true,
                    event: "issues", action: "opened")
            ])
        #expect(attempts[0].succeeded)
    }

    @Test func aBodyThatIsNotAListIsAnError() throws {
        let response = HTTPResponse(status: 200, headers: [:], body: Array(#"{"message": "hi"}"#.utf8))
        #expect(throws: GitHubError.self) { try GitHubClient.parseHookDeliveries(response) }
    }

    @Test func aRedeliveryIsAcceptedWith202AndRefusedOtherwise() throws {
        let server = try LoopbackHTTPServer { request in
            request.path == "/app/hook/deliveries/7/attempts"
                ? .json(202, "{}") : .json(404, #"{"message": "Not Found"}"#)
        }
        defer { server.stop() }
        let github = try client(server)
        try github.redeliver(7, deadline: MonotonicClock.now() + 10)
        #expect(server.lines == ["POST /app/hook/deliveries/7/attempts"])
        #expect(server.requests[0].headers["authorization"]?.hasPrefix("Bearer ") == true)
        #expect {
            try github.redeliver(8, deadline: MonotonicClock.now() + 10)
        } throws: { error in
            (error as? GitHubError).map { $0.kind == .client && $0.status == 404 } ?? false
        }
    }
}
