# Shared by the shell-driven tests (tests/freeze/, tests/exec/): a real daemon on a
# free port, demo tokens, and small helpers over curl, the CLI and the SQLite store.
set -u
bin=$1
tmp=$(mktemp -d)
passes=0 fails=0
pass() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then pass; else fail "$what"; fi
}
cleanup() {
  [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
  [ -n "${hook:-}" ] && kill "$hook" 2>/dev/null && wait "$hook" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
export COUNTERSIGN_URL="http://127.0.0.1:$port"
"$bin" init --dir "$tmp/data" --json > "$tmp/init.json" || { echo "init failed"; exit 1; }
cfg=$tmp/data/countersign.yaml
db=$tmp/data/countersign.db

start() {
  "$bin" serve --config "$cfg" --listen "127.0.0.1:$port" 2>> "$tmp/serve.log" &
  srv=$!
  for _ in $(seq 100); do curl -sf "$COUNTERSIGN_URL/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "daemon did not start"; cat "$tmp/serve.log"; exit 1
}
stop() {
  if ! kill "$srv" 2>/dev/null; then
    wait "$srv"
    fail "the daemon had exited by itself (status $?); its log:"
    tail -40 "$tmp/serve.log"
  fi
  wait "$srv" 2>/dev/null; srv=
}
tok() { python3 -c "import json,sys; print(json.load(open('$tmp/init.json'))['tokens']['$1'])"; }
ADMIN=$(tok admin) ALICE=$(tok alice) AGENT=$(tok demo-agent) BOB=$(tok bob) CAROL=$(tok carol)

# api TOKEN METHOD PATH [JSON] -> prints "STATUS BODY"
api() {
  local t=$1 m=$2 p=$3 body=${4:-}
  if [ -n "$body" ]; then
    curl -s -w '\n%{http_code}' -X "$m" -H "Authorization: Bearer $t" -H 'Content-Type: application/json' -d "$body" "$COUNTERSIGN_URL$p"
  else
    curl -s -w '\n%{http_code}' -X "$m" -H "Authorization: Bearer $t" "$COUNTERSIGN_URL$p"
  fi | python3 -c 'import sys; d=sys.stdin.read().rsplit("\n",1); print(d[1], d[0])'
}
# j 'EXPR' reads "STATUS BODY" on stdin; d is the body, s the status
j() { python3 -c "import json,sys; line=sys.stdin.read(); s,_,b=line.partition(' '); s=int(s); d=json.loads(b) if b.strip() else None; print($1)"; }
new_agent() { # name -> token
  api "$ADMIN" POST /v1/tokens "{\"kind\":\"agent\",\"name\":\"$1\",\"owner\":\"alice\"}" | j 'd["token"]'
}
submit() { # token action resource [extra JSON fields] -> "STATUS BODY"
  api "$1" POST /v1/actions "{\"action\":\"$2\",\"resource\":\"$3\"${4:+,$4}}"
}
sql() { sqlite3 -cmd ".timeout 5000" "$db" "$1"; }
finish() {
  if [ -n "${srv:-}" ] && ! kill -0 "$srv" 2>/dev/null; then
    wait "$srv"; srv_died="status $?"; srv=
  fi
  [ -n "${srv:-}" ] && stop
  # Under -DCS_SANITIZE=ON the daemon reports leaks and errors as it exits.
  if grep -q 'Sanitizer' "$tmp/serve.log"; then fail "sanitizer report:"; grep -A30 Sanitizer "$tmp/serve.log" | head -60; fi
  # A failure shows what the daemon said, and whether it was still running.
  if [ "$fails" != 0 ]; then
    [ -n "${srv_died:-}" ] && echo "the daemon had exited: $srv_died"
    echo "--- daemon log (last 40 lines)"; tail -40 "$tmp/serve.log"
  fi
  echo "$passes passed, $fails failed"
  [ "$fails" = 0 ]
}
