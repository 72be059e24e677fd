// gen.mjs - seeded generator of random Cedar cases for the differential test.
//
// A case is a policy set (as text), an entity graph (Cedar entity JSON) and a few
// requests. Expressions are generated "typed-ish": the generator asks for a value
// of a type and mostly gets one, so that many policies are satisfied and many are
// not, while a controlled share of ill-typed operands, missing attributes, unknown
// entities, bad extension literals and Long overflows makes others error.
//
// Every construct the generator emits is recorded per policy (`constructs`), so the
// driver can check that the whole supported language was exercised.

import { Rng } from './rng.mjs';

// Known engine disagreements (tests/cedar_diff/FINDINGS.md) that the generator
// steers around while they are open, so that other differences still show. Set
// CS_DIFF_KNOWN_BUGS=none to generate everything; the driver prints what is
// excluded on every run.
// Fixed (switches removed): ipv4_embedded_ipv6, extension_arity_at_parse,
// action_list_non_action_type.
export const KNOWN_BUG_SWITCHES = ['entity_json_lenient', 'entity_json_strict', 'entity_cycles_accepted'];
export const KNOWN_BUGS = new Set(process.env.CS_DIFF_KNOWN_BUGS === 'none' ? []
  : (process.env.CS_DIFF_KNOWN_BUGS ? process.env.CS_DIFF_KNOWN_BUGS.split(',') : KNOWN_BUG_SWITCHES));

// Types of values. R2 is the record nested inside R.
const T = { B: 'Bool', L: 'Long', S: 'String', E: 'Entity', SL: 'Set<Long>', SS: 'Set<String>',
  SE: 'Set<Entity>', R: 'Record', R2: 'Record2', IP: 'ipaddr', D: 'decimal' };
const ALL_TYPES = Object.values(T);

// The shared "schema" of the generated data. It is not given to either engine; it
// only steers the generator towards well-typed expressions.
const ENTITY_ATTRS = { name: T.S, level: T.L, active: T.B, owner: T.E, labels: T.SS, nums: T.SL,
  friends: T.SE, info: T.R, addr: T.IP, score: T.D, path: T.S, team_2: T.S, _n: T.L };
const CONTEXT_ATTRS = { authenticated: T.B, amount: T.L, ip: T.IP, budget: T.D, who: T.E,
  list: T.SS, ids: T.SL, rec: T.R, str: T.S, grp: T.SE };
const RECORD_FIELDS = { dept: T.S, rank: T.L, ok: T.B, nested: T.R2 };
const RECORD2_FIELDS = { x: T.L, tag: T.S };
const TAGS = { env: T.S, lvl: T.L, vip: T.B, 'cost center': T.S };

const ENTITY_TYPES = ['User', 'Group', 'Photo', 'Album', 'Resource', 'Action', 'Ns::Thing'];

const STRINGS = ['', 'a', 'ab', 'abc', 'alice', 'prod', 'prod/db', 'prod/db/customers', 'a*c',
  '*', '**', 'x"y', 'back\\slash', 'line\nbreak', 'tab\there', 'é', '日本語', 'emoji 🙂', 'a b',
  'cost center', 'dev', 'ops', 'dba', 'A', 'aaa', 'a*', '\\*'];
const IPS = ['10.0.0.1', '10.1.2.3', '10.0.0.0/8', '10.0.0.0/24', '10.0.0.1/24', '192.168.1.7',
  '192.168.0.0/16', '127.0.0.1', '127.0.0.2', '127.0.0.0/8', '224.0.0.5', '239.255.255.255',
  '0.0.0.0/0', '255.255.255.255', '8.8.8.8', '::1', '::', '::/0', 'fe80::1', 'ff02::1',
  'ff00::/8', '2001:db8::1', '2001:db8::/32', '2001:db8::/64', '1.2.3.4/32', '10.0.0.1/32'];
// Cedar refuses IPv4-embedded IPv6 (::ffff:a.b.c.d) and leading zeros.
const BAD_IPS = ['300.1.1.1', '10.0.0.1/33', '::1/129', 'not-an-ip', '', '1.2.3', '10.0.0.01',
  ...(KNOWN_BUGS.has('ipv4_embedded_ipv6') ? [] : ['::ffff:10.0.0.1', '::ffff:127.0.0.1'])];
const DECIMALS = ['0.0', '1.0', '1.5', '-1.5', '2.25', '0.0001', '-0.0001', '3.1415',
  '100.0', '12.3400', '922337203685477.5807', '-922337203685477.5808', '1.23', '-3.0', '7.5',
  '1.00', '1.5000', '-0.0', '12.34', '0.1'];
const BAD_DECIMALS = ['1', '1.23456', 'abc', '922337203685477.5808', '.5', '1.', '--1.0', ''];
const NEAR_LIMITS = ['9223372036854775807', '9223372036854775806', '-9223372036854775808',
  '-9223372036854775807', '4611686018427387904', '-4611686018427387904', '3037000500',
  '-3037000500', '2147483648', '4294967296'];

