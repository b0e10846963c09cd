#!/usr/bin/env bash
# Regenerates crates/core/data/th_postal.tsv from the published npm package
# thai-address-database (pinned version below). See ops/gen-address-table.mjs for the format.
set -euo pipefail
version=0.0.30
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "thai-address-database@$version" >/dev/null && tar xzf thai-address-database-*.tgz)
node "$here/ops/gen-address-table.mjs" "$tmp/package/database/backup/geodb.json" > "$here/crates/core/data/th_postal.tsv"
echo "wrote crates/core/data/th_postal.tsv from thai-address-database@$version ($(($(wc -l < "$here/crates/core/data/th_postal.tsv") - 1)) rows)"
