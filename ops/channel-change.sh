#!/usr/bin/env bash
# The change of a citizen's delivery channel, end to end, on a throwaway data dir: a letter is
# printed, its PIN read from the print batch (as from the paper), e-mail delivery asked for on
# the verification API, the link from the .eml confirmed with its button, and the confirmation
# letter that this posts is printed in the next batch and drawn as PNG pages.
#
# Usage: ops/channel-change.sh [OUT_DIR]   (needs curl, poppler-utils, qpdf, python3; builds
#        the debug binary unless BIN names one)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-channel-change-out}
mkdir -p "$out"
bin=${BIN:-}
if [ -z "$bin" ]; then
  cargo build -q -p hybridpost
  bin=${CARGO_TARGET_DIR:-target}/debug/hybridpost
fi
work=$(mktemp -d /tmp/hybridpost-channel.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
export HYBRIDPOST_DATA_DIR=$work/data
"$bin" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
key=$("$bin" admin create-agency --name "สำนักงานเขตพญาไท" --contact-email saraban@example.go.th | json '["api_key"]')
site=$("$bin" admin create-site --name "ปณ. สามเสนใน" --postcode-prefixes 10,11 | json '["api_key"]')

batch_pdf() { # closes a batch of the site, waits for it, writes it to $1
  local id
  id=$(curl -sf -X POST "$url/v1/print/batches" -H "Authorization: Bearer $site" | json '["batch_id"]')
  for _ in $(seq 100); do
    [ "$(curl -sf "$url/v1/print/batches/$id" -H "Authorization: Bearer $site" | json '["status"]')" = ready ] && break
    sleep 0.2
  done
  curl -sf "$url/v1/print/batches/$id/pdf" -H "Authorization: Bearer $site" -o "$1"
  qpdf --check "$1" >/dev/null
}

letter=$(curl -sf -X POST "$url/v1/letters" -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  --data @fixtures/letters/official.json)
letter_id=$(echo "$letter" | json '["letter_id"]')
reference=$(echo "$letter" | json '["seal_reference"]')
curl -sf "$url/v1/letters/$letter_id/pdf" -H "Authorization: Bearer $key" -o "$out/proof.pdf"
echo "proof (agency):  $(pdftotext "$out/proof.pdf" - | grep -F 'XXXX XXXX')"
batch_pdf "$work/batch1.pdf"
pin=$(pdftotext "$work/batch1.pdf" - | sed -n 's/^รหัสเปิดอ่านฉบับดิจิทัล: *\([0-9]\{8\}\)$/\1/p' | head -n 1)
echo "printed letter:  PIN $pin"

curl -sf -X POST "$url/v1/public/seals/$reference/opt-in" -H "Content-Type: application/json" \
  -d "{\"pin\": \"$pin\", \"email\": \"somchai.j@example.co.th\"}" >/dev/null
token=$(python3 - "$HYBRIDPOST_DATA_DIR/outbox" <<'EOF'
import email, glob, re, sys
path = glob.glob(sys.argv[1] + "/optin-*.eml")[0]
for part in email.message_from_file(open(path)).walk():
    if part.get_content_type() == "text/plain":
        print(re.search(r"token=([A-Za-z0-9_-]+)", part.get_payload(decode=True).decode()).group(1))
EOF
)
curl -sf "$url/v/confirm?token=$token" | grep -o 'data-confirmation="[a-z]*"' | sed 's/^/link opened:     /'
curl -sf -X POST "$url/v/confirm" -d "token=$token" | grep -o 'data-confirmation="[a-z]*"' | sed 's/^/button pressed:  /'
echo "timeline:        $(curl -sf "$url/v1/letters/$letter_id" -H "Authorization: Bearer $key" \
  | python3 -c 'import json,sys; print(" → ".join(e["kind"] for e in json.load(sys.stdin)["timeline"]))')"

batch_pdf "$out/confirmation-batch.pdf"
pdftoppm -png -r 100 -f 3 "$out/confirmation-batch.pdf" "$out/confirmation-letter"
code=$(pdftotext "$out/confirmation-batch.pdf" - | sed -n 's/.*(stop code): *\([A-Z2-7-]\{19\}\).*/\1/p' | head -n 1)
echo "stop code read from the printed confirmation letter: $code"
curl -sf -X POST "$url/v/keep-paper" -d "code=$code" | grep -o 'data-confirmation="[a-z]*"' | sed 's/^/code typed:      /'
echo "timeline:        $(curl -sf "$url/v1/letters/$letter_id" -H "Authorization: Bearer $key" \
  | python3 -c 'import json,sys; print(" → ".join(e["kind"] for e in json.load(sys.stdin)["timeline"]))')"
ls "$out"