// Clauses that make a policy invalid (the set must then be refused by both), and
// two that Cedar accepts but the engine refused while its bugs were open.
const BAD_CLAUSES = ['when { 1 < 2 < 3 }', 'when { 1 == 1 == 1 }', 'when { foo(1) }',
  'when { context.x.foo() }', 'when { "\\q" == "" }', 'when { 9223372036854775808 > 0 }',
  'when { -9223372036854775809 < 0 }', 'when { principal.if == 1 }', 'when { principal has in }',
  'when { [].contains() }', 'when {  }', 'when { !!!!!true }', 'when { -----1 == -1 }',
  'when { principal is User::"a" }', 'when { {a: 1, a: 2} == {} }', 'when { "a" like principal }',
  'when { 1.5 > 1 }', 'when { if true then 1 }', 'when { principal.like == 1 }',
  'when { __cedar::ip("1.2.3.4").isIpv4() }', 'when { "\\*" == "*" }', 'when { [1].containsAll(1, 2) }'];
const ODD_CLAUSES = { extension_arity_at_parse: 'when { ip("1.2.3.4", "x").isIpv4() }' };

const ACTIONS = ['view', 'edit', 'delete', 'comment'];
const ACTION_GROUPS = { view: ['read'], comment: ['read'], edit: ['write'], delete: ['write', 'admin'],
  read: ['all'], write: ['all'] };
const RESOURCE_PATHS = ['prod', 'prod/db', 'prod/db/customers', 'prod/db/orders', 'prod/web',
  'staging', 'staging/db', 'staging/db/customers'];

// Precedence levels of Cedar's grammar, lowest first. An operand below the level
// its position needs gets parentheses.
const P = { IF: 1, OR: 2, AND: 3, REL: 4, ADD: 5, MUL: 6, UNARY: 7, MEMBER: 8 };

/** Cedar string literal for s (escapes: \" \\ \n \t, plus \u{..} now and then). */
export function cedarString(s, rng) {
  let out = '"';
  for (const ch of s) {
    if (ch === '\0') out += '\\0';
    else if (ch === '\r') out += '\\r';
    else if (ch === "'" && rng && rng.chance(0.5)) out += "\\'";
    else if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch.codePointAt(0) > 127 && rng && rng.chance(0.3)) out += `\\u{${ch.codePointAt(0).toString(16)}}`;
    else out += ch;
  }
  return out + '"';
}

/** The seed of case i of a run seeded with `seed`, so that any case can be
 * regenerated alone. */
export const caseSeed = (seed, i) => (Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(i + 1, 0x9e3779b1)) >>> 0;

export class CaseGenerator {
  constructor(seed) {
    this.rng = new Rng(seed);
    this.seed = seed;
  }

  mark(name) { if (this.cov) this.cov.add(name); }

  // ---------------------------------------------------------------- data

  uid(type, id) { return { type, id }; }

  uidJson(u) {
    // Both spellings of an entity reference are valid entity JSON.
    if (this.rng.chance(0.3)) { this.mark('json:uid_entity_escape'); return { __entity: { type: u.type, id: u.id } }; }
    return { type: u.type, id: u.id };
  }

  /** Builds the entity graph of one case: a DAG of groups, users, albums, photos,
   * slash-path resources (with their prefixes as explicit parents, which the engine
   * also adds implicitly), namespaced things and action groups. */
  genGraph() {
    const r = this.rng;
    const ents = [];
    const groups = [];
    const nG = r.range(2, 5);
    for (let i = 0; i < nG; i++) {
      const id = r.chance(0.1) ? r.pick(['g "q"', 'é-team', 'g/1', 'admins']) + i : `g${i}`;
      const parents = i > 0 ? r.subset(groups.slice(Math.max(0, i - 3)), 0.45).slice(0, 2) : [];
      const u = this.uid('Group', id);
      groups.push(u);
      ents.push({ u, parents });
    }
    const users = [];
    const names = ['alice', 'bob', 'carol', 'dave', 'jane doe', 'ü'];
    for (let i = 0, n = r.range(1, 3); i < n; i++) {
      const u = this.uid('User', names[(i + r.int(3)) % names.length] + (i ? i : ''));
      users.push(u);
      // A parent need not exist in the store: it is an ancestor all the same.
      const parents = r.subset(groups, 0.35).slice(0, 3);
      if (r.chance(0.1)) { parents.push(this.uid('Group', 'nogroup')); this.mark('data:parent_not_in_store'); }
      ents.push({ u, parents });
    }
    const albums = [];
    for (let i = 0, n = r.range(1, 3); i < n; i++) {
      const u = this.uid('Album', `a${i}`);
      ents.push({ u, parents: i > 0 ? r.subset(albums, 0.5) : [] });
      albums.push(u);
    }
    const photos = [];
    for (let i = 0, n = r.range(1, 3); i < n; i++) {
      // A slash in a non-Resource id means nothing special, to Cedar or to us.
      const u = this.uid('Photo', r.chance(0.15) ? `a0/p${i}` : `p${i}`);
      ents.push({ u, parents: r.subset(albums, 0.6) });
      photos.push(u);
    }
    const resources = [];
    if (r.chance(0.5)) {
      this.mark('data:slash_resources');
      const want = new Set();
      for (const p of r.subset(RESOURCE_PATHS, 0.4)) {
        const parts = p.split('/');
        for (let k = 1; k <= parts.length; k++) want.add(parts.slice(0, k).join('/'));
      }
      for (const p of RESOURCE_PATHS) {
        if (!want.has(p)) continue;
        const cut = p.lastIndexOf('/');
        const parents = cut > 0 ? [this.uid('Resource', p.slice(0, cut))] : [];
        const u = this.uid('Resource', p);
        ents.push({ u, parents });
        resources.push(u);
      }
    }
    if (r.chance(0.3)) resources.push(this.uid('Resource', r.pick(['plain', 'orphan'])));
    const things = [];
    if (r.chance(0.3)) {
      const u = this.uid('Ns::Thing', 't0');
      ents.push({ u, parents: r.subset(groups, 0.3) });
      things.push(u);
    }
    const actions = ACTIONS.map((a) => this.uid('Action', a));
    const actionGroups = ['read', 'write', 'admin', 'all'].map((a) => this.uid('Action', a));
    if (r.chance(0.9)) {
      for (const a of [...ACTIONS, 'read', 'write', 'admin', 'all']) {
        const parents = (ACTION_GROUPS[a] || []).map((p) => this.uid('Action', p));
        ents.push({ u: this.uid('Action', a), parents, noAttrs: true });
      }
    }
    // Things that are referenced but not in the store.
    const ghosts = [this.uid('User', 'ghost'), this.uid('Group', 'nogroup'), this.uid('Photo', 'gone')];
    this.g = { groups, users, albums, photos, resources, things, actions, actionGroups, ghosts,
      inStore: ents.map((e) => e.u) };
    this.parentMap = new Map(ents.map((e) => [`${e.u.type}::${e.u.id}`, e.parents]));

    const depth = this.dagDepth(ents);
    if (depth >= 3) this.mark('data:dag_depth>=3');
    // Attributes and tags need the graph to exist first (they point into it).
    return ents.map((e) => this.entityJson(e));
  }

