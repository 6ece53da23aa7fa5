import Base
import Delivery
import Events
import GitHub

/// A delivery gap repair asked GitHub to send again.
public struct RedeliveryRequest: Sendable, Equatable {
    /// `X-GitHub-Delivery` of the event.
    public var guid: String
    /// The attempt asked for: the newest of the event's attempts.
    public var deliveryID: Int
    /// `X-GitHub-Event`.
    public var event: String
    /// The payload's `action`, when it has one.
    public var action: String?
    /// The status of the event's first attempt (0 or 5xx: our side never answered).
    public var firstStatus: Int
    /// When GitHub first tried, seconds since 1970.
    public var firstAttemptAt: Int

    /// A request for attempt `deliveryID` of event `guid`.
    public init(guid: String, deliveryID: Int, event: String, action: String?, firstStatus: Int, firstAttemptAt: Int) {
        self.guid = guid
        self.deliveryID = deliveryID
        self.event = event
        self.action = action
        self.firstStatus = firstStatus
        self.firstAttemptAt = firstAttemptAt
    }

    /// The line `solstice-fcgi repair-deliveries` prints (SPEC §9).
    public var line: String {
        "redelivery requested: \(guid) (delivery \(deliveryID), \(event), first attempt \(firstStatus))"
    }
}

/// What one gap-repair pass did.
public struct GapRepairOutcome: Sendable {
    /// A redelivery GitHub refused or could not be asked for.
    public struct Failure: Sendable {
        /// What was asked.
        public var request: RedeliveryRequest
        /// GitHub's answer.
        public var error: GitHubError
    }

    /// The time the pass listed back to, seconds since 1970.
    public var since: Int
    /// The attempts listed.
    public var listed: Int
    /// The pages read.
    public var pages: Int
    /// False when the page bound cut the listing before `since`.
    public var complete: Bool
    /// The redeliveries GitHub accepted (202), oldest event first.
    public var requested: [RedeliveryRequest]
    /// The redeliveries it did not.
    public var failures: [Failure]
}

/// Gap repair did not run: GitHub's log could not be read, or another process held the duty too long.
public struct GapRepairError: Error, CustomStringConvertible, Sendable {
    /// What failed.
    public var message: String
    public var description: String { message }
}

/// SPEC §7 gap repair: webhooks lost while this host, its web server or the network was down come back by
/// themselves. A pass lists the App's delivery log (`GET /app/hook/deliveries`) back to the watermark, groups the
/// attempts by `guid`, and asks GitHub to redeliver (`POST …/attempts`, the newest attempt) each event that has no
/// 2xx attempt, no local delivery record and was not asked for in the last hour. The next pass lists back to one
/// hour before this one started (the first: 72 hours), so a delivery GitHub logs late is still seen. A
/// redelivery keeps its `X-GitHub-Delivery`, so §7's idempotency makes one that was not lost after all harmless.
///
/// Every `GAP_REPAIR_INTERVAL` one process of the host runs it (`HostDuties`, duty `gap-repair`), on a thread of
/// its own that owns nothing: it shares the GitHub client (its caches are mutex-protected) and `SPOOL_DIR`'s
/// delivery records (read only) and gap-repair state (written only by the duty's holder).
public final class GapRepair: Sendable {
    /// The host duty's name (`SPOOL_DIR/locks/duty-gap-repair.lock`).
    public static let duty = "gap-repair"
    /// How far back the first pass looks (SPEC §7: 72 hours).
    public static let firstLookBack = 72 * 3600
    /// How far before a pass's start the next pass looks back (SPEC §7: an hour).
    public static let overlap = 3600

    private let client: GitHubClient
    private let records: DeliveryRecords
    private let state: GapRepairState
    private let duties: HostDuties
    private let interval: Int
    private let maxPages: Int
    /// The host's metrics (`solstice_gap_repair_redeliveries_total`).
    private let counters: SharedCounters?
    private let logger: Logger

