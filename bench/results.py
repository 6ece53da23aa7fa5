#!/usr/bin/env python3
"""make bench, results phase: N JobResults through RabbitMQ → solstice-results → GitHub stand-in + S3 (moto) +
log stand-in, all on loopback. Each result: installation lookup (cached), log download, S3 PUT (SigV4), the
commit's runs listed (BENCH_RUNS_PER_COMMIT [5] per commit), one PATCH. Prints results/s from the first publish until the last result line is logged.

    python3 bench/results.py N    (with .solstice/bench/stack.env sourced and the stand-in at $STANDIN_ADDR)
"""
import hashlib
import os
import pathlib
import sys
import time
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from support import publishing, stack  # noqa: E402

n = int(sys.argv[1])
repo = "bench-org/results"
gh = stack.standin("http://" + os.environ["STANDIN_ADDR"])
gh.set_installations({repo: 1})
logs = pathlib.Path(os.environ["STACK_LOGS_DIR"])
logs.mkdir(parents=True, exist_ok=True)
log_text = "".join(f"step {i}: ok\n" for i in range(200))  # ~2.5 KB per job
bodies = []
per_commit = int(os.environ.get("BENCH_RUNS_PER_COMMIT", "5"))  # a workflow of 5 jobs per commit
assert 1 <= per_commit <= 10, "BENCH_RUNS_PER_COMMIT: 1 to 10 (the request ids below keep one digit for the job)"
for batch in range((n + per_commit - 1) // per_commit):
    sha = hashlib.sha1(uuid.uuid4().bytes).hexdigest()
    prefix = uuid.uuid4().hex[:8]
    count = min(per_commit, n - batch * per_commit)
    # Request ids are UUIDs (SPEC §8): PREFIX-0000-5000-8000-00000000000I, "{i}" filled in by the stand-in.
    gh.seed_check_runs(repo, count, name="Solstice CI / job {i}", head_sha=sha,
                       external_id=prefix + "-0000-5000-8000-00000000000{i}", status="queued")
    for i in range(count):
        rid = f"{prefix}-0000-5000-8000-00000000000{i}"
        (logs / f"{rid}.log").write_text(log_text)
        bodies.append(publishing.job_result(rid, sha, repo, i % 5 != 0, 0 if i % 5 else 1, "bench",
                                            completed_at="2026-11-24T12:00:00Z"))

log_path = pathlib.Path(os.environ["STACK_STATE"]) / "results.log"
offset = log_path.stat().st_size
started = time.time()
publishing.publish_results(os.environ["STACK_AMQP_URL"], bodies)
published = time.time() - started
done = 0
deadline = started + 600
while done < n and time.time() < deadline:
    with open(log_path, "rb") as f:
        f.seek(offset)
        done = f.read().count(b"msg=result ")
    time.sleep(0.05)
elapsed = time.time() - started
print(f"{done} of {n} results completed in {elapsed:.1f} s: {done / elapsed:.0f} results/s "
      f"(publishing took {published:.1f} s; RESULTS_WORKERS={os.environ.get('RESULTS_WORKERS', '4')})")
completed = sum(r["status"] == "completed" for r in gh.check_runs(repo))
print(f"Check Runs completed in the stand-in: {completed}")