  /** u and everything above it in the graph. */
  ancestors(u) {
    const seen = new Map();
    const walk = (x) => {
      const k = `${x.type}::${x.id}`;
      if (seen.has(k)) return;
      seen.set(k, x);
      for (const p of this.parentMap.get(k) || []) walk(p);
    };
    walk(u);
    return [...seen.values()];
  }

  dagDepth(ents) {
    const key = (u) => `${u.type}::${u.id}`;
    const par = new Map(ents.map((e) => [key(e.u), e.parents.map(key)]));
    const memo = new Map();
    const depth = (k) => {
      if (memo.has(k)) return memo.get(k);
      memo.set(k, 0);
      let d = 0;
      for (const p of par.get(k) || []) d = Math.max(d, 1 + depth(p));
      memo.set(k, d);
      return d;
    };
    let m = 0;
    for (const k of par.keys()) m = Math.max(m, depth(k));
    return m;
  }

  entityJson(e) {
    const r = this.rng;
    const attrs = {};
    if (!e.noAttrs) {
      for (const [k, t] of Object.entries(ENTITY_ATTRS)) if (r.chance(0.4)) attrs[k] = this.value(t, 'attr');
      if (r.chance(0.05)) attrs['with space'] = this.value(T.L, 'attr');
    }
    const out = { uid: this.uidJson(e.u), attrs, parents: e.parents.map((p) => this.uidJson(p)) };
    if (!e.noAttrs && r.chance(0.5)) {
      const tags = {};
      for (const [k, t] of Object.entries(TAGS)) if (r.chance(0.5)) tags[k] = this.value(t, 'tag');
      out.tags = tags;
      this.mark('json:tags');
    }
    return out;
  }

  someEntity() {
    const g = this.g;
    const pool = this.rng.weighted({ users: 3, groups: 3, photos: 2, albums: 2, resources: 2, things: 1,
      actions: 1, ghosts: 1 });
    const arr = g[pool].length ? g[pool] : g.users;
    return this.rng.pick(arr);
  }

  long() {
    const r = this.rng;
    switch (r.weighted({ small: 8, medium: 3, big: 1 })) {
      case 'small': return r.range(-5, 20);
      case 'medium': return r.range(-2000, 2000);
      default: return r.pick([2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 40, 3037000499, -4294967296]);
    }
  }

  string() {
    const r = this.rng;
    if (r.chance(0.75)) return r.pick(STRINGS);
    let s = '';
    for (let i = 0, n = r.range(0, 5); i < n; i++) s += r.pick(['a', 'b', '*', '/', '\\', 'é', ' ']);
    return s;
  }

  /** A value of type t in Cedar JSON form (for attributes, tags and context). A
   * few are deliberately of another type. */
  value(t, where) {
    const r = this.rng;
    if (r.chance(0.03)) t = r.pick(ALL_TYPES);
    this.mark(`json:${where}:${t}`);
    switch (t) {
      case T.B: return r.chance(0.5);
      case T.L: return this.long();
      case T.S: return this.string();
      case T.E: this.mark('json:entity_escape'); return { __entity: { ...this.someEntity() } };
      case T.SL: return Array.from({ length: r.range(0, 3) }, () => this.long());
      case T.SS: return Array.from({ length: r.range(0, 3) }, () => this.string());
      case T.SE: this.mark('json:entity_escape');
        return Array.from({ length: r.range(0, 3) }, () => ({ __entity: { ...this.someEntity() } }));
      case T.R: case T.R2: {
        const fields = t === T.R ? RECORD_FIELDS : RECORD2_FIELDS;
        const o = {};
        for (const [k, ft] of Object.entries(fields)) if (r.chance(0.7)) o[k] = this.value(ft, where);
        return o;
      }
      case T.IP: this.mark('json:extn_escape'); return { __extn: { fn: 'ip', arg: r.pick(IPS) } };
      case T.D: this.mark('json:extn_escape'); return { __extn: { fn: 'decimal', arg: r.pick(DECIMALS) } };
      default: throw new Error(`no type ${t}`);
    }
  }

