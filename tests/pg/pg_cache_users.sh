#!/usr/bin/env bash
# pg_cache_users.sh - pg.users maps database users to countersign principals; the
# allowed-decision cache reuses a decision for the same fingerprint and principal
# and forgets it when the policy version changes; --no-cache asks every time.
. "$(dirname "$0")/pgenv.sh" "$1"
pg_start
gw_start
cat >>"$T/gw/countersign.yaml" <<'YAML'
pg:
  users:
    scramuser: PG_SCRAM_TOKEN
    md5user: PG_UNSET_TOKEN
YAML
export PG_SCRAM_TOKEN
PG_SCRAM_TOKEN=$(token bob)
unset PG_UNSET_TOKEN
proxy_start --config "$T/gw/countersign.yaml"
export PGDATABASE=appdb

# A mapped database user acts as its own principal.
PGPASSWORD=scrampass psql -X -At -h 127.0.0.1 -p "$PXPORT" -U scramuser -c "SELECT 321 AS mapped" >/dev/null
mid=$(api GET "/v1/actions?limit=50" admin | python3 -c 'import json,sys
print([x["id"] for x in json.load(sys.stdin)["items"] if x["context"].get("text")=="SELECT 321 AS mapped"][0])')
check "a mapped database user is its own principal" "User bob" \
  "$(api GET "/v1/actions/$mid" admin | jget requester.type) $(api GET "/v1/actions/$mid" admin | jget requester.id)"
check "the context names the database user" scramuser "$(api GET "/v1/actions/$mid" admin | jget context.db_user)"
set +e
out=$(PGPASSWORD=md5pass psql -X -At -h 127.0.0.1 -p "$PXPORT" -U md5user -c "SELECT 1" 2>&1)
set -e
contains "a mapped user whose token variable is empty is refused" "PG_UNSET_TOKEN" "$out"

# Unmapped users act as the proxy's agent; identical fingerprints hit the cache.
q="SELECT balance FROM accounts WHERE id ="
check "first read is decided by the gateway" 10 "$(psql_px -At -c "$q 1")"
check "second read (same fingerprint) answers correctly" 20 "$(psql_px -At -c "$q 2")"
check "the second read was served from the cache (one action for both)" 1 "$(count_actions "$q")"

# Revoking a token stops its cached statements: the gateway's token_epoch (GET
# /readyz) changes, and the proxy empties its cache as for a new policy version.
# (Before any freeze below, so that no other change of epoch empties it meanwhile.)
qs="SELECT count(*) AS revoked FROM accounts WHERE id >"
scram() { PGPASSWORD=scrampass psql -X -At -h 127.0.0.1 -p "$PXPORT" -U scramuser "$@"; }
scram -c "$qs 0" >/dev/null
check "bob's statement comes from the cache the second time" 1 \
  "$(scram -c "$qs 1" >/dev/null; count_actions "$qs")"
api DELETE /v1/tokens/bob admin >/dev/null
revoked_out=""
for _ in $(seq 1 80); do
  set +e
  revoked_out=$(scram -c "$qs 0" 2>&1)
  set -e
  case "$revoked_out" in *ERROR*) break ;; esac
  sleep 0.05
done
contains "after bob's token is revoked his cached statement is refused" "gateway answered 401" "$revoked_out"

# The kill switch stops cached statements too: a freeze changes the gateway's freeze
# epoch (GET /readyz), the proxy's probe sees it within a second and empties the
# cache, and the same fingerprint is asked again, and refused.
qf="SELECT id FROM accounts WHERE balance ="
psql_px -At -c "$qf 10" >/dev/null
check "a second statement of another fingerprint comes from the cache" 1 \
  "$(psql_px -At -c "$qf 20" >/dev/null; count_actions "$qf")"
epoch=$(curl -s "$COUNTERSIGN_URL/readyz" | jget freeze_epoch)
api POST /v1/freeze admin '{"agent":"demo-agent","reason":"cache test"}' >/dev/null
check "a freeze changes the freeze epoch" 1 \
  "$([ "$(curl -s "$COUNTERSIGN_URL/readyz" | jget freeze_epoch)" != "$epoch" ] && echo 1 || echo 0)"
frozen_out=""
for _ in $(seq 1 80); do
  set +e
  frozen_out=$(psql_px -At -c "$qf 10" 2>&1)
  set -e
  case "$frozen_out" in *frozen*) break ;; esac
  sleep 0.05
done
contains "after a freeze the cached statement is refused, naming the freeze" "frozen" "$frozen_out"
api POST /v1/unfreeze admin '{"agent":"demo-agent"}' >/dev/null
for _ in $(seq 1 80); do
  set +e
  thawed=$(psql_px -At -c "$qf 10" 2>&1)
  set -e
  [ "$thawed" = 1 ] && break
  sleep 0.05
done
check "after the unfreeze the statement runs again" 1 "$thawed"


# The same statement on another database is another resource: asked again.
psql_direct -q -c "CREATE DATABASE otherdb" postgres
psql_direct -q -c "CREATE TABLE accounts (id int, balance int); INSERT INTO accounts VALUES (1, 5)" otherdb
check "same fingerprint, other database: answered" 5 "$(psql_px -At -d otherdb -c "$q 1")"
check "same fingerprint, other database: decided again" 2 "$(count_actions "$q")"
check "same fingerprint, other database: its own resource" "pg/prod/otherdb/public.accounts" \
  "$(api GET "/v1/actions?limit=1" admin | jget items.0.resource)"

# A database named ".." is one segment, its dots encoded (the gateway refuses "."
# and ".." segments: pg/prod/.. would sit under pg/prod as a parent would).
psql_direct -q -c 'CREATE DATABASE ".."' postgres
psql_direct -q -c "CREATE TABLE accounts (id int, balance int); INSERT INTO accounts VALUES (1, 7)" ..
check "a database named .. is answered" 7 "$(psql_px -At -d .. -c "SELECT balance AS dots FROM accounts WHERE id = 1")"
check "its resource encodes the dots" "pg/prod/%2E%2E/public.accounts" \
  "$(api GET "/v1/actions?limit=1" admin | jget items.0.resource)"

# A policy change (new version) empties the cache.
before=$(curl -s "$COUNTERSIGN_URL/readyz" | jget policy_version)
echo '@id("extra") permit (principal, action == Action::"db.read", resource);' >>"$T/gw/policy/demo.cedar"
kill -HUP "${PIDS[0]}"
for _ in $(seq 1 100); do
  [ "$(curl -s "$COUNTERSIGN_URL/readyz" | jget policy_version)" != "$before" ] && break
  sleep 0.05
done
n=2
for i in $(seq 3 200); do
  psql_px -At -c "$q $i" >/dev/null
  n=$(count_actions "$q")
  [ "$n" -gt 2 ] && break
  sleep 0.05
done
check "after a policy change the same fingerprint is decided again" 3 "$n"

# Denied decisions are never cached: each DROP is a new request.
psql_px -c "DROP TABLE scratch" >/dev/null 2>&1 || true
psql_px -c "DROP TABLE scratch" >/dev/null 2>&1 || true
check "denials are asked every time" 2 "$(count_actions "DROP TABLE scratch")"

# Without the cache every statement is a request.
proxy_stop_checked
cp "$T/proxy.log" "$T/proxy-cached.log"
proxy_start --no-cache
q2="SELECT owner FROM accounts WHERE id ="
psql_px -At -c "$q2 1" >/dev/null
psql_px -At -c "$q2 2" >/dev/null
check "--no-cache asks for every statement" 2 "$(count_actions "$q2")"
finish
