// reference.mjs - per-policy verdicts and three-outcome decisions from the Cedar
// reference implementation (@cedar-policy/cedar-wasm).
//
// Cedar reports which policies determined a decision, not the verdict of each
// policy. Turning every policy into a permit (forbids included) makes the answer
// complete: when nothing is forbidden, `diagnostics.reason` lists every satisfied
// permit and `diagnostics.errors` every policy that errored; the rest are false.

import * as cedar from '@cedar-policy/cedar-wasm/nodejs';

export const VERDICT = { FALSE: 0, TRUE: 1, ERROR: 2 };
export const cedarVersion = () => cedar.getCedarVersion();

/** Where the effect keyword of one policy's text starts: after whitespace,
 * comments and annotations (`@name` or `@name("...")`). */
function effectOffset(t) {
  let i = 0;
  for (;;) {
    while (i < t.length && /\s/.test(t[i])) i++;
    if (t.startsWith('//', i)) { while (i < t.length && t[i] !== '\n') i++; continue; }
    if (t[i] !== '@') return i;
    i++;
    while (i < t.length && /[A-Za-z0-9_]/.test(t[i])) i++;
    while (i < t.length && /\s/.test(t[i])) i++;
    if (t[i] !== '(') continue;
    i = t.indexOf('"', i) + 1;
    while (i > 0 && i < t.length && t[i] !== '"') i += t[i] === '\\' ? 2 : 1;
    i = t.indexOf(')', i) + 1;
    if (i <= 0) return -1;
  }
}

/** Splits policy text into policies and prepares the all-permit set cedar-wasm
 * evaluates. Returns {ok, error} or {ok, ids, effects, approvals, texts, permitSet}.
 * Ids follow countersign's rule: the @id annotation, else "policy<N>". The
 * rewrite is done on the text: cedar-wasm's JSON form does not survive a trip
 * through JavaScript (Longs beyond 2^53 lose precision). */
export function preparePolicies(text) {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type !== 'success') return { ok: false, error: parts.errors.map((e) => e.message).join('; ') };
  if (parts.policy_templates.length) return { ok: false, error: 'templates are not supported' };
  // policySetTextToParts does not keep source order; put the parts back in it.
  const used = new Set();
  const at = (t) => {
    for (let from = 0; ;) {
      const k = text.indexOf(t, from);
      if (k < 0) return Infinity;
      if (!used.has(k)) { used.add(k); return k; }
      from = k + 1;
    }
  };
  const ordered = parts.policies.map((t) => [at(t), t]).sort((a, b) => a[0] - b[0]).map(([, t]) => t);
  const ids = [], effects = [], approvals = [], texts = [], permitSet = {};
  for (let i = 0; i < ordered.length; i++) {
    const t = ordered[i];
    const js = cedar.policyToJson(t);
    if (js.type !== 'success') return { ok: false, error: js.errors.map((e) => e.message).join('; ') };
    const annots = js.json.annotations || {};
    const id = Object.prototype.hasOwnProperty.call(annots, 'id') ? annots.id : `policy${i}`;
    if (Object.prototype.hasOwnProperty.call(permitSet, id)) return { ok: false, error: `duplicate policy id ${id}` };
    const eff = effectOffset(t);
    if (eff < 0 || !t.startsWith(js.json.effect, eff)) return { ok: false, error: `cannot find the effect of ${id}` };
    ids.push(id);
    effects.push(js.json.effect);
    approvals.push(Object.prototype.hasOwnProperty.call(annots, 'approval'));
    texts.push(t);
    permitSet[id] = t.slice(0, eff) + 'permit' + t.slice(eff + js.json.effect.length);
  }
  return { ok: true, ids, effects, approvals, texts, permitSet };
}

/** The fast path for generated policies, whose effect keyword starts the first
 * line that is not an annotation: the all-permit set is made by rewriting that
 * keyword, and ids/effects come from the generator. Parsed once per case. */
export function prepareGenerated(policies) {
  const permitSet = {};
  for (const p of policies) permitSet[p.id] = p.text.replace(/^(permit|forbid) \(/m, 'permit (');
  const parsed = cedar.preparsePolicySet('difftest', { staticPolicies: permitSet });
  if (parsed.type !== 'success') return { ok: false, error: parsed.errors.map((e) => e.message).join('; ') };
  return { ok: true, preparsed: 'difftest', ids: policies.map((p) => p.id), effects: policies.map((p) => p.effect),
    approvals: policies.map((p) => p.approval), texts: policies.map((p) => p.text), permitSet };
}

/** Verdicts (VERDICT.*) of every prepared policy on one request, or {error}. */
export function verdicts(prep, entities, req) {
  const call = { principal: req.principal, action: req.action, resource: req.resource,
    context: req.context || {}, entities };
  const ans = prep.preparsed ? cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: prep.preparsed })
    : cedar.isAuthorized({ ...call, policies: { staticPolicies: prep.permitSet } });
  if (ans.type !== 'success') return { error: ans.errors.map((e) => e.message).join('; ') };
  const sat = new Set(ans.response.diagnostics.reason);
  const err = new Map(ans.response.diagnostics.errors.map((e) => [e.policyId, e.error.message]));
  const v = prep.ids.map((id) => (sat.has(id) ? VERDICT.TRUE : err.has(id) ? VERDICT.ERROR : VERDICT.FALSE));
  return { verdicts: v, messages: prep.ids.map((id) => err.get(id) || null) };
}

/** countersign's combination: forbid > @approval permit > permit > default deny. */
export function decide(effects, approvals, v) {
  let pending = false, allowed = false;
  for (let i = 0; i < v.length; i++) {
    if (v[i] !== VERDICT.TRUE) continue;
    if (effects[i] === 'forbid') return 'denied';
    if (approvals[i]) pending = true; else allowed = true;
  }
  return pending ? 'pending' : allowed ? 'allowed' : 'denied';
}

/** Evaluates a whole case (policies, entities, requests) with the reference:
 * {ok, error} or {ok, prep, results: [{verdicts, messages, decision} | {error}]}. */
export function evaluateCase(c) {
  const prep = c.meta ? prepareGenerated(c.meta.policies) : preparePolicies(c.policies);
  if (!prep.ok) return { ok: false, error: prep.error };
  const entities = typeof c.entities === 'string' ? JSON.parse(c.entities) : c.entities;
  const results = c.requests.map((rq) => {
    const r = verdicts(prep, entities, rq);
    if (r.error) return { error: r.error };
    return { verdicts: r.verdicts, messages: r.messages, decision: decide(prep.effects, prep.approvals, r.verdicts) };
  });
  return { ok: true, prep, results };
}