  genContext() {
    const ctx = {};
    for (const [k, t] of Object.entries(CONTEXT_ATTRS)) if (this.rng.chance(0.75)) ctx[k] = this.value(t, 'context');
    return ctx;
  }

  genRequest() {
    const r = this.rng;
    const g = this.g;
    const principal = r.pick(r.weighted({ u: 6, g: 1, x: 1 }) === 'u' ? g.users
      : (r.chance(0.5) ? g.groups : g.ghosts));
    const action = r.chance(0.92) ? r.pick(g.actions) : r.pick(g.actionGroups);
    const resPool = r.weighted({ photos: 3, albums: 1, resources: g.resources.length ? 3 : 0, other: 1 });
    const resource = resPool === 'other' ? r.pick([...g.ghosts, ...g.users, ...g.things, ...g.groups])
      : r.pick(g[resPool]);
    return { principal: { ...principal }, action: { ...action }, resource: { ...resource }, context: this.genContext() };
  }

  // ---------------------------------------------------------------- expressions

  // An expression is {t: text, p: precedence level}.
  wrap(e, min) {
    if (e.p < min || this.rng.chance(0.04)) return `(${e.t})`;
    return e.t;
  }

  entityLit(u) {
    this.mark('expr:entity_literal');
    if (u.type.includes('::')) this.mark('expr:namespaced_entity');
    return { t: `${u.type}::${cedarString(u.id, this.rng)}`, p: P.MEMBER };
  }

  nearLimit() {
    this.mark('expr:long_near_limit');
    const t = this.rng.pick(NEAR_LIMITS);
    return { t, p: t.startsWith('-') ? P.UNARY : P.MEMBER };
  }

  longLit() {
    const r = this.rng;
    if (r.chance(0.12)) return this.nearLimit();
    const v = this.long();
    return { t: String(v), p: v < 0 ? P.UNARY : P.MEMBER };
  }

  stringLit(s) {
    // Policy text may hold characters JSON data here never does (NUL).
    if (s === undefined && this.rng.chance(0.03)) s = this.rng.pick(['nul\0char', 'cr\rlf', "it's", 'nul\0']);
    const t = cedarString(s === undefined ? this.string() : s, this.rng);
    if (/\\/.test(t)) this.mark('expr:string_escape');
    return { t, p: P.MEMBER };
  }

  ipLit() {
    this.mark('expr:ip');
    const bad = this.rng.chance(0.05);
    return { t: `ip(${cedarString(this.rng.pick(bad ? BAD_IPS : IPS))})`, p: P.MEMBER };
  }

  decLit() {
    this.mark('expr:decimal');
    const bad = this.rng.chance(0.05);
    return { t: `decimal(${cedarString(this.rng.pick(bad ? BAD_DECIMALS : DECIMALS))})`, p: P.MEMBER };
  }

  /** A literal or variable of type t. */
  atom(t, d) {
    const r = this.rng;
    if (d < -2) return this.tinyAtom(t);
    switch (t) {
      case T.B: return r.chance(0.5) ? { t: r.chance(0.5) ? 'true' : 'false', p: P.MEMBER } : this.access(T.B, d);
      case T.L: return this.longLit();
      case T.S: return this.stringLit();
      case T.E: {
        const k = r.weighted({ principal: 4, resource: 3, action: 1, lit: 3 });
        if (k === 'lit') return this.entityLit(this.someEntity());
        return { t: k, p: P.MEMBER };
      }
      case T.SL: case T.SS: case T.SE: {
        const el = t === T.SL ? T.L : t === T.SS ? T.S : T.E;
        this.mark('expr:set_literal');
        const items = Array.from({ length: r.range(0, 3) }, () => this.expr(el, d - 1).t);
        return { t: `[${items.join(', ')}]`, p: P.MEMBER };
      }
      case T.R: case T.R2: {
        this.mark('expr:record_literal');
        const fields = t === T.R ? RECORD_FIELDS : RECORD2_FIELDS;
        const parts = [];
        for (const [k, ft] of Object.entries(fields)) {
          if (!r.chance(0.7)) continue;
          const key = r.chance(0.2) ? cedarString(k) : k;
          parts.push(`${key}: ${this.expr(ft, d - 1).t}`);
        }
        // Key order never matters to record equality.
        if (parts.length > 1 && r.chance(0.3)) parts.reverse();
        return { t: `{${parts.join(', ')}}`, p: P.MEMBER };
      }
      case T.IP: return this.ipLit();
      case T.D: return this.decLit();
      default: throw new Error(t);
    }
  }

