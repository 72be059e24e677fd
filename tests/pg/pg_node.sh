#!/usr/bin/env bash
# pg_node.sh - runs pg_node.js (node-postgres, extended protocol) and the raw
# pipelining cases against a real server, gateway and proxy.
. "$(dirname "$0")/pgenv.sh" "$1"
HERE=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$HERE/node_modules/pg" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
pg_start
gw_start
proxy_start
export PXPORT PGPORT COUNTERSIGN_URL
BOB_TOKEN=$(token bob) ADMIN_TOKEN=$(token admin) node "$HERE/pg_node.js" || fail "node-postgres checks"

# Pipelining: three statements and one Sync in a single write.
RAW="python3 $HERE/rawpg.py"
check "pipelined batch: answers in order" "1 2 T D C 1 2 T D C 1 2 T D C Z" "$($RAW pipeline-ok "$PXPORT")"
check "pipelined batch with a forbidden statement is refused as a whole" "E:42501 Z | 0" "$($RAW pipeline-denied "$PXPORT")"
check "two pipelined batches, the second denied: the first's answers come first" \
  "1 2 T D C Z E:42501 Z" "$($RAW pipeline-two "$PXPORT")"
check "a name the server refused to prepare is not trusted" "E:42P01 Z | 1 Z | E:42501 Z" "$($RAW stale-name "$PXPORT")"
check "a failed redefinition does not change what the proxy decides on" "1 Z | E:42P05 Z | E:42501 Z" "$($RAW redefine "$PXPORT")"
check "executing a portal the proxy never saw is refused" "E:34000 Z" "$($RAW unknown-portal "$PXPORT")"
check "SQL PREPARE is decided as the statement it prepares" "E:42501 Z" "$($RAW sql-prepare "$PXPORT")"
finish
