#!/usr/bin/env bash
# Fuzzes the transport-neutral request path with libFuzzer for SECONDS (default 60): every Core source plus
# Fuzz/RequestFuzz.swift, broker and GitHub replaced by in-memory fakes at their protocol seams, the spool on tmpfs.
# Crash inputs land in .build-fuzz/request-artifacts/ (keep each as Tests/CoreTests/Fixtures/request-crashes/*).
#   scripts/fuzz-request.sh 900
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.build-fuzz"
mkdir -p "$out/request-artifacts"
# -I: the system-library module maps; -l: the C libraries they wrap.
swiftc -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld -module-name Core \
    -I "$root/Sources/COpenSSL" -I "$root/Sources/CRabbitMQ" -I "$root/Sources/CCurl" \
    $(find "$root/Sources/Core" -name '*.swift') "$root/Fuzz/RequestFuzz.swift" \
    -lssl -lcrypto -lrabbitmq -lcurl -o "$out/request-fuzz"
corpus="${CORPUS:-$(mktemp -d)}"
mkdir -p "$corpus"
# Seeds: real payloads behind a valid header prefix (dev mode, POST, JSON, event push/pull_request/ping).
i=0
for f in "$root"/../shared/reference/github-payloads/*.json; do
    i=$((i + 1))
    { printf '\x08\x00\x00%b' "\\x$(printf '%02x' $((i * 8)))"; printf 'hdr\xff'; cat "$f"; printf '\xffjob "a"\njob "b" runs_on="x"\n'; } \
        >"$corpus/seed-$i"
done
cp "$root"/Tests/CoreTests/Fixtures/request-crashes/* "$corpus"/ 2>/dev/null || true
trap 'rm -rf /dev/shm/solstice-request-fuzz-*; [ -n "${CORPUS:-}" ] || rm -rf "$corpus"' EXIT
SWIFT_BACKTRACE=enable=no "$out/request-fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=131072 -print_final_stats=1 \
    -artifact_prefix="$out/request-artifacts/" ${FUZZ_FLAGS:-} "$corpus"