  /** Deep down the tree: plain literals only, so that generation always ends. */
  tinyAtom(t) {
    switch (t) {
      case T.B: return { t: this.rng.chance(0.5) ? 'true' : 'false', p: P.MEMBER };
      case T.L: return this.longLit();
      case T.S: return this.stringLit();
      case T.E: return { t: 'principal', p: P.MEMBER };
      case T.SL: return { t: '[1, 2]', p: P.MEMBER };
      case T.SS: return { t: '["a"]', p: P.MEMBER };
      case T.SE: return { t: '[]', p: P.MEMBER };
      case T.R: return { t: '{rank: 1}', p: P.MEMBER };
      case T.R2: return { t: '{x: 0}', p: P.MEMBER };
      case T.IP: return this.ipLit();
      case T.D: return this.decLit();
      default: throw new Error(t);
    }
  }

  /** An attribute (or tag) access that should yield type t: entity.attr,
   * entity["attr"], context.attr, record.field or entity.getTag("k"). */
  access(t, d) {
    const r = this.rng;
    if (d < -2) return this.tinyAtom(t);
    const srcs = [];
    for (const [k, at] of Object.entries(ENTITY_ATTRS)) if (at === t) srcs.push(['entity', k]);
    for (const [k, at] of Object.entries(CONTEXT_ATTRS)) if (at === t) srcs.push(['context', k]);
    for (const [k, at] of Object.entries(RECORD_FIELDS)) if (at === t) srcs.push(['record', k]);
    for (const [k, at] of Object.entries(RECORD2_FIELDS)) if (at === t) srcs.push(['record2', k]);
    for (const [k, at] of Object.entries(TAGS)) if (at === t) srcs.push(['tag', k]);
    if (!srcs.length) return this.atom(t, 0);
    const [kind, name] = r.pick(srcs);
    let base;
    if (kind === 'entity' || kind === 'tag') base = this.entityExpr(d - 1);
    else if (kind === 'context') base = { t: 'context', p: P.MEMBER };
    else if (kind === 'record') base = r.chance(0.6) ? this.access(T.R, d - 1) : this.atom(T.R, d - 1);
    else base = r.chance(0.6) ? this.access(T.R2, d - 1) : this.atom(T.R2, d - 1);
    if (kind === 'tag') {
      this.mark('expr:getTag');
      return { t: `${this.wrap(base, P.MEMBER)}.getTag(${this.stringLit(name).t})`, p: P.MEMBER };
    }
    // Now and then ask for an attribute that is never there.
    const attr = r.chance(0.04) ? 'missing' : name;
    const bracket = r.chance(0.2) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(attr);
    this.mark(bracket ? 'expr:bracket_access' : 'expr:dot_access');
    const sel = bracket ? `[${cedarString(attr)}]` : `.${attr}`;
    return { t: `${this.wrap(base, P.MEMBER)}${sel}`, p: P.MEMBER };
  }

  entityExpr(d) {
    const r = this.rng;
    if (d > 0 && r.chance(0.25)) return this.access(T.E, d);
    return this.atom(T.E, d);
  }

  /** An expression that (mostly) has type t. */
  expr(t, d) {
    const r = this.rng;
    if (r.chance(0.03)) { this.mark('gen:ill_typed'); t = r.pick(ALL_TYPES); }
    if (t === T.B) return this.boolExpr(d);
    if (d <= 0) return this.atom(t, d);
    const w = { atom: 4, access: 3, ite: 1 };
    if (t === T.L) { w.arith = 4; w.neg = 1; }
    switch (r.weighted(w)) {
      case 'atom': return this.atom(t, d);
      case 'access': return this.access(t, d);
      case 'ite': return this.ite(t, d);
      case 'neg': {
        this.mark('expr:neg');
        return { t: `-${this.wrap(this.expr(T.L, d - 1), P.UNARY)}`, p: P.UNARY };
      }
      default: {
        const op = r.pick(['+', '-', '*']);
        this.mark({ '+': 'expr:add', '-': 'expr:sub', '*': 'expr:mul' }[op]);
        const lp = op === '*' ? P.MUL : P.ADD;
        // Operands near the limits of i64 make overflow errors likely.
        const operand = () => (r.chance(0.2) ? this.nearLimit() : this.expr(T.L, d - 1));
        const a = operand();
        const b = operand();
        return { t: `${this.wrap(a, lp)} ${op} ${this.wrap(b, lp + 1)}`, p: lp };
      }
    }
  }

  ite(t, d) {
    this.mark('expr:if_then_else');
    const c = this.boolExpr(d - 1);
    const a = this.expr(t, d - 1);
    const b = this.expr(t, d - 1);
    return { t: `if ${c.t} then ${a.t} else ${b.t}`, p: P.IF };
  }

