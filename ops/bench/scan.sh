#!/usr/bin/env bash
# Benchmark of the scan code finder against zbarimg and zxing-cpp, side by side on the same
# corpora in one run: the scanner corpus's 300 dpi subset, the whole scanner corpus, and a
# corpus of phone photos (perspective, light falling off, motion blur, little light; made by
# `scan_corpus --photos`, 330 pages unless told). For each decoder: pages per
# second on one core (single-threaded) and the share of pages with a code whose expected code
# was decoded. Writes ops/bench/out/scan.json and prints a table.
#
# Usage: ops/bench/scan.sh [--corpus DIR] [--pages N] [--seed S] [--photos N]
#
# The corpus (made by the scan_corpus example, about 1,100 pages unless told) is generated
# into target/scan-corpus if DIR has none. Timing: "decode" columns time decoding only, image
# loading excluded, for our finder and zxing-cpp; "with load" columns include loading the
# file for everybody. zbarimg runs as a process per page (so each page's result is its own),
# which includes process start; a second, batched zbarimg run over the same files gives its
# throughput with one process start. The machine is shared: the load average is recorded.
set -euo pipefail
cd "$(dirname "$0")/../.."
. ops/lib/common.sh

corpus=""
pages=1100
seed=1
photo_pages=330
while [ $# -gt 0 ]; do
  case "$1" in
    --corpus) corpus=$2; shift 2 ;;
    --pages) pages=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --photos) photo_pages=$2; shift 2 ;;
    *) echo "usage: ops/bench/scan.sh [--corpus DIR] [--pages N] [--seed S] [--photos N]"; exit 2 ;;
  esac
done

ensure_packages poppler-utils zbar-tools python3
ensure_python_venv
py=$HYBRIDPOST_TEST_PYTHON
target=${CARGO_TARGET_DIR:-$(pwd)/target}
corpus=${corpus:-$target/scan-corpus}
photos=$corpus-photos

say "building the corpus generator and the evaluation (release)"
cargo build --release --locked -p hybridpost-scan --example scan_corpus --example scan_eval
if [ ! -f "$corpus/expected.jsonl" ]; then
  say "generating the corpus in $corpus"
  "$target/release/examples/scan_corpus" "$corpus" --pages "$pages" --seed "$seed"
fi
if [ ! -f "$photos/expected.jsonl" ]; then
  say "generating the phone photos in $photos"
  "$target/release/examples/scan_corpus" "$photos" --pages "$photo_pages" --seed "$seed" --photos
fi
mkdir -p ops/bench/out
work=$(mktemp -d /tmp/hybridpost-scan-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

load() { uptime | sed 's/.*load average: //'; }

for subset in 300 all photo; do
  dpi_args=() corpus_of_subset=$corpus
  case "$subset" in
    300) dpi_args=(--dpi 300) ;;
    photo) corpus_of_subset=$photos ;;
  esac
  say "subset $subset: hybridpost find_codes (1 thread), load $(load)"
  "$target/release/examples/scan_eval" "$corpus_of_subset" --threads 1 "${dpi_args[@]}" --json "$work/ours-$subset.json" \
    | tee "$work/ours-$subset.txt"
  echo "{\"load_after\": \"$(load)\"}" >"$work/ours-$subset.load"
  say "subset $subset: zxing-cpp, load $(load)"
  "$py" ops/bench/scan_peers.py "$corpus_of_subset" --tool zxing "${dpi_args[@]}" | tee "$work/zxing-$subset.json"
  say "subset $subset: zbarimg per page, load $(load)"
  "$py" ops/bench/scan_peers.py "$corpus_of_subset" --tool zbar "${dpi_args[@]}" | tee "$work/zbar-$subset.json"
  say "subset $subset: zbarimg batched, load $(load)"
  "$py" ops/bench/scan_peers.py "$corpus_of_subset" --tool zbar-batch "${dpi_args[@]}" | tee "$work/zbarb-$subset.json"
done

"$py" - "$work" "$corpus" "$(load)" <<'EOF'
import json, os, sys
work, corpus, load_end = sys.argv[1], sys.argv[2], sys.argv[3]
def read(name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)
out = {"corpus": corpus, "photo_corpus": corpus + "-photos", "load_average_at_end": load_end, "subsets": {}}
rows = []
for subset in ["300", "all", "photo"]:
    ours = read(f"ours-{subset}.json")
    zx = read(f"zxing-{subset}.json")
    zb = read(f"zbar-{subset}.json")
    zbb = read(f"zbarb-{subset}.json")
    d = ours["decoded_share_expected"]
    ours_row = {
        "tool": "hybridpost find_codes (rqrr)",
        "pages": ours["pages"],
        "pages_per_second_per_core": ours["pages_per_second_per_core"],
        "pages_per_second_per_core_with_load": ours["pages_per_second_per_core_with_load"],
        "pages_with_code": d["pages_with_code"],
        "decoded": d["matched"],
        "decoded_share": 100.0 * d["matched"] / max(1, d["pages_with_code"]),
        "wrong": ours["overall"]["wrong"],
        "matched_share_all_pages": ours["matched_share"],
    }
    out["subsets"][subset] = {"hybridpost": ours_row, "zxing-cpp": zx, "zbarimg": zb, "zbarimg_batched": zbb,
                              "hybridpost_eval": ours}
    label = {"300": "300 dpi", "all": "all", "photo": "photos"}[subset]
    for name, r in [("hybridpost find_codes", ours_row), ("zxing-cpp", zx), ("zbarimg (process/page)", zb),
                    ("zbarimg (batched)", zbb)]:
        dec = r.get("pages_per_second_per_core")
        rows.append((label, name, r["pages"], f"{dec:.1f}" if dec else "-",
                     f"{r['pages_per_second_per_core_with_load']:.1f}",
                     f"{r['decoded_share']:.2f}%" if "decoded_share" in r else "-"))
with open("ops/bench/out/scan.json", "w") as f:
    json.dump(out, f, indent=2)
print(f"\n{'subset':<8} {'decoder':<24} {'pages':>6} {'pages/s decode':>15} {'pages/s with load':>18} {'expected code decoded':>22}")
for r in rows:
    print(f"{r[0]:<8} {r[1]:<24} {r[2]:>6} {r[3]:>15} {r[4]:>18} {r[5]:>22}")
print(f"(pages/s per core, single-threaded; load average at end {load_end}); wrote ops/bench/out/scan.json")
EOF
