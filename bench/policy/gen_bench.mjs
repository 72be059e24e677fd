#!/usr/bin/env node
// gen_bench.mjs - deterministic generator of the policy benchmark's data: a
// realistic approval-gateway policy set (1,000 policies by default), the entities
// (groups, agents, users, resource trees with their path prefixes as explicit
// parents, action groups) and 100,000 requests.
//
//   node bench/policy/gen_bench.mjs OUT_DIR [--policies N] [--requests N] [--seed S]
//
// Writes OUT_DIR/policies.cedar, OUT_DIR/entities.json and OUT_DIR/requests.jsonl
// (one {principal, action, resource, context} per line).

import fs from 'node:fs';
import path from 'node:path';
import { Rng } from '../../tests/cedar_diff/lib/rng.mjs';

const args = process.argv.slice(2);
const outDir = args[0];
const opt = (name, dflt) => { const i = args.indexOf(name); return i > 0 ? Number(args[i + 1]) : dflt; };
if (!outDir) { console.error('usage: gen_bench.mjs OUT_DIR [--policies N] [--requests N] [--seed S]'); process.exit(2); }
const N_POLICIES = opt('--policies', 1000);
const N_REQUESTS = opt('--requests', 100000);
const r = new Rng(opt('--seed', 7));

// ------------------------------------------------------------------ the world

// Actions by service, and the resource subtree each service works on.
const SERVICES = {
  db: { actions: ['db.read', 'db.write', 'db.export', 'db.delete', 'db.schema.alter'], tree: ['db'] },
  sql: { actions: ['sql.execute'], tree: ['pg'] },
  deploy: { actions: ['deploy.apply', 'deploy.rollback', 'deploy.scale'], tree: ['k8s'] },
  iam: { actions: ['iam.role.update', 'iam.user.create', 'iam.key.rotate', 'iam.policy.attach'], tree: ['iam'] },
  mcp: { actions: ['mcp.call'], tree: ['mcp'] },
  shell: { actions: ['shell.exec'], tree: ['hosts'] },
  s3: { actions: ['s3.get', 's3.put', 's3.delete'], tree: ['s3'] },
  secrets: { actions: ['secrets.read', 'secrets.write'], tree: ['secrets'] },
};
const ACTIONS = Object.values(SERVICES).flatMap((s) => s.actions);
const READ_ONLY = ['db.read', 's3.get', 'secrets.read', 'sql.execute'];
const DESTRUCTIVE = ['db.delete', 'db.schema.alter', 's3.delete', 'iam.policy.attach', 'deploy.rollback'];
const ENVS = ['prod', 'staging', 'dev'];
const LEAVES = {
  db: ['customers', 'orders', 'payments', 'events', 'audit', 'sessions'],
  pg: ['appdb/public/users', 'appdb/public/orders', 'appdb/billing/invoices', 'analytics/public/facts'],
  k8s: ['cluster-a/web', 'cluster-a/api', 'cluster-b/worker', 'cluster-b/cron'],
  iam: ['roles/admin', 'roles/readonly', 'users/ci', 'keys/deploy'],
  mcp: ['github/create_issue', 'github/merge_pr', 'jira/create_ticket', 'slack/post_message', 'fs/write_file'],
  hosts: ['bastion', 'web-1', 'web-2', 'db-1'],
  s3: ['backups', 'logs', 'exports', 'static'],
  secrets: ['stripe', 'aws', 'github-token', 'db-password'],
};
const TEAMS = Array.from({ length: 40 }, (_, i) => `team-${String(i).padStart(2, '0')}`);
const ROLES = ['dba', 'sre', 'security', 'finance', 'oncall', 'platform', 'data', 'support', 'admins', 'agents'];
const GROUPS = [...ROLES, ...TEAMS];
const SOURCES = ['api', 'mcp', 'pg', 'exec'];
const STATEMENTS = ['select', 'insert', 'update', 'delete', 'drop', 'truncate', 'alter'];

const resources = [];
const entities = [];
const seen = new Set();
const addResource = (p) => {
  if (seen.has(p)) return;
  seen.add(p);
  const cut = p.lastIndexOf('/');
  if (cut > 0) addResource(p.slice(0, cut));
  const attrs = {};
  if (/customers|payments|users|invoices/.test(p)) attrs.pii = true;
  if (p.startsWith('prod')) attrs.tier = 'critical';
  entities.push({ uid: { type: 'Resource', id: p }, attrs,
    parents: cut > 0 ? [{ type: 'Resource', id: p.slice(0, cut) }] : [] });
};
for (const env of ENVS) {
  for (const [tree, leaves] of Object.entries(LEAVES)) {
    for (const leaf of leaves) { const p = `${env}/${tree}/${leaf}`; addResource(p); resources.push(p); }
  }
}
// MCP tools are addressed as mcp/<server>/<tool> (SPEC §4), outside the envs too.
for (const leaf of LEAVES.mcp) { addResource(`mcp/${leaf}`); resources.push(`mcp/${leaf}`); }