  boolExpr(d) {
    const r = this.rng;
    if (d < -1) return this.tinyAtom(T.B);
    if (d <= 0) {
      return r.chance(0.3) ? this.atom(T.B, d) : this.predicate(r.pick(ALL_TYPES), d);
    }
    const k = r.weighted({ and: 2.5, or: 3.5, not: 1.5, ite: 0.7, pred: 8, guard: 3, has: 1.5, eq: 1.5, atom: 0.5 });
    switch (k) {
      case 'and': case 'or': {
        this.mark(`expr:${k}`);
        const lp = k === 'and' ? P.AND : P.OR;
        const a = this.boolExpr(d - 1);
        const b = this.boolExpr(d - 1);
        return { t: `${this.wrap(a, lp)} ${k === 'and' ? '&&' : '||'} ${this.wrap(b, lp + 1)}`, p: lp };
      }
      case 'not': this.mark('expr:not');
        return { t: `!${this.wrap(this.boolExpr(d - 1), P.UNARY)}`, p: P.UNARY };
      case 'ite': return this.ite(T.B, d);
      case 'guard': return this.guarded(d);
      case 'has': return this.hasExpr(d);
      case 'eq': {
        const a = this.expr(r.pick(ALL_TYPES), d - 1);
        const b = r.chance(0.8) ? this.expr(r.pick(ALL_TYPES), d - 1) : a;
        const op = r.chance(0.7) ? '==' : '!=';
        this.mark(op === '==' ? 'expr:eq' : 'expr:ne');
        return { t: `${this.wrap(a, P.ADD)} ${op} ${this.wrap(b, P.ADD)}`, p: P.REL };
      }
      case 'atom': return this.atom(T.B, d);
      default: return this.predicate(r.pick(ALL_TYPES), d);
    }
  }

  /** `X has a && <predicate on X.a>`: the usual way policies avoid missing-attribute errors. */
  guarded(d) {
    const r = this.rng;
    if (r.chance(0.3)) {
      const [k, t] = r.pick(Object.entries(CONTEXT_ATTRS));
      this.mark('expr:has');
      const v = { t: `context.${k}`, p: P.MEMBER };
      return { t: `context has ${k} && ${this.wrap(this.predicateOn(v, t, d - 1), P.AND + 1)}`, p: P.AND };
    }
    const x = this.entityExpr(d - 1);
    const [k, t] = r.pick(Object.entries(ENTITY_ATTRS));
    this.mark('expr:has');
    const xs = this.wrap(x, P.MEMBER);
    const v = { t: `${xs}.${k}`, p: P.MEMBER };
    return { t: `${xs} has ${k} && ${this.wrap(this.predicateOn(v, t, d - 1), P.AND + 1)}`, p: P.AND };
  }

  hasExpr(d) {
    const r = this.rng;
    const form = r.weighted({ entity: 3, context: 1, record: 1, nested: 2, quoted: 1 });
    const x = form === 'context' ? { t: 'context', p: P.MEMBER }
      : form === 'record' ? this.access(T.R, d - 1) : this.entityExpr(d - 1);
    let attr;
    if (form === 'nested') {
      this.mark('expr:has_nested');
      attr = r.pick(['info.dept', 'info.nested', 'info.nested.x', 'info.missing', 'owner.name']);
    } else if (form === 'quoted') {
      this.mark('expr:has_string');
      attr = cedarString(r.pick(['with space', 'name', 'cost center', '']));
    } else if (form === 'context') {
      attr = r.pick([...Object.keys(CONTEXT_ATTRS), 'missing']);
    } else if (form === 'record') {
      attr = r.pick([...Object.keys(RECORD_FIELDS), 'missing']);
    } else {
      attr = r.pick([...Object.keys(ENTITY_ATTRS), 'missing']);
    }
    this.mark('expr:has');
    return { t: `${this.wrap(x, P.ADD)} has ${attr}`, p: P.REL };
  }

  /** A boolean about some fresh expression of type t. */
  predicate(t, d) {
    const v = this.expr(t, d - 1);
    return this.predicateOn(v, t, d);
  }

  likePattern() {
    // Built from a string of the pool: some runs become wildcards, literal stars
    // stay escaped as \*, so patterns match often but not always.
    const r = this.rng;
    const s = r.chance(0.8) ? r.pick(STRINGS) : this.string();
    let pat = '';
    for (const ch of s) {
      if (r.chance(0.2)) { pat += '*'; this.mark('expr:like_wildcard'); continue; }
      if (ch === '*') { pat += '\\*'; this.mark('expr:like_escaped_star'); } else if (ch === '"') pat += '\\"';
      else if (ch === '\\') pat += '\\\\';
      else if (ch === '\n') pat += '\\n';
      else if (ch === '\t') pat += '\\t';
      else pat += ch;
    }
    if (r.chance(0.3)) { pat = r.chance(0.5) ? `*${pat}` : `${pat}*`; this.mark('expr:like_wildcard'); }
    return `"${pat}"`;
  }

  cmp(a, b) {
    const op = this.rng.pick(['<', '<=', '>', '>=']);
    this.mark({ '<': 'expr:lt', '<=': 'expr:le', '>': 'expr:gt', '>=': 'expr:ge' }[op]);
    return { t: `${this.wrap(a, P.ADD)} ${op} ${this.wrap(b, P.ADD)}`, p: P.REL };
  }

