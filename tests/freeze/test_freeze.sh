#!/usr/bin/env bash
# The kill switch against a real daemon: freezing an agent cancels its pending
# requests (releasing a held long-poll at once), revokes its unconsumed receipts,
# refuses its new requests (also many fired in parallel) with `frozen`, survives a
# restart, is audited and notified; a global freeze stops every agent but no human;
# unfreezing restores.
. "$(dirname "$0")/../gateway/daemon.sh"

# A receiver for freeze notifications: webhooks (Standard Webhooks; we only read the
# bodies) and a fake Slack Web API under /slack.
hook_port=$(free_port)
python3 - "$hook_port" "$tmp/hook.log" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        with open(sys.argv[2], 'ab') as f: f.write(self.path.encode() + b' ' + body + b'\n')
        answer = b'{"ok":true,"channel":"C0SEC","ts":"1700000000.000100"}'
        self.send_response(200); self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(answer))); self.end_headers(); self.wfile.write(answer)
    def log_message(self, *a): pass
class S(http.server.HTTPServer):
    def handle_error(self, *a): pass  # the daemon may hang up mid-delivery when it is stopped
S(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
hook=$!
cat >> "$cfg" <<EOF2
notify:
  slack:
    api_url: "http://127.0.0.1:$hook_port/slack"
    bot_token_env: SLACK_BOT_TOKEN
  webhooks:
    - { name: siem, url: "http://127.0.0.1:$hook_port/hook", secret_env: SIEM_SECRET }
freeze:
  notify: [ "webhook:siem", "slack:#security" ]
EOF2
export SLACK_BOT_TOKEN=xoxb-freeze-test
export SIEM_SECRET="whsec_$(printf 'freeze-test-secret-0123456789' | base64)"
start
AGENT2=$(new_agent agent-two)

# Before the freeze: a pending request, an unconsumed receipt, a consumed one.
pend=$(submit "$AGENT" db.export prod/db/customers | j 'd["id"]')
[ "$(api "$AGENT" GET "/v1/actions/$pend" | j 'd["status"]')" = pending ] && pass || fail "setup: not pending"
live=$(submit "$AGENT" db.read prod/db/x '"receipt":true' | j 'd["id"]')
live_receipt=$(api "$AGENT" GET "/v1/actions/$live" | j 'd["receipt"]')
used=$(submit "$AGENT" db.read prod/db/y '"receipt":true' | j 'd["id"]')
used_receipt=$(api "$AGENT" GET "/v1/actions/$used" | j 'd["receipt"]')
check "setup: consume" [ "$(api "$AGENT" POST /v1/receipts/consume "{\"receipt\":\"$used_receipt\"}" | j 's')" = 200 ]
other=$(submit "$AGENT2" db.export prod/db/orders | j 'd["id"]')

# A long-poll held on the pending request (as the MCP and SQL proxies hold calls).
api "$AGENT" GET "/v1/actions/$pend?wait=200" > "$tmp/poll.out" &
poll=$!
for _ in $(seq 100); do
  [ "$(curl -s "$COUNTERSIGN_URL/metrics" | awk '/^countersign_waiters /{print $2}')" = 1 ] && break; sleep 0.05
done
check "long-poll held" [ "$(curl -s "$COUNTERSIGN_URL/metrics" | awk '/^countersign_waiters /{print $2}')" = 1 ]

# Only admins freeze.
check "agent may not freeze" [ "$(api "$AGENT" POST /v1/freeze '{"agent":"demo-agent"}' | j 'd["status"], d["type"]')" = "403 not-admin" ]
check "non-admin user may not freeze" [ "$(api "$BOB" POST /v1/freeze '{"agent":"demo-agent"}' | j 'd["type"]')" = not-admin ]
check "unknown agent" [ "$(api "$ADMIN" POST /v1/freeze '{"agent":"nobody"}' | j 's, d["type"]')" = "404 unknown-agent" ]
check "no freeze by those refusals" [ "$(api "$AGENT" GET "/v1/actions/$pend" | j 'd["status"]')" = pending ]

# Freeze demo-agent through the CLI.
out=$(COUNTERSIGN_TOKEN=$ADMIN "$bin" freeze demo-agent --reason "runaway loop" --json)
check "freeze exit 0" [ $? = 0 ]
fid=$(echo "200 $out" | j 'd["freeze"]["id"]')
check "freeze names cancelled" [ "$(echo "200 $out" | j 'd["freeze"]["cancelled"]')" = "['$pend']" ]
check "freeze names revoked" [ "$(echo "200 $out" | j 'd["freeze"]["revoked"]')" = "['$live']" ]

# The held long-poll is released with the cancellation, before the freeze is answered.
check "long-poll released when the freeze answered" \
  [ "$(curl -s "$COUNTERSIGN_URL/metrics" | awk '/^countersign_waiters /{print $2}')" = 0 ]
wait "$poll"
check "long-poll released as cancelled" [ "$(j 'd["status"], d["frozen"]["id"]' < "$tmp/poll.out")" = "cancelled $fid" ]
check "pending request cancelled naming the freeze" \
  [ "$(api "$BOB" GET "/v1/actions/$pend" | j 'd["status"], d["frozen"]["reason"]')" = "cancelled runaway loop" ]
check "another agent's pending request untouched" [ "$(api "$BOB" GET "/v1/actions/$other" | j 'd["status"]')" = pending ]

# Receipts: the unconsumed one is revoked, consume and verify refuse it.
check "consume refuses a revoked receipt" \
  [ "$(api "$AGENT" POST /v1/receipts/consume "{\"receipt\":\"$live_receipt\"}" | j 's, d["type"]')" = "409 receipt-revoked" ]
check "verify says revoked" \
  [ "$(api "$AGENT" POST /v1/receipts/verify "{\"receipt\":\"$live_receipt\"}" | j 'd["valid"], d["revoked"]')" = "False True" ]
check "consumed receipt not revoked" [ "$(api "$BOB" GET "/v1/actions/$used" | j '"receipt_revoked_at" in d')" = False ]

# New requests are stored denials of type frozen.
r=$(submit "$AGENT" db.read prod/db/x)
check "new request denied frozen" [ "$(echo "$r" | j 's, d["status"], d["frozen"]["id"]')" = "201 denied $fid" ]
check "explanation says frozen" [ "$(echo "$r" | j 'd["policy"]["explanation"].startswith("frozen:")')" = True ]
COUNTERSIGN_TOKEN=$AGENT "$bin" exec --action db.read --resource prod/db/x -- touch "$tmp/ran" 2>"$tmp/exec.err"
check "exec refused with exit 1" [ $? = 1 ]
check "exec did not run" [ ! -e "$tmp/ran" ]
grep -q frozen "$tmp/exec.err" && pass || fail "exec does not say frozen: $(cat "$tmp/exec.err")"

# Many requests in parallel right after the freeze: every one refused.
pids=
for i in $(seq 30); do submit "$AGENT" db.read "prod/db/p$i" > "$tmp/par.$i" & pids="$pids $!"; done
wait $pids
n=0; for i in $(seq 30); do [ "$(j 'd["status"], "frozen" in d' < "$tmp/par.$i")" = "denied True" ] && n=$((n + 1)); done
check "30 parallel requests all refused ($n)" [ "$n" = 30 ]

check "freezing again is a conflict" [ "$(api "$ADMIN" POST /v1/freeze '{"agent":"demo-agent"}' | j 's, d["type"]')" = "409 already-frozen" ]
check "other agents still work" [ "$(submit "$AGENT2" db.read prod/db/x | j 'd["status"]')" = allowed ]
metric() { curl -s "$COUNTERSIGN_URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
check "metrics: one frozen agent" [ "$(metric countersign_frozen_agents) $(metric countersign_frozen_global)" = "1 0" ]
check "GET /v1/freeze lists it" [ "$(api "$BOB" GET /v1/freeze | j '[a["agent"] for a in d["agents"]], d["global"]')" = "['demo-agent'] None" ]

# Audit entries: the freeze, the cancellation, the revocation, the refused request.
check "audit freeze.set" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='freeze.set' AND entry LIKE '%$fid%' AND actor='User::\"admin\"'")" = 1 ]
check "audit action.cancelled" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='action.cancelled' AND action_id='$pend' AND entry LIKE '%$fid%'")" = 1 ]
check "audit receipt.revoked" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='receipt.revoked' AND action_id='$live'")" = 1 ]
check "audit refused requests" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='action.submitted' AND entry LIKE '%\"frozen\":{%'")" = 32 ]

# Notified: the webhook hears agent.frozen.
for _ in $(seq 100); do grep -q '"agent.frozen"' "$tmp/hook.log" 2>/dev/null && break; sleep 0.1; done
check "webhook agent.frozen" grep -q "\"type\":\"agent.frozen\".*\"agent\":\"demo-agent\"" "$tmp/hook.log"

# The owner and the admins hear it too: Slack direct messages to those with a Slack id.
check "admin with a Slack id" [ "$(api "$ADMIN" POST /v1/tokens '{"kind":"user","name":"adam","slack_id":"U0ADAM1","admin":true}' | j 's')" = 201 ]
check "owner with a Slack id" [ "$(api "$ADMIN" POST /v1/tokens '{"kind":"user","name":"olga","slack_id":"U0OLGA1"}' | j 's')" = 201 ]
check "olga-bot" [ "$(api "$ADMIN" POST /v1/tokens '{"kind":"agent","name":"olga-bot","owner":"olga"}' | j 's')" = 201 ]
COUNTERSIGN_TOKEN=$ADMIN "$bin" freeze olga-bot --reason "owner test" >/dev/null
slack_has() { python3 - "$tmp/hook.log" "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    path, _, body = line.partition(' ')
    if path == '/slack/chat.postMessage':
        d = json.loads(body)
        if d.get('channel') == sys.argv[2] and 'olga-bot frozen by User::"admin": owner test' in d.get('text', ''): sys.exit(0)
sys.exit(1)
PY
}
for _ in $(seq 100); do slack_has U0OLGA1 && slack_has U0ADAM1 && slack_has '#security' && break; sleep 0.1; done
check "Slack DM to the owner" slack_has U0OLGA1
check "Slack DM to the admin" slack_has U0ADAM1
check "Slack message to freeze.notify" slack_has '#security'
COUNTERSIGN_TOKEN=$ADMIN "$bin" unfreeze olga-bot >/dev/null

# Durable: after a restart the agent is still frozen.
stop; start
check "frozen after restart" [ "$(submit "$AGENT" db.read prod/db/x | j 'd["status"], "frozen" in d')" = "denied True" ]
check "listed after restart" [ "$(COUNTERSIGN_TOKEN=$BOB "$bin" freeze --list | grep -c demo-agent)" = 1 ]

# Unfreeze restores (revoked receipts stay revoked).
check "agent may not unfreeze" [ "$(api "$AGENT" POST /v1/unfreeze '{"agent":"demo-agent"}' | j 's')" = 403 ]
COUNTERSIGN_TOKEN=$ADMIN "$bin" unfreeze demo-agent >/dev/null
check "unfreeze exit 0" [ $? = 0 ]
check "allowed again" [ "$(submit "$AGENT" db.read prod/db/x | j 'd["status"]')" = allowed ]
check "revoked receipt stays revoked" \
  [ "$(api "$AGENT" POST /v1/receipts/consume "{\"receipt\":\"$live_receipt\"}" | j 'd["type"]')" = receipt-revoked ]
check "audit freeze.cleared" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='freeze.cleared' AND entry LIKE '%$fid%'")" = 1 ]
COUNTERSIGN_TOKEN=$ADMIN "$bin" unfreeze demo-agent 2>/dev/null
check "unfreezing again exits 1" [ $? = 1 ]
for _ in $(seq 100); do grep -q '"agent.unfrozen"' "$tmp/hook.log" && break; sleep 0.1; done
check "webhook agent.unfrozen" grep -q '"type":"agent.unfrozen"' "$tmp/hook.log"

# Global freeze: every agent stops, humans keep working.
pend2=$(submit "$AGENT2" db.export prod/db/t | j 'd["id"]')
COUNTERSIGN_TOKEN=$ADMIN "$bin" freeze --reason "incident 42" >/dev/null
check "global freeze exit 0" [ $? = 0 ]
check "agent-two refused" [ "$(submit "$AGENT2" db.read prod/db/x | j 'd["status"], d["frozen"]["agent"]')" = "denied None" ]
check "demo-agent refused" [ "$(submit "$AGENT" db.read prod/db/x | j 'd["status"]')" = denied ]
check "agents' pending cancelled" [ "$(api "$BOB" GET "/v1/actions/$pend2" | j 'd["status"]')" = cancelled ]
check "earlier pending of agent-two cancelled" [ "$(api "$BOB" GET "/v1/actions/$other" | j 'd["status"]')" = cancelled ]
check "a human's own request still allowed" [ "$(submit "$ALICE" db.read prod/db/x | j 'd["status"]')" = allowed ]
hp=$(submit "$ALICE" db.export prod/db/customers | j 'd["id"]')
check "a human's request still waits for approval" [ "$(api "$ALICE" GET "/v1/actions/$hp" | j 'd["status"]')" = pending ]
check "metrics: global freeze" [ "$(metric countersign_frozen_global)" = 1 ]
check "GET shows global" [ "$(api "$AGENT" GET /v1/freeze | j 'd["global"]["reason"]')" = "incident 42" ]
COUNTERSIGN_TOKEN=$ADMIN "$bin" unfreeze >/dev/null
check "global unfreeze exit 0" [ $? = 0 ]
check "agents work again" [ "$(submit "$AGENT2" db.read prod/db/x | j 'd["status"]')" = allowed ]

# The log with every freeze entry still verifies offline against the gateway's key.
curl -s "$COUNTERSIGN_URL/v1/audit/key" > "$tmp/vkey"
COUNTERSIGN_TOKEN=$ADMIN "$bin" audit verify --url "$COUNTERSIGN_URL" --key "$(cat "$tmp/vkey")" > "$tmp/verify.out" 2>&1
check "audit verify ($(tail -1 "$tmp/verify.out"))" [ $? = 0 ]
COUNTERSIGN_TOKEN=$ADMIN "$bin" audit export --format ocsf > "$tmp/ocsf.jsonl" 2>&1
check "freeze.set exported as OCSF Account Change" grep -q '"class_uid":3001.*freeze.set\|freeze.set.*"class_uid":3001' "$tmp/ocsf.jsonl"

# Bad input: clear errors.
check "bad body type" [ "$(api "$ADMIN" POST /v1/freeze '{"agent":5}' | j 's')" = 400 ]
check "unknown field" [ "$(api "$ADMIN" POST /v1/freeze '{"agnt":"x"}' | j 'd["type"]')" = unknown-field ]
check "not an agent name" [ "$(api "$ADMIN" POST /v1/unfreeze '{"agent":"*"}' | j 's, d["field"]')" = "400 agent" ]
check "wrong method" [ "$(api "$ADMIN" DELETE /v1/freeze | j 's')" = 405 ]
finish
