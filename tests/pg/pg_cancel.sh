#!/usr/bin/env bash
# pg_cancel.sh - CancelRequest through the proxy: a statement held for approval is
# answered with 57014 and its gateway request is cancelled; a statement running on
# the server gets the cancel relayed to the server.
. "$(dirname "$0")/pgenv.sh" "$1"
pg_start
gw_start
proxy_start
export PGDATABASE=appdb

# Held DELETE, then Ctrl-C (psql sends a CancelRequest on a new connection).
# (psql itself in the background, not a function's subshell, so that it gets the signal)
psql -X -h 127.0.0.1 -p "$PXPORT" -U postgres -v VERBOSITY=verbose -c "DELETE FROM accounts WHERE id = 9" >"$T/held.out" 2>&1 &
held_pid=$!
hid=$(wait_action pending delete)
kill -INT "$held_pid"
set +e
wait "$held_pid"
rc=$?
set -e
check "psql fails when the held statement is cancelled" 1 "$rc"
contains "held statement answered with 57014" "57014" "$(cat "$T/held.out")"
contains "held statement cancel names the request" "$hid" "$(cat "$T/held.out")"
check "the pending request is cancelled in the gateway" cancelled "$(wait_status "$hid" cancelled)"
check "the row was not deleted" 1 "$(psql_direct -At -c "SELECT count(*) FROM accounts WHERE id = 9" appdb)"

# A statement running on the server: the cancel is relayed with the backend key.
psql -X -h 127.0.0.1 -p "$PXPORT" -U postgres -v VERBOSITY=verbose -c "SELECT pg_sleep(120)" >"$T/sleep.out" 2>&1 &
sleep_pid=$!
for _ in $(seq 1 200); do
  n=$(psql_direct -At -c "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(120)' AND state = 'active'" postgres)
  [ "$n" = 1 ] && break
  sleep 0.05
done
kill -INT "$sleep_pid"
set +e
wait "$sleep_pid"
rc=$?
set -e
check "psql fails when the running statement is cancelled" 1 "$rc"
contains "server cancelled the running statement (57014)" "57014" "$(cat "$T/sleep.out")"
contains "server's own cancel message" "canceling statement due to user request" "$(cat "$T/sleep.out")"

# A client that disconnects while held withdraws its request.
psql -X -h 127.0.0.1 -p "$PXPORT" -U postgres -c "DELETE FROM accounts WHERE id = 10" >/dev/null 2>&1 &
gone_pid=$!
gid=$(wait_action pending delete)
kill -KILL "$gone_pid"
wait "$gone_pid" 2>/dev/null || true
check "a disconnected client's held request is cancelled" cancelled "$(wait_status "$gid" cancelled)"
# Cancelled while held inside a transaction block: the block is aborted.
check "cancel of a held statement in a transaction aborts the block" \
  "E:57014 Z E | E:25P02 Z E | C Z I" \
  "$(ADMIN_TOKEN=$(token admin) python3 "$(dirname "$0")/rawpg.py" cancel-in-txn "$PXPORT")"
check "the row survived the cancelled DELETE" 1 "$(psql_direct -At -c "SELECT count(*) FROM accounts WHERE id = 11" appdb)"
finish