  /** A boolean predicate over the value v (an expression of type t). */
  predicateOn(v, t, d) {
    const r = this.rng;
    const vm = () => this.wrap(v, P.MEMBER);
    const eq = (other) => {
      const op = r.chance(0.75) ? '==' : '!=';
      this.mark(op === '==' ? 'expr:eq' : 'expr:ne');
      return { t: `${this.wrap(v, P.ADD)} ${op} ${this.wrap(other, P.ADD)}`, p: P.REL };
    };
    switch (t) {
      case T.B:
        if (r.chance(0.5)) return v;
        return eq(this.expr(T.B, d - 1));
      case T.L:
        return r.chance(0.8) ? this.cmp(v, this.expr(T.L, d - 1)) : eq(this.expr(T.L, d - 1));
      case T.S:
        if (r.chance(0.55)) { this.mark('expr:like'); return { t: `${this.wrap(v, P.ADD)} like ${this.likePattern()}`, p: P.REL }; }
        return eq(this.expr(T.S, d - 1));
      case T.E: {
        const k = r.weighted({ in: 4, inset: 2, is: 2, isin: 1, eq: 2, hasTag: 2 });
        if (k === 'in') {
          this.mark('expr:in_entity');
          return { t: `${this.wrap(v, P.ADD)} in ${this.wrap(this.entityExpr(d - 1), P.ADD)}`, p: P.REL };
        }
        if (k === 'inset') {
          this.mark('expr:in_set');
          const rhs = r.chance(0.6) ? this.atom(T.SE, d - 1) : this.access(T.SE, d - 1);
          return { t: `${this.wrap(v, P.ADD)} in ${this.wrap(rhs, P.ADD)}`, p: P.REL };
        }
        if (k === 'is' || k === 'isin') {
          const ty = r.pick(ENTITY_TYPES);
          if (k === 'is') { this.mark('expr:is'); return { t: `${this.wrap(v, P.ADD)} is ${ty}`, p: P.REL }; }
          this.mark('expr:is_in');
          const rhs = r.chance(0.7) ? this.entityExpr(d - 1) : this.atom(T.SE, d - 1);
          return { t: `${this.wrap(v, P.ADD)} is ${ty} in ${this.wrap(rhs, P.ADD)}`, p: P.REL };
        }
        if (k === 'hasTag') {
          this.mark('expr:hasTag');
          const tag = r.chance(0.85) ? this.stringLit(r.pick(Object.keys(TAGS))) : this.expr(T.S, d - 1);
          return { t: `${vm()}.hasTag(${tag.t})`, p: P.MEMBER };
        }
        return eq(this.entityExpr(d - 1));
      }
      case T.SL: case T.SS: case T.SE: {
        const el = t === T.SL ? T.L : t === T.SS ? T.S : T.E;
        const k = r.weighted({ contains: 3, containsAll: 2, containsAny: 2, isEmpty: 1, eq: 1 });
        if (k === 'eq') return eq(this.expr(t, d - 1));
        this.mark(`expr:${k}`);
        if (k === 'isEmpty') return { t: `${vm()}.isEmpty()`, p: P.MEMBER };
        const arg = k === 'contains' ? this.expr(el, d - 1) : this.expr(t, d - 1);
        return { t: `${vm()}.${k}(${arg.t})`, p: P.MEMBER };
      }
      case T.R: case T.R2: {
        const fields = t === T.R ? RECORD_FIELDS : RECORD2_FIELDS;
        const k = r.weighted({ has: 2, field: 3, eq: 1 });
        if (k === 'eq') return eq(this.expr(t, d - 1));
        const [f, ft] = r.pick(Object.entries(fields));
        if (k === 'has') { this.mark('expr:has'); return { t: `${this.wrap(v, P.ADD)} has ${f}`, p: P.REL }; }
        this.mark('expr:dot_access');
        return this.predicateOn({ t: `${vm()}.${f}`, p: P.MEMBER }, ft, d - 1);
      }
      case T.IP: {
        const m = r.weighted({ isIpv4: 2, isIpv6: 2, isLoopback: 2, isMulticast: 2, isInRange: 4, eq: 1 });
        if (m === 'eq') return eq(this.expr(T.IP, d - 1));
        this.mark(`expr:${m}`);
        const arg = m === 'isInRange' ? this.expr(T.IP, d - 1).t : '';
        return { t: `${vm()}.${m}(${arg})`, p: P.MEMBER };
      }
      case T.D: {
        const m = r.weighted({ lessThan: 2, lessThanOrEqual: 2, greaterThan: 2, greaterThanOrEqual: 2, eq: 1, cmp: 0.3 });
        if (m === 'eq') return eq(this.expr(T.D, d - 1));
        // Cedar's < > <= >= are for Long only; on decimals they are type errors.
        if (m === 'cmp') return this.cmp(v, this.expr(T.D, d - 1));
        this.mark(`expr:${m}`);
        return { t: `${vm()}.${m}(${this.expr(T.D, d - 1).t})`, p: P.MEMBER };
      }
      default: throw new Error(t);
    }
  }

  // ---------------------------------------------------------------- policies

  scopeEntity(kind) {
    const r = this.rng;
    const g = this.g;
    if (this.reqs && r.chance(0.75)) {
      // Mostly something the requests will hit: their entity or one of its ancestors.
      return r.pick(this.ancestors(r.pick(this.reqs)[kind]));
    }
    if (kind === 'principal') return r.pick(r.chance(0.7) ? g.groups : [...g.users, ...g.ghosts]);
    const pool = [...g.albums, ...g.photos, ...g.resources];
    return r.pick(r.chance(0.1) ? g.ghosts : pool);
  }

