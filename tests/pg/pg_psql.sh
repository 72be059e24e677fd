#!/usr/bin/env bash
# pg_psql.sh - psql through `countersign pg-proxy` against a real PostgreSQL server
# and a real gateway: routine reads, a forbidden DROP, a COPY held until two DBAs
# approve, a held DELETE that is denied, transactions around a denial, COPY FROM
# STDIN, md5 and SCRAM authentication, multi-statement queries, parse errors.
. "$(dirname "$0")/pgenv.sh" "$1"
pg_start
gw_start
proxy_start
export PGDATABASE=appdb

# Routine selects pass with the results the server gives directly.
direct=$(psql_direct -At -c "SELECT id, owner, balance FROM accounts ORDER BY id" appdb)
proxied=$(psql_px -At -c "SELECT id, owner, balance FROM accounts ORDER BY id")
check "select through the proxy equals the direct result" "$direct" "$proxied"
aid=$(wait_action allowed select)
check "the allowed select is an action on the first table" "pg/prod/appdb/public.accounts" \
  "$(api GET "/v1/actions/$aid" admin | jget resource)"
check "context.statement is select (the permit also requires context.source == pg)" "select" "$(api GET "/v1/actions/$aid" admin | jget context.statement)"
check "context.has_where is false" "False" "$(api GET "/v1/actions/$aid" admin | jget context.has_where)"

# DROP TABLE in prod: refused with 42501 naming the request and the policy reason.
set +e
out=$(psql_px -v VERBOSITY=verbose -c "DROP TABLE scratch" 2>&1)
rc=$?
set -e
check "psql exits 1 on the denied DROP" 1 "$rc"
contains "denial carries SQLSTATE 42501" "ERROR:  42501:" "$out"
contains "denial names the policy reason" "DROP is not allowed in prod" "$out"
did=$(wait_action denied ddl)
contains "denial names the request" "$did" "$out"
check "the table still exists" "scratch" "$(psql_direct -At -c "SELECT to_regclass('public.scratch')" appdb)"

# The connection stays usable after a denial.
out=$(psql_px -At -v ON_ERROR_STOP=0 2>&1 <<'EOF'
DROP TABLE scratch;
SELECT 41 + 1;
EOF
)
contains "same session keeps working after a denial" "42" "$out"

# A transaction around a denial is aborted as PostgreSQL would: 25P02 until the
# end, COMMIT rolls back, the insert before the denial is gone.
out=$(psql_px -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>&1 <<'EOF'
BEGIN;
INSERT INTO scratch VALUES (7);
DROP TABLE scratch;
SELECT 1;
COMMIT;
SELECT count(*) FROM scratch;
EOF
)
contains "statements after a denial in a block get 25P02" "25P02" "$out"
contains "COMMIT of the aborted block reports ROLLBACK" "ROLLBACK" "$out"
check "the insert of the aborted block was rolled back" 0 "$(psql_direct -At -c "SELECT count(*) FROM scratch" appdb)"

# A savepoint survives a denial: ROLLBACK TO it and carry on.
psql_px -q -At -v ON_ERROR_STOP=0 >/dev/null 2>&1 <<'EOF'
BEGIN;
INSERT INTO scratch VALUES (1);
SAVEPOINT s1;
DROP TABLE scratch;
ROLLBACK TO SAVEPOINT s1;
INSERT INTO scratch VALUES (2);
COMMIT;
EOF
check "rollback to a savepoint after a denial keeps the block" "1,2" \
  "$(psql_direct -At -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM scratch" appdb)"

# Committed transactions keep their semantics through the proxy.
psql_px -q -c "BEGIN" -c "INSERT INTO scratch VALUES (3)" -c "COMMIT" >/dev/null
check "a committed transaction is visible" 3 "$(psql_direct -At -c "SELECT count(*) FROM scratch" appdb)"

# A multi-statement query with one denied statement is refused as a whole.
set +e
out=$(psql_px -c "INSERT INTO scratch VALUES (99); DROP TABLE scratch" 2>&1)
set -e
contains "multi-statement query with a forbidden statement is denied" "countersign denied" "$out"
check "no statement of the refused query ran" 0 "$(psql_direct -At -c "SELECT count(*) FROM scratch WHERE id = 99" appdb)"

# Something the parser cannot read is refused with a syntax error.
set +e
out=$(psql_px -v VERBOSITY=verbose -c "SELEC 1" 2>&1)
set -e
contains "unparseable SQL gets 42601" "42601" "$out"

