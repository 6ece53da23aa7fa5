#!/usr/bin/env bash
# Fuzzes the JSON reader (JSONTape, JSONTapeDecoder) against Foundation's JSONDecoder and an independent RFC 8259
# checker, and the payload slices read directly from the tape against JSONTapeDecoder (Fuzz/JSONFuzz.swift), with
# libFuzzer for SECONDS (default 60), seeded with GitHub's sample payloads. Crash inputs land in
# .build-fuzz/json-artifacts/.
#
#   scripts/fuzz-json.sh 600
#   CORPUS=/tmp/json-corpus scripts/fuzz-json.sh 600   # keep the corpus for the next run
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.build-fuzz/json"
mkdir -p "$out/modules" "$root/.build-fuzz/json-artifacts"

# The modules the harness reaches, lowest first, each instrumented for libFuzzer and ASan (-c only adds the hooks);
# Crypto because Events imports it (SHA-1 for delivery ids), hence COpenSSL's module map and -lssl -lcrypto.
flags=(-sanitize=fuzzer,address -parse-as-library -O -swift-version 6 -I "$out/modules" -I "$root/Sources/COpenSSL")
# -enable-testing: the harness compares Events' internal payload slices (@testable import).
for module in Base Crypto Events; do
    swiftc "${flags[@]}" -enable-testing -c -wmo -module-name "$module" -emit-module \
        -emit-module-path "$out/modules/$module.swiftmodule" -o "$out/modules/$module.o" "$root/Sources/$module"/*.swift
done
# The harness with the tests' RFC 8259 checker and generic value (JSONReference.swift imports only Base and
# Foundation); lld because the system gold linker warns about every ASan symbol.
swiftc "${flags[@]}" -use-ld=lld -module-name JSONFuzz "$root/Fuzz/JSONFuzz.swift" \
    "$root/Tests/TestSupport/JSONReference.swift" "$out/modules"/{Base,Crypto,Events}.o -lssl -lcrypto \
    -o "$out/json-fuzz"

corpus="${CORPUS:-$(mktemp -d)}"
mkdir -p "$corpus"
trap '[ -n "${CORPUS:-}" ] || rm -rf "$corpus"' EXIT
cp "${GITHUB_PAYLOADS_DIR:-$root/../shared/reference/github-payloads}"/*.json "$corpus"/
printf '{"a":[1,2.5e-3,"\\u00e9",true,null,{}]}' >"$corpus/small.json"
# A fatalError must reach libFuzzer's crash handler, not Swift's backtracer (see scripts/fuzz-kdl.sh).
SWIFT_BACKTRACE=enable=no "$out/json-fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -dict="$root/Fuzz/json.dict" -print_final_stats=1 \
    -artifact_prefix="$root/.build-fuzz/json-artifacts/" ${FUZZ_FLAGS:-} "$corpus"
