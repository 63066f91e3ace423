#!/usr/bin/env bash
# Load benchmark of the collector (not a timed test): starts a release build on a free loopback
# port with a file database in a temp dir and the rate limit lifted, runs Debian's wrk
# (apt-get install -y wrk) against POST /collect/batch, and checks the stored count.
#
#   collector/bench/run.sh [DURATION_SECONDS] [EVENTS_PER_BATCH] [CONNECTIONS]
#
# Bounded: wrk stops after DURATION_SECONDS (default 10); the collector is killed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10}"
export EVENTS_PER_BATCH="${2:-10}"
connections="${3:-32}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

# The workspace's release profile is tuned for wasm size (opt-level z, fat LTO, panic=abort);
# a server wants speed and unwinding, so the bench builds with overrides in its own target dir.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/collector-bench}"
CARGO_PROFILE_RELEASE_OPT_LEVEL=3 CARGO_PROFILE_RELEASE_LTO=false \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_PANIC=unwind \
  cargo build --quiet --release -p scantrack-collector
bin="$CARGO_TARGET_DIR/release/scantrack-collector"

tmp="$(mktemp -d)"
out="$tmp/stdout"
"$bin" --listen 127.0.0.1:0 --db "$tmp/bench.db" --rate-per-minute 1000000000 \
  --www "$tmp" --dist "$tmp" >"$out" 2>"$tmp/stderr" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  grep -q "listening on" "$out" 2>/dev/null && break
  sleep 0.1
done
url="$(sed -n 's/^scantrack-collector listening on //p' "$out")"
[ -n "$url" ] || { echo "collector did not start:" >&2; cat "$tmp/stderr" >&2; exit 1; }

echo "machine: $(nproc) cores; collector $url; db $tmp/bench.db (WAL, synchronous=NORMAL)"
echo "wrk: 2 threads, $connections connections, ${duration}s, $EVENTS_PER_BATCH events per request"
wrk -t2 -c"$connections" -d"${duration}s" -s collector/bench/batch.lua "$url"
stored="$(curl -s "$url/api/stats" | sed -n 's/.*"events":\([0-9]*\).*/\1/p')"
echo "stored events (from /api/stats): $stored"
