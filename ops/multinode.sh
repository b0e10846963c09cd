#!/usr/bin/env bash
# Many nodes on one machine, proven by killing them. Starts PostgreSQL, an S3-compatible server
# (SeaweedFS) and separate `hybridpost serve` processes, one role each, each with its own port,
# data folder and metrics listener, all on one database and one bucket: two gateways, a print
# room, two intake nodes, a notifier, a verification node and a console. Drives the demo's
# workload against them (`hybridpost demo --gateway-url … --printroom-url … --intake-url …`),
# kills -9 the print room while it renders a batch and an intake node while it decodes a file,
# starts a replacement for each on the same port, and requires the demo's final check to pass
# (every letter accounted for, every reply and return found, the stray page in review) and the
# database to show no letter in two batches, no page stored twice and no letter replied twice.
# Then runs the same demo in one process on a fresh database, for the throughput beside it.
#
# Usage: ops/multinode.sh [LETTERS]      (default 2000)
#   HYBRIDPOST_BIN=path/to/hybridpost     use this binary instead of building a release one
set -euo pipefail
cd "$(dirname "$0")/.."
. ops/lib/common.sh

LETTERS=${1:-2000}
ensure_packages postgresql postgresql-client poppler-utils qpdf curl python3 openssl
BIN=${HYBRIDPOST_BIN:-}
if [ -z "$BIN" ]; then
  say "building hybridpost (release)"
  cargo build --release --locked -q -p hybridpost
  BIN="${CARGO_TARGET_DIR:-target}/release/hybridpost"
fi
BIN=$(realpath "$BIN")
# Not a setting of the nodes.
unset HYBRIDPOST_BIN