  scope(kind) {
    const r = this.rng;
    if (kind === 'action') {
      const k = r.weighted({ all: 4, eq: 2, in: 2, list: 2 });
      if (k === 'all') return 'action';
      this.mark(`scope:action_${k}`);
      const reqAct = () => r.pick(this.ancestors(r.pick(this.reqs).action));
      if (k === 'eq') return `action == ${this.entityLit(r.chance(0.6) ? r.pick(this.reqs).action : r.pick(this.g.actions)).t}`;
      if (k === 'in') return `action in ${this.entityLit(r.chance(0.6) ? reqAct() : r.pick([...this.g.actionGroups, ...this.g.actions])).t}`;
      const list = r.subset([...this.g.actions, ...this.g.actionGroups], 0.25).map((u) => this.entityLit(u).t);
      if (r.chance(0.6)) list.splice(r.int(list.length + 1), 0, this.entityLit(reqAct()).t);
      return `action in [${list.join(', ')}]`;
    }
    const k = r.weighted({ all: 5, eq: 1.5, in: 3, is: 1, is_in: 1 });
    if (k === 'all') return kind;
    this.mark(`scope:${kind}_${k}`);
    const types = kind === 'principal' ? ['User', 'Group', 'Ns::Thing'] : ['Photo', 'Album', 'Resource', 'User'];
    if (k === 'eq') return `${kind} == ${this.entityLit(this.scopeEntity(kind)).t}`;
    if (k === 'in') return `${kind} in ${this.entityLit(this.scopeEntity(kind)).t}`;
    const ty = r.chance(0.75) ? r.pick(this.reqs)[kind].type : r.pick(types);
    if (k === 'is') return `${kind} is ${ty}`;
    return `${kind} is ${ty} in ${this.entityLit(this.scopeEntity(kind)).t}`;
  }

  genPolicy(i) {
    const r = this.rng;
    this.cov = new Set();
    const effect = r.chance(0.3) ? 'forbid' : 'permit';
    const annots = [];
    let id = `policy${i}`;
    if (r.chance(0.25)) { id = `custom-${i}`; annots.push(`@id(${cedarString(id)})`); this.mark('annotation:id'); }
    if (effect === 'permit' && r.chance(0.25)) { annots.push('@approval("dba,sre")'); this.mark('annotation:approval'); }
    if (r.chance(0.15)) { annots.push(`@reason(${cedarString(r.pick(['needs "two" DBAs', 'why\\not', 'plain']))})`); this.mark('annotation:other'); }
    const scope = [this.scope('principal'), this.scope('action'), this.scope('resource')];
    const clauses = [];
    for (let c = 0, n = r.weighted({ 0: 2, 1: 6, 2: 1.5, 3: 0.3 }); c < n; c++) {
      const kind = r.chance(0.65) ? 'when' : 'unless';
      this.mark(`clause:${kind}`);
      clauses.push(`${kind} { ${this.boolExpr(r.weighted({ 1: 3, 2: 3, 3: 2, 4: 1 }) | 0).t} }`);
    }
    // Whitespace and comments between the parts, as people write them.
    const sep = r.pick([' ', ' ', ' ', '\n  ', '\r\n\t', ' // note: "quoted" \\ and */ here\n  ']);
    if (sep.includes('//')) this.mark('gen:comment_inside_policy');
    const text = `${annots.map((a) => a + '\n').join('')}${effect} (${scope.join(`,${sep}`)})${clauses.length ? sep : ''}${clauses.join(sep)};`;
    const constructs = [...this.cov];
    this.cov = null;
    return { id, effect, approval: annots.some((a) => a.startsWith('@approval')), text, constructs };
  }

  /** Turns a valid policy into one the grammar refuses (or, for open engine bugs
   * not excluded, one Cedar accepts that the engine refused). */
  mutate(p) {
    const r = this.rng;
    const k = r.weighted({ clause: 6, annotation: 1, semicolon: 1, scope: 1, odd: 1 });
    let text = p.text;
    if (k === 'annotation') text = `@reason("a")\n@reason("b")\n${text}`;
    else if (k === 'semicolon') text = text.replace(/;$/, '');
    else if (k === 'scope' && !KNOWN_BUGS.has('action_list_non_action_type')) {
      text = text.replace(/action(?=[,\s])/, 'action in [User::"x"]');
    } else if (k === 'odd' && !KNOWN_BUGS.has('extension_arity_at_parse')) {
      text = text.replace(/;$/, ` ${ODD_CLAUSES.extension_arity_at_parse};`);
    } else {
      text = text.replace(/;$/, ` ${r.pick(BAD_CLAUSES)};`);
    }
    return { ...p, text, constructs: [...p.constructs, 'gen:syntax_mutation'] };
  }

  /** One whole case: graph, policies, requests. */
  genCase(caseId) {
    const r = this.rng;
    this.cov = new Set();
    const entities = this.genGraph();
    const dataConstructs = new Set(this.cov);
    this.cov = null;
    this.cov = dataConstructs;
    const requests = Array.from({ length: r.range(1, 3) }, () => this.genRequest());
    this.cov = null;
    this.reqs = requests;
    const policies = Array.from({ length: r.range(1, 7) }, (_, i) => this.genPolicy(i));
    this.reqs = null;
    if (r.chance(0.02)) {
      const k = r.int(policies.length);
      policies[k] = this.mutate(policies[k]);
    }
    const text = policies.map((p) => p.text).join(r.pick(['\n', '\n', '\n\n', '\r\n', '\n// a comment\n', ' ']));
    return { id: caseId, policies: text, entities, requests, meta: { policies, dataConstructs: [...dataConstructs] } };
  }
}
