#!/usr/bin/env bash
# Builds kdl-bench in release mode and compares it with ckdl on a generated ~10 MB document (scripts/kdl_bench.py).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python3 -c "import ckdl" 2>/dev/null || pip install ckdl
(cd "$root" && swift build -c release --product kdl-bench)
python3 "$root/scripts/kdl_bench.py" "$@"
