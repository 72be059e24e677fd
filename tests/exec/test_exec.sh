#!/usr/bin/env bash
# countersign exec as a user runs it, against a real daemon on a free port: allowed
# commands run, denied ones don't, pending ones run once approved, exit codes and
# signals propagate, Ctrl-C while waiting cancels, receipts cannot be reused.
. "$(dirname "$0")/../gateway/daemon.sh"
start
export COUNTERSIGN_TOKEN=$AGENT
last_id() { "$bin" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }
field() { COUNTERSIGN_TOKEN=$BOB "$bin" show "$1" --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d' + sys.argv[1]))" "$2"; }
wait_status() { # id status
  for _ in $(seq 100); do [ "$(field "$1" "['status']")" = "$2" ] && return 0; sleep 0.1; done; return 1; }
wait_pending() { # waits until a new pending action appears, prints its id
  for _ in $(seq 100); do id=$(last_id); [ "$id" != "${1:-}" ] && [ "$(field "$id" "['status']")" = pending ] && { echo "$id"; return 0; }; sleep 0.1; done; return 1; }

# 1. allowed: runs, output untouched, exit code propagates, outcome reported with digests.
out=$("$bin" exec --action db.read --resource prod/db/x -- sh -c 'echo hello; echo oops >&2; exit 7' 2>"$tmp/err")
rc=$?
[ "$rc" = 7 ] && pass || fail "allowed: exit code $rc, want 7"
[ "$out" = hello ] && pass || fail "allowed: stdout '$out'"
grep -q '^oops$' "$tmp/err" && pass || fail "allowed: stderr lost"
id=$(last_id)
[ "$(field "$id" "['outcome']['exit_code']")" = 7 ] && pass || fail "outcome exit_code not reported"
[ "$(field "$id" "['outcome']['status']")" = failed ] && pass || fail "outcome status not failed"
[ "$(field "$id" "['outcome']['output_sha256']")" = "$(printf 'hello\n' | sha256sum | cut -d' ' -f1)" ] && pass || fail "stdout digest wrong"
field "$id" "['outcome']['detail']" | grep -q "stderr sha256:$(printf 'oops\n' | sha256sum | cut -d' ' -f1)" && pass || fail "stderr digest missing"
[ "$(field "$id" "['context']['command']")" = "sh -c echo hello; echo oops >&2; exit 7" ] && pass || fail "command line not in context"
[ "$(field "$id" "['source']")" = exec ] && pass || fail "source is not exec"

# 2. receipts are single use: the one exec redeemed cannot be redeemed again.
receipt=$(field "$id" "['receipt']")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AGENT" -H 'Content-Type: application/json' \
  -d "{\"receipt\":\"$receipt\"}" "$COUNTERSIGN_URL/v1/receipts/consume")
[ "$code" = 409 ] && pass || fail "second consume answered $code, want 409"

# 3. denied: the command does not run; exit 1 with the reason.
"$bin" exec --action iam.role.update --resource prod/iam/admin -- touch "$tmp/ran" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] && pass || fail "denied: exit $rc, want 1"
[ ! -e "$tmp/ran" ] && pass || fail "denied command ran"
grep -q "IAM changes in production are forbidden" "$tmp/err" && pass || fail "denied: reason not shown: $(cat "$tmp/err")"

# 4. pending, then approved by two DBAs: runs once approved; progress shows who and where.
prev=$(last_id)
"$bin" exec --action db.export --resource prod/db/customers --purpose "test export" -- sh -c 'echo exported' >"$tmp/out4" 2>"$tmp/err4" &
ex=$!
id=$(wait_pending "$prev") || fail "pending action did not appear"
[ -s "$tmp/out4" ] && fail "pending command ran before approval" || pass
COUNTERSIGN_TOKEN=$BOB "$bin" approve "$id" >/dev/null
COUNTERSIGN_TOKEN=$CAROL "$bin" approve "$id" >/dev/null
wait "$ex"; rc=$?
[ "$rc" = 0 ] && pass || fail "approved: exit $rc"
[ "$(cat "$tmp/out4")" = exported ] && pass || fail "approved command did not run"
grep -q "0 of 2 from dba; approve at $COUNTERSIGN_URL/a/$id" "$tmp/err4" && pass || fail "progress line missing: $(cat "$tmp/err4")"