    /// Gap repair through `client` for the records and state in `spool`, every `interval` seconds (0: never by
    /// itself). `maxPages` bounds one listing (100 pages of 100 attempts).
    public init(
        client: GitHubClient, spool: SpoolDirectory, interval: Int, logger: Logger, maxPages: Int = 100,
        counters: SharedCounters? = nil
    ) {
        self.counters = counters
        self.client = client
        self.records = DeliveryRecords(spool: spool)
        self.state = GapRepairState(spool: spool)
        self.duties = HostDuties(spool: spool)
        self.interval = interval
        self.maxPages = maxPages
        self.logger = logger
    }

    // MARK: - Choosing

    /// The events to ask GitHub to redeliver among `attempts` (any order): grouped by `guid`, each group whose
    /// newest attempt is not older than `since`, with no 2xx attempt, not in `asked`, and without a local record
    /// (`isRecorded`, asked last since it reads a file) gives one request for its newest attempt. Oldest event
    /// first, so redelivered pushes arrive in the order they were made.
    public static func select(
        _ attempts: [HookDelivery], since: Int, asked: Set<String>, isRecorded: (String) -> Bool
    ) -> [RedeliveryRequest] {
        let byGUID = Dictionary(grouping: attempts, by: \.guid)
        var chosen: [RedeliveryRequest] = []
        for (guid, group) in byGUID {
            let ordered = group.sorted { ($0.deliveredAt, $0.id) < ($1.deliveredAt, $1.id) }
            guard let first = ordered.first, let newest = ordered.last, newest.deliveredAt >= since,
                !group.contains(where: \.succeeded), !asked.contains(guid), !isRecorded(guid)
            else { continue }
            chosen.append(
                RedeliveryRequest(
                    guid: guid, deliveryID: newest.id, event: newest.event, action: newest.action,
                    firstStatus: first.statusCode, firstAttemptAt: first.deliveredAt))
        }
        return chosen.sorted { ($0.firstAttemptAt, $0.deliveryID) < ($1.firstAttemptAt, $1.deliveryID) }
    }

    /// Whether delivery `guid` has a local record: under the App's id as the installation target (the
    /// `X-GitHub-Hook-Installation-Target-ID` GitHub sends with an App's webhooks), or under none (a sender that
    /// left the header out).
    public func isRecorded(_ guid: String) -> Bool {
        [client.appID, nil].contains { target in
            records.answer(groupID: DeliveryIDs(delivery: guid, installationTarget: target).groupID) != nil
        }
    }

    // MARK: - A pass

