#!/usr/bin/env bash
# Rollback against a real daemon: a request carries its compensating action;
# `countersign rollback ID --exec` submits it (rollback_of: ID) through policy,
# waits for approval, and runs the stored command once; the link is in both audit
# entries; a second attempt does not run it; who may ask, and bad input.
. "$(dirname "$0")/../gateway/daemon.sh"
start
export COUNTERSIGN_TOKEN=$AGENT
AGENT2=$(new_agent agent-two)
rb=$(python3 -c 'import json,sys; print(json.dumps({"action":"db.export","resource":"prod/db/customers","context":{"why":"undo"},"command":["sh","-c","echo compensated >> \"$0\"", sys.argv[1]]}))' "$tmp/ran")

# The original: allowed at once, carrying its rollback.
orig=$("$bin" request --action db.read --resource prod/db/x --rollback "$rb" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "rollback stored with the action" [ "$(api "$BOB" GET "/v1/actions/$orig" | j 'd["rollback"]["command"][0], d["rollback"]["action"]')" = "sh db.export" ]
check "rollback is in the request's audit entry" \
  [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='action.submitted' AND action_id='$orig' AND entry LIKE '%\"rollback\":{%'")" = 1 ]

# Who may ask: not another agent, not an ordinary user.
check "another agent may not" [ "$(api "$AGENT2" POST "/v1/actions/$orig/rollback" '{}' | j 's, d["type"]')" = "403 not-permitted" ]
check "a non-admin user may not" [ "$(api "$BOB" POST "/v1/actions/$orig/rollback" '{}' | j 's')" = 403 ]

# rollback --exec: pending (two DBAs), nothing runs before approval, runs once after.
"$bin" rollback "$orig" --exec > "$tmp/out1" 2> "$tmp/err1" &
ex=$!
for _ in $(seq 100); do
  rid=$(api "$BOB" GET "/v1/actions/$orig" | j '(d.get("rollbacks") or [""])[-1]')
  [ -n "$rid" ] && [ "$(api "$BOB" GET "/v1/actions/$rid" | j 'd["status"]')" = pending ] && break; sleep 0.1
done
check "rollback action pending" [ "$(api "$BOB" GET "/v1/actions/$rid" | j 'd["status"], d["rollback_of"], d["action"]')" = "pending $orig db.export" ]
check "command is in the rollback's context (covered by args_hash)" [ "$(api "$BOB" GET "/v1/actions/$rid" | j 'd["context"]["argv"][0], d["context"]["why"]')" = "sh undo" ]
check "nothing ran before approval" [ ! -e "$tmp/ran" ]
COUNTERSIGN_TOKEN=$BOB "$bin" approve "$rid" > /dev/null
COUNTERSIGN_TOKEN=$CAROL "$bin" approve "$rid" > /dev/null
wait "$ex"
check "rollback --exec exit 0 ($(cat "$tmp/err1"))" [ $? = 0 ]
check "compensating command ran once" [ "$(cat "$tmp/ran")" = compensated ]
check "outcome reported" [ "$(api "$BOB" GET "/v1/actions/$rid" | j 'd["outcome"]["status"]')" = succeeded ]

# The link in both audit entries.
check "new action's request entry names the original" \
  [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='action.submitted' AND action_id='$rid' AND entry LIKE '%\"rollback_of\":\"$orig\"%'")" = 1 ]
check "an entry on the original names the rollback" \
  [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='action.rollback_requested' AND action_id='$orig' AND entry LIKE '%\"rollback\":\"$rid\"%'")" = 1 ]

# A second attempt does not run it: the approved rollback exists and its receipt is spent.
"$bin" rollback "$orig" --exec > /dev/null 2> "$tmp/err2"
check "second rollback --exec exits 1" [ $? = 1 ]
check "command still ran once" [ "$(cat "$tmp/ran")" = compensated ]
grep -q rollback-exists "$tmp/err2" && pass || fail "second attempt not refused: $(cat "$tmp/err2")"
check "refusal audited" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='action.rollback_refused' AND action_id='$orig'")" = 1 ]
check "no new rollback action" [ "$(api "$BOB" GET "/v1/actions/$orig" | j 'len(d["rollbacks"])')" = 1 ]

