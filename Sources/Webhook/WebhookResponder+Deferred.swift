import Base
import Delivery
import Events
import FoundationEssentials
import GitHub
import Jobs

/// A delivery GitHub could not expand yet (SPEC §7), as `SPOOL_DIR/deferred/` keeps it: what to build, the ids
/// it was answered with, and since when it waits.
struct DeferredExpansion: Codable {
    var trigger: BuildTrigger
    var delivery: String
    var installationTarget: String?
    var deferredAt: Int
    var reason: String

    var ids: DeliveryIDs { DeliveryIDs(delivery: delivery, installationTarget: installationTarget) }
}

extension WebhookResponder {
    /// Writes the delivery to the deferred expansions and answers 202 `"deferred": true`: its jobs are published
    /// later, with the ids an immediate expansion would have used.
    func deferExpansion(_ trigger: BuildTrigger, _ ids: DeliveryIDs, reason: String, retryAfter: Double?)
        throws(Verdict) -> Verdict
    {
        guard let queue = deferredExpansions else { throw .deferred(reason: reason, retryAfter: retryAfter) }
        let now = clock()
        let record = DeferredExpansion(
            trigger: trigger, delivery: ids.delivery, installationTarget: ids.installationTarget, deferredAt: now,
            reason: reason)
        do {
            let bytes = Array(try JSONEncoder().encode(record))
            let notBefore = Double(now) + max(5, retryAfter ?? 0)
            try queue.enqueue(key: ids.groupID, bytes: bytes, notBefore: notBefore)
        } catch {
            throw .rejected(
                Rejection(status: 503, message: "\(reason), and the delivery could not be deferred: \(error)"))
        }
        logger.log(
            .warning, "delivery deferred",
            ["delivery": .string(ids.delivery), "repo": .string(trigger.fullName), "reason": .string(reason)])
        return .accepted(
            Self.json(
                202,
                [
                    ("delivery", .string(ids.delivery)), ("event", .string(trigger.event)),
                    ("group_id", .string(ids.groupID)), ("jobs", .array([])), ("spooled", .bool(false)),
                    ("deferred", .bool(true)),
                ]), jobs: 0)
    }

    /// One attempt at a deferred expansion, from the background: built as the webhook would have been (same ids),
    /// deferred again while GitHub still cannot say, or given up after `EXPANSION_GIVE_UP` with a failing
    /// `NAME / workflow` run.
    public func retryDeferred(_ entry: SpoolQueue.Entry) -> WorkStep {
        guard let record = try? JSONDecoder().decode(DeferredExpansion.self, from: Data(entry.bytes)) else {
            logger.log(.error, "unreadable deferred expansion dropped", ["file": .string(entry.name)])
            return .done
        }
        let ids = record.ids
        let now = clock()
        if now - record.deferredAt >= expansionGiveUp {
            logger.log(
                .error, "deferred expansion given up: nothing built",
                [
                    "delivery": .string(record.delivery), "repo": .string(record.trigger.fullName),
                    "since": .int(record.deferredAt), "reason": .string(record.reason),
                ])
            guard app != nil, record.trigger.installationID != nil else { return .done }
            let giveUp = CheckRunWrite.unreadableWorkflow(
                externalID: ids.requestID(jobID: "workflow"), since: record.deferredAt, reason: record.reason)
            return persist(pending(record.trigger, ids, [giveUp], now: now)) ? .done : .retry(after: 0)
        }
        var verdict: Verdict
        do throws(Verdict) {
            verdict = try build(record.trigger, ids, deadline: MonotonicClock.now() + 20)
        } catch {
            verdict = error
        }
        verdict = persistCheckRuns(verdict)
        switch verdict {
        case .deferred(let reason, let retryAfter):
            logger.log(
                .info, "deferred expansion still waits: \(reason)",
                ["delivery": .string(record.delivery), "attempt": .int(entry.attempts + 1)])
            return .retry(after: retryAfter ?? 0)
        case .rejected(let rejection) where rejection.status >= 500:
            logger.log(
                .warning, "deferred expansion not published yet: \(rejection.message)",
                ["delivery": .string(record.delivery), "attempt": .int(entry.attempts + 1)])
            return .retry(after: 0)
        case .accepted(_, let jobs):
            logger.log(
                .info, "deferred expansion built: \(jobs) job(s)",
                ["delivery": .string(record.delivery), "attempt": .int(entry.attempts + 1)])
            return .done
        default:
            logger.log(
                .info, "deferred expansion ended without a build",
                ["delivery": .string(record.delivery), "attempt": .int(entry.attempts + 1)])
            return .done
        }
    }

    /// Puts the Check Run writes of `verdict` into the Checks outbox (before its answer goes out), so that a
    /// background thread sends them. A pull request waiting for approval whose approval run cannot be made durable
    /// is answered 503 (nothing else would show it); queued jobs' runs that cannot are logged — the jobs are what
    /// matter, and they are queued.
    func persistCheckRuns(_ verdict: Verdict) -> Verdict {
        switch verdict {
        case .accepted(var response, let jobs):
            guard let pending = response.checkRuns, checksOutbox != nil else { return verdict }
            response.checkRuns = nil
            if !persist(pending) && jobs == 0 {
                return .rejected(Rejection(status: 503, message: "the Check Runs could not be written to SPOOL_DIR"))
            }
            return .accepted(response, jobs: jobs)
        case .ignored(let reason, let pending?):
            guard checksOutbox != nil else { return verdict }
            _ = persist(pending)
            return .ignored(reason, checkRuns: nil)
        default:
            return verdict
        }
    }

    /// Writes `pending` to the Checks outbox; false (logged) when it could not be made durable.
    func persist(_ pending: PendingCheckRuns) -> Bool {
        guard let checksOutbox else { return false }
        do {
            let key = DeliveryIDs(delivery: pending.deliveryID, installationTarget: nil).groupID
            try checksOutbox.enqueue(key: key, bytes: Array(try JSONEncoder().encode(pending)))
            return true
        } catch {
            logger.log(
                .error, "check runs not written to the Checks outbox",
                ["delivery": .string(pending.deliveryID), "error": .string("\(error)")])
            return false
        }
    }
}
