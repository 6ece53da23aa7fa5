#!/usr/bin/env bash
# Builds kdl-bench in release mode and compares it with ckdl on a generated ~10 MB document, then times workflow
# parses at the SPEC §5 limits (a 1 MB workflow, a 256-job workflow) against a 1 MB KDL parse (scripts/kdl_bench.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python3 -c "import ckdl" 2>/dev/null || pip install ckdl
(cd "$root" && swift build -c release --product kdl-bench)
python3 "$root/scripts/kdl_bench.py" "$@"
