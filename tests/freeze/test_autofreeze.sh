#!/usr/bin/env bash
# Automatic freeze against a real daemon: per-agent limits from countersign.yaml
# (requests per minute, denials within a window, concurrent pending requests,
# requests of an action class per hour). Going over one freezes the agent with a
# reason naming the limit and the figures; later requests are refused; other agents
# and humans are untouched. Bad limits in the file are errors with file:line.
. "$(dirname "$0")/../gateway/daemon.sh"

cat >> "$cfg" <<'EOF2'
limits:
  requests_per_minute: 8    # every agent without an entry below; never humans
  agents:
    burst-bot: { requests_per_minute: 5 }
    deny-bot:
      denials: { count: 2, window: 10m }
    pend-bot: { concurrent_pending: 1 }
    class-bot:
      classes:
        - { action: db.read, per_hour: 2 }
EOF2
check "valid limits pass --check" "$bin" serve --config "$cfg" --check
start
BURST=$(new_agent burst-bot) DENY=$(new_agent deny-bot) PEND=$(new_agent pend-bot) CLASS=$(new_agent class-bot)

# requests_per_minute: 5 go through, the 6th freezes the agent and is refused.
for i in 1 2 3 4 5; do
  check "burst request $i allowed" [ "$(submit "$BURST" db.read "prod/db/b$i" | j 'd["status"]')" = allowed ]
done
r=$(submit "$BURST" db.read prod/db/b6)
check "6th request refused as frozen" [ "$(echo "$r" | j 'd["status"], "frozen" in d')" = "denied True" ]
reason=$(echo "$r" | j 'd["frozen"]["reason"]')
check "reason names the limit and the figures ($reason)" [ "$reason" = "requests_per_minute: 6 in the last 60 s, limit 5" ]
check "later requests refused" [ "$(submit "$BURST" db.read prod/db/b7 | j 'd["status"], "frozen" in d')" = "denied True" ]
f=$(api "$ADMIN" GET /v1/freeze | j '[(a["agent"], a["automatic"], a["limit"]["name"], a["limit"]["observed"], a["limit"]["limit"], a["by"]) for a in d["agents"]]')
check "listed as automatic ($f)" [ "$f" = "[('burst-bot', True, 'requests_per_minute', 6, 5, 'System::\"countersign\"')]" ]
check "audited as the system" [ "$(sql "SELECT COUNT(*) FROM audit WHERE type='freeze.set' AND actor='System::\"countersign\"' AND entry LIKE '%requests_per_minute: 6 in the last 60 s%'")" = 1 ]
check "other agents untouched" [ "$(submit "$AGENT" db.read prod/db/x | j 'd["status"]')" = allowed ]

# denials: two denials are tolerated, the third freezes; that request stays the policy's denial.
for i in 1 2; do
  check "denial $i" [ "$(submit "$DENY" iam.role.update prod/iam/r | j 'd["status"], "frozen" in d')" = "denied False" ]
done
r=$(submit "$DENY" iam.role.update prod/iam/r)
check "third denial keeps the policy's explanation" [ "$(echo "$r" | j '"IAM changes in production are forbidden" in d["policy"]["explanation"], "frozen" in d')" = "True False" ]
check "and freezes the agent" [ "$(submit "$DENY" db.read prod/db/x | j 'd["frozen"]["reason"]')" = "denials: 3 denials in the last 600 s, limit 2" ]

# concurrent_pending: one pending is fine; a second freezes the agent and cancels the first.
p1=$(submit "$PEND" db.export prod/db/customers | j 'd["id"]')
check "first pending" [ "$(api "$BOB" GET "/v1/actions/$p1" | j 'd["status"]')" = pending ]
r=$(submit "$PEND" db.export prod/db/orders)
check "second pending refused" [ "$(echo "$r" | j 'd["status"], d["frozen"]["reason"]')" = "denied concurrent_pending: 2 pending, limit 1" ]
check "first pending cancelled by the freeze" [ "$(api "$BOB" GET "/v1/actions/$p1" | j 'd["status"]')" = cancelled ]

# classes: db.read at most twice an hour; other actions do not count.
check "class 1" [ "$(submit "$CLASS" db.read prod/db/c1 | j 'd["status"]')" = allowed ]
check "other action" [ "$(submit "$CLASS" db.query prod/db/c1 | j 'd["status"]')" = allowed ]
check "class 2" [ "$(submit "$CLASS" db.read prod/db/c2 | j 'd["status"]')" = allowed ]
check "class 3 freezes" [ "$(submit "$CLASS" db.read prod/db/c3 | j 'd["frozen"]["reason"]')" = "classes[db.read].per_hour: 3 in the last hour, limit 2" ]

# Limits are per agent: a human making more requests than the default allows is not limited.
for i in $(seq 10); do submit "$ALICE" db.read "prod/db/h$i" > /dev/null; done
check "humans are never limited" [ "$(submit "$ALICE" db.read prod/db/h | j 'd["status"]')" = allowed ]
stop

# Bad limits are errors naming file and line.
bad() { # yaml, expected message
  printf 'policy_dir: policy\n%s\n' "$1" > "$tmp/data/bad.yaml"
  msg=$("$bin" serve --config "$tmp/data/bad.yaml" --check 2>&1)
  rc=$?
  [ $rc != 0 ] && echo "$msg" | grep -q "$2" && pass || fail "bad config accepted or unclear: $1 -> $msg"
}
bad 'limits:
  requests_per_minut: 5' "bad.yaml:3: unknown key 'requests_per_minut' in limits"
bad 'limits:
  requests_per_minute: -1' "bad.yaml:3: limits: requests_per_minute must be a positive integer"
bad 'limits:
  denials: { count: 3 }' "bad.yaml:3: limits.denials needs count and window"
bad 'limits:
  denials: { count: 3, window: soon }' "bad.yaml:3: limits.denials.window must be a duration"
bad 'limits:
  classes:
    - { per_hour: 3 }' "bad.yaml:4: limits.classes entries need action and per_hour"
bad 'freeze:
  notify: [ "teams:dba" ]' "bad.yaml:3: freeze.notify targets look like"
finish