W=$(mktemp -d /tmp/hybridpost-nodes.XXXXXX)
mkdir -p "$W/pids"
cleanup() {
  local f
  for f in "$W"/pids/*; do
    [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  pg_stop
  s3_stop
  rm -rf "$W"
}
trap cleanup EXIT
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off"
pg_start
s3_start

# What every node shares: the database, the bucket and the keys.
export HYBRIDPOST_DATABASE_URL="$PG_URL"
HYBRIDPOST_CITIZEN_ID_KEY=$(openssl rand -hex 32)
HYBRIDPOST_SECRET_KEY=$(openssl rand -hex 32)
export HYBRIDPOST_CITIZEN_ID_KEY HYBRIDPOST_SECRET_KEY
export HYBRIDPOST_S3_BUCKET=hybridpost HYBRIDPOST_S3_ENDPOINT="$S3_ENDPOINT" HYBRIDPOST_S3_ALLOW_HTTP=true
export HYBRIDPOST_S3_ACCESS_KEY_ID="$S3_KEY" HYBRIDPOST_S3_SECRET_ACCESS_KEY="$S3_SECRET" HYBRIDPOST_S3_PREFIX=multinode
# One agency key sends every letter; a dead node's work is taken over within seconds, not minutes.
export HYBRIDPOST_RATE_LIMIT_PER_SECOND=0 HYBRIDPOST_PRINT_RENDER_LEASE_SECS=15 HYBRIDPOST_SCAN_CLAIM_SECS=10
export HYBRIDPOST_DATABASE_MAX_CONNECTIONS=8 HYBRIDPOST_SHUTDOWN_GRACE_SECS=0
# One decoding worker per intake node, so that both nodes' claims are in play. The time
# to search a page is raised: nine processes share this machine's cores (and a debug build, as
# the test suite runs, searches many times slower), and the check is about nodes, not budgets.
export HYBRIDPOST_SCAN_WORKERS=1 HYBRIDPOST_SCAN_PAGE_BUDGET_MS=30000
unset HYBRIDPOST_DATA_DIR HYBRIDPOST_ROLES HYBRIDPOST_LISTEN HYBRIDPOST_METRICS_LISTEN

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
sql() { psql "$PG_URL" -Atqc "$1"; }
note() { printf '%s  %s\n' "$(date +%T)" "$*" | tee -a "$W/events"; }

# start_node NAME ROLE [PORT]: starts a node and waits until /readyz answers; its port, metrics
# port and pid are kept in $W/NAME.port, NAME.mport and pids/NAME.
start_node() {
  local name=$1 role=$2 port=${3:-} mport data
  [ -n "$port" ] || port=$(free_port)
  mport=$(free_port)
  data="$W/data-$name"
  # The notifier writes e-mails where the demo counts them.
  [ "$role" = notifier ] && data="$W/demo"
  mkdir -p "$data"
  HYBRIDPOST_ROLES=$role HYBRIDPOST_DATA_DIR=$data HYBRIDPOST_LISTEN=127.0.0.1:$port \
    HYBRIDPOST_METRICS_LISTEN=127.0.0.1:$mport HYBRIDPOST_PUBLIC_URL=${PUBLIC_URL:-http://127.0.0.1:$port} \
    "$BIN" serve >>"$W/$name.log" 2>&1 &
  echo $! >"$W/pids/$name"
  # Killed on purpose later: no job report from the shell.
  disown $!
  echo "$port" >"$W/$name.port"
  echo "$mport" >"$W/$name.mport"
  local i
  for i in $(seq 1 300); do
    curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return 0
    kill -0 "$(cat "$W/pids/$name")" 2>/dev/null || break
    sleep 0.2
  done
  echo "node $name ($role) did not start:"; tail -n 30 "$W/$name.log"
  return 1
}
url() { echo "http://127.0.0.1:$(cat "$W/$1.port")"; }

# The counters a node's /metrics shows, summed over labels: "name value" lines.
scrape() {
  curl -fs "http://127.0.0.1:$(cat "$W/$1.mport")/metrics" 2>/dev/null \
    | awk '/^hybridpost_[a-z_]*_total/ { sub(/\{.*\}/, "", $1); sum[$1] += $2 } END { for (k in sum) print k, sum[k] }' \
    | sort >"$W/$1.metrics" || true
}
# A gauge of a node now, as a whole number; 0 when the node does not answer or never set it.
gauge() {
  local v
  v=$(curl -fs "http://127.0.0.1:$(cat "$W/$1.mport")/metrics" 2>/dev/null \
    | awk -v k="hybridpost_$2" '$1 == k { printf "%d\n", $2 }' | head -n 1)
  echo "${v:-0}"
}
# A counter of a node's last scrape; 0 when it never counted (a counter appears on its first use).
metric() {
  local v
  v=$(awk -v k="hybridpost_$2" '$1 == k { print $2 }' "$W/$1.metrics" 2>/dev/null | head -n 1)
  echo "${v:-0}"
}

say "starting the nodes"
start_node verify verify
PUBLIC_URL=$(url verify)
export PUBLIC_URL
for n in gateway-1:gateway gateway-2:gateway printroom:printroom intake-1:intake intake-2:intake \
  notifier:notifier console:console; do
  start_node "${n%%:*}" "${n##*:}"
done
for n in verify gateway-1 gateway-2 printroom intake-1 intake-2 notifier console; do
  printf '  %-10s %s  (pid %s)\n' "$n" "$(url "$n")" "$(cat "$W/pids/$n")"
done

# The killer: the print room while a batch renders, then an intake node while it decodes a file.
killer() {
  local batch
  until batch=$(sql "select batch_id from print_batch where status = 'rendering' limit 1") && [ -n "$batch" ]; do
    sleep 0.05
  done
  scrape printroom
  kill -9 "$(cat "$W/pids/printroom")"
  note "kill -9 printroom (pid $(cat "$W/pids/printroom")) while it rendered batch $batch"
  mv "$W/printroom.metrics" "$W/printroom-killed.metrics" 2>/dev/null || true
  start_node printroom-2 printroom "$(cat "$W/printroom.port")"
  note "printroom-2 started on the same port (pid $(cat "$W/pids/printroom-2")); batch $batch is rendered again once its lease ends"

  # intake-2 holds a claim: its gauge counts the files it is decoding now.
  local own decoding pending
  until own=$(gauge intake-2 scan_files_decoding) && [ "$own" -ge 1 ]; do
    sleep 0.02
  done
  scrape intake-2
  kill -9 "$(cat "$W/pids/intake-2")"
  decoding=$(sql "select count(*) from scan_file where status = 'decoding'")
  pending=$(sql "select count(*) from scan_file where status = 'pending'")
  note "kill -9 intake-2 (pid $(cat "$W/pids/intake-2")) while it decoded $own file(s); $decoding files claimed in all, $pending waiting"
  mv "$W/intake-2.metrics" "$W/intake-2-killed.metrics" 2>/dev/null || true
  start_node intake-2b intake "$(cat "$W/intake-2.port")"
  note "intake-2b started on the same port (pid $(cat "$W/pids/intake-2b")); the file's claim runs out and another node decodes it"
}
killer &
KILLER=$!

say "the demo, $LETTERS letters, against the nodes"
started=$(date +%s.%N)
set +e
HYBRIDPOST_DATA_DIR="$W/demo" "$BIN" demo --letters "$LETTERS" --json \
  --gateway-url "$(url gateway-1),$(url gateway-2)" --printroom-url "$(url printroom)" \
  --intake-url "$(url intake-1),$(url intake-2)" >"$W/multinode.json" 2>"$W/multinode.err"
demo_status=$?
set -e
multinode_secs=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
kill_status=0
if kill -0 "$KILLER" 2>/dev/null; then
  kill "$KILLER" 2>/dev/null || true
  note "the demo ended before both kills happened"
  kill_status=1
fi
wait "$KILLER" 2>/dev/null || true

say "what each node did"
for n in gateway-1 gateway-2 printroom-killed printroom-2 intake-1 intake-2-killed intake-2b notifier verify console; do
  case $n in *-killed) ;; *) [ -f "$W/pids/$n" ] && scrape "$n" ;; esac
done
printf '  %-17s %s\n' \
  gateway-1 "$(metric gateway-1 letters_accepted_total) letters accepted" \
  gateway-2 "$(metric gateway-2 letters_accepted_total) letters accepted" \
  "printroom (killed)" "$(metric printroom-killed print_pages_rendered_total) pages rendered before the kill" \
  printroom-2 "$(metric printroom-2 print_pages_rendered_total) pages rendered, $(metric printroom-2 print_batches_closed_total) batches closed" \
  intake-1 "$(metric intake-1 scan_pages_total) pages decoded, $(metric intake-1 scan_replies_total) replies" \
  "intake-2 (killed)" "$(metric intake-2-killed scan_pages_total) pages decoded before the kill" \
  intake-2b "$(metric intake-2b scan_pages_total) pages decoded, $(metric intake-2b scan_replies_total) replies" \
  notifier "$(metric notifier notifications_sent_total) notifications sent" \
  verify "$(metric verify http_requests_total) requests" \
  console "$(metric console http_requests_total) requests"
say "kills and replacements"
cat "$W/events"

say "the database, read directly"
twice_batched=$(sql "select count(*) from (select letter_id from print_batch_letter group by letter_id having count(*) > 1) t")
twice_paged=$(sql "select count(*) from (select scan_id, file_index, page_number from scan_page group by 1, 2, 3 having count(*) > 1) t")
twice_replied=$(sql "select count(*) from (select letter_id from reply group by letter_id having count(*) > 1) t")
files_left=$(sql "select count(*) from scan_file where status not in ('done', 'failed')")
echo "  letters in two print batches: $twice_batched"
echo "  pages stored twice:           $twice_paged"
echo "  letters replied to twice:     $twice_replied"
echo "  scanned files not finished:   $files_left"
db_kib=$(( $(sql "select pg_database_size(current_database())") / 1024 ))
bucket_kib=$(du -sk "$S3_DIR/data" | cut -f1)
echo "  database size:                $db_kib KiB ($(( db_kib / LETTERS )) KiB a letter, with indexes and the empty schema)"
echo "  object store on disk:         $bucket_kib KiB ($(( bucket_kib / LETTERS )) KiB a letter: batch PDFs, scans, page images, reply PDFs)"

say "the same demo in one process (a fresh database on the same PostgreSQL, the same bucket)"
sql "create database single"
started=$(date +%s.%N)
env -u HYBRIDPOST_SCAN_WORKERS HYBRIDPOST_DATABASE_URL="${PG_URL%/*}/single" HYBRIDPOST_S3_PREFIX=single \
  HYBRIDPOST_DATABASE_MAX_CONNECTIONS=16 HYBRIDPOST_DATA_DIR="$W/single" \
  "$BIN" demo --letters "$LETTERS" --json >"$W/single.json" 2>"$W/single.err" || true
single_secs=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")

python3 - "$W/multinode.json" "$W/single.json" "$multinode_secs" "$single_secs" "$LETTERS" <<'PY'
import json, sys
multi_path, single_path, multi_secs, single_secs, letters = sys.argv[1:]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:
        return {"problems": [f"no summary: {e}"], "stages": []}
multi, single = load(multi_path), load(single_path)
print()
print(f"{'':24}{'many nodes':>14}{'one process':>14}")
print(f"{'letters':24}{letters:>14}{letters:>14}")
stages = [s["stage"] for s in multi.get("stages", [])]
def secs(summary, name):
    for s in summary.get("stages", []):
        if s["stage"] == name:
            return f"{s['seconds']:.1f} s"
    return "-"
for name in stages:
    print(f"{'  ' + name:24}{secs(multi, name):>14}{secs(single, name):>14}")
print(f"{'whole run':24}{multi_secs + ' s':>14}{single_secs + ' s':>14}")
rate = lambda n, t: f"{int(n) / float(t):.0f}/s" if float(t) > 0 else "-"
print(f"{'letters per second':24}{rate(letters, multi_secs):>14}{rate(letters, single_secs):>14}")
print(f"{'problems':24}{len(multi.get('problems', [])):>14}{len(single.get('problems', [])):>14}")
for p in multi.get("problems", []):
    print("  many nodes:", p)
for p in single.get("problems", []):
    print("  one process:", p)
PY

ok=0
[ "$demo_status" -eq 0 ] || { echo "the demo against the nodes failed:"; tail -n 20 "$W/multinode.err"; ok=1; }
python3 -c "import json,sys; d=json.load(open('$W/multinode.json')); sys.exit(1 if d['problems'] else 0)" 2>/dev/null \
  || { echo "the demo's check found problems against the nodes"; ok=1; }
[ "$kill_status" -eq 0 ] || ok=1
[ "$twice_batched" -eq 0 ] && [ "$twice_paged" -eq 0 ] && [ "$twice_replied" -eq 0 ] && [ "$files_left" -eq 0 ] || ok=1
if [ "$ok" -eq 0 ]; then
  say "many nodes: every check passed"
else
  say "many nodes: FAILED (node logs follow)"
  for f in "$W"/*.log; do echo "--- $f"; tail -n 15 "$f"; done
fi
exit "$ok"