    /// One pass, back to `since` (seconds since 1970; nil: the watermark, or 72 hours the first time). Throws when
    /// the log could not be read; redeliveries GitHub refused are in the outcome's `failures`. The watermark moves
    /// to an hour before `now` only when the listing reached back as far as the watermark asked and every
    /// redelivery was asked or refused for good.
    public func pass(since requested: Int? = nil, now: Int = WallClock.now()) throws(GitHubError) -> GapRepairOutcome {
        let saved = state.load()
        let due = saved.watermark ?? now - Self.firstLookBack
        let since = requested ?? due
        let listing = try client.hookDeliveries(
            since: since, maxPages: maxPages, deadline: MonotonicClock.now() + 300)
        if !listing.complete {
            logger.log(
                .warning,
                "gap repair: the delivery log was cut at the page bound; older deliveries wait for the next pass",
                ["pages": .int(listing.pages), "since": .string(RFC3339.format(secondsSince1970: since))])
        }
        if listing.invalid > 0 {
            logger.log(
                .warning, "gap repair: GitHub listed deliveries that are not valid; left out",
                ["count": .int(listing.invalid)])
        }
        var asked = saved.asked.filter { now - $0.value < GapRepairState.askedMemory }
        let chosen = Self.select(listing.deliveries, since: since, asked: Set(asked.keys), isRecorded: isRecorded)
        var outcome = GapRepairOutcome(
            since: since, listed: listing.deliveries.count, pages: listing.pages, complete: listing.complete,
            requested: [], failures: [])
        var retryLater = false
        for request in chosen {
            do {
                try client.redeliver(request.deliveryID, deadline: MonotonicClock.now() + 30)
            } catch {
                outcome.failures.append(.init(request: request, error: error))
                logger.log(
                    .warning, "gap repair: redelivery not requested",
                    [
                        "delivery": .string(request.guid), "id": .int(request.deliveryID),
                        "error": .string(error.message),
                    ])
                if error.isTransient {
                    retryLater = true
                    // A rate limit or an outage answers the rest the same way: they wait for the next pass.
                    break
                }
                // Refused for good (the attempt is gone, say): not asked again within the hour.
                asked[request.guid] = now
                continue
            }
            asked[request.guid] = now
            outcome.requested.append(request)
            counters?.countRedeliveries(1)
            logger.log(
                .info, "gap repair: redelivery requested",
                [
                    "delivery": .string(request.guid), "id": .int(request.deliveryID), "event": .string(request.event),
                    "first_status": .int(request.firstStatus),
                ])
            save(GapRepairState.Snapshot(watermark: saved.watermark, asked: asked), now: now)
        }
        var watermark = saved.watermark
        if listing.complete && !retryLater && since <= due {
            watermark = max(saved.watermark ?? Int.min, now - Self.overlap)
        }
        save(GapRepairState.Snapshot(watermark: watermark, asked: asked), now: now)
        return outcome
    }

    /// One pass now, whatever the interval, but never beside another process's pass: waits up to `waitForLock`
    /// seconds for the host's gap-repair duty (`solstice-fcgi repair-deliveries`).
    public func passNow(since: Int? = nil, waitForLock: Double = 120) throws(GapRepairError) -> GapRepairOutcome {
        let deadline = MonotonicClock.now() + waitForLock
        while true {
            var result: Result<GapRepairOutcome, GitHubError>?
            duties.runIfDue(Self.duty, every: 0) {
                do throws(GitHubError) { result = .success(try pass(since: since)) } catch { result = .failure(error) }
            }
            switch result {
            case .success(let outcome): return outcome
            case .failure(let error): throw GapRepairError(message: "cannot list GitHub's deliveries: \(error.message)")
            case nil:
                guard MonotonicClock.now() < deadline else {
                    throw GapRepairError(
                        message: "another process has been running gap repair for \(Int(waitForLock)) s")
                }
                MonotonicClock.sleep(0.5)
            }
        }
    }

    /// Runs a pass every `GAP_REPAIR_INTERVAL` on a thread of its own, when this process holds the host's duty;
    /// does nothing when the interval is 0.
    public func start() {
        guard interval > 0 else { return }
        let wake = min(5, Double(interval))
        Threads.start { [self] in
            while true {
                duties.runIfDue(Self.duty, every: interval) {
                    do throws(GitHubError) {
                        let outcome = try pass()
                        let fields: KeyValuePairs<String, LogValue> = [
                            "listed": .int(outcome.listed), "pages": .int(outcome.pages),
                            "requested": .int(outcome.requested.count), "failed": .int(outcome.failures.count),
                        ]
                        logger.log(
                            outcome.requested.isEmpty && outcome.failures.isEmpty ? .debug : .info, "gap repair pass",
                            fields)
                    } catch {
                        logger.log(
                            .warning, "gap repair: cannot list GitHub's deliveries", ["error": .string(error.message)])
                    }
                }
                MonotonicClock.sleep(wake)
            }
        }
    }

    private func save(_ snapshot: GapRepairState.Snapshot, now: Int) {
        do { try state.save(snapshot, now: now) } catch {
            logger.log(.error, "gap repair: cannot save its state", ["error": .string(error.message)])
        }
    }
}
