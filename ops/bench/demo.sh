#!/usr/bin/env bash
# The whole loop as a benchmark: `hybridpost demo --letters N --json` on SQLite (a fresh data
# folder) and on PostgreSQL (a throwaway cluster), each under /usr/bin/time for the peak memory
# of the process and its largest child (pdftoppm, qpdf). Prints the summaries and writes wall
# time per stage, total, peak memory and the counts to ops/bench/out/demo.json. Exits non-zero
# when a demo's check finds a count that is off.
#
# Usage: ops/bench/demo.sh [--letters N] [--only sqlite|postgresql]
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/lib/common.sh

letters=10000
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --letters) letters=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: ops/bench/demo.sh [--letters N] [--only sqlite|postgresql]"; exit 2 ;;
  esac
done

ensure_packages poppler-utils qpdf postgresql postgresql-client python3 time
say "building the release binary"
cargo build --release --locked -p hybridpost
bin=${CARGO_TARGET_DIR:-$(pwd)/target}/release/hybridpost
work=$(mktemp -d /tmp/hybridpost-bench-demo.XXXXXX)
cleanup() {
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p ops/bench/out

# run_one NAME: runs the demo on the database in the environment; leaves NAME.json (the
# summary) and NAME.time (/usr/bin/time -v) in $work.
run_one() {
  local name=$1 status=0
  say "demo, $letters letters, on $name"
  /usr/bin/time -v -o "$work/$name.time" "$bin" --data-dir "$work/$name" demo --letters "$letters" --json \
    >"$work/$name.json" || status=$?
  python3 - "$work/$name.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
for t in s["stages"]:
    print(f"  {t['stage']:<9} {t['seconds']:7.1f} s  {t['what']}")
print(f"  total     {s['total_seconds']:7.1f} s, peak memory {s['peak_rss_mib']:.0f} MiB, {len(s['problems'])} problems")
for p in s["problems"][:20]:
    print(f"  problem: {p}")
EOF
  return $status
}

failed=0
if [ "$only" != postgresql ]; then
  run_one sqlite || failed=1
fi
if [ "$only" != sqlite ]; then
  pg_start
  HYBRIDPOST_DATABASE_URL="$PG_URL" HYBRIDPOST_CITIZEN_ID_KEY=$(printf 'b%.0s' $(seq 1 40)) \
    HYBRIDPOST_SECRET_KEY=$(printf 'c%.0s' $(seq 1 40)) run_one postgresql || failed=1
fi

python3 - "$work" "$letters" "$(nproc)" >ops/bench/out/demo.json <<'EOF'
import json, os, re, sys
work, letters, cores = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
results = []
for name in ("sqlite", "postgresql"):
    path = os.path.join(work, name + ".json")
    if not os.path.exists(path):
        continue
    s = json.load(open(path))
    timed = open(os.path.join(work, name + ".time")).read()
    max_rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timed).group(1))
    results.append({
        "database": name,
        "letters": s["letters"],
        "total_seconds": round(s["total_seconds"], 1),
        "stages_seconds": {t["stage"]: round(t["seconds"], 1) for t in s["stages"]},
        "peak_rss_mib": round(s["peak_rss_mib"]),
        "max_rss_mib_with_children": round(max_rss_kb / 1024),
        "by_channel": s["by_channel"],
        "by_status": s["by_status"],
        "print_pages": s["print"]["pages"],
        "pages_scanned": s["scans"]["pages"],
        "replies": s["replies"],
        "returns": s["returns"],
        "review_pages": s["review"]["pages"],
        "emails_written": s["emails"]["written"],
        "problems": len(s["problems"]),
        "problem_list": s["problems"][:50],
    })
print(json.dumps({"benchmark": "demo", "letters": letters, "machine_cores": cores, "results": results}, indent=2))
EOF
say "written ops/bench/out/demo.json"
cat ops/bench/out/demo.json
exit $failed
