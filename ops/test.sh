#!/usr/bin/env bash
# Runs every check and test of hybridpost on a Debian machine, installing and starting what
# the suite needs: format check, clippy (warnings are errors), rustdoc, then the whole test
# suite on SQLite with blobs in local folders, and the tests of every package that uses the
# database again on a throwaway PostgreSQL cluster with blobs in a real S3-compatible server
# (SeaweedFS), as a deployment on many nodes runs; this script starts both and always stops them.
# (Packages that never touch the database — typesetting, seals, PDF checks — would only repeat
# themselves.) The blob storage tests run on a folder and on S3 in both runs.
#
# Usage: ops/test.sh            (as root, or as a user with sudo, for the package installs)
set -euo pipefail
cd "$(dirname "$0")/.."

. ops/lib/common.sh

# --- Debian packages and a throwaway PostgreSQL cluster -----------------------------------
ensure_packages postgresql postgresql-client poppler-utils qpdf zbar-tools libtiff-tools curl ca-certificates python3
# MuPDF and pdf.js, besides poppler: a letter's Thai text must read back in every viewer.
ensure_packages mupdf-tools
# A real browser for the verification page's and the console's tests (the console's driven
# through WebDriver), with Thai and Latin fonts to draw it, and axe-core to check each page;
# a real OpenID Connect provider for the console's single sign-on.
ensure_packages chromium chromium-driver fonts-tlwg-laksaman-ttf fonts-dejavu-core
ensure_python_venv
ensure_axe
ensure_oidc_provider
ensure_pdfjs
ensure_seaweedfs
command -v cargo >/dev/null || { echo "ops/test.sh: cargo is not installed (https://rustup.rs)"; exit 1; }
# Durability does not matter for a cluster that lives for one run.
PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off"
trap 'pg_stop; s3_stop' EXIT
pg_start
s3_start
export HYBRIDPOST_TEST_S3_URL="$S3_URL"

# --- checks ------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

# --- tests, once per database ------------------------------------------------------------
log_dir=$(mktemp -d /tmp/hybridpost-test.XXXXXX)
run_suite() {
  local name=$1 url=$2; shift 2
  say "$name"
  HYBRIDPOST_TEST_DATABASE_URL="$url" cargo test "$@" --locked --no-fail-fast 2>&1 | tee "$log_dir/${name// /-}.log"
  return "${PIPESTATUS[0]}"
}
# The workspace packages that depend, directly or not, on hybridpost-store.
db_packages() {
  cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys
packages = {p["name"]: {d["name"] for d in p["dependencies"]} for p in json.load(sys.stdin)["packages"]}
uses = {"hybridpost-store"}
changed = True
while changed:
    changed = False
    for name, deps in packages.items():
        if name not in uses and deps & uses:
            uses.add(name); changed = True
print(" ".join("-p " + n for n in sorted(uses)))'
}
status=0
# Libraries, binaries and tests; examples are benchmarks and tools, checked by clippy above and
# not built again here; the documentation's examples run once, apart (they use no database).
run_suite "tests on sqlite" "" --workspace --lib --bins --tests || status=1
run_suite "documentation examples" "" --workspace --doc || status=1
# shellcheck disable=SC2046 # one word per -p flag and package name
HYBRIDPOST_TEST_BLOBS=s3 run_suite "tests on postgresql, blobs in S3" "$PG_URL" $(db_packages) --lib --bins --tests \
  || status=1

# --- many nodes --------------------------------------------------------------------------
# Eight nodes on their own PostgreSQL and S3, two of them killed mid-work; the debug binary the
# tests above built, and a small run: the point is that nothing is lost, not the speed.
say "many nodes (ops/multinode.sh)"
HYBRIDPOST_BIN="${CARGO_TARGET_DIR:-target}/debug/hybridpost" ops/multinode.sh 300 || status=1

# --- summary -----------------------------------------------------------------------------
passed=0; failed=0; ignored=0
for f in "$log_dir"/*.log; do
  while read -r p fl ig; do
    passed=$((passed + p)); failed=$((failed + fl)); ignored=$((ignored + ig))
  done < <(sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$f")
done
rm -rf "$log_dir"
say "both databases"
echo "$passed passed, $failed failed, $ignored skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