# An admin may roll back an agent's action; without --exec it is just submitted.
o2=$(submit "$AGENT" db.read prod/db/y "\"rollback\":{\"action\":\"db.read\",\"resource\":\"prod/db/y\"}" | j 'd["id"]')
r=$(COUNTERSIGN_TOKEN=$ADMIN "$bin" rollback "$o2" --json)
check "admin rollback exit 0" [ $? = 0 ]
check "admin rollback is the admin's request" [ "$(echo "200 $r" | j 'd["requester"]["id"], d["status"], d["rollback_of"]')" = "admin allowed $o2" ]

# exec carries a rollback too.
"$bin" exec --action db.read --resource prod/db/e --rollback '{"action":"db.read","resource":"prod/db/e","command":["true"]}' -- true
check "exec --rollback runs" [ $? = 0 ]
check "exec --rollback stored" [ "$(api "$BOB" GET "/v1/actions/$("$bin" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')" | j 'd["rollback"]["command"]')" = "['true']" ]
"$bin" exec --action db.read --resource prod/db/e --rollback '[1]' -- true 2>/dev/null
check "exec --rollback must be an object" [ $? = 2 ]

# Refusals and bad input.
plain=$(submit "$AGENT" db.read prod/db/z | j 'd["id"]')
check "no rollback carried" [ "$(api "$AGENT" POST "/v1/actions/$plain/rollback" '{}' | j 's, d["type"]')" = "409 no-rollback" ]
den=$(submit "$AGENT" iam.role.update prod/iam/x "\"rollback\":{\"action\":\"db.read\",\"resource\":\"x\"}" | j 'd["id"]')
check "denied action not rolled back" [ "$(api "$AGENT" POST "/v1/actions/$den/rollback" '{}' | j 's, d["type"]')" = "409 not-runnable" ]
check "unknown action" [ "$(api "$AGENT" POST /v1/actions/act_nope/rollback '{}' | j 's')" = 404 ]
check "rollback without resource" [ "$(submit "$AGENT" db.read x '"rollback":{"action":"db.read"}' | j 's, d["field"]')" = "400 rollback" ]
check "rollback command not strings" [ "$(submit "$AGENT" db.read x '"rollback":{"action":"a.b","resource":"x","command":[1]}' | j 's')" = 400 ]
check "rollback empty command" [ "$(submit "$AGENT" db.read x '"rollback":{"action":"a.b","resource":"x","command":[]}' | j 's')" = 400 ]
check "rollback unknown field" [ "$(submit "$AGENT" db.read x '"rollback":{"action":"a.b","resource":"x","cmd":"rm"}' | j 's')" = 400 ]
check "rollback bad action" [ "$(submit "$AGENT" db.read x '"rollback":{"action":"A B","resource":"x"}' | j 's')" = 400 ]
"$bin" rollback 2>/dev/null; check "usage: no id" [ $? = 2 ]
"$bin" rollback "$plain" --timeout 5 2>/dev/null; check "usage: --timeout without --exec" [ $? = 2 ]

# A frozen agent's rollback request is refused like any other of its requests.
COUNTERSIGN_TOKEN=$ADMIN "$bin" freeze demo-agent --reason test >/dev/null
o3=$(COUNTERSIGN_TOKEN=$ADMIN "$bin" unfreeze demo-agent >/dev/null; submit "$AGENT" db.read prod/db/w "\"rollback\":{\"action\":\"db.read\",\"resource\":\"prod/db/w\"}" | j 'd["id"]')
COUNTERSIGN_TOKEN=$ADMIN "$bin" freeze demo-agent --reason test >/dev/null
check "frozen agent's rollback denied" [ "$(api "$AGENT" POST "/v1/actions/$o3/rollback" '{}' | j 's, d["status"], "frozen" in d')" = "201 denied True" ]
finish
