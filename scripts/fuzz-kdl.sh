#!/usr/bin/env bash
# Fuzzes the KDL parser and the workflow reader (with the SPEC §5 limits, default and tight: Fuzz/KDLFuzz.swift) with
# libFuzzer for SECONDS (default 60), seeded with the conformance inputs, the workflow fixtures and the kept crash
# inputs. Seeds are copied to a temporary corpus; nothing is written into the repository except new crash files,
# which libFuzzer leaves in .build-fuzz/artifacts/ (copy them to Tests/KDLTests/Fixtures/kdl-crashes/ once fixed).
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
modules="$out/kdl-modules"
mkdir -p "$out/artifacts" "$modules"

# The modules the harness reaches, lowest first, each as SwiftPM builds it (Package.swift): Base, then KDL (no
# imports), then Workflow (imports Base and KDL). Each is one instrumented object file plus its .swiftmodule in
# $modules, which -I makes importable by the next. -sanitize=fuzzer,address with -c only instruments (coverage and
# ASan); the toolchain's swiftc links libFuzzer and ASan in the last step, where -parse-as-library is because the
# harness has no main and lld because the system gold linker warns about every ASan symbol.
flags=(-sanitize=fuzzer,address -parse-as-library -O -I "$modules")
module() {
    local name="$1"
    shift
    swiftc "${flags[@]}" -c -wmo -module-name "$name" -emit-module -emit-module-path "$modules/$name.swiftmodule" \
        -o "$modules/$name.o" "$@"
}
module Base "$root"/Sources/Base/*.swift
module KDL "$root"/Sources/KDL/*.swift
module Workflow "$root"/Sources/Workflow/*.swift
swiftc "${flags[@]}" -use-ld=lld "$root/Fuzz/KDLFuzz.swift" "$modules"/{Base,KDL,Workflow}.o -o "$out/kdl-fuzz"

# CORPUS=dir keeps the evolved corpus between runs (outside the repository); by default it is thrown away.
if [ -n "${CORPUS:-}" ]; then
    corpus="$CORPUS"
    mkdir -p "$corpus"
else
    corpus="$(mktemp -d)"
    trap 'rm -rf "$corpus"' EXIT
fi
cp "$suite"/input/*.kdl "$corpus"/ 2>/dev/null || echo "warning: no seeds in $suite/input" >&2
find "$root/Tests/KDLTests/Fixtures/kdl-crashes" -type f ! -name README.md -exec cp {} "$corpus"/ \; 2>/dev/null || true
# The workflow fixtures too: the harness reads every input as a workflow under tight limits as well.
for f in "$root"/Tests/WorkflowTests/Fixtures/workflow/*.kdl; do cp "$f" "$corpus/workflow-$(basename "$f")"; done

# A fatalError in the harness must reach libFuzzer's crash handler (which writes the artifact): Swift's own
# backtracer would take the signal first, trip ASan reading the crashed process's memory, and hang, holding the
# output pipe open.
export SWIFT_BACKTRACE=enable=no

jobs="${JOBS:-1}"
args=(-max_total_time="$seconds" -timeout=10 -dict="$root/Fuzz/kdl.dict" -rss_limit_mb=2048 -max_len=65536
    -print_final_stats=1 -artifact_prefix="$out/artifacts/" ${FUZZ_FLAGS:-})
if [ "$jobs" -gt 1 ]; then
    "$out/kdl-fuzz" "${args[@]}" -fork="$jobs" "$corpus"
else
    "$out/kdl-fuzz" "${args[@]}" "$corpus"
fi