# 5. Ctrl-C while waiting cancels the request; the command never runs.
prev=$(last_id)
"$bin" exec --action db.export --resource prod/db/orders -- touch "$tmp/ran5" 2>"$tmp/err5" &
ex=$!
id=$(wait_pending "$prev") || fail "pending action did not appear (5)"
kill -INT "$ex"
wait "$ex"; rc=$?
[ "$rc" = 1 ] && pass || fail "interrupted: exit $rc, want 1"
wait_status "$id" cancelled && pass || fail "interrupted request not cancelled: $(field "$id" "['status']")"
[ ! -e "$tmp/ran5" ] && pass || fail "cancelled command ran"

# 6. --timeout: gives up, cancels, does not run.
"$bin" exec --timeout 1 --action db.export --resource prod/db/t -- touch "$tmp/ran6" 2>/dev/null
rc=$?
[ "$rc" = 1 ] && [ ! -e "$tmp/ran6" ] && pass || fail "timeout: exit $rc"
wait_status "$(last_id)" cancelled && pass || fail "timed-out request not cancelled"

# 7. signals: a signal sent to exec reaches the command, and exec dies of the same signal.
"$bin" exec --action db.read --resource prod/db/x -- sh -c 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.05; done' >"$tmp/out7" &
ex=$!
for _ in $(seq 100); do grep -q ready "$tmp/out7" && break; sleep 0.05; done
kill -TERM "$ex"
wait "$ex"; rc=$?
grep -q got-term "$tmp/out7" && pass || fail "SIGTERM not forwarded to the command"
[ "$rc" = 0 ] && pass || fail "command's own exit status after SIGTERM: $rc"
"$bin" exec --action db.read --resource prod/db/x -- sh -c 'kill -KILL $$'
rc=$?
[ "$rc" = 137 ] && pass || fail "killed command: exit $rc, want 137 (SIGKILL)"
[ "$(field "$(last_id)" "['outcome']['status']")" = failed ] && pass || fail "killed command outcome not failed"

# 8. usage errors.
"$bin" exec --action db.read -- true 2>/dev/null; [ $? = 2 ] && pass || fail "missing --resource not a usage error"
"$bin" exec --action db.read --resource x 2>/dev/null; [ $? = 2 ] && pass || fail "missing command not a usage error"

# 9. text JSON cannot carry: an argument, or the working directory, that is not UTF-8
# would drop out of the context that reviewers, policies and the log see, while the
# command ran with it. Refused before anything is sent; the command never runs.
prev=$(last_id)
"$bin" exec --action db.read --resource prod/db/x -- touch "$tmp/ran9" "$(printf 'x\377')" 2>"$tmp/err9"
rc=$?
[ "$rc" = 2 ] && pass || fail "non-UTF-8 argument: exit $rc, want 2"
[ ! -e "$tmp/ran9" ] && pass || fail "a command with a non-UTF-8 argument ran"
grep -q "argument 8 is not valid UTF-8" "$tmp/err9" && pass || fail "non-UTF-8 argument: $(cat "$tmp/err9")"
mkdir "$tmp/$(printf 'd\377')"
(cd "$tmp/$(printf 'd\377')" && "$bin" exec --action db.read --resource prod/db/x -- touch "$tmp/ran9b" 2>"$tmp/err9b"); rc=$?
[ "$rc" = 2 ] && [ ! -e "$tmp/ran9b" ] && pass || fail "non-UTF-8 working directory: exit $rc"
grep -q "working directory is not valid UTF-8" "$tmp/err9b" && pass || fail "non-UTF-8 cwd: $(cat "$tmp/err9b")"
[ "$(last_id)" = "$prev" ] && pass || fail "a refused exec still submitted a request"
"$bin" exec --action db.read --resource prod/db/x -- touch "$tmp/ran9c" "$tmp/caf$(printf '\303\251')" && [ -e "$tmp/ran9c" ] && pass || fail "a UTF-8 argument was refused"

finish