# COPY ... TO STDOUT of a prod table waits for two DBAs, then completes.
psql_px -c "COPY accounts TO STDOUT" >"$T/copy.out" 2>"$T/copy.err" &
copy_pid=$!
cid=$(wait_action pending copy_to)
check "held COPY is still running before any vote" 0 "$(kill -0 $copy_pid 2>/dev/null; echo $?)"
api POST "/v1/actions/$cid/approve" bob '{"reason":"ok"}' >/dev/null
check "one approval is not enough" pending "$(api GET "/v1/actions/$cid" admin | jget status)"
check "held COPY still waits after one approval" 0 "$(kill -0 $copy_pid 2>/dev/null; echo $?)"
# The client hears about the vote while it waits (a progress notice).
for _ in $(seq 1 1200); do grep -q "1 of 2 approvals" "$T/copy.err" && break; sleep 0.05; done
contains "a progress notice follows the first approval" "1 of 2 approvals" "$(cat "$T/copy.err")"
api POST "/v1/actions/$cid/approve" carol '{"reason":"ok"}' >/dev/null
wait $copy_pid
check "approved COPY output equals the direct COPY" "$(psql_direct -c "COPY accounts TO STDOUT" appdb)" "$(cat "$T/copy.out")"
contains "the client was told who must approve" "held for approval ($cid)" "$(cat "$T/copy.err")"
contains "the notice names the approver group" "from dba" "$(cat "$T/copy.err")"
for _ in $(seq 1 100); do
  [ -n "$(api GET "/v1/actions/$cid" admin | jget outcome.status)" ] && break
  sleep 0.05
done
check "the outcome of the approved COPY is reported" succeeded "$(api GET "/v1/actions/$cid" admin | jget outcome.status)"
contains "the outcome carries the row count" "COPY 100" "$(api GET "/v1/actions/$cid" admin | jget outcome.detail)"

# A held DELETE that a DBA denies: 42501, rows untouched.
set +e
psql_px -v VERBOSITY=verbose -c "DELETE FROM accounts WHERE id = 5" >"$T/del.out" 2>&1 &
del_pid=$!
set -e
xid=$(wait_action pending delete)
api POST "/v1/actions/$xid/deny" bob '{"reason":"not today"}' >/dev/null
set +e
wait $del_pid
rc=$?
set -e
check "psql fails on the denied DELETE" 1 "$rc"
contains "denied after the hold: 42501" "42501" "$(cat "$T/del.out")"
contains "denied after the hold names the request" "$xid" "$(cat "$T/del.out")"
contains "denied after the hold names the approver and reason" "denied by bob: not today" "$(cat "$T/del.out")"
check "the row is still there" 1 "$(psql_direct -At -c "SELECT count(*) FROM accounts WHERE id = 5" appdb)"

# A hold nobody answers expires (fail closed): the client gets the error.
set +e
out=$(psql_px -v VERBOSITY=verbose -c "TRUNCATE scratch" 2>&1)
set -e
contains "an expired hold is refused with 42501" "42501" "$out"
contains "an expired hold says so" "expired without approval" "$out"
check "the expired TRUNCATE did not run" 3 "$(psql_direct -At -c "SELECT count(*) FROM scratch" appdb)"

# COPY FROM STDIN (allowed) streams rows in.
printf '100\n101\n102\n' | psql_px -c "COPY scratch FROM STDIN" >/dev/null
check "COPY FROM STDIN through the proxy" 3 "$(psql_direct -At -c "SELECT count(*) FROM scratch WHERE id >= 100" appdb)"

# Authentication passes through: md5 and SCRAM-SHA-256.
check "md5 authentication through the proxy" md5user \
  "$(PGPASSWORD=md5pass psql -X -At -h 127.0.0.1 -p "$PXPORT" -U md5user -c "SELECT current_user" appdb)"
check "SCRAM-SHA-256 authentication through the proxy" scramuser \
  "$(PGPASSWORD=scrampass psql -X -At -h 127.0.0.1 -p "$PXPORT" -U scramuser -c "SELECT current_user" appdb)"
set +e
out=$(PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p "$PXPORT" -U scramuser -c "SELECT 1" appdb 2>&1)
set -e
contains "a wrong password is refused by the server" "password authentication failed" "$out"

finish
