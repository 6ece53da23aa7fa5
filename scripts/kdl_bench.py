#!/usr/bin/env python3
"""Benchmark our KDL parser against ckdl (pip package `ckdl`, C parser with a Python binding) on the same bytes.

Inputs: a generated ~10 MB KDL 2.0 document (nested children, escaped/raw/multi-line strings, every number form,
keywords, type annotations, comments, slashdash), and the valid conformance inputs concatenated. Prints throughput of
both parsers, their ratio, and the memory our parsed document holds relative to its size.

    pip install ckdl
    swift build -c release --product kdl-bench
    python3 scripts/kdl_bench.py [--size-mb 10] [--keep DIR]

Targets: throughput >= 2x ckdl's, parsed document <= 4x the source size.

Then workflow parse times in milliseconds (SPEC §5: "a file at the limits takes milliseconds, never seconds"): a
generated 1 MB workflow (~9,000 jobs; parsed with the limits lifted, so the whole file is read, and with the defaults,
which refuse it before parsing) and a 256-job workflow (WORKFLOW_MAX_JOBS), each next to the same run's parse of a
1 MB plain KDL document as the baseline. Target: every workflow parse under 100 ms.
"""
import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.environ.get("KDL_SUITE_DIR", os.path.join(ROOT, "..", "shared", "reference", "kdl", "test_cases"))
BENCH = os.path.join(ROOT, ".build", "release", "kdl-bench")


def block(rnd, i):
    """One top-level node tree, about 1 KB, exercising most of the grammar."""
    n = rnd.randint(0, 1 << 30)
    return f"""// service {i}: generated configuration
service "svc-{i}" id={i} enabled=#true weight=0.{n % 1000:03d} {{
    (ipv4)address "10.{n % 256}.{i % 256}.{(n >> 8) % 256}" port=0x{n % 65536:X} mask=0o{n % 512:o} flags=0b{n % 256:b}
    limits cpu={n % 97}.5e3 memory={n % 100}_048 ratio=-{n % 10}.25E-2 max=#inf min=#-inf unknown=#nan big=1_000_000
    description "Line {n}\\nline \\"two\\"\\t\\u{{1F600}} end \\u{{e9}}t\\u{{e9}}" label=plain-identifier_{i}
    pattern #"^\\d+(\\.\\d+)?$"# other=##"with "# inside {i}"## re=(regex)#"[a-z]+"#
    script \"\"\"
        #!/bin/sh
        echo "hello {i} \\u{{2713}}"
          indented line \\t tab
        exit 0
        \"\"\"
    raw-script #\"\"\"
        printf '%s\\n' "$@" # {n}
        \"\"\"#
    /- disabled-node 1 2 3 {{ child "x" }}
    tags "a" "b" /-"c" "d" {n % 7} #false #null
    /* block comment /* nested {i} */ still comment */
    env {{
        VAR_1 value-{n % 13}; VAR_2 "value two"
        nested {{ deeper {{ deepest 1 2 3 key=(u8)255 }} }}
    }}
    continued 1 2 \\
        3 4 // line continuation
}}
"""


def generate(size):
    rnd = random.Random(20240601)
    parts, total, i = [], 0, 0
    while total < size:
        b = block(rnd, i)
        parts.append(b)
        total += len(b.encode())
        i += 1
    return "".join(parts).encode()


def workflow(jobs=None, size=None):
    """A workflow.kdl of `jobs` jobs, or of as many as make `size` bytes, in the SPEC §5 shape."""
    parts, total, i = ['workflow name="bench" {\n'], 0, 0
    while (jobs is not None and i < jobs) or (size is not None and total < size):
        job = (f'    job "job-{i}" runs_on="ubuntu-24.04" {{\n'
               f'        script ".solstice/job-{i}.sh"\n'
               f'        step "fmt" {{ run "cargo fmt --check" }}\n'
               f'    }}\n')
        parts.append(job)
        total += len(job)
        i += 1
    parts.append("}\n")
    return "".join(parts).encode(), i


