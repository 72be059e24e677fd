#!/usr/bin/env bash
# pg_pgbench.sh - pgbench through the proxy, every protocol mode: the select-only
# script and the default TPC-B-like one (BEGIN; UPDATE; SELECT; UPDATE; UPDATE;
# INSERT; END), with concurrent clients; no failed transaction, and the balances
# stay consistent (what pgbench's own transactions guarantee).
. "$(dirname "$0")/pgenv.sh" "$1"
pg_start
psql_direct -q -c "CREATE DATABASE bench" postgres
pgbench -q -i -s 1 -h 127.0.0.1 -p "$PGPORT" -U postgres bench >"$T/init.log" 2>&1
gw_start
proxy_start

bench() { # bench MODE ARGS... -> "processed/expected failed"
  local out
  out=$(pgbench -n -c 4 -j 2 -t 40 -M "$@" -h 127.0.0.1 -p "$PXPORT" -U postgres bench 2>&1) || true
  echo "$out" >>"$T/pgbench.log"
  echo "$(echo "$out" | awk '/number of transactions actually processed/ { print $6 }')" \
    "$(echo "$out" | awk '/number of failed transactions/ { print $5 }')"
}
for mode in simple extended prepared; do
  check "pgbench -S -M $mode through the proxy" "160/160 0" "$(bench "$mode" -S)"
  check "pgbench TPC-B-like -M $mode through the proxy" "160/160 0" "$(bench "$mode")"
done
check "balances are consistent after the TPC-B-like runs" 0 \
  "$(psql_direct -At -c "SELECT (SELECT sum(abalance) FROM pgbench_accounts) - (SELECT sum(delta) FROM pgbench_history)" bench)"
check "every history row was written through the proxy" 480 "$(psql_direct -At -c "SELECT count(*) FROM pgbench_history" bench)"
finish
