import Base
import Delivery
import GitHub

extension CheckRunWriter {
    /// Adds the runs of `pending` still queued to the index, so none stays queued forever when its result never
    /// comes. Runs an earlier, failed attempt created are not in `created`: when some queued run is missing, the
    /// commit's runs are read once more to find them. A failure here is logged; the write itself succeeded.
    func index(_ created: [CheckRuns.CreatedRun], of pending: PendingCheckRuns, deadline: Double) {
        guard let runIndex else { return }
        var queued = Set<String>()
        for case .queued(let runs, _) in pending.writes { queued.formUnion(runs.map(\.externalID)) }
        var ids = created.filter { $0.status != "completed" && queued.contains($0.externalID) }.map(\.id)
        if queued.count > ids.count {
            let found = Set(created.map(\.externalID))
            do throws(GitHubError) {
                ids += try checkRuns.runs(pending.target, deadline: max(deadline, MonotonicClock.now() + 10)).filter {
                    $0.status != "completed" && queued.contains($0.externalID ?? "")
                        && !found.contains($0.externalID ?? "")
                }.map(\.id)
            } catch {
                logger.log(
                    .warning, "queued check runs not indexed: the reconciler will not see them",
                    ["delivery": .string(pending.deliveryID), "error": .string(error.message)])
            }
        }
        let target = pending.target
        let entries = ids.map {
            IndexedRun(
                installation: pending.installationID, owner: target.owner, repo: target.repo, sha: target.sha,
                runID: $0, created: pending.acceptedAt)
        }
        do throws(DeliveryError) { try runIndex.add(entries) } catch {
            logger.log(
                .error, "queued check runs not indexed: the reconciler will not see them",
                ["delivery": .string(pending.deliveryID), "error": .string(error.message)])
        }
    }
}