def workflow_times(workdir, iterations):
    """Milliseconds of WorkflowParser on the workflows, and of the KDL parser on 1 MB of plain KDL (baseline)."""
    plain = generate(1_000_000)
    big, big_jobs = workflow(size=1_000_000)
    small, _ = workflow(jobs=256)
    files = {}
    for name, data in [("plain-1mb", plain), ("workflow-1mb", big), ("workflow-256-jobs", small)]:
        files[name] = os.path.join(workdir, name + ".kdl")
        with open(files[name], "wb") as f:
            f.write(data)
    n = str(iterations)
    base = ours(files["plain-1mb"], iterations)[1]

    def run(path, *limits):
        out = subprocess.run([BENCH, "--workflow", "-n", n, *limits, path], capture_output=True, text=True,
                             check=True).stdout
        return dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[-1]))

    rows = [
        (f"1 MB workflow, {big_jobs} jobs, limits lifted", run(files["workflow-1mb"], "--max-bytes", "2000000",
                                                               "--max-jobs", "100000")),
        ("1 MB workflow, default limits", run(files["workflow-1mb"])),
        (f"256-job workflow ({len(small) / 1e3:.0f} kB), default limits", run(files["workflow-256-jobs"])),
    ]
    print(f"== workflow parse, ms (best / mean of {iterations}), same run")
    print(f"   baseline, KDL parse of 1 MB plain KDL ({base['nodes']} nodes): "
          f"{float(base['best_ms']):.2f} / {float(base['mean_ms']):.2f} ms")
    ok = True
    for label, fields in rows:
        outcome = fields.get("jobs") and f"{fields['jobs']} jobs" or "refused: " + fields.get("error", "?").replace(
            "_", " ")
        best, mean = float(fields["best_ms"]), float(fields["mean_ms"])
        print(f"   {label}: {best:.2f} / {mean:.2f} ms ({best / float(base['best_ms']):.2f}x the baseline; {outcome})")
        ok = ok and mean < 100
    print("   [target: every workflow parse < 100 ms]")
    return ok


def conformance_concat(ckdl):
    """The valid conformance inputs joined by newlines, keeping those ckdl also reads as KDL 2.0."""
    folder = os.path.join(SUITE, "input")
    kept = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".kdl") or name.endswith("_fail.kdl"):
            continue
        data = open(os.path.join(folder, name), "rb").read()
        try:
            ckdl.parse(data.decode(), version=2)
        except Exception:
            continue
        kept.append(data)
    joined = b"\n".join(kept) + b"\n"
    ckdl.parse(joined.decode(), version=2)
    return joined, len(kept)


def ours(path, iterations):
    out = subprocess.run([BENCH, "-n", str(iterations), path], capture_output=True, text=True, check=True).stdout
    human = out.splitlines()[0]
    fields = dict(re.findall(r"(\w+)=(\S+)", out.splitlines()[-1]))
    return human, fields


def theirs(ckdl, data, iterations):
    text = data.decode()
    ckdl.parse(text, version=2)  # warm up
    best, total = float("inf"), 0.0
    for _ in range(iterations):
        start = time.perf_counter()
        ckdl.parse(text, version=2)
        elapsed = time.perf_counter() - start
        best, total = min(best, elapsed), total + elapsed
    return len(data) * iterations / total / 1e6, len(data) / best / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=10)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--keep", help="write the inputs to this directory instead of a temporary one")
    args = parser.parse_args()
    try:
        import ckdl
    except ImportError:
        sys.exit("ckdl is not installed: pip install ckdl")
    if not os.path.exists(BENCH):
        sys.exit(f"{BENCH} missing: swift build -c release --product kdl-bench")

    workdir = args.keep or tempfile.mkdtemp(prefix="kdl-bench-")
    os.makedirs(workdir, exist_ok=True)
    big = generate(int(args.size_mb * 1e6))
    concat, kept = conformance_concat(ckdl)
    inputs = [
        ("generated", big, args.iterations),
        (f"conformance x{kept} files", concat, max(200, 20_000_000 // len(concat))),
    ]
    ok = True
    for label, data, iterations in inputs:
        path = os.path.join(workdir, label.split()[0] + ".kdl")
        with open(path, "wb") as f:
            f.write(data)
        human, fields = ours(path, iterations)
        ours_mean = float(fields["mean_mbps"])
        ckdl_mean, ckdl_best = theirs(ckdl, data, iterations)
        ratio = ours_mean / ckdl_mean
        memory_ratio = int(fields["document_bytes"]) / len(data)
        print(f"== {label}: {len(data) / 1e6:.2f} MB, {fields['nodes']} nodes, {iterations} iterations")
        print(f"   ours: {ours_mean:.1f} MB/s mean, {float(fields['best_mbps']):.1f} MB/s best")
        print(f"   ckdl: {ckdl_mean:.1f} MB/s mean, {ckdl_best:.1f} MB/s best")
        print(f"   ratio (mean): {ratio:.2f}x  [target >= 2x]")
        print(f"   parsed document: {int(fields['document_bytes']) / 1e6:.2f} MB incl. source = {memory_ratio:.2f}x "
              f"the input [target <= 4x]; RSS grew {int(fields['document_rss_delta']) / 1e6:.2f} MB for it; "
              f"peak RSS of the bench process {int(fields['peak_rss']) / 1e6:.1f} MB")
        if label == "generated":
            ok = ok and ratio >= 2 and memory_ratio <= 4
    ok = workflow_times(workdir, args.iterations) and ok
    if not args.keep:
        for name in os.listdir(workdir):
            os.remove(os.path.join(workdir, name))
        os.rmdir(workdir)
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
