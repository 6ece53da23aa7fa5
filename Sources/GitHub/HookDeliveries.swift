import Base
import FoundationEssentials
import HTTP

/// One attempt in the App's webhook delivery log (`GET /app/hook/deliveries`): GitHub logs every delivery and
/// every redelivery as an attempt of its own, all attempts of one event sharing the `guid` (`X-GitHub-Delivery`).
public struct HookDelivery: Sendable, Equatable {
    /// The attempt's id (`POST /app/hook/deliveries/{id}/attempts` redelivers it).
    public var id: Int
    /// `X-GitHub-Delivery` of the event.
    public var guid: String
    /// When GitHub made the attempt, seconds since 1970.
    public var deliveredAt: Int
    /// The status our side answered; 0 or 5xx when it never answered (GitHub logs a failed connect as 502).
    public var statusCode: Int
    /// Whether the attempt was a redelivery.
    public var redelivery: Bool
    /// `X-GitHub-Event`.
    public var event: String
    /// The payload's `action`, when it has one.
    public var action: String?

    /// An attempt as the log lists it.
    public init(
        id: Int, guid: String, deliveredAt: Int, statusCode: Int, redelivery: Bool = false, event: String,
        action: String? = nil
    ) {
        self.id = id
        self.guid = guid
        self.deliveredAt = deliveredAt
        self.statusCode = statusCode
        self.redelivery = redelivery
        self.event = event
        self.action = action
    }

    /// Whether our side accepted this attempt (any 2xx, including 204 for an ignored event).
    public var succeeded: Bool { (200..<300).contains(statusCode) }
}

/// The delivery log from now back to a time, newest first.
public struct HookDeliveryListing: Sendable {
    /// The attempts read, newest first, including those older than the time asked for on the last page.
    public var deliveries: [HookDelivery]
    /// How many pages were read.
    public var pages: Int
    /// True when the listing reached the time asked for or the end of the log; false when `maxPages` cut it.
    public var complete: Bool
    /// Entries GitHub sent that were not a valid attempt (left out).
    public var invalid: Int
}

extension GitHubClient {
    /// The App's delivery log from now back to `since` (seconds since 1970), newest first: `per_page=100` and
    /// GitHub's cursor pages (`Link: rel="next"`, followed as given, on the API host only), stopping after the
    /// first page whose oldest attempt is older than `since`, and after `maxPages` pages (100 pages: 10,000
    /// attempts) with `complete` false. Entries that are not valid attempts are counted and left out: the log is
    /// input from the network like any other.
    public func hookDeliveries(since: Int, maxPages: Int = 100, deadline: Double) throws(GitHubError)
        -> HookDeliveryListing
    {
        var listing = HookDeliveryListing(deliveries: [], pages: 0, complete: true, invalid: 0)
        var next: String? = "/app/hook/deliveries?per_page=100"
        while let page = next {
            guard listing.pages < maxPages else {
                listing.complete = false
                break
            }
            let response = try request("GET", page, deadline: deadline)
            try Self.expect(200, response, "GET /app/hook/deliveries")
            let (attempts, invalid) = try Self.parseHookDeliveries(response)
            listing.pages += 1
            listing.deliveries += attempts
            listing.invalid += invalid
            next = response.headers["link"].flatMap(Self.nextLink)
            if !Self.continuesPast(page: attempts, since: since) { break }
        }
        return listing
    }

    /// Asks GitHub to deliver attempt `id` again (`POST /app/hook/deliveries/{id}/attempts`, answered 202: GitHub
    /// sends it later, with the same `X-GitHub-Delivery`).
    public func redeliver(_ id: Int, deadline: Double) throws(GitHubError) {
        guard id > 0 else { throw GitHubError(.client, message: "delivery id \(id) is not a positive integer") }
        let response = try request("POST", "/app/hook/deliveries/\(id)/attempts", body: [], deadline: deadline)
        try Self.expect(202, response, "POST /app/hook/deliveries/\(id)/attempts")
    }

    /// Whether the listing must read the page after `page` to reach back to `since`: a page with no attempt (the
    /// end, or nothing valid on it) or whose oldest attempt is older than `since` ends it.
    static func continuesPast(page: [HookDelivery], since: Int) -> Bool {
        guard let oldest = page.map(\.deliveredAt).min() else { return false }
        return oldest >= since
    }

    /// The attempts of one page, and how many entries were not valid attempts. A body that is not a JSON array
    /// throws.
    static func parseHookDeliveries(_ response: HTTPResponse) throws(GitHubError) -> ([HookDelivery], Int) {
        let items = try decode([RawHookDelivery].self, response)
        var attempts: [HookDelivery] = []
        for item in items {
            if let attempt = item.validated { attempts.append(attempt) }
        }
        return (attempts, items.count - attempts.count)
    }
}

/// An entry of the log as sent, every field optional, so one bad entry leaves the others readable.
private struct RawHookDelivery: Decodable {
    var id: Int?
    var guid: String?
    var deliveredAt: String?
    var statusCode: Int?
    var redelivery: Bool?
    var event: String?
    var action: String?

    private enum Keys: String, CodingKey {
        case id, guid, redelivery, event, action
        case deliveredAt = "delivered_at"
        case statusCode = "status_code"
    }

    init(from decoder: any Decoder) throws {
        guard let fields = try? decoder.container(keyedBy: Keys.self) else { return }
        id = try? fields.decode(Int.self, forKey: .id)
        guid = try? fields.decode(String.self, forKey: .guid)
        deliveredAt = try? fields.decode(String.self, forKey: .deliveredAt)
        statusCode = try? fields.decode(Int.self, forKey: .statusCode)
        redelivery = try? fields.decode(Bool.self, forKey: .redelivery)
        event = try? fields.decode(String.self, forKey: .event)
        action = try? fields.decode(String.self, forKey: .action)
    }

    /// The attempt, when every field is of the form GitHub documents: a positive id, a GUID of letters, digits
    /// and dashes (it becomes a record key and a line of output), an RFC 3339 time, a status 0–599, an event name.
    var validated: HookDelivery? {
        guard let id, id > 0, let guid, Self.isName(guid, extra: [UInt8(ascii: "-")]),
            let deliveredAt, let at = RFC3339.parse(deliveredAt), at > 0,
            let statusCode, (0...599).contains(statusCode),
            let event, Self.isName(event, extra: [UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-")])
        else { return nil }
        let action = action.flatMap { Self.isName($0, extra: [UInt8(ascii: "_")]) ? $0 : nil }
        return HookDelivery(
            id: id, guid: guid, deliveredAt: at, statusCode: statusCode, redelivery: redelivery ?? false,
            event: event, action: action)
    }

    /// 1–64 ASCII letters and digits, and the bytes `extra`.
    private static func isName(_ text: String, extra: [UInt8]) -> Bool {
        let bytes = Array(text.utf8)
        return (1...64).contains(bytes.count)
            && bytes.allSatisfy { byte in
                let lower = byte | 0x20
                return (byte >= 0x30 && byte <= 0x39) || (lower >= 0x61 && lower <= 0x7a) || extra.contains(byte)
            }
    }
}
