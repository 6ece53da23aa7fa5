import Base
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// A queued Check Run solstice-fcgi created, as the reconciler needs to find it again (SPEC §7).
public struct IndexedRun: Sendable, Hashable, Codable {
    /// The installation whose token reads and completes it; nil: looked up by repository.
    public var installation: Int?
    /// Repository owner.
    public var owner: String
    /// Repository name.
    public var repo: String
    /// The commit the run is on.
    public var sha: String
    /// GitHub's id of the run.
    public var runID: Int
    /// When its job was queued (seconds since 1970): `JOB_TIMEOUT` counts from here.
    public var created: Int

    /// Run `runID` on commit `sha` of `owner/repo`, queued at `created`.
    public init(installation: Int?, owner: String, repo: String, sha: String, runID: Int, created: Int) {
        self.installation = installation
        self.owner = owner
        self.repo = repo
        self.sha = sha
        self.runID = runID
        self.created = created
    }

    private enum CodingKeys: String, CodingKey {
        case installation, owner, repo, sha, runID = "run_id", created
    }
}

/// The queued Check Runs solstice-fcgi created and nobody has seen completed yet, in `SPOOL_DIR/runs` (SPEC §7),
/// so that the reconciler can complete, as `timed_out`, those whose result never came.
///
/// One file per `add` (a webhook's runs, up to 256 of them), named `CCCCCCCCCCCC-PID-RANDOM.json` after the
/// oldest run's creation time, so a listing sorted by name is sorted by age and `due` reads only the files old
/// enough to hold due runs. Files are written durably (`SpoolDirectory.writeDurably`): whole or not at all, one
/// fsync per webhook rather than per run. A file that does not decode (damaged) counts as empty and is removed.
///
/// Shared by every process using the directory: writers only create new files, never touch existing ones; a
/// removal claims the file with `flock(2)`, checks after locking that the path still names the file it opened,
/// and replaces it (rename) with what is left, or unlinks it when nothing is. A run indexed twice (a write retried
/// after a crash) is harmless: removal goes by run id.
public final class RunIndex: Sendable {
    private let spool: SpoolDirectory

    /// The index of `spool`.
    public init(spool: SpoolDirectory) { self.spool = spool }

    /// Adds `runs` in one durable file; nothing when `runs` is empty. Throws when they could not be made durable
    /// (disk full), in which case nothing was left behind.
    public func add(_ runs: [IndexedRun]) throws(DeliveryError) {
        guard let oldest = runs.map(\.created).min() else { return }
        let bytes = Array((try? JSONEncoder().encode(runs)) ?? Data())
        let stamp = String(max(0, oldest))
        let name =
            String(repeating: "0", count: max(0, 12 - stamp.count)) + stamp + "-" + String(getpid()) + "-"
            + SpoolDirectory.randomHex() + ".json"
        try spool.writeDurably(bytes, to: spool.runs + "/" + name)
    }

    /// The runs created at least `age` seconds before `now`, oldest first, each run id once. A file among those
    /// that does not decode (damaged) is removed.
    public func due(olderThan age: Int, now: Int = WallClock.now()) -> [IndexedRun] {
        var seen = Set<Int>()
        var result: [IndexedRun] = []
        for name in files(createdAtMost: now - age) {
            switch read(name) {
            case .runs(let runs):
                for run in runs where run.created <= now - age && seen.insert(run.runID).inserted {
                    result.append(run)
                }
            case .damaged: unlink(spool.runs + "/" + name)
            case .gone: continue
            }
        }
        return result.sorted { ($0.created, $0.runID) < ($1.created, $1.runID) }
    }

    /// Removes every entry whose run id is among `runs`' (all copies); returns how many entries were removed.
    @discardableResult
    public func remove(_ runs: [IndexedRun]) -> Int {
        guard let newest = runs.map(\.created).max() else { return 0 }
        let ids = Set(runs.map(\.runID))
        return files(createdAtMost: newest).reduce(0) { $0 + rewrite($1) { !ids.contains($0.runID) } }
    }

    /// Drops entries created more than `maxAge` seconds before `now`, so the index stays bounded even when GitHub
    /// never settles them; returns how many went.
    @discardableResult
    public func sweep(maxAge: Int, now: Int = WallClock.now()) -> Int {
        files(createdAtMost: now - maxAge - 1).reduce(0) { $0 + rewrite($1) { $0.created >= now - maxAge } }
    }

    /// How many entries the index holds (a run indexed twice counts twice).
    public var count: Int {
        files(createdAtMost: Int.max).reduce(0) { count, name in
            guard case .runs(let runs) = read(name) else { return count }
            return count + runs.count
        }
    }

    // MARK: - Files

    /// The index files whose name says their oldest run was created at or before `limit`, oldest first.
    private func files(createdAtMost limit: Int) -> [String] {
        Posix.list(spool.runs).filter { name in Self.created(name).map { $0 <= limit } ?? false }.sorted()
    }

    /// The creation time a file name starts with, or nil when it is not an index file's name.
    static func created(_ name: String) -> Int? {
        guard name.hasSuffix(".json"), let dash = name.firstIndex(of: "-") else { return nil }
        return Int(name[..<dash])
    }

    private enum Contents {
        case runs([IndexedRun])
        /// Not one whole JSON list of runs.
        case damaged
        /// Removed since it was listed (file names are never reused, so it stays gone).
        case gone
    }

    private func read(_ name: String) -> Contents {
        guard let file = try? FileDescriptor(path: spool.runs + "/" + name, flags: O_RDONLY) else { return .gone }
        guard let bytes = file.readAll(), let runs = try? JSONDecoder().decode([IndexedRun].self, from: Data(bytes))
        else { return .damaged }
        return .runs(runs)
    }

    /// Keeps only the entries of file `name` that `keep` accepts, under the file's lock; returns how many went.
    private func rewrite(_ name: String, keep: (IndexedRun) -> Bool) -> Int {
        let path = spool.runs + "/" + name
        // Another remover may replace the file between our open and our lock: then open the new one (each turn
        // means another remover got through, so this ends).
        while true {
            guard let file = try? FileDescriptor(path: path, flags: O_RDONLY), file.lock(LOCK_EX) else { return 0 }
            var current = stat()
            guard let inode = file.inode, stat(path, &current) == 0 else { return 0 }
            guard UInt(current.st_ino) == inode else { continue }
            guard let bytes = file.readAll(), let runs = try? JSONDecoder().decode([IndexedRun].self, from: Data(bytes))
            else { return 0 }
            let kept = runs.filter(keep)
            if kept.count == runs.count { return 0 }
            if kept.isEmpty {
                unlink(path)
            } else {
                guard let data = try? JSONEncoder().encode(kept),
                    (try? spool.writeDurably(Array(data), to: path)) != nil
                else { return 0 }
            }
            return runs.count - kept.count
        }
    }
}
