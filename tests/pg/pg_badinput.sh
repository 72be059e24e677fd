#!/usr/bin/env bash
# pg_badinput.sh - malformed, truncated and absurd input from clients, a server that
# drops a session: a protocol error for the client, no crash, no leaked connection.
. "$(dirname "$0")/pgenv.sh" "$1"
RAW="python3 $(dirname "$0")/rawpg.py"
pg_start
gw_start
proxy_start
export PGDATABASE=appdb
fds() { ls "/proc/$PXPID/fd" | wc -l; }
psql_px -At -c "SELECT 1" >/dev/null # warm: the gateway client keeps its connections
base=$(fds)

check "absurd startup length: FATAL 08P01, closed" "E 08P01 closed" "$($RAW absurd-startup "$PXPORT")"
check "protocol 2 is refused" "E 08P01 closed" "$($RAW protocol2 "$PXPORT")"
check "a user name that is not UTF-8 is refused at start-up" "E 22021 closed" "$($RAW latin1-user "$PXPORT")"
check "SSLRequest answered N, startup goes on in the clear" "N Z" "$($RAW ssl "$PXPORT")"
check "absurd message length: FATAL 08P01, closed" "E 08P01 closed" "$($RAW absurd-message "$PXPORT")"
check "length below the header: FATAL 08P01, closed" "E 08P01 closed" "$($RAW short-length "$PXPORT")"
check "unknown message type: FATAL 08P01, closed" "E 08P01 closed" "$($RAW bad-type "$PXPORT")"
out=$($RAW malformed-query "$PXPORT")
check "Query without its terminator: 08P01 error, session usable" "E Z 08P01
D" "$out"
check "truncated message then close" sent "$($RAW truncated "$PXPORT")"

# The server drops a session: the client hears why, the proxy carries on.
coproc IDLE { $RAW idle "$PXPORT"; }
read -r bpid <&"${IDLE[0]}"
psql_direct -qAt -c "SELECT pg_terminate_backend($bpid)" postgres >/dev/null
echo go >&"${IDLE[1]}"
read -r answer <&"${IDLE[0]}"
read -r after <&"${IDLE[0]}"
contains "a dropped server session is reported to the client" "57P01" "$answer"
check "the client connection is closed after the server dropped" closed "$after"
wait "$IDLE_PID" 2>/dev/null || true

# An upstream that is not there: an error, not a hang or a crash.
check "the proxy is still running" 0 "$(kill -0 "$PXPID"; echo $?)"
check "psql still works after all that" 1 "$(psql_px -At -c "SELECT 1")"
for _ in $(seq 1 100); do [ "$(fds)" -le "$base" ] && break; sleep 0.05; done
# At most the idle value: the gateway client may also have let an idle kept-alive
# connection go meanwhile (seen under a loaded parallel ctest: 12 against 14).
now=$(fds)
check "no connection leaked (proxy fd count back to at most its idle value $base, now $now)" 1 \
  "$([ "$now" -le "$base" ] && echo 1 || echo 0)"

pg_ctl_stop() { as_pg pg_ctl -D "$T/pgdata" -m fast stop >/dev/null; }
pg_ctl_stop
contains "server down: the client gets a connection error" "cannot connect to the upstream server" \
  "$(psql_px -At -c "SELECT 1" 2>&1 || true)"
check "the proxy survives a server that is gone" 0 "$(kill -0 "$PXPID"; echo $?)"
finish
