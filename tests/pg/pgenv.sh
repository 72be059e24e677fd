# pgenv.sh - sourced by the PostgreSQL proxy tests: a real PostgreSQL server in a
# temp dir (as an unprivileged user when run as root), a real countersign gateway
# with the test policy below, and `countersign pg-proxy` between them. Everything
# is stopped and removed on exit.
#
# Usage: . pgenv.sh BINARY; pgenv_start; ... ; (cleanup runs from the EXIT trap)
set -euo pipefail

CS_BIN=${1:?usage: test BINARY}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PATH="$PGBIN:$PATH"
T=$(mktemp -d /tmp/cs-pgtest-XXXXXX)
chmod 755 "$T"
PIDS=()
FAILS=0

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Runs a command as the database owner (nobody when we are root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

pgenv_cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ -f "$T/pgdata/postmaster.pid" ]; then as_pg pg_ctl -D "$T/pgdata" -m immediate stop >/dev/null 2>&1; fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap pgenv_cleanup EXIT
trap 'exit 143' TERM # a killed test (ctest timeout) still stops its servers
trap 'exit 130' INT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
check() { # check NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
contains() { # contains NAME NEEDLE HAYSTACK
  case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: [$2] not in [$3]" ;; esac
}
# Stops the proxy with SIGTERM (a clean shutdown frees everything, so sanitizer
# builds report leaks) and fails on anything a sanitizer printed.
proxy_stop_checked() {
  [ -n "${PXPID:-}" ] || return 0
  kill "$PXPID" 2>/dev/null || true
  local rc=0
  wait "$PXPID" 2>/dev/null || rc=$?
  [ "$rc" -eq 0 ] || fail "pg-proxy exited with $rc on SIGTERM"
  if grep -qE "AddressSanitizer|LeakSanitizer|runtime error" "$T/proxy.log"; then fail "sanitizer report in proxy.log"; fi
  PXPID=""
}

finish() {
  proxy_stop_checked
  if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS check(s) failed" >&2
    for f in "$T"/*.log "$T"/pglog/*.log; do echo "== $f" >&2; tail -n 30 "$f" >&2; done
    exit 1
  fi
  echo "all checks passed"
}

# PostgreSQL with trust for local tests, md5 and SCRAM users over TCP.
pg_start() {
  PGPORT=$(free_port)
  mkdir -p "$T/pgdata" "$T/sock" "$T/pglog"
  if [ "$(id -u)" -eq 0 ]; then chown nobody "$T/pgdata" "$T/sock" "$T/pglog"; fi
  as_pg initdb -D "$T/pgdata" -U postgres -A trust --no-sync >"$T/initdb.log" 2>&1
  cat >"$T/pgdata/pg_hba.conf" <<EOF
local all all trust
host all md5user 127.0.0.1/32 md5
host all scramuser 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
EOF
  as_pg pg_ctl -D "$T/pgdata" -l "$T/pglog/pg.log" -w -t 60 \
    -o "-p $PGPORT -k $T/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60" start >/dev/null
  psql_direct -q -c "CREATE DATABASE appdb" postgres
  psql_direct -q appdb <<'EOF'
CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance int);
INSERT INTO accounts SELECT g, 'owner' || g, g * 10 FROM generate_series(1, 100) g;
CREATE TABLE audit_notes (id serial PRIMARY KEY, note text);
CREATE TABLE scratch (id int);
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5pass';
SET password_encryption = 'scram-sha-256';
CREATE ROLE scramuser LOGIN PASSWORD 'scrampass';
GRANT ALL ON ALL TABLES IN SCHEMA public TO md5user, scramuser;
EOF
}

psql_direct() { psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres "$@"; }

# The test policy: reads and routine writes pass, copies out of prod need two
# DBAs, deletes need one, DROP and unqualified DELETE are forbidden.
write_policy() {
  cat >"$1" <<'EOF'
@id("pg-routine")
permit (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.source == "pg" && ["select", "insert", "update", "other"].contains(context.statement) };

@id("pg-create") permit (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.statement == "ddl" && context.text like "*CREATE*" };

@id("pg-copy-out") @approval("dba") @quorum("2") @reason("Copying prod data out needs two DBAs")
permit (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.statement == "copy_to" };

@id("pg-copy-in") permit (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.statement == "copy_from" };

@id("pg-delete-needs-dba") @approval("dba") @reason("Deletes in prod need a DBA")
permit (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.statement == "delete" && context.has_where };

@id("pg-truncate-expires") @approval("dba") @timeout("1s")
permit (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.statement == "truncate" };

@id("pg-no-drop") @reason("DROP is not allowed in prod")
forbid (principal, action == Action::"sql.execute", resource in Resource::"pg/prod")
when { context.statement == "ddl" && (context.text like "*DROP*" || context.text like "*drop*") };
EOF
}

gw_start() {
  local out
  out=$("$CS_BIN" init --dir "$T/gw" --json)
  TOKENS=$(printf '%s' "$out" | python3 -c 'import json,sys; t=json.load(sys.stdin)["tokens"]; print(" ".join(k+"="+v for k,v in t.items()))')
  write_policy "$T/gw/policy/demo.cedar"
  GWPORT=$(free_port)
  export COUNTERSIGN_URL="http://127.0.0.1:$GWPORT"
  "$CS_BIN" serve --config "$T/gw/countersign.yaml" --listen "127.0.0.1:$GWPORT" >"$T/gateway.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do
    curl -fs "$COUNTERSIGN_URL/healthz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "gateway did not start" >&2
  cat "$T/gateway.log" >&2
  exit 1
}

token() { # token NAME
  local kv
  for kv in $TOKENS; do [ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return 0; }; done
  return 1
}

# proxy_start [extra args...]: pg-proxy as demo-agent in front of the server.
proxy_start() {
  PXPORT=$(free_port)
  COUNTERSIGN_TOKEN=$(token demo-agent) "$CS_BIN" pg-proxy --listen "127.0.0.1:$PXPORT" \
    --upstream "127.0.0.1:$PGPORT" --name prod "$@" >"$T/proxy.log" 2>&1 &
  PXPID=$!
  PIDS+=($PXPID)
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PXPORT") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "proxy did not start" >&2
  cat "$T/proxy.log" >&2
  exit 1
}

# psql through the proxy as postgres (trust) on appdb.
psql_px() { psql -X -h 127.0.0.1 -p "$PXPORT" -U postgres "$@"; }

api() { # api METHOD PATH WHO [BODY]
  local args=(-s -X "$1" -H "Authorization: Bearer $(token "$3")" "$COUNTERSIGN_URL$2")
  if [ $# -ge 4 ]; then args+=(-H 'Content-Type: application/json' -d "$4"); fi
  curl "${args[@]}"
}

jget() { python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$1"; }

# Waits until exactly one action with this status exists whose context.statement
# is KIND, and prints its id.
wait_action() { # wait_action STATUS KIND
  for _ in $(seq 1 400); do
    local id
    id=$(api GET "/v1/actions?status=$1&limit=50" admin | python3 -c 'import json,sys
a=[x for x in json.load(sys.stdin).get("items",[]) if x.get("context",{}).get("statement")==sys.argv[1]]
print(a[0]["id"] if a else "")' "$2")
    if [ -n "$id" ]; then echo "$id"; return 0; fi
    sleep 0.05
  done
  return 1
}

# Waits (bounded) for an action to reach a status; prints the status it has.
wait_status() { # wait_status ID STATUS
  local st=""
  for _ in $(seq 1 200); do
    st=$(api GET "/v1/actions/$1" admin | jget status)
    [ "$st" = "$2" ] && break
    sleep 0.05
  done
  echo "$st"
}

# Number of actions whose statement text starts with PREFIX (newest 500).
count_actions() { # count_actions PREFIX
  api GET "/v1/actions?limit=500" admin | python3 -c 'import json,sys
print(sum(1 for x in json.load(sys.stdin).get("items",[]) if x.get("context",{}).get("text","").startswith(sys.argv[1])))' "$1"
}