for (const g of ROLES) entities.push({ uid: { type: 'Group', id: g }, attrs: {}, parents: [] });
for (const t of TEAMS) {
  // Teams roll up into a role group: a two-level hierarchy above every member.
  entities.push({ uid: { type: 'Group', id: t }, attrs: {}, parents: [{ type: 'Group', id: r.pick(ROLES.slice(0, 8)) }] });
}
const principals = [];
for (let i = 0; i < 300; i++) {
  const id = `user-${i}`;
  const groups = [r.pick(TEAMS), ...r.subset(ROLES.slice(0, 9), 0.12)];
  entities.push({ uid: { type: 'User', id }, attrs: { level: r.range(1, 5), department: r.pick(['eng', 'ops', 'fin', 'sec']) },
    parents: [...new Set(groups)].map((g) => ({ type: 'Group', id: g })) });
  principals.push({ type: 'User', id });
}
for (let i = 0; i < 200; i++) {
  const id = `agent-${i}`;
  entities.push({ uid: { type: 'Agent', id }, attrs: { owner: { __entity: { type: 'User', id: `user-${r.int(300)}` } }, trust: r.range(0, 4) },
    parents: [{ type: 'Group', id: 'agents' }, { type: 'Group', id: r.pick(TEAMS) }] });
  principals.push({ type: 'Agent', id });
}
for (const a of ACTIONS) {
  const parents = [];
  if (READ_ONLY.includes(a)) parents.push({ type: 'Action', id: 'read-only' });
  if (DESTRUCTIVE.includes(a)) parents.push({ type: 'Action', id: 'destructive' });
  entities.push({ uid: { type: 'Action', id: a }, attrs: {}, parents });
}
entities.push({ uid: { type: 'Action', id: 'read-only' }, attrs: {}, parents: [] });
entities.push({ uid: { type: 'Action', id: 'destructive' }, attrs: {}, parents: [] });

// ------------------------------------------------------------------ policies

const q = (s) => JSON.stringify(s);
const act = (a) => `Action::${q(a)}`;
const res = (p) => `Resource::${q(p)}`;
const grp = (g) => `Group::${q(g)}`;
const subtree = (svc) => {
  const tree = SERVICES[svc].tree[0];
  const env = r.pick(ENVS);
  const leaf = r.pick(LEAVES[tree]);
  const parts = `${env}/${tree}/${leaf}`.split('/');
  if (svc === 'mcp' && r.chance(0.5)) return `mcp/${leaf.split('/')[0]}`;
  return parts.slice(0, r.range(1, parts.length)).join('/');
};

function condition() {
  switch (r.weighted({ hours: 3, source: 3, purpose: 2, rows: 2, ip: 1.5, trust: 1.5, pii: 1, stmt: 1.5, weekday: 1, none: 2 })) {
    case 'hours': { const a = r.range(6, 10), b = r.range(16, 21); return `context.time.hour >= ${a} && context.time.hour < ${b}`; }
    case 'source': return `context.source == ${q(r.pick(SOURCES))}`;
    case 'purpose': return `context has purpose && context.purpose like ${q(r.pick(['*ticket*', 'INC-*', '*report*', '*migration*']))}`;
    case 'rows': return `context has rows && context.rows <= ${r.pick([100, 1000, 10000, 100000])}`;
    case 'ip': return `context.ip.isInRange(ip(${q(r.pick(['10.0.0.0/8', '192.168.0.0/16', '172.16.0.0/12']))}))`;
    case 'trust': return `principal is Agent && principal.trust >= ${r.range(1, 4)}`;
    case 'pii': return 'resource has pii && resource.pii';
    case 'stmt': return `context has statement_kind && [${r.subset(STATEMENTS, 0.4).map(q).join(', ')}].contains(context.statement_kind)`;
    case 'weekday': return 'context.time.weekday < 6';
    default: return null;
  }
}

