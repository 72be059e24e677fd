#!/usr/bin/env bash
# RFC 3161 time-stamps of checkpoints: a daemon configured with audit.tsa_url (a local
# TSA run by OpenSSL's `openssl ts -reply`) stamps its checkpoint; the token served at
# GET /v1/audit/timestamp verifies with `openssl ts -verify` against the TSA's
# certificate for that checkpoint, and not for a changed one.
# Usage: run_tsa_test.sh PATH/TO/countersign
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.pem -days 2 \
  -subj /CN=countersign-test-tsa -addext "extendedKeyUsage=critical,timeStamping" 2>/dev/null
echo 01 >serial
cat >tsa.cnf <<CNF
[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = $work/serial
crypto_device = builtin
signer_cert = $work/tsa.pem
certs = $work/tsa.pem
signer_key = $work/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.4146.2.3
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
CNF
python3 "$here/tsa_server.py" "$work/tsa.port" "$work/tsa.cnf" &
pids+=($!)
for _ in $(seq 50); do [ -s tsa.port ] && break; sleep 0.1; done
"$bin" init --dir d --json >init.json
printf '  tsa_url: http://127.0.0.1:%s/\n  tsa_ca_file: %s/tsa.pem\n  tsa_interval: 1s\n' "$(cat tsa.port)" "$work" \
  >>d/countersign.yaml
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$bin" serve --config d/countersign.yaml --listen "127.0.0.1:$port" 2>serve.log &
serve_pid=$!
pids+=($serve_pid)
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
ok=
for _ in $(seq 100); do
  if curl -sf "$url/v1/audit/timestamp" >ts.json; then ok=1; break; fi
  sleep 0.1
done
[ -n "$ok" ] || { echo "no time-stamp after 10 s" >&2; cat serve.log >&2; exit 1; }
python3 - <<'PY'
import base64, json
t = json.load(open("ts.json"))
open("checkpoint", "w").write(t["checkpoint"])
open("checkpoint.tsr", "wb").write(base64.b64decode(t["token"]))
assert t["tree_size"] == int(t["checkpoint"].split("\n")[1]), t
assert t["gen_time"].endswith("Z"), t
PY
openssl ts -verify -data checkpoint -in checkpoint.tsr -CAfile tsa.pem >/dev/null 2>&1 ||
  { echo "openssl ts -verify refused the token" >&2; exit 1; }
sed -i '2s/.*/999/' checkpoint
if openssl ts -verify -data checkpoint -in checkpoint.tsr -CAfile tsa.pem >/dev/null 2>&1; then
  echo "a changed checkpoint verified against the token" >&2
  exit 1
fi
# A reply signed by a TSA the configuration does not trust is not stored.
kill "$serve_pid"
wait "$serve_pid" || { echo "the server did not exit cleanly (sanitizer report?)" >&2; cat serve.log >&2; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out other.pem -days 2 \
  -subj /CN=someone-else 2>/dev/null
sed -i "s|tsa_ca_file: .*|tsa_ca_file: $work/other.pem|" d/countersign.yaml
"$bin" serve --config d/countersign.yaml --listen "127.0.0.1:$port" 2>serve2.log &
pids+=($!)
for _ in $(seq 100); do grep -q "does not verify" serve2.log && break; sleep 0.1; done
grep -q "does not verify" serve2.log || { echo "an untrusted TSA reply was not refused" >&2; cat serve2.log >&2; exit 1; }
curl -sf "$url/v1/audit/timestamp" >ts2.json
cmp -s <(python3 -c 'import json; print(json.load(open("ts.json"))["tree_size"])') \
  <(python3 -c 'import json; print(json.load(open("ts2.json"))["tree_size"])') ||
  { echo "a time-stamp from an untrusted TSA was stored" >&2; exit 1; }
echo "time-stamp of checkpoint $(python3 -c 'import json; print(json.load(open("ts.json"))["tree_size"])') verified with openssl ts -verify"
