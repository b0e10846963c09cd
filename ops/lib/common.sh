# Shared helpers for ops/ scripts: package installs and a throwaway PostgreSQL cluster.
# Source it; it defines functions only.

say() { printf '\n== %s\n' "$*"; }

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
