import Base
import Delivery
import GitHub
import Synchronization

/// The stuck-run reconciler (SPEC §7): every `RECONCILE_INTERVAL`, one process of the host (`HostDuties`) reads the
/// indexed runs older than `JOB_TIMEOUT` and completes, as `timed_out`, each that GitHub still shows `queued` or
/// `in_progress`, so no run stays yellow forever. A run found completed (its result came), gone (404) or refused
/// (another 4xx) leaves the index; one GitHub could not be asked about (5xx, network) stays for the next pass, and
/// a rate limit ends the pass.
///
/// A result racing the reconciler is harmless either way: solstice-results completes the run by external id, so a
/// result arriving after `timed_out` replaces it.
public final class Reconciler: Sendable {
    /// What one pass did.
    public struct Pass: Sendable, Equatable {
        /// Runs completed as `timed_out`.
        public var timedOut = 0
        /// Index entries removed without a write: found completed, gone, refused, or older than the index keeps.
        public var removed = 0
        /// Due runs kept for the next pass (GitHub unavailable or rate-limited).
        public var kept = 0

        /// A pass's counts.
        public init(timedOut: Int = 0, removed: Int = 0, kept: Int = 0) {
            self.timedOut = timedOut
            self.removed = removed
            self.kept = kept
        }
    }

    /// How long the index keeps a run GitHub never settled: delivery records' 8 days, after `JOB_TIMEOUT`.
    public static let keepUnsettled = 8 * 86_400

    private let index: RunIndex
    private let checkRuns: CheckRuns
    private let duties: HostDuties
    private let jobTimeout: Int
    private let interval: Int
    private let logger: Logger
    private let timedOutCount = Atomic<Int>(0)
    /// The host's metrics (`solstice_checkruns_timed_out_total`).
    private let counters: SharedCounters?

    /// A reconciler of the runs in `index`, reading and completing them through `checkRuns`, once per `interval`
    /// seconds for the host (`duties`); runs older than `jobTimeout` seconds without a result time out.
    public init(
        index: RunIndex, checkRuns: CheckRuns, duties: HostDuties, jobTimeout: Int, interval: Int, logger: Logger,
        counters: SharedCounters? = nil
    ) {
        self.counters = counters
        self.index = index
        self.checkRuns = checkRuns
        self.duties = duties
        self.jobTimeout = jobTimeout
        self.interval = interval
        self.logger = logger
    }

    /// Runs this process completed as `timed_out` since it started (`solstice_checkruns_timed_out_total`, SPEC §11,
    /// adds these up for the host).
    public var timedOutTotal: Int { timedOutCount.load(ordering: .relaxed) }

    /// One pass over the due runs, at `now` (seconds since 1970). Each GitHub call gets `budget` seconds.
    @discardableResult
    public func passOnce(now: Int = WallClock.now(), budget: Double = 20) -> Pass {
        var pass = Pass()
        pass.removed = index.sweep(maxAge: Self.keepUnsettled + jobTimeout, now: now)
        if pass.removed > 0 {
            logger.log(.warning, "unsettled check runs dropped from the index", ["count": .int(pass.removed)])
        }
        let due = index.due(olderThan: jobTimeout, now: now)
        var settled: [IndexedRun] = []
        var unavailable = 0
        runs: for (position, run) in due.enumerated() {
            switch settle(run, now: now, deadline: MonotonicClock.now() + budget) {
            case .timedOut:
                pass.timedOut += 1
                settled.append(run)
                unavailable = 0
            case .removed:
                pass.removed += 1
                settled.append(run)
                unavailable = 0
            case .kept:
                pass.kept += 1
                unavailable += 1
                // GitHub is away: the rest waits for the next pass rather than for a timeout each.
                if unavailable >= 5 {
                    pass.kept += due.count - position - 1
                    break runs
                }
            case .stop:
                pass.kept += due.count - position
                break runs
            }
            // Settled runs leave the index as the pass goes, so a pass cut short (a crash) repeats little.
            if settled.count >= 50 {
                index.remove(settled)
                settled.removeAll()
            }
        }
        index.remove(settled)
        if !due.isEmpty || pass.removed > 0 {
            logger.log(
                .info, "reconciler pass",
                [
                    "due": .int(due.count), "timed_out": .int(pass.timedOut), "removed": .int(pass.removed),
                    "kept": .int(pass.kept), "timed_out_total": .int(timedOutTotal),
                ])
        }
        return pass
    }

    /// `passOnce` when no process of the host is reconciling now and none did in the last `every` seconds
    /// (default: the configured interval); nil when it did not run.
    @discardableResult
    public func passIfDue(every: Int? = nil, now: Int = WallClock.now()) -> Pass? {
        var pass: Pass?
        duties.runIfDue("reconcile", every: every ?? interval, now: now) { pass = passOnce(now: now) }
        return pass
    }

    /// Wakes every few seconds on a thread of its own and reconciles when due for the host.
    public func start() {
        let nap = Double(max(1, min(interval, 5)))
        Threads.start { [self] in
            while true {
                passIfDue()
                MonotonicClock.sleep(nap)
            }
        }
    }

    // MARK: - One run

    private enum Outcome {
        case timedOut, removed, kept, stop
    }

    /// Reads run `run` and completes it as `timed_out` when it is still waiting.
    private func settle(_ run: IndexedRun, now: Int, deadline: Double) -> Outcome {
        if let installation = run.installation {
            checkRuns.client.learnInstallation(installation, owner: run.owner, repo: run.repo)
        }
        do throws(GitHubError) {
            guard let state = try checkRuns.run(owner: run.owner, repo: run.repo, id: run.runID, deadline: deadline)
            else {
                log(.info, "check run gone: dropped from the index", run, now: now)
                return .removed
            }
            guard state.status == "queued" || state.status == "in_progress" else { return .removed }
            guard
                try checkRuns.timeOut(
                    owner: run.owner, repo: run.repo, id: run.runID, jobTimeout: jobTimeout, now: now,
                    deadline: deadline)
            else {
                log(.info, "check run gone: dropped from the index", run, now: now)
                return .removed
            }
            timedOutCount.add(1, ordering: .relaxed)
            counters?.countTimedOut(1)
            log(.warning, "check run timed out: no result within JOB_TIMEOUT", run, now: now, status: state.status)
            return .timedOut
        } catch {
            switch error.kind {
            case .rateLimited:
                log(.warning, "reconciler paused: GitHub rate limit", run, now: now, error: error)
                return .stop
            case .client:
                log(.error, "check run refused by GitHub: dropped from the index", run, now: now, error: error)
                return .removed
            case .server, .transport, .invalidResponse:
                log(.warning, "check run not reconciled yet: will retry", run, now: now, error: error)
                return .kept
            }
        }
    }

    private func log(
        _ level: LogLevel, _ message: String, _ run: IndexedRun, now: Int, status: String? = nil,
        error: GitHubError? = nil
    ) {
        let repo = LogValue.string("\(run.owner)/\(run.repo)")
        if let error {
            logger.log(
                level, message,
                [
                    "repo": repo, "sha": .string(run.sha), "run_id": .int(run.runID), "age_s": .int(now - run.created),
                    "error": .string(error.message),
                ])
        } else {
            logger.log(
                level, message,
                [
                    "repo": repo, "sha": .string(run.sha), "run_id": .int(run.runID), "age_s": .int(now - run.created),
                    "status": .string(status ?? ""), "timed_out_total": .int(timedOutTotal),
                ])
        }
    }
}
