#!/usr/bin/env bash
# policy check / policy eval as a user runs them: output, exit codes, error listing.
set -u
bin=$1; src=$2
fails=0; passes=0
t() { # name, expected exit, grep pattern, command...
  local name=$1 want=$2 pat=$3; shift 3
  local out; out=$("$@" 2>&1); local rc=$?
  if [ "$rc" != "$want" ] || ! grep -qE -- "$pat" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want), output:"; echo "$out" | sed 's/^/    /'; fails=$((fails+1))
  else passes=$((passes+1)); fi
}
dir=$src/examples/policy
t check-ok 0 "4 policies OK \(version sha256:[0-9a-f]{64}\)" "$bin" policy check "$dir"
t eval-pending 3 "decision: pending" "$bin" policy eval --dir "$dir" --principal 'Agent::"demo-agent"' --action db.export --resource prod/db/customers
t eval-pending-explains 3 "requires 2 approvals from dba \(Exports of customer data need two DBAs\)" "$bin" policy eval --dir "$dir" --principal 'Agent::"demo-agent"' --action db.export --resource prod/db/customers
t eval-forbid 1 "matched:  no-prod-iam \(forbid\)" "$bin" policy eval --dir "$dir" --principal 'User::"alice"' --action iam.role.update --resource prod/iam/role
t eval-allowed 0 "Allowed by policy 'routine-reads'" "$bin" policy eval --dir "$dir" --principal 'Agent::"a"' --action db.read --resource staging/x
t eval-default-deny 1 "default deny" "$bin" policy eval --dir "$dir" --principal 'Agent::"a"' --action deploy.apply --resource prod/web
t eval-json 3 '"decision": "pending"' "$bin" policy eval --dir "$dir" --json --principal 'Agent::"a"' --action db.export --resource prod/db/customers
t eval-context-error 1 "failed to evaluate: attribute \"owner\" does not exist" "$bin" policy eval --dir "$dir" --principal 'Agent::"a"' --action db.export --resource staging/db --context '{"rows": 5}'
t eval-bad-context 2 "must be a JSON object" "$bin" policy eval --dir "$dir" --principal 'Agent::"a"' --action db.read --resource x --context '[1'
t eval-usage 2 "usage" "$bin" policy eval --dir "$dir"
tmp=$(mktemp -d)
printf 'permit(principal, action, resource)\n' > "$tmp/a.cedar"
printf 'forbid(principal, action resource);\n' > "$tmp/b.cedar"
printf '[{"uid": {"type": "X"}, "attrs": {}, "parents": []}]' > "$tmp/entities.json"
t check-lists-every-error 1 "a.cedar:2:1: error: expected 'when', 'unless' or ';'" "$bin" policy check "$tmp"
t check-lists-second-file 1 "b.cedar:1:26: error: expected ',' after the action" "$bin" policy check "$tmp"
t check-lists-entities 1 "entities.json: error: entity #0: uid" "$bin" policy check "$tmp"
t check-counts 1 "3 errors in" "$bin" policy check "$tmp"
t check-missing-dir 1 "cannot read policy directory" "$bin" policy check "$tmp/nope"
rm -rf "$tmp"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
