#!/usr/bin/env node
// difftest.mjs - differential test of countersign's Cedar engine against the Cedar
// reference implementation (@cedar-policy/cedar-wasm, pinned in package.json).
//
//   node tests/cedar_diff/difftest.mjs RUNNER_PATH
//
// Environment: CS_DIFF_CASES (random cases, default 10000), CS_DIFF_SEED (default
// 20261121), CS_DIFF_HAND=0 to skip the hand-written cases in cases/*.json,
// CS_DIFF_MINIMIZE (mismatches to shrink, default 3).
//
// Every random case is generated from its own seed (printed with any mismatch), run
// through cedar-wasm and through the C runner, and the satisfied / not satisfied /
// error verdict of every policy on every request must be identical, as must the
// three-outcome decision. The run fails when any verdict class or any construct of
// the supported language was never exercised.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = path.dirname(fileURLToPath(import.meta.url));

// Node 20's optimizing compiler (TurboFan) now and then dies in this script with
// "Fatal error ... unreachable code" in Deoptimizer::DoComputeBuiltinContinuation,
// a V8 bug. Without TurboFan (--max-opt=1) it never did and costs little, since the
// time goes into WebAssembly, so the script re-runs itself that way.
if (!process.execArgv.some((a) => a.startsWith('--max-opt'))) {
  const res = spawnSync(process.execPath, ['--max-opt=1', ...process.execArgv, fileURLToPath(import.meta.url),
    ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(res.status ?? 1);
}
let ref, CaseGenerator, runEngine;
try {
  ref = await import('./lib/reference.mjs');
} catch (e) {
  console.error('difftest: cannot load @cedar-policy/cedar-wasm (run `npm ci` or `make deps` at the repository root)');
  console.error(String(e.message || e));
  process.exit(2);
}
const gen = await import('./lib/gen.mjs');
({ CaseGenerator } = gen);
const runnerLib = await import('./lib/runner.mjs');
({ runEngine } = runnerLib);
const { VERDICT } = ref;

const runner = process.argv[2];
if (!runner || !fs.existsSync(runner)) {
  console.error(`usage: difftest.mjs RUNNER_PATH (runner ${runner || '(none)'} not found)`);
  process.exit(2);
}
const N = Number(process.env.CS_DIFF_CASES ?? 10000);
const SEED = Number(process.env.CS_DIFF_SEED ?? 20261121);
const HAND = process.env.CS_DIFF_HAND !== '0';
const MINIMIZE = Number(process.env.CS_DIFF_MINIMIZE ?? 3);
const VNAME = ['false', 'true', 'error'];

// Constructs that must each appear at least once in a random run of normal size.
const REQUIRED = [
  'scope:principal_eq', 'scope:principal_in', 'scope:principal_is', 'scope:principal_is_in',
  'scope:action_eq', 'scope:action_in', 'scope:action_list',
  'scope:resource_eq', 'scope:resource_in', 'scope:resource_is', 'scope:resource_is_in',
  'clause:when', 'clause:unless',
  'expr:and', 'expr:or', 'expr:not', 'expr:if_then_else', 'expr:lt', 'expr:le', 'expr:gt', 'expr:ge',
  'expr:eq', 'expr:ne', 'expr:add', 'expr:sub', 'expr:mul', 'expr:neg', 'expr:long_near_limit',
  'expr:dot_access', 'expr:bracket_access', 'expr:has', 'expr:has_nested', 'expr:has_string',
  'expr:like', 'expr:like_wildcard', 'expr:like_escaped_star', 'expr:in_entity', 'expr:in_set',
  'expr:is', 'expr:is_in', 'expr:set_literal', 'expr:record_literal', 'expr:contains',
  'expr:containsAll', 'expr:containsAny', 'expr:isEmpty', 'expr:hasTag', 'expr:getTag',
  'expr:ip', 'expr:isIpv4', 'expr:isIpv6', 'expr:isLoopback', 'expr:isMulticast', 'expr:isInRange',
  'expr:decimal', 'expr:lessThan', 'expr:lessThanOrEqual', 'expr:greaterThan',
  'expr:greaterThanOrEqual', 'expr:entity_literal', 'expr:namespaced_entity', 'expr:string_escape',
  'annotation:id', 'annotation:approval', 'annotation:other', 'gen:ill_typed',
  'json:uid_entity_escape', 'json:entity_escape', 'json:extn_escape', 'json:tags',
  'data:slash_resources', 'data:dag_depth>=3', 'data:parent_not_in_store', 'gen:invalid_set_refused',
  'gen:principal_via_request',
  ...['Bool', 'Long', 'String', 'Entity', 'Set<Long>', 'Set<String>', 'Set<Entity>', 'Record',
    'ipaddr', 'decimal'].flatMap((t) => [`json:context:${t}`, `json:attr:${t}`]),
];
// Kinds of evaluation errors the reference reported; each must occur.
const ERROR_KINDS = [
  ['overflow', /overflow while attempting/],
  ['type', /type error/],
  ['missing attribute', /does not have the (attribute|required attribute)|does not have the attribute/],
  ['unknown entity', /does not exist/],
  ['missing tag', /does not have the tag/],
  ['extension', /extension function/],
];

const caseSeed = (i) => gen.caseSeed(SEED, i);
const JOBS = Math.max(1, Number(process.env.CS_DIFF_JOBS ?? Math.min(4, os.availableParallelism())));

const mismatches = [];
const verdictCounts = [0, 0, 0];
const decisionCounts = { allowed: 0, denied: 0, pending: 0 };
const coverage = new Map(); // construct -> [false, true, error] counts
const errorKinds = new Map(ERROR_KINDS.map(([k]) => [k, 0]));
let otherErrors = 0;
let refRejected = 0;
const sampleOther = [];

function cover(name, v) {
  if (!coverage.has(name)) coverage.set(name, [0, 0, 0]);
  coverage.get(name)[v]++;
}

function classifyError(msg) {
  for (const [k, re] of ERROR_KINDS) if (re.test(msg)) { errorKinds.set(k, errorKinds.get(k) + 1); return; }
  otherErrors++;
  if (sampleOther.length < 5) sampleOther.push(msg);
}

const reference = (c) => ref.evaluateCase(c);

/** Compares reference and engine on one case; returns a list of differences. */
function compare(c, R, E) {
  const diffs = [];
  if (!E) return [{ kind: 'missing', what: 'runner gave no answer' }];
  // Entities the reference refuses make every request fail there; the engine
  // refuses them when the set loads. Both refusing is agreement.
  if (R.ok && !E.ok && R.results.length && R.results.every((r) => r.error)) return diffs;
  if (R.ok !== E.ok) {
    return [{ kind: 'parse', what: `reference ${R.ok ? 'accepts' : 'rejects: ' + R.error}; engine ${E.ok ? 'accepts' : 'rejects: ' + E.error}` }];
  }
  if (!R.ok) return diffs;
  if (JSON.stringify(R.prep.ids) !== JSON.stringify(E.ids)) {
    diffs.push({ kind: 'ids', what: `policy ids: reference ${JSON.stringify(R.prep.ids)}, engine ${JSON.stringify(E.ids)}` });
    return diffs;
  }
  R.results.forEach((rr, qi) => {
    const er = E.results[qi];
    if (rr.error || !er || er.error || er.verdicts === undefined) {
      if (!(rr.error && er && er.error)) {
        diffs.push({ kind: 'request', qi, what: `reference: ${rr.error || 'ok'}; engine: ${er ? er.error || er.decide_error || 'ok' : 'nothing'}` });
      }
      return;
    }
    rr.verdicts.forEach((v, pi) => {
      if (v !== er.verdicts[pi]) {
        diffs.push({ kind: 'verdict', qi, pi, what: `policy ${R.prep.ids[pi]}: reference ${VNAME[v]}${rr.messages[pi] ? ' (' + rr.messages[pi] + ')' : ''}, engine ${VNAME[er.verdicts[pi]]}` });
      }
    });
    if (rr.decision !== er.decision) {
      diffs.push({ kind: 'decision', qi, what: `decision: reference ${rr.decision}, engine ${er.decision || er.decide_error}` });
    }
    // The decision's own lists come through the scope index: they must name the
    // same policies as the per-policy verdicts of the reference.
    const want = (v) => R.prep.ids.filter((_, pi) => rr.verdicts[pi] === v).sort().join(', ');
    const got = (a) => (a || []).slice().sort().join(', ');
    if (er.satisfied && want(VERDICT.TRUE) !== got(er.satisfied)) {
      diffs.push({ kind: 'decision', qi, what: `decision's satisfied policies: reference [${want(VERDICT.TRUE)}], engine [${got(er.satisfied)}]` });
    }
    if (er.errored && want(VERDICT.ERROR) !== got(er.errored)) {
      diffs.push({ kind: 'decision', qi, what: `decision's errored policies: reference [${want(VERDICT.ERROR)}], engine [${got(er.errored)}]` });
    }
  });
  return diffs;
}

// ---------------------------------------------------------------- minimization

function stillDiffers(rep) {
  const c = { id: 'min', policies: rep.policies, entities: rep.entities, requests: [rep.request] };
  const R = reference(c);
  let E;
  try { E = runEngine(runner, [c]).get('min'); } catch { return true; }
  return compare(c, R, E).some((d) => d.kind !== 'decision' || rep.kind === 'decision');
}

/** Greedily drops entities, context keys, attributes, tags and parents while the
 * single-policy case still disagrees. */
function minimize(rep) {
  let tries = 0;
  const attempt = (mut) => {
    if (tries++ > 400) return false;
    const cand = structuredClone(rep);
    if (mut(cand) === false) return false;
    if (stillDiffers(cand)) { rep = cand; return true; }
    return false;
  };
  for (let i = rep.entities.length - 1; i >= 0; i--) attempt((c) => { c.entities.splice(i, 1); });
  for (const k of Object.keys(rep.request.context || {})) attempt((c) => { delete c.request.context[k]; });
  for (let i = 0; i < rep.entities.length; i++) {
    for (const k of Object.keys(rep.entities[i].attrs || {})) attempt((c) => { delete c.entities[i].attrs[k]; });
    if (rep.entities[i].tags) {
      if (!attempt((c) => { delete c.entities[i].tags; })) {
        for (const k of Object.keys(rep.entities[i].tags)) attempt((c) => { delete c.entities[i].tags[k]; });
      }
    }
    for (let p = (rep.entities[i].parents || []).length - 1; p >= 0; p--) attempt((c) => { c.entities[i].parents.splice(p, 1); });
  }
  return rep;
}

function reportMismatch(c, seed, diffs, R) {
  console.log(`\nMISMATCH in case ${c.id} (case seed ${seed}):`);
  for (const d of diffs.slice(0, 10)) console.log(`  - ${d.what}${d.qi !== undefined ? ` [request ${d.qi}]` : ''}`);
  const d = diffs.find((x) => x.kind === 'verdict') || diffs[0];
  let rep;
  if (d.kind === 'verdict' && R.ok) {
    rep = { kind: 'verdict', policies: R.prep.texts[d.pi], entities: c.entities, request: c.requests[d.qi] };
    if (!stillDiffers(rep)) rep = { kind: 'verdict', policies: c.policies, entities: c.entities, request: c.requests[d.qi] };
  } else {
    rep = { kind: d.kind, policies: c.policies, entities: c.entities, request: c.requests[d.qi ?? 0] };
  }
  if (mismatches.length <= MINIMIZE && rep.request) rep = minimize(rep);
  console.log('  repro:');
  console.log(`    policies: ${rep.policies.replace(/\n/g, '\n              ')}`);
  console.log(`    entities: ${JSON.stringify(rep.entities)}`);
  console.log(`    request:  ${JSON.stringify(rep.request)}`);
}

// ---------------------------------------------------------------- random cases

/** The gateway passes the caller's groups and attributes with the request rather
 * than in entities.json. For some cases, a variant of request 0 does that: the
 * principal leaves the entity list and comes back as principal_groups and
 * principal_attrs; the engine must then say what the reference said about the
 * original. Only done when nothing else names the principal (a literal, another
 * entity's attribute, the context), and when its parents are all groups and it
 * has no tags, since those cannot travel with the request. */
function viaRequestVariant(c) {
  const rq = c.requests[0];
  const P = rq.principal;
  const ents = c.entities;
  const k = ents.findIndex((e) => { const u = e.uid.__entity || e.uid; return u.type === P.type && u.id === P.id; });
  if (k < 0) return null;
  const e = ents[k];
  const parents = e.parents.map((p) => p.__entity || p);
  if (parents.some((p) => p.type !== 'Group') || (e.tags && Object.keys(e.tags).length)) return null;
  const idStr = JSON.stringify(P.id);
  const others = ents.filter((_, i) => i !== k);
  if (c.policies.includes(idStr) || JSON.stringify(others).includes(idStr) || JSON.stringify(rq).split(idStr).length > 2) return null;
  return { id: `${c.id}/via-request`, policies: c.policies, entities: others,
    requests: [{ ...rq, principal_groups: parents.map((p) => p.id), principal_attrs: e.attrs }] };
}

/** Worker threads that generate cases and ask the reference about them (the
 * reference is the slow part, and each thread has its own cedar-wasm). */
function startWorkers() {
  return Array.from({ length: JOBS }, () => {
    const w = new Worker(new URL('./lib/worker.mjs', import.meta.url), { workerData: { seed: SEED } });
    w.unref();
    return w;
  });
}

function produce(workers, from, to) {
  const per = Math.ceil((to - from) / workers.length);
  return Promise.all(workers.map((w, j) => new Promise((resolve, reject) => {
    const lo = Math.min(to, from + j * per), hi = Math.min(to, lo + per);
    w.once('message', resolve);
    w.once('error', reject);
    w.postMessage({ from: lo, to: hi });
  }))).then((parts) => ({ cases: parts.flatMap((p) => p.cases), refs: parts.flatMap((p) => p.refs) }));
}

async function runRandom() {
  // In chunks, so that a long run (make difftest-long) keeps little in memory. While
  // the runner decides chunk k, the workers already generate and evaluate chunk k+1.
  const CHUNK = 2000;
  let nReq = 0, tRef = 0, tWait = 0;
  const workers = startWorkers();
  let t0 = Date.now();
  let next = produce(workers, 0, Math.min(N, CHUNK));
  for (let base = 0; base < N; base += CHUNK) {
    const { cases, refs } = await next;
    const seeds = cases.map((c) => caseSeed(c.id));
    for (const R of refs) if (!R.ok) refRejected++;
    const variants = cases.map(viaRequestVariant);
    const engine = runnerLib.runEngineAsync(runner, [...cases, ...variants.filter(Boolean)]);
    engine.catch(() => {}); // awaited below
    const t1 = Date.now();
    tRef += t1 - t0;
    if (base + CHUNK < N) next = produce(workers, base + CHUNK, Math.min(N, base + 2 * CHUNK));
    const eng = await engine;
    t0 = Date.now();
    tWait += t0 - t1;
    cases.forEach((c, k) => {
      const R = refs[k];
      const diffs = compare(c, R, eng.get(c.id));
      if (diffs.length) { mismatches.push({ id: c.id }); reportMismatch(c, seeds[k], diffs, R); }
      const v = variants[k];
      if (v && R.ok) {
        const Rv = { ...R, results: R.results.slice(0, 1) };
        const vd = compare(v, Rv, eng.get(v.id));
        if (vd.length) {
          mismatches.push({ id: v.id });
          console.log(`\nMISMATCH in case ${v.id} (case seed ${seeds[k]}): principal's groups and attributes passed with the request`);
          for (const d of vd.slice(0, 10)) console.log(`  - ${d.what}`);
          console.log(`    policies: ${v.policies.replace(/\n/g, '\n              ')}`);
          console.log(`    entities: ${JSON.stringify(v.entities)}`);
          console.log(`    request:  ${JSON.stringify(v.requests[0])}`);
        } else if (!diffs.length) cover('gen:principal_via_request', 0);
      }
      if (!R.ok) {
        // Only mutated (invalid) policies should be refused; the comparison above
        // has already checked that the engine refused them too.
        cover(c.meta.policies.some((p) => p.constructs.includes('gen:syntax_mutation'))
          ? 'gen:invalid_set_refused' : 'gen:valid_set_refused_by_reference(generator bug)', 0);
        return;
      }
      nReq += R.results.length;
      for (const rr of R.results) {
        if (rr.error) continue;
        decisionCounts[rr.decision]++;
        rr.verdicts.forEach((v, pi) => {
          verdictCounts[v]++;
          if (v === VERDICT.ERROR) classifyError(rr.messages[pi]);
          for (const name of c.meta.policies[pi].constructs) cover(name, v);
        });
      }
      for (const name of c.meta.dataConstructs) cover(name, 0);
    });
    if (N > CHUNK) process.stderr.write(`difftest: ${Math.min(N, base + CHUNK)}/${N} cases, ${mismatches.length} mismatching\n`);
  }
  console.log(`random: ${N} cases (seed ${SEED}), ${nReq} requests, ${verdictCounts.reduce((a, b) => a + b)} policy verdicts; `
    + `waiting for generation and reference (${JOBS} threads) ${(tRef / 1000).toFixed(1)} s, for the engine ${(tWait / 1000).toFixed(1)} s`);
  await Promise.all(workers.map((w) => w.terminate()));
}

// ---------------------------------------------------------------- hand-written cases

function expectedVerdicts(prep, expect) {
  const sat = new Set(expect.satisfied || []);
  const err = new Set(expect.errors || []);
  return prep.ids.map((id) => (sat.has(id) ? VERDICT.TRUE : err.has(id) ? VERDICT.ERROR : VERDICT.FALSE));
}

function runHand() {
  const dir = path.join(here, 'cases');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  let nReq = 0, failures = 0;
  const cases = [];
  for (const f of files) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    for (const [k, hc] of (Array.isArray(doc) ? doc : [doc]).entries()) {
      cases.push({ ...hc, id: `${f}#${k}`, file: f });
    }
  }
  const eng = runEngine(runner, cases);
  let skipped = 0;
  for (const c of cases) {
    if (c.known_bug && gen.KNOWN_BUGS.has(c.known_bug)) { skipped++; continue; }
    const R = reference(c);
    const E = eng.get(c.id);
    const diffs = compare(c, R, E);
    const problems = diffs.map((d) => `engine vs reference: ${d.what}${d.qi !== undefined ? ` [request ${c.requests[d.qi].name || d.qi}]` : ''}`);
    if (c.expect_reject) {
      if (R.ok) problems.push('expected the reference to reject the policies; it accepts them');
    } else if (!R.ok) problems.push(`reference rejects the policies: ${R.error}`);
    else {
      c.requests.forEach((rq, qi) => {
        nReq++;
        const rr = R.results[qi];
        if (!rq.expect) return;
        if (rq.expect.refused) {
          if (!rr.error) problems.push(`request ${rq.name || qi}: expected the reference to refuse the request; it evaluates it`);
          return;
        }
        if (rr.error) { problems.push(`request ${rq.name || qi}: reference fails: ${rr.error}`); return; }
        const want = expectedVerdicts(R.prep, rq.expect);
        R.prep.ids.forEach((id, pi) => {
          if (want[pi] !== rr.verdicts[pi]) problems.push(`request ${rq.name || qi}: policy ${id}: expected ${VNAME[want[pi]]}, reference says ${VNAME[rr.verdicts[pi]]}`);
        });
        if (rq.expect.decision && rq.expect.decision !== rr.decision) problems.push(`request ${rq.name || qi}: expected ${rq.expect.decision}, reference decides ${rr.decision}`);
        for (const v of rr.verdicts) verdictCounts[v]++;
      });
    }
    if (problems.length) {
      failures++;
      mismatches.push({ id: c.id });
      console.log(`\nHAND CASE ${c.id} (${c.name || ''}) FAILED:`);
      for (const p of problems) console.log(`  - ${p}`);
    }
  }
  console.log(`hand-written: ${cases.length} cases from ${files.length} files, ${nReq} requests, ${failures} failing`
    + (skipped ? `, ${skipped} skipped as known engine bugs (FINDINGS.md; CS_DIFF_KNOWN_BUGS=none runs them)` : ''));
}

// ---------------------------------------------------------------- main

console.log(`difftest: Cedar reference ${ref.cedarVersion()} (cedar-wasm) vs ${runner}`);
if (gen.KNOWN_BUGS.size && N > 0) {
  console.log(`NOTE: generator steers around known engine bugs (FINDINGS.md): ${[...gen.KNOWN_BUGS].join(', ')}; `
    + 'CS_DIFF_KNOWN_BUGS=none includes them');
}
let fatal = false;
try {
  if (N > 0) await runRandom();
  if (HAND) runHand();
} catch (e) {
  console.log(`\nFATAL: ${e.message}`);
  fatal = true;
}

if (N > 0 && !fatal) {
  console.log(`verdicts: true ${verdictCounts[1]}, false ${verdictCounts[0]}, error ${verdictCounts[2]}`);
  console.log(`decisions: allowed ${decisionCounts.allowed}, denied ${decisionCounts.denied}, pending ${decisionCounts.pending}`);
  console.log(`errors by kind: ${[...errorKinds].map(([k, n]) => `${k} ${n}`).join(', ')}, other ${otherErrors}`);
  if (sampleOther.length) console.log(`  other errors, e.g.: ${sampleOther.join(' | ')}`);
  if (refRejected) console.log(`reference rejected ${refRejected} generated policy sets (compared as rejections)`);
  console.log('constructs (policies or cases containing them: false/true/error):');
  const names = [...new Set([...REQUIRED, ...coverage.keys()])].sort();
  const cells = names.map((k) => { const c = coverage.get(k) || [0, 0, 0]; return `${k} ${c[0]}/${c[1]}/${c[2]}`; });
  for (let i = 0; i < cells.length; i += 3) console.log('  ' + cells.slice(i, i + 3).map((s) => s.padEnd(44)).join(''));
  const missing = REQUIRED.filter((k) => !coverage.has(k));
  const missingErr = [...errorKinds].filter(([, n]) => n === 0).map(([k]) => k);
  if (N >= 2000) {
    if (missing.length) { console.log(`FAIL: constructs never exercised: ${missing.join(', ')}`); fatal = true; }
    if (missingErr.length) { console.log(`FAIL: error kinds never produced: ${missingErr.join(', ')}`); fatal = true; }
    for (const [i, n] of verdictCounts.entries()) if (!n) { console.log(`FAIL: no ${VNAME[i]} verdict at all`); fatal = true; }
    if (coverage.has('gen:valid_set_refused_by_reference(generator bug)')) {
      console.log('FAIL: the reference refused policy sets the generator meant to be valid (a generator bug)');
      fatal = true;
    }
    for (const [k, n] of Object.entries(decisionCounts)) if (!n) { console.log(`FAIL: no ${k} decision at all`); fatal = true; }
  }
}
if (mismatches.length) console.log(`FAIL: ${mismatches.length} case(s) where the engine and the reference disagree`);
const ok = !fatal && mismatches.length === 0;
console.log(ok ? 'difftest: OK' : 'difftest: FAILED');
process.exit(ok ? 0 : 1);
