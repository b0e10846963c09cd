#!/usr/bin/env bash
# Every benchmark, and one file of their figures: ops/bench/out/figures.json, with the commit,
# the date and the machine (cores, CPU, memory, load before and after), so that figures can be
# compared from one version to the next. Each benchmark also leaves its own file or log in
# ops/bench/out/.
#
#   POST /v1/letters under load      ops/bench/letters.sh (wrk; SQLite and PostgreSQL)
#   print batch rendering            the hybridpost-render example batch_bench
#   e-mail through the outbox        the hybridpost-notifier example outbox_bench (aiosmtpd;
#                                    SQLite and PostgreSQL)
#   scanned pages                    ops/bench/scan.sh, when there is one
#   the whole loop                   ops/bench/demo.sh (hybridpost demo; SQLite and PostgreSQL)
#   the loop on many nodes           ops/multinode.sh (eight nodes, two killed; beside one process)
#
# Usage: ops/bench/all.sh [--quick]   (--quick: smaller runs, for trying the scripts out)
# Run it on an otherwise idle machine: the figures are wall times on shared cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/lib/common.sh

quick=false
case "${1:-}" in
  --quick) quick=true ;;
  "") ;;
  *) echo "usage: ops/bench/all.sh [--quick]"; exit 2 ;;
esac
if $quick; then
  letters_args=(--seconds 5) batch_letters=1000 outbox_messages=1000 scan_args=(--pages 300) demo_letters=1000
  multinode_letters=500
else
  letters_args=() batch_letters=10000 outbox_messages=5000 scan_args=() demo_letters=10000
  multinode_letters=10000
fi

ensure_packages python3 postgresql postgresql-client
mkdir -p ops/bench/out
out=ops/bench/out
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cleanup() { pg_stop; }
trap cleanup EXIT

say "POST /v1/letters"
ops/bench/letters.sh "${letters_args[@]}"

say "print batch rendering, $batch_letters letters"
cargo run --release --locked -q -p hybridpost-render --example batch_bench -- "$batch_letters" | tee "$out/batch.txt"
cargo run --release --locked -q -p hybridpost-render --example batch_bench -- "$batch_letters" --threads 2 \
  | tee -a "$out/batch.txt"

say "the outbox, $outbox_messages e-mails over 8 connections"
ensure_python_venv
env -u HYBRIDPOST_TEST_DATABASE_URL cargo run --release --locked -q -p hybridpost-notifier --example outbox_bench -- \
  "$outbox_messages" 8 | tee "$out/outbox.txt"
pg_start
HYBRIDPOST_TEST_DATABASE_URL="$PG_URL" cargo run --release --locked -q -p hybridpost-notifier --example outbox_bench -- \
  "$outbox_messages" 8 | tee -a "$out/outbox.txt"
pg_stop

if [ -x ops/bench/scan.sh ]; then
  say "scanned pages"
  ops/bench/scan.sh "${scan_args[@]}"
fi

say "the whole loop, $demo_letters letters"
demo_status=0
ops/bench/demo.sh --letters "$demo_letters" || demo_status=$?

say "the loop on many nodes, $multinode_letters letters"
ops/multinode.sh "$multinode_letters" | tee "$out/multinode.txt" || demo_status=1

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$out" "$started" "$load_before" "$load_after" "$quick" >"$out/figures.json" <<'EOF'
import json, os, re, subprocess, sys
out, started, load_before, load_after, quick = sys.argv[1:6]

def read_json(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None

def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()

batch = []
for line in open(os.path.join(out, "batch.txt")):
    m = re.search(r"(\d+) letters, (\d+) letter pages \((\d+) pages.*?in ([\d.]+) s on (\d+) thread.*?"
                  r"([\d.]+) letter pages/s.*?peak memory (\d+) MB; ([\d.]+) MB", line)
    if m:
        batch.append({"letters": int(m[1]), "letter_pages": int(m[2]), "pdf_pages": int(m[3]),
                      "seconds": float(m[4]), "threads": int(m[5]), "letter_pages_per_second": float(m[6]),
                      "peak_memory_mb": int(m[7]), "pdf_mb": float(m[8])})
outbox = []
for line in open(os.path.join(out, "outbox.txt")):
    m = re.search(r"(\d+) of (\d+) messages delivered in ([\d.]+) s with (\d+) workers.*?\((\w+)\): (\d+) msgs/s", line)
    if m:
        outbox.append({"database": m[5].lower(), "messages": int(m[1]), "seconds": float(m[3]),
                       "connections": int(m[4]), "messages_per_second": int(m[6])})
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "")
mem_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
figures = {
    "commit": git("rev-parse", "HEAD"),
    "commit_subject": git("log", "-1", "--format=%s"),
    "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    "started": started,
    "quick": quick == "true",
    "machine": {"cores": os.cpu_count(), "cpu": cpu, "memory_mib": mem_kb // 1024,
                "load_before": load_before, "load_after": load_after},
    "post_letters": read_json("letters.json"),
    "batch_render": batch,
    "outbox": outbox,
    "scan": read_json("scan.json"),
    "demo": read_json("demo.json"),
}
print(json.dumps(figures, indent=2, ensure_ascii=False))
EOF
say "written $out/figures.json"
cat "$out/figures.json"
exit $demo_status
