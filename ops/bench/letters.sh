#!/usr/bin/env bash
# Benchmark of POST /v1/letters under concurrent load, on SQLite and on PostgreSQL, driven by
# wrk from a second process on loopback. Prints requests per second and latency percentiles
# and writes them to ops/bench/out/letters.json.
#
# Usage: ops/bench/letters.sh [--connections N] [--seconds S] [--only sqlite|postgresql]
#                             [--binary PATH] [--out FILE]
#
# --binary measures a hybridpost binary built elsewhere (another commit, to compare two
# versions under the same conditions) instead of building this checkout's; --out writes the
# figures to FILE instead of ops/bench/out/letters.json.
#
# The per-key rate limit is turned off for the run (HYBRIDPOST_RATE_LIMIT_PER_SECOND=0): the
# benchmark measures the server, and all requests come from one agency key.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/lib/common.sh

connections=32
seconds=20
only=""
bin=""
out=ops/bench/out/letters.json
while [ $# -gt 0 ]; do
  case "$1" in
    --connections) connections=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --binary) bin=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: ops/bench/letters.sh [--connections N] [--seconds S] [--only sqlite|postgresql] [--binary PATH] [--out FILE]"; exit 2 ;;
  esac
done

ensure_packages wrk curl postgresql postgresql-client python3
if [ -z "$bin" ]; then
  say "building the release binary"
  cargo build --release --locked -p hybridpost
  bin=${CARGO_TARGET_DIR:-$(pwd)/target}/release/hybridpost
fi
work=$(mktemp -d /tmp/hybridpost-bench.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$(dirname "$out")"

# run_one NAME: serves on the database in the environment, loads it, prints one JSON line.
run_one() {
  local name=$1 port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  HYBRIDPOST_RATE_LIMIT_PER_SECOND=0 RUST_LOG=warn "$bin" --data-dir "$work/$name" serve --listen "127.0.0.1:$port" \
    >"$work/$name.out" 2>"$work/$name.err" &
  server_pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  export HYBRIDPOST_BENCH_KEY
  HYBRIDPOST_BENCH_KEY=$("$bin" --data-dir "$work/$name" admin create-agency --name "bench" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
  # Warm up, then measure.
  wrk -t 2 -c "$connections" -d 3s -s ops/bench/post-letter.lua "http://127.0.0.1:$port/v1/letters" >/dev/null
  local line
  line=$(wrk -t 2 -c "$connections" -d "${seconds}s" --latency -s ops/bench/post-letter.lua \
    "http://127.0.0.1:$port/v1/letters" | tee "$work/$name.wrk" | grep '^{')
  local cpu_ticks
  cpu_ticks=$(awk '{print $14 + $15}' "/proc/$server_pid/stat")
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  # Server CPU time per request (user + system, warm-up included), a steadier figure than
  # throughput on a shared machine.
  local requests cpu_us
  requests=$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
  cpu_us=$(python3 -c "print(round($cpu_ticks / $(getconf CLK_TCK) * 1e6 / $requests, 1))")
  echo "{\"database\": \"$name\", \"connections\": $connections, \"server_cpu_us_per_request\": $cpu_us, $(echo "$line" | sed 's/^{//')"
}

results=()
if [ "$only" != postgresql ]; then
  say "SQLite"
  results+=("$(run_one sqlite)")
  echo "${results[-1]}"
fi
if [ "$only" != sqlite ]; then
  say "PostgreSQL"
  pg_start
  results+=("$(HYBRIDPOST_DATABASE_URL="$PG_URL" HYBRIDPOST_CITIZEN_ID_KEY=$(printf 'b%.0s' $(seq 1 40)) HYBRIDPOST_SECRET_KEY=$(printf 'c%.0s' $(seq 1 40)) run_one postgresql)")
  echo "${results[-1]}"
fi
joined=$(IFS=,; echo "${results[*]}")
printf '{"benchmark": "post_letters", "machine_cores": %s, "results": [%s]}\n' "$(nproc)" "$joined" \
  | python3 -m json.tool > "$out"
say "written $out"
cat "$out"
