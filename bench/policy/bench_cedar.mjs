#!/usr/bin/env node
// bench_cedar.mjs - the reference side of the policy benchmark: evaluates every
// request of DIR/requests.jsonl against DIR/policies.cedar with cedar-wasm and
// derives countersign's three outcomes from what Cedar reports.
//
//   node bench/policy/bench_cedar.mjs DIR DECISIONS_OUT [--every K]
//
// cedar-wasm needs milliseconds per decision on 1,000 policies, so by default the
// run script gives it every K-th request (--every 1 is the full set).
// To be fair to the reference the policy set is parsed once (preparsePolicySet +
// statefulIsAuthorized), and each call gets only the entities the request can
// reach (principal, action and resource with their ancestors), as Cedar's
// documentation recommends; that slicing happens before the clock starts.
// Decision: Cedar denies with a reason -> a forbid was satisfied -> denied; Cedar
// allows -> pending if a satisfied permit carries @approval, else allowed;
// otherwise denied. Prints one JSON summary line; writes "INDEX LETTER" per
// evaluated request (A allowed, D denied, P pending) to DECISIONS_OUT.

import fs from 'node:fs';
import path from 'node:path';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

const [dir, out] = process.argv.slice(2);
const kIdx = process.argv.indexOf('--every');
const every = kIdx > 0 ? Math.max(1, Number(process.argv[kIdx + 1])) : 1;

const text = fs.readFileSync(path.join(dir, 'policies.cedar'), 'utf8');
const entities = JSON.parse(fs.readFileSync(path.join(dir, 'entities.json'), 'utf8'));
const all = fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8').split('\n').filter(Boolean);
const indices = [];
for (let i = 0; i < all.length; i += every) indices.push(i);
const requests = indices.map((i) => JSON.parse(all[i]));

// Policies by their @id, and which of them carry @approval.
const parts = cedar.policySetTextToParts(text);
if (parts.type !== 'success') throw new Error(parts.errors.map((e) => e.message).join('; '));
const staticPolicies = {};
const approval = new Set();
for (const p of parts.policies) {
  const id = /@id\("([^"]*)"\)/.exec(p)[1];
  staticPolicies[id] = p;
  if (/@approval\(/.test(p)) approval.add(id);
}
const parsed = cedar.preparsePolicySet('bench', { staticPolicies });
if (parsed.type !== 'success') throw new Error(parsed.errors.map((e) => e.message).join('; '));

const key = (u) => `${u.type}::${u.id}`;
const byKey = new Map(entities.map((e) => [key(e.uid), e]));
function slice(req) {
  const seen = new Map();
  const walk = (u) => {
    const k = key(u);
    if (seen.has(k)) return;
    const e = byKey.get(k);
    if (!e) return;
    seen.set(k, e);
    for (const p of e.parents) walk(p);
  };
  walk(req.principal); walk(req.action); walk(req.resource);
  return [...seen.values()];
}
const calls = requests.map((q) => ({ principal: q.principal, action: q.action, resource: q.resource,
  context: q.context, preparsedPolicySetId: 'bench', entities: slice(q) }));

function decide(call) {
  const ans = cedar.statefulIsAuthorized(call);
  if (ans.type !== 'success') throw new Error(ans.errors.map((e) => e.message).join('; '));
  const { decision, diagnostics } = ans.response;
  if (decision === 'deny') return 'D';
  for (const id of diagnostics.reason) if (approval.has(id)) return 'P';
  return 'A';
}

for (let i = 0; i < Math.min(2000, calls.length); i++) decide(calls[i]); // warm-up
const lat = new Float64Array(calls.length);
const letters = new Array(calls.length);
const t0 = process.hrtime.bigint();
for (let i = 0; i < calls.length; i++) {
  const a = process.hrtime.bigint();
  letters[i] = decide(calls[i]);
  lat[i] = Number(process.hrtime.bigint() - a);
}
const total = Number(process.hrtime.bigint() - t0) / 1e9;
fs.writeFileSync(out, letters.map((c, k) => `${indices[k]} ${c}`).join('\n') + '\n');
const sorted = Float64Array.from(lat).sort();
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
const count = (c) => letters.filter((x) => x === c).length;
console.log(JSON.stringify({ engine: `cedar-wasm ${cedar.getCedarVersion()}`, policies: parts.policies.length,
  requests: calls.length, of_requests: all.length, every, seconds: total, decisions_per_s: calls.length / total, p50_ns: pct(0.5),
  p99_ns: pct(0.99), max_ns: sorted[sorted.length - 1],
  allowed: count('A'), denied: count('D'), pending: count('P') }));
