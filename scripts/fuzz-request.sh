#!/usr/bin/env bash
# Fuzzes the request path with libFuzzer for SECONDS (default 60): the library modules the responder needs, the
# FastCGI and CGI adapters of solstice-fcgi (not its main.swift) and Fuzz/RequestFuzz.swift + Fuzz/TransportFuzz.swift,
# broker and GitHub replaced by in-memory fakes at their protocol seams (MessagePublishing, JobExpanding), the spool
# on tmpfs. The first input byte picks the mode: 'F' a raw FastCGI record stream to the real adapter (FastCGIWorker)
# on a unix socket, 'C' a CGI environment and body through CGIAdapter, anything else a WebhookRequest straight to the
# responder. Crash inputs land in .build-fuzz/request-artifacts/ (keep each, once understood, as
# Tests/WebhookTests/Fixtures/request-crashes/NAME and say why in its README).
#   scripts/fuzz-request.sh 900
#   CORPUS=/tmp/request-corpus scripts/fuzz-request.sh 600   # keep the evolved corpus for the next run
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/.build-fuzz/request"
mkdir -p "$out/modules" "$out/objects" "$root/.build-fuzz/request-artifacts"

# The library targets the harness reaches, lowest first (Package.swift's order): each is compiled on its own as the
# module SwiftPM makes of it, so every `import Base` resolves, and instrumented for libFuzzer and ASan (a compile
# with -c links nothing, so -sanitize=fuzzer only adds the coverage hooks here). A module is compiled again when a
# source of it is newer than its object, and so is every module after it.
modules=(Base KDL Crypto HTTP AMQP GitHub Delivery Workflow Events Jobs Webhook)
# -I: the system-library module maps (COpenSSL, CRabbitMQ, CCurl, CFCGI, and CAtomics, a header only, for Delivery);
# -l at the link: the C libraries they wrap.
includes=(-I "$out/modules" -I "$root/Sources/COpenSSL" -I "$root/Sources/CRabbitMQ" -I "$root/Sources/CCurl"
    -I "$root/Sources/CFCGI" -I "$root/Sources/CAtomics")
flags=(-sanitize=fuzzer,address -parse-as-library -O -swift-version 6)
stale=0
for module in "${modules[@]}"; do
    object="$out/objects/$module.o"
    sources=("$root/Sources/$module"/*.swift)
    if [ "$stale" = 0 ] && [ -f "$object" ] && [ -z "$(find "${sources[@]}" -newer "$object")" ]; then
        continue
    fi
    stale=1
    echo "compiling $module" >&2
    swiftc "${flags[@]}" -wmo -module-name "$module" "${includes[@]}" \
        -emit-module -emit-module-path "$out/modules/$module.swiftmodule" \
        -c "${sources[@]}" -o "$object"
done
objects=()
for module in "${modules[@]}"; do objects+=("$out/objects/$module.o"); done
# The harness and the transport adapters, compiled as one module (their types are internal to solstice-fcgi); lld
# because the system gold linker warns about every ASan symbol.
adapters=("$root/Sources/solstice-fcgi/FastCGI.swift" "$root/Sources/solstice-fcgi/Shutdown.swift"
    "$root/Sources/solstice-fcgi/CGI.swift")
swiftc "${flags[@]}" -use-ld=lld -module-name RequestFuzz "${includes[@]}" \
    "$root/Fuzz/RequestFuzz.swift" "$root/Fuzz/TransportFuzz.swift" "${adapters[@]}" "${objects[@]}" \
    -lssl -lcrypto -lrabbitmq -lcurl -lfcgi -o "$out/request-fuzz"

# CORPUS=dir keeps the evolved corpus between runs (outside the repository); by default it is thrown away.
corpus="${CORPUS:-$(mktemp -d)}"
mkdir -p "$corpus"
trap 'rm -rf /dev/shm/solstice-request-fuzz-*; [ -n "${CORPUS:-}" ] || rm -rf "$corpus"' EXIT
# Seeds: real payloads behind a valid header prefix (dev mode, spool on, POST, JSON, event push/pull_request/ping);
# the same payloads as CGI environments and FastCGI streams, and hostile transport cases (Fuzz/request_seeds.py).
payloads="${GITHUB_PAYLOADS_DIR:-$root/../shared/reference/github-payloads}"
i=0
for f in "$payloads"/*.json; do
    i=$((i + 1))
    { printf '\x08\x00\x00%b' "\\x$(printf '%02x' $(((i * 8) % 256)))"; printf 'hdr\xff'; cat "$f"; printf '\xffjob "a"\njob "b" runs_on="x"\n'; } \
        >"$corpus/seed-$i"
done
python3 "$root/Fuzz/request_seeds.py" "$corpus" "$payloads"
# The kept crash inputs stay cases of every run. -timeout: an input is a hang after 10 s (the harness's own watchdog
# cuts a stalled FastCGI client after 1 s and gives up on a reply after 5 s).
find "$root/Tests/WebhookTests/Fixtures/request-crashes" -type f ! -name '*.md' -exec cp {} "$corpus"/ \;
SWIFT_BACKTRACE=enable=no "$out/request-fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=131072 -dict="$root/Fuzz/request.dict" -print_final_stats=1 \
    -artifact_prefix="$root/.build-fuzz/request-artifacts/" ${FUZZ_FLAGS:-} \
    "$corpus"
