#!/usr/bin/env bash
# Fuzzes the KDL parser with libFuzzer for SECONDS (default 60), seeded with the conformance inputs and the kept crash
# inputs. Seeds are copied to a temporary corpus; nothing is written into the repository except new crash files,
# which libFuzzer leaves in .build-fuzz/artifacts/ (copy them to Tests/CoreTests/Fixtures/kdl-crashes/ once fixed).
#
#   scripts/fuzz-kdl.sh 900          # 15 minutes, one job
#   JOBS=2 scripts/fuzz-kdl.sh 900   # two fuzzing processes
#   CORPUS=/tmp/kdl-corpus scripts/fuzz-kdl.sh 600   # keep the corpus for the next run
#   FUZZ_FLAGS=-use_value_profile=1 scripts/fuzz-kdl.sh 600   # extra libFuzzer flags
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
suite="${KDL_SUITE_DIR:-$root/../shared/reference/kdl/test_cases}"
out="$root/.build-fuzz"
mkdir -p "$out/artifacts"

# The toolchain's swiftc links libFuzzer and ASan itself; -parse-as-library because the harness has no main; lld
# because the system gold linker warns about every ASan symbol.
swiftc -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld \
    "$root"/Sources/Core/KDL/*.swift "$root"/Sources/Core/Workflow/Workflow{,Command,Error,Parser}.swift \
    "$root/Fuzz/KDLFuzz.swift" \
    -o "$out/kdl-fuzz"

# CORPUS=dir keeps the evolved corpus between runs (outside the repository); by default it is thrown away.
if [ -n "${CORPUS:-}" ]; then
    corpus="$CORPUS"
    mkdir -p "$corpus"
else
    corpus="$(mktemp -d)"
    trap 'rm -rf "$corpus"' EXIT
fi
cp "$suite"/input/*.kdl "$corpus"/ 2>/dev/null || echo "warning: no seeds in $suite/input" >&2
cp "$root"/Tests/CoreTests/Fixtures/kdl-crashes/* "$corpus"/ 2>/dev/null || true

jobs="${JOBS:-1}"
args=(-max_total_time="$seconds" -timeout=10 -dict="$root/Fuzz/kdl.dict" -rss_limit_mb=2048 -max_len=65536
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" ${FUZZ_FLAGS:-})
if [ "$jobs" -gt 1 ]; then
    "$out/kdl-fuzz" "${args[@]}" -fork="$jobs" "$corpus"
else
    "$out/kdl-fuzz" "${args[@]}" "$corpus"
fi