function scopeAction() {
  const svc = r.pick(Object.keys(SERVICES));
  const k = r.weighted({ eq: 6, list: 3, group: 1 });
  if (k === 'eq') return [svc, `action == ${act(r.pick(SERVICES[svc].actions))}`];
  if (k === 'list') return [svc, `action in [${r.subset(SERVICES[svc].actions, 0.6).concat(r.pick(SERVICES[svc].actions)).filter((v, i, a) => a.indexOf(v) === i).map(act).join(', ')}]`];
  return [svc, `action in ${act(r.pick(['read-only', 'destructive']))}`];
}

function scopePrincipal() {
  switch (r.weighted({ team: 5, role: 3, any: 2, agent: 1, user: 0.5 })) {
    case 'team': return `principal in ${grp(r.pick(TEAMS))}`;
    case 'role': return `principal in ${grp(r.pick(ROLES))}`;
    case 'agent': return r.chance(0.5) ? 'principal is Agent' : `principal is Agent in ${grp(r.pick(TEAMS))}`;
    case 'user': return `principal == User::${q(`user-${r.int(300)}`)}`;
    default: return 'principal';
  }
}

const policies = [];
for (let i = 0; i < N_POLICIES; i++) {
  const kind = r.weighted({ permit: 62, approval: 22, forbid: 16 });
  const [svc, a] = scopeAction();
  const p = kind === 'forbid' && r.chance(0.4) ? (r.chance(0.5) ? 'principal is Agent' : 'principal') : scopePrincipal();
  const rs = r.chance(0.85) ? `resource in ${res(subtree(svc))}` : (r.chance(0.5) ? 'resource' : `resource == ${res(r.pick(resources))}`);
  const annots = [`@id(${q(`${kind}-${String(i).padStart(4, '0')}`)})`];
  if (kind === 'approval') {
    annots.push(`@approval(${q(r.subset(ROLES.slice(0, 6), 0.3).concat(r.pick(['dba', 'sre', 'security'])).filter((v, k, l) => l.indexOf(v) === k).join(','))})`);
    if (r.chance(0.3)) annots.push('@quorum("2")');
    annots.push(`@reason(${q(`${svc} on this subtree needs a human`)})`);
  }
  const clauses = [];
  for (let c = 0, n = r.weighted({ 0: 3, 1: 5, 2: 2 }); c < n; c++) {
    const cond = condition();
    if (cond) clauses.push(`${kind === 'forbid' && r.chance(0.3) ? 'unless' : 'when'} { ${cond} }`);
  }
  const effect = kind === 'forbid' ? 'forbid' : 'permit';
  policies.push(`${annots.join('\n')}\n${effect} (${p}, ${a}, ${rs})${clauses.length ? '\n  ' + clauses.join('\n  ') : ''};`);
}

// ------------------------------------------------------------------ requests

const svcOf = Object.fromEntries(Object.entries(SERVICES).flatMap(([s, d]) => d.actions.map((a) => [a, s])));
const reqLines = [];
for (let i = 0; i < N_REQUESTS; i++) {
  const principal = r.pick(principals);
  const action = r.pick(ACTIONS);
  const tree = SERVICES[svcOf[action]].tree[0];
  let resource;
  if (r.chance(0.85)) {
    const leaf = r.pick(LEAVES[tree]);
    resource = svcOf[action] === 'mcp' && r.chance(0.5) ? `mcp/${leaf}` : `${r.weighted({ prod: 5, staging: 3, dev: 2 })}/${tree}/${leaf}`;
  } else {
    resource = r.pick(resources);
  }
  const context = {
    source: r.pick(SOURCES),
    time: { hour: r.int(24), weekday: r.range(1, 7) },
    ip: { __extn: { fn: 'ip', arg: r.chance(0.8) ? `10.${r.int(256)}.${r.int(256)}.${r.int(256)}` : `203.0.113.${r.int(256)}` } },
  };
  if (r.chance(0.7)) context.purpose = r.pick(['ticket INC-1234', 'INC-77 hotfix', 'weekly report', 'data migration', 'curious']);
  if (r.chance(0.5)) context.rows = r.pick([10, 500, 5000, 50000, 500000]);
  if (action === 'sql.execute' || r.chance(0.1)) context.statement_kind = r.pick(STATEMENTS);
  reqLines.push(JSON.stringify({ principal, action: { type: 'Action', id: action }, resource: { type: 'Resource', id: resource }, context }));
}

fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'policies.cedar'), policies.join('\n\n') + '\n');
fs.writeFileSync(path.join(outDir, 'entities.json'), JSON.stringify(entities, null, 1) + '\n');
fs.writeFileSync(path.join(outDir, 'requests.jsonl'), reqLines.join('\n') + '\n');
console.log(`gen_bench: ${policies.length} policies, ${entities.length} entities, ${reqLines.length} requests in ${outDir}`);
