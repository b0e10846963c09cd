#!/usr/bin/env bash
# Runs every check and test of hybridpost on a Debian machine, installing and starting what
# the suite needs: format check, clippy (warnings are errors), rustdoc, then the whole test
# suite twice, once on SQLite and once on a throwaway PostgreSQL cluster that this script
# starts and always stops.
#
# Usage: ops/test.sh            (as root, or as a user with sudo, for the package installs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n== %s\n' "$*"; }

# --- Debian packages ---------------------------------------------------------------------
packages=(postgresql postgresql-client poppler-utils qpdf curl ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "ops/test.sh: cargo is not installed (https://rustup.rs)"; exit 1; }

# --- a throwaway PostgreSQL cluster ------------------------------------------------------
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pg_dir=$(mktemp -d /tmp/hybridpost-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  # initdb refuses to run as root: the cluster belongs to the postgres user.
  chown postgres:postgres "$pg_dir"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT
say "starting PostgreSQL on 127.0.0.1:$pg_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log"; exit 1; }
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300" start >/dev/null \
  || { cat "$pg_dir/server.log"; exit 1; }
"${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres hybridpost_test
pg_url="postgres://postgres@127.0.0.1:$pg_port/hybridpost_test"

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
  local name=$1 url=$2
  say "tests on $name"
  HYBRIDPOST_TEST_DATABASE_URL="$url" cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log_dir/$name.log"
  return "${PIPESTATUS[0]}"
}
status=0
run_suite sqlite "" || status=1
run_suite postgresql "$pg_url" || status=1

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
