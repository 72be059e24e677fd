#!/usr/bin/env bash
# Cross-checks a real daemon's audit log with Go's golang.org/x/mod/sumdb/{note,tlog}:
# starts `countersign serve` on a free port in a temporary directory, makes a log that
# crosses the first tile boundary (sizes around 256), mirrors it with `audit export-tiles`,
# fetches inclusion and consistency proofs, and runs xcheck_daemon.go over all of it.
# Usage: run_daemon_xcheck.sh PATH/TO/countersign
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v go >/dev/null || { echo "run_daemon_xcheck: go is not installed" >&2; exit 1; }
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -z "${KEEP:-}" ]; then chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
mkdir -p "$work/x/proofs" "$work/x/consistency" "$work/gocache" "$work/tmp"
"$bin" init --dir "$work/d" --json >"$work/init.json"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
"$bin" serve --config "$work/d/countersign.yaml" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
tok() { python3 -c "import json,sys; print(json.load(open('$work/init.json'))['tokens'][sys.argv[1]])" "$1"; }
agent=$(tok demo-agent)
export COUNTERSIGN_URL=$url COUNTERSIGN_TOKEN=$(tok alice)
size() { curl -sf "$url/v1/audit/checkpoint" | sed -n 2p; }
submit() {
  curl -sf -o /dev/null -H "Authorization: Bearer $agent" -H 'Content-Type: application/json' \
    -d '{"action":"db.read","resource":"prod/db/x"}' "$url/v1/actions"
}
save_old() { curl -sf "$url/v1/audit/checkpoint" >"$work/x/consistency/old-$(size).note"; }
save_old
while [ "$(size)" -lt 250 ]; do submit; done
for _ in 1 2 3 4 5 6 7 8; do submit; save_old; done # sizes around 256
for _ in $(seq 40); do submit; done
"$bin" audit export-tiles "$work/x/log" >/dev/null
n=$(size)
for i in 0 1 2 127 254 255 256 257 $((n / 2)) $((n - 1)); do
  curl -sf -H "Authorization: Bearer $COUNTERSIGN_TOKEN" "$url/v1/audit/proof/$i" >"$work/x/proofs/$i.json"
done
for f in "$work"/x/consistency/old-*.note; do
  from=$(sed -n 2p "$f")
  curl -sf -H "Authorization: Bearer $COUNTERSIGN_TOKEN" "$url/v1/audit/consistency?from=$from" >"${f%.note}.json"
done
cp "$here/xcheck_daemon.go" "$work/xcheck_daemon.go"
env GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/gocache" TMPDIR="$work/tmp" \
  GOFLAGS= GOTOOLCHAIN=local HOME="$work" go run "$work/xcheck_daemon.go" "$work/x"
