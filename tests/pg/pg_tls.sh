#!/usr/bin/env bash
# pg_tls.sh - TLS termination: psql with sslmode=verify-full against the proxy's
# certificate, decisions and a large held COPY over TLS, plaintext clients still
# served, plaintext smuggled behind an SSLRequest refused.
. "$(dirname "$0")/pgenv.sh" "$1"
RAW="python3 $(dirname "$0")/rawpg.py"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
pg_start
gw_start
proxy_start --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
TLSCONN="host=127.0.0.1 port=$PXPORT user=postgres dbname=appdb sslmode=verify-full sslrootcert=$T/cert.pem"
psql_tls() { psql -X "$TLSCONN" "$@"; }

contains "psql verifies the proxy's certificate and uses TLS" "SSL connection" "$(psql_tls -c '\conninfo')"
check "select over TLS equals the direct result" \
  "$(psql_direct -At -c "SELECT id, owner FROM accounts ORDER BY id" appdb)" \
  "$(psql_tls -At -c "SELECT id, owner FROM accounts ORDER BY id")"
set +e
out=$(psql_tls -v VERBOSITY=verbose -c "DROP TABLE scratch" 2>&1)
set -e
contains "denial over TLS: 42501" "42501" "$out"

# A large held COPY over TLS: approved by two DBAs, streamed back complete.
big="COPY (SELECT g, md5(g::text) FROM generate_series(1, 50000) g) TO STDOUT"
psql_tls -c "$big" >"$T/big.out" 2>"$T/big.err" &
big_pid=$!
cid=$(wait_action pending copy_to)
api POST "/v1/actions/$cid/approve" bob '{}' >/dev/null
api POST "/v1/actions/$cid/approve" carol '{}' >/dev/null
wait "$big_pid"
check "held COPY over TLS streams every row" "$(psql_direct -c "$big" appdb | md5sum)" "$(md5sum <"$T/big.out")"

check "plaintext clients are still served" 1 \
  "$(psql -X -At "host=127.0.0.1 port=$PXPORT user=postgres dbname=appdb sslmode=disable" -c "SELECT 1")"
check "plaintext behind an SSLRequest is refused" "E 08P01 closed" "$($RAW ssl-injection "$PXPORT")"
finish
