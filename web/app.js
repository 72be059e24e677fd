// app.js - the countersign dashboard: inbox, action detail, history, agents and
// audit pages. A client of the gateway's JSON API like any other: the session
// cookie authenticates, and every POST carries the session's CSRF token. Every
// vote is decided by the gateway; what this file works out about who may vote
// only chooses what to show.
import { verifyInclusion, verifyCheckpoint, parseVkey } from './verify.js';

const main = document.getElementById('main');
let session = null; // {who, csrf}
let live = null;

// ---- small helpers -------------------------------------------------------

// h('p', {class: 'x'}, 'text', child...) builds elements without innerHTML, so
// nothing from an action can become markup.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; }, 6000);
}

async function api(method, path, body) {
  const opts = { method, credentials: 'same-origin', headers: {} };
  if (method !== 'GET') opts.headers['X-CSRF-Token'] = session.csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  if (res.status === 401) { signIn(); throw new Error('signed out'); }
  const type = res.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await res.json() : await res.text();
  return { ok: res.ok, status: res.status, data };
}

function signIn() {
  location.href = '/web/signin?next=' + encodeURIComponent('/' + location.hash);
}

const refusals = {
  'self-approval': 'You requested this action (or it was requested on your behalf), so someone else has to decide it.',
  'owner-approval': 'This action was requested by an agent you own, so someone else has to decide it.',
  'agent-cannot-approve': 'Agents can never approve or deny actions; only people can.',
  'not-in-approver-group': 'You are not in any of the groups that may decide this action.',
  'duplicate-vote': 'You have already voted on this action; each person counts once.',
  'not-pending': 'This action has already been decided (or expired), so it can no longer be voted on.',
  'not-found': 'There is no action with this id.',
  'csrf-failed': 'Your session changed; reload the page and try again. Nothing was decided.',
  'stopping': 'The gateway is shutting down; try again in a moment.',
};
function refusalText(problem) {
  return refusals[problem && problem.type] || (problem && problem.detail) || 'The gateway refused this; nothing was decided.';
}

function principal(rq) {
  if (!rq) return '';
  return rq.type === 'Agent' ? `agent ${rq.id}` + (rq.owner ? ` (owner ${rq.owner})` : '') : `${rq.id}`;
}

function timeLeft(iso) {
  const ms = Date.parse(iso) - Date.now();
  if (!(ms > 0)) return 'expired';
  const s = Math.floor(ms / 1000), m = Math.floor(s / 60), hrs = Math.floor(m / 60);
  if (hrs > 0) return `${hrs}h ${m % 60}m left`;
  if (m > 0) return `${m}m ${s % 60}s left`;
  return `${s}s left`;
}

function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

// Per requirement: "1 of 2 approvals (dba)".
function progress(a) {
  const ap = a.approval;
  if (!ap) return '';
  const votes = (ap.votes || []).filter(v => v.vote === 'approve');
  const reqs = ap.requirements && ap.requirements.length ? ap.requirements : [{ groups: ap.groups, quorum: ap.quorum }];
  return reqs.map(r => {
    const have = votes.filter(v => (v.groups || []).some(g => r.groups.includes(g))).length;
    return `${have} of ${r.quorum} approvals (${r.groups.join(', ')})`;
  }).join(' · ');
}

// Why the signed-in person may not vote, mirroring the gateway's rules (SPEC §3)
// for display only; null when they may.
function whyNot(a) {
  const me = session.who, rq = a.requester || {};
  if (a.status !== 'pending') return 'not-pending';
  if (me.kind !== 'user') return 'agent-cannot-approve';
  if ((rq.type === 'User' && rq.id === me.name) || a.on_behalf_of === me.name) return 'self-approval';
  if (rq.type === 'Agent' && rq.owner === me.name) return 'owner-approval';
  const votes = (a.approval && a.approval.votes) || [];
  if (votes.some(v => v.voter === me.name)) return 'duplicate-vote';
  const groups = (a.approval && a.approval.groups) || [];
  if (!(me.groups || []).some(g => groups.includes(g))) return 'not-in-approver-group';
  return null;
}

function reasonOf(a) {
  const p = a.policy || {};
  const reasons = (p.matched || []).map(m => m.reason).filter(Boolean);
  return reasons.length ? reasons.join('; ') : p.explanation || '';
}

function statusBadge(s) {
  return h('span', { class: `badge status-${s}`, 'data-status': s }, s);
}

// ---- voting ---------------------------------------------------------------

// What the last vote on an action came to, kept across redraws of its card.
const notes = new Map();

async function vote(a, verb, reason) {
  const r = await api('POST', `/v1/actions/${encodeURIComponent(a.id)}/${verb}`, reason ? { reason } : {});
  let note;
  if (r.ok) {
    const done = r.data.status === 'pending' ? progress(r.data) : r.data.status;
    note = { ok: true, text: `You ${verb === 'approve' ? 'approved' : 'denied'} this: ${done}.` };
  } else {
    note = { ok: false, text: refusalText(r.data) };
  }
  notes.set(a.id, note);
  toast(note.text);
  rerender();
}

// Approve and Deny; Deny opens a form whose reason is required.
function decisionControls(a) {
  const note = notes.get(a.id);
  const out = h('p', { class: note ? `result ${note.ok ? 'notice' : 'error'}` : 'result', role: 'status' }, note ? note.text : '');
  const why = whyNot(a);
  if (why) return [h('p', { class: 'cannot', 'data-reason': why }, refusals[why]), out];
  const reason = h('textarea', { id: `reason-${a.id}`, rows: 2, maxlength: 4096, 'aria-required': 'true', 'aria-describedby': `deny-err-${a.id}` });
  const err = h('p', { class: 'error', id: `deny-err-${a.id}`, role: 'alert' });
  const form = h('form', { class: 'deny-form', hidden: true, onsubmit: ev => {
    ev.preventDefault();
    if (!reason.value.trim()) { err.textContent = 'A denial needs a reason, so the requester knows what to change.'; reason.focus(); return; }
    err.textContent = '';
    vote(a, 'deny', reason.value.trim());
  } },
  h('label', { for: `reason-${a.id}` }, 'Why deny? (required)'), reason, err,
  h('div', { class: 'buttons' },
    h('button', { type: 'submit', class: 'deny confirm' }, 'Confirm deny'),
    h('button', { type: 'button', onclick: () => { form.hidden = true; buttons.hidden = false; } }, 'Cancel')));
  const buttons = h('div', { class: 'buttons' },
    h('button', { type: 'button', class: 'approve', 'aria-label': `Approve ${a.action} on ${a.resource}`, onclick: () => vote(a, 'approve') }, 'Approve'),
    h('button', { type: 'button', class: 'deny', 'aria-label': `Deny ${a.action} on ${a.resource}`, onclick: () => { form.hidden = false; buttons.hidden = true; reason.focus(); } }, 'Deny'));
  return [buttons, form, out];
}

// ---- inbox ----------------------------------------------------------------

function actionCard(a) {
  const ap = a.approval || {};
  const votes = ap.votes || [];
  return h('article', { class: 'card action-card', 'data-id': a.id, 'data-sig': signature(a) },
    h('header', {},
      h('h2', {}, h('a', { href: `#/action/${a.id}` }, a.action), ' ', h('small', {}, 'on'), ' ', h('code', {}, a.resource)),
      ap.expires_at ? h('span', { class: 'left', 'data-expires': ap.expires_at }, timeLeft(ap.expires_at)) : null),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Requested by'), h('dd', { class: 'requester' }, principal(a.requester)),
      a.on_behalf_of ? [h('dt', {}, 'On behalf of'), h('dd', {}, a.on_behalf_of)] : null,
      h('dt', {}, 'Purpose'), h('dd', {}, a.purpose || h('span', { class: 'muted' }, 'none given')),
      contextSummary(a.context),
      h('dt', {}, 'Why held'), h('dd', {}, reasonOf(a))),
    h('p', { class: 'progress' }, progress(a)),
    votes.length ? h('ul', { class: 'votes' }, votes.map(v =>
      h('li', {}, `${v.voter} ${v.vote === 'approve' ? 'approved' : 'denied'}`, v.reason ? `: “${v.reason}”` : ''))) : null,
    decisionControls(a));
}

// The first few context fields, one line; the detail page shows all of it.
function contextSummary(ctx) {
  const entries = Object.entries(ctx || {});
  if (!entries.length) return null;
  const shown = entries.slice(0, 4).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const text = shown.join(' · ') + (entries.length > 4 ? ` · and ${entries.length - 4} more` : '');
  return [h('dt', {}, 'Context'), h('dd', { class: 'mono context' }, text.length > 300 ? text.slice(0, 299) + '…' : text)];
}

// Cards are kept while their action (and what we said about it) is unchanged,
// so a live refresh never throws away a half-written deny reason.
function signature(a) {
  const note = notes.get(a.id);
  return `${a.status}/${((a.approval && a.approval.votes) || []).length}/${note ? note.text : ''}`;
}

function relevant(a) {
  const why = whyNot(a);
  return why === null || why === 'self-approval' || why === 'owner-approval' || why === 'duplicate-vote';
}

async function renderInbox(fresh) {
  const r = await api('GET', '/v1/actions?status=pending&limit=500');
  if (!r.ok) return showError(r);
  const items = r.data.items.filter(relevant);
  document.getElementById('inbox-count').textContent = items.filter(a => whyNot(a) === null).length || '';
  if (page() !== 'inbox') return;
  let list = main.querySelector('#inbox-list');
  if (fresh || !list) {
    main.replaceChildren(h('h1', {}, 'Inbox ', h('small', {}, 'pending actions for you')),
      list = h('div', { id: 'inbox-list' }));
  }
  const old = new Map([...list.querySelectorAll('article[data-id]')].map(el => [el.dataset.id, el]));
  const cards = items.map(a => {
    const el = old.get(a.id);
    return el && el.dataset.sig === signature(a) ? el : actionCard(a);
  });
  if (!cards.length) cards.push(h('p', { class: 'empty' }, 'Nothing waits for you. New requests appear here as they arrive.'));
  list.replaceChildren(...cards);
}

// ---- action detail --------------------------------------------------------

function factList(pairs) {
  return h('dl', { class: 'envelope' }, pairs.filter(p => p[1] !== null && p[1] !== undefined && p[1] !== '')
    .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function votesTable(votes) {
  if (!votes.length) return h('p', { class: 'muted' }, 'No votes yet.');
  return h('table', { class: 'responsive votes-table' },
    h('thead', {}, h('tr', {}, ['Time', 'Who', 'Vote', 'Channel', 'Reason'].map(t => h('th', {}, t)))),
    h('tbody', {}, votes.map(v => h('tr', {},
      h('td', { 'data-label': 'Time' }, when(v.at)), h('td', { 'data-label': 'Who' }, v.voter),
      h('td', { 'data-label': 'Vote' }, v.vote), h('td', { 'data-label': 'Channel' }, v.channel || 'api'),
      h('td', { 'data-label': 'Reason' }, v.reason || '')))));
}

function policySection(p) {
  return [h('h3', {}, 'Policy'), factList([
    ['Explanation', p.explanation], ['Version', p.version && h('code', {}, p.version)]]),
  (p.matched || []).length ? h('ul', {}, p.matched.map(m =>
    h('li', {}, h('code', {}, m.id), ` (${m.effect}${m.approval ? ', needs approval' : ''})`, m.reason ? `: ${m.reason}` : ''))) : null,
  (p.errors || []).length ? h('p', { class: 'error' }, 'Policies that failed to evaluate: ', p.errors.map(e => `${e.id}: ${e.message}`).join('; ')) : null];
}

function receiptSection(a) {
  if (!a.receipt) return null;
  const out = h('span', { class: 'receipt-state' });
  return [h('h3', {}, 'Receipt'), h('p', {}, 'Issued, single use. ',
    h('button', { type: 'button', onclick: async () => {
      const r = await api('POST', '/v1/receipts/verify', { receipt: a.receipt });
      out.textContent = r.ok ? (r.data.valid ? ` Signature valid${r.data.consumed ? ', already redeemed' : ''}.` : ` Not valid: ${r.data.reason || ''}`) : ` ${refusalText(r.data)}`;
    } }, 'Check receipt'), out)];
}

function auditSection(a) {
  const idx = a.audit && a.audit.index;
  if (idx === undefined || idx === null) return null;
  const out = h('p', { class: 'verify-result', role: 'status' });
  const btn = h('button', { type: 'button', id: 'verify', onclick: async () => {
    btn.disabled = true;
    out.className = 'verify-result';
    out.textContent = 'Verifying…';
    const res = await verifyInclusion(path => fetch(path, { credentials: 'same-origin' }), idx, a.id);
    out.className = 'verify-result ' + (res.ok ? 'ok' : res.unavailable ? 'muted' : 'bad');
    out.textContent = res.message;
    btn.disabled = false;
  } }, 'Verify in the audit log');
  return [h('h3', {}, 'Audit'), h('p', {}, `Recorded as audit entry #${idx}. `, btn), out];
}

let detailSig = '';

async function renderDetail(id, fresh) {
  const r = await api('GET', `/v1/actions/${encodeURIComponent(id)}`);
  if (page() !== 'action') return;
  if (!r.ok) return showError(r);
  const a = r.data, ap = a.approval;
  // A live update redraws only when this action changed: a half-written deny
  // reason or a verification result stays otherwise.
  const sig = `${a.id}/${signature(a)}/${a.outcome ? 'o' : ''}`;
  if (!fresh && sig === detailSig) return;
  detailSig = sig;
  main.replaceChildren(
    h('h1', {}, a.action, ' ', h('small', {}, 'on'), ' ', h('code', {}, a.resource), ' ', statusBadge(a.status)),
    h('section', { class: 'card', 'data-id': a.id, 'aria-label': 'decision envelope' },
      factList([['Id', h('code', {}, a.id)], ['Requested by', principal(a.requester)], ['On behalf of', a.on_behalf_of],
        ['Purpose', a.purpose], ['Action', a.action], ['Resource', a.resource],
        ['Context', h('pre', {}, JSON.stringify(a.context || {}, null, 2))],
        ['Arguments hash', h('code', {}, a.args_hash)], ['Requested', when(a.created_at)], ['Decided', when(a.decided_at)]]),
      policySection(a.policy || {}),
      ap ? [h('h3', {}, 'Approval'), factList([['Approvers', (ap.groups || []).join(', ')], ['Progress', h('span', { class: 'progress' }, progress(a))],
        ['Expires', a.status === 'pending' ? `${when(ap.expires_at)} (${timeLeft(ap.expires_at)})` : when(ap.expires_at)]]),
      h('h3', {}, 'Votes'), votesTable(ap.votes || [])] : null,
      a.status === 'pending' ? decisionControls(a) : null,
      receiptSection(a),
      a.outcome ? [h('h3', {}, 'Outcome'), factList([['Result', a.outcome.status], ['Exit code', a.outcome.exit_code],
        ['Detail', a.outcome.detail], ['Output SHA-256', a.outcome.output_sha256 && h('code', {}, a.outcome.output_sha256)],
        ['Reported', when(a.outcome.reported_at)]])] : null,
      auditSection(a)));
}

// ---- history --------------------------------------------------------------

const history = { filters: {}, cursor: null, pages: [] };

function matches(a, f) {
  if (f.action && !a.action.includes(f.action)) return false;
  if (f.resource && !(a.resource === f.resource || a.resource.startsWith(f.resource.replace(/\/$/, '') + '/'))) return false;
  const t = Date.parse(a.created_at);
  if (f.from && t < Date.parse(f.from)) return false;
  if (f.until && t > Date.parse(f.until)) return false;
  if (f.q) {
    const text = [a.id, a.action, a.resource, a.purpose, a.requester && a.requester.id, a.requester && a.requester.owner,
      a.on_behalf_of, JSON.stringify(a.context || {}), reasonOf(a)].join(' ').toLowerCase();
    if (!text.includes(f.q.toLowerCase())) return false;
  }
  return true;
}

// The API filters by status and requester; the other filters are applied here
// while paging through the newest-first list, up to a bounded number of rows.
// Each request asks for no more rows than are still missing, so a page never
// overshoots and the server's cursor stays exact.
async function fetchHistoryPage(f, cursor) {
  const want = 25, found = [];
  let scanned = 0;
  for (;;) {
    const q = new URLSearchParams({ limit: String(want - found.length) });
    if (f.status) q.set('status', f.status);
    if (f.agent) q.set('requester', `Agent::"${f.agent}"`);
    if (cursor) q.set('cursor', cursor);
    const r = await api('GET', `/v1/actions?${q}`);
    if (!r.ok) return { error: r };
    let stop = false;
    for (const a of r.data.items) {
      if (f.from && Date.parse(a.created_at) < Date.parse(f.from)) { stop = true; break; }
      if (matches(a, f)) found.push(a);
    }
    scanned += r.data.items.length;
    cursor = stop ? null : r.data.next_cursor;
    if (!cursor || found.length >= want || scanned >= 1000) return { items: found, cursor, scanned };
  }
}

function historyForm() {
  const f = history.filters;
  const field = (name, label, input) => h('div', {}, h('label', { for: `f-${name}` }, label), input);
  const text = (name, label, type = 'text') => field(name, label, h('input', { id: `f-${name}`, name, type, value: f[name] || '' }));
  const status = h('select', { id: 'f-status', name: 'status' },
    ['', 'pending', 'allowed', 'approved', 'denied', 'expired', 'cancelled'].map(s =>
      h('option', { value: s, selected: f.status === s }, s || 'any')));
  return h('form', { class: 'card filters', role: 'search', onsubmit: ev => {
    ev.preventDefault();
    const data = new FormData(ev.target);
    history.filters = Object.fromEntries([...data.entries()].filter(([, v]) => v));
    history.cursor = null;
    history.pages = [];
    renderHistory(true);
  } },
  field('status', 'Status', status), text('agent', 'Agent'), text('action', 'Action'), text('resource', 'Resource prefix'),
  text('from', 'From', 'datetime-local'), text('until', 'Until', 'datetime-local'), text('q', 'Search'),
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Filter')));
}

function historyRow(a) {
  return h('tr', { 'data-id': a.id },
    h('td', { 'data-label': 'When' }, when(a.created_at)), h('td', { 'data-label': 'Status' }, statusBadge(a.status)),
    h('td', { 'data-label': 'Action' }, h('a', { href: `#/action/${a.id}` }, a.action)),
    h('td', { 'data-label': 'Resource' }, h('code', {}, a.resource)),
    h('td', { 'data-label': 'Requester' }, principal(a.requester)), h('td', { 'data-label': 'Purpose' }, a.purpose || ''));
}

async function renderHistory(fresh) {
  if (fresh) {
    const res = await fetchHistoryPage(history.filters, null);
    if (res.error) return showError(res.error);
    history.pages = [res];
  }
  if (page() !== 'history') return;
  const items = history.pages.flatMap(p => p.items);
  const last = history.pages[history.pages.length - 1];
  const more = h('button', { type: 'button', id: 'more', onclick: async () => {
    const res = await fetchHistoryPage(history.filters, last.cursor);
    if (res.error) return showError(res.error);
    history.pages.push(res);
    renderHistory(false);
  } }, 'Older');
  main.replaceChildren(h('h1', {}, 'History'), historyForm(),
    items.length ? h('table', { class: 'responsive history' },
      h('thead', {}, h('tr', {}, ['When', 'Status', 'Action', 'Resource', 'Requester', 'Purpose'].map(t => h('th', {}, t)))),
      h('tbody', {}, items.map(historyRow))) : h('p', { class: 'empty' }, 'No actions match.'),
    last && last.cursor ? h('div', { class: 'buttons' }, more) : null);
}

// ---- agents ---------------------------------------------------------------

// The kill switch (GET/POST /v1/freeze, POST /v1/unfreeze) may not exist on this
// gateway yet; its state and controls show only when it answers.
async function freezeState() {
  const res = await fetch('/v1/freeze', { credentials: 'same-origin' });
  if (!res.ok) return null;
  const body = await res.json();
  const agents = new Map((body.agents || []).map(f => [f.agent, f]));
  return { global: body.global || null, agents };
}

async function renderAgents() {
  const [r, freezes] = await Promise.all([api('GET', '/v1/actions?limit=500'), freezeState()]);
  if (page() !== 'agents') return;
  if (!r.ok) return showError(r);
  const agents = new Map();
  for (const a of r.data.items) {
    if (!a.requester || a.requester.type !== 'Agent') continue;
    const g = agents.get(a.requester.id) || { name: a.requester.id, owner: a.requester.owner, actions: [] };
    g.actions.push(a);
    agents.set(g.name, g);
  }
  if (freezes) for (const name of freezes.agents.keys())
    if (!agents.has(name)) agents.set(name, { name, actions: [] });
  const admin = session.who.admin === true;
  const cards = [...agents.values()].sort((x, y) => x.name.localeCompare(y.name)).map(ag => {
    const frozen = freezes && (freezes.agents.get(ag.name) || freezes.global);
    const counts = Object.entries(ag.actions.reduce((m, a) => (m[a.status] = (m[a.status] || 0) + 1, m), {}));
    return h('article', { class: 'card', 'data-agent': ag.name, 'data-frozen': freezes ? String(!!frozen) : null },
      h('h2', {}, ag.name, ' ', freezes ? h('span', { class: `badge ${frozen ? 'status-denied' : 'status-allowed'}` }, frozen ? 'frozen' : 'active') : null),
      factList([['Owner', ag.owner], ['Last request', ag.actions[0] && when(ag.actions[0].created_at)],
        ['Recent', `${ag.actions.length} request(s)` + (counts.length ? ': ' + counts.map(([st, n]) => `${n} ${st}`).join(', ') : '')],
        ['Frozen', frozen ? `${frozen.reason || 'no reason given'}${frozen.by ? ` (by ${frozen.by})` : ''}` : null]]),
      h('ul', {}, ag.actions.slice(0, 5).map(a => h('li', {}, statusBadge(a.status), ' ', h('a', { href: `#/action/${a.id}` }, a.action), ' ', h('code', {}, a.resource)))),
      freezes && admin && !(freezes.global && !freezes.agents.get(ag.name)) ? freezeControl(ag.name, !!freezes.agents.get(ag.name)) : null);
  });
  // Non-admins see the global state but no control; replaceChildren would print a null.
  const globalCard = !freezes
    ? h('p', { class: 'muted' }, 'Agents seen in the latest 500 requests. Freezing agents (the kill switch) is not available on this gateway yet.')
    : h('section', { class: 'card', 'aria-label': 'kill switch' }, h('h2', {}, 'All agents ',
        h('span', { class: `badge ${freezes.global ? 'status-denied' : 'status-allowed'}` }, freezes.global ? 'frozen' : 'active')),
      admin ? freezeControl(null, !!freezes.global) : null);
  main.replaceChildren(h('h1', {}, 'Agents'), globalCard,
    ...(cards.length ? cards : [h('p', { class: 'empty' }, 'No agent has made a request yet.')]));
}

// Freeze (with a required reason) or unfreeze one agent, or all when name is null.
function freezeControl(name, frozen) {
  const what = name || 'all agents';
  if (frozen) {
    return h('div', { class: 'buttons' }, h('button', { type: 'button', onclick: async () => {
      const r = await api('POST', '/v1/unfreeze', name ? { agent: name } : {});
      toast(r.ok ? `Unfroze ${what}.` : refusalText(r.data));
      renderAgents();
    } }, `Unfreeze ${what}`));
  }
  const id = `freeze-${name || 'all'}`;
  const reason = h('input', { id, type: 'text', maxlength: 1000 });
  const err = h('p', { class: 'error', role: 'alert' });
  return h('form', { class: 'freeze', onsubmit: async ev => {
    ev.preventDefault();
    if (!reason.value.trim()) { err.textContent = 'Say why, for the audit log.'; reason.focus(); return; }
    const r = await api('POST', '/v1/freeze', name ? { agent: name, reason: reason.value.trim() } : { reason: reason.value.trim() });
    toast(r.ok ? `Froze ${what}.` : refusalText(r.data));
    renderAgents();
  } }, h('label', { for: id }, `Reason to freeze ${what}`), reason, err,
  h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'deny' }, `Freeze ${what}`)));
}

// ---- audit ----------------------------------------------------------------

// Plain fetches: a 401 or 404 here means "no audit log to show", not "signed out".
async function fetchText(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  return { ok: res.ok, status: res.status, data: await res.text() };
}

async function renderAudit() {
  const [cp, key] = await Promise.all([fetchText('/v1/audit/checkpoint'), fetchText('/v1/audit/key')]);
  if (page() !== 'audit') return;
  if (!cp.ok || !key.ok) {
    main.replaceChildren(h('h1', {}, 'Audit log'), h('p', { class: 'card muted', id: 'audit-unavailable' },
      'The audit log is not available on this gateway yet: it publishes no checkpoint. Every decision is still recorded; ',
      'checkpoints, proofs and exports appear here once the gateway serves them.'));
    return;
  }
  const lines = String(cp.data).split('\n');
  const last = localStorage.getItem('cs-last-verification');
  const out = h('p', { role: 'status', id: 'checkpoint-result' }, last ? `Last verified here: ${last}` : 'Not verified in this browser yet.');
  let vk = null;
  try { vk = parseVkey(String(key.data).trim()); } catch (e) { /* shown below */ }
  main.replaceChildren(h('h1', {}, 'Audit log'),
    h('section', { class: 'card' }, factList([['Origin', lines[0]], ['Tree size', h('span', { id: 'tree-size' }, lines[1])],
      ['Root hash', h('code', {}, lines[2])], ['Verifier key', h('code', {}, String(key.data).trim())],
      ['Key', vk ? `${vk.name}, id ${vk.idHex}` : 'unreadable']]),
    h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'verify-checkpoint', onclick: async () => {
      const res = await verifyCheckpoint(String(cp.data), String(key.data).trim());
      out.className = res.ok ? 'ok' : 'bad';
      out.textContent = res.message;
      if (res.ok) localStorage.setItem('cs-last-verification', `${new Date().toLocaleString()}, tree size ${res.size}`);
    } }, 'Verify checkpoint signature')), out),
    h('section', { class: 'card' }, h('h2', {}, 'Export'), h('p', { class: 'muted' }, 'Evidence for SOC 2, ISO/IEC 27001 and NIST 800-53 audits.'),
      h('div', { class: 'buttons' }, ['jsonl', 'csv', 'ocsf'].map(fmt =>
        h('a', { class: 'button', href: `/v1/audit/export?format=${fmt}`, download: `countersign-audit.${fmt === 'csv' ? 'csv' : 'json' + (fmt === 'jsonl' ? 'l' : '')}` }, fmt.toUpperCase())))));
}

// ---- frame ----------------------------------------------------------------

function page() {
  const m = location.hash.match(/^#\/([a-z]+)/);
  return m ? m[1] : 'inbox';
}

function showError(r) {
  main.replaceChildren(h('p', { class: 'error', role: 'alert' }, refusalText(r.data)));
}

function rerender(fresh) {
  const p = page();
  for (const a of document.querySelectorAll('nav a')) a.toggleAttribute('aria-current', a.dataset.page === p);
  for (const a of document.querySelectorAll('nav a[aria-current]')) a.setAttribute('aria-current', 'page');
  if (p === 'action') return renderDetail(decodeURIComponent(location.hash.split('/')[2] || ''), fresh);
  if (p === 'history') return fresh || !history.pages.length ? renderHistory(true) : renderInbox(false).then(() => renderHistory(false));
  if (p === 'agents') return fresh ? renderAgents() : renderInbox(false);
  if (p === 'audit') return fresh ? renderAudit() : renderInbox(false);
  return renderInbox(fresh);
}

// One stream for the whole dashboard: each "change" re-reads what is shown.
function listen() {
  const dot = document.getElementById('live');
  live = new EventSource('/web/events');
  live.addEventListener('open', () => { dot.classList.add('on'); dot.title = 'live'; });
  live.addEventListener('error', () => { dot.classList.remove('on'); dot.title = 'reconnecting'; });
  live.addEventListener('change', () => {
    document.body.dataset.changes = String(Number(document.body.dataset.changes || 0) + 1);
    rerender(false);
  });
}

async function start() {
  const res = await fetch('/web/session', { credentials: 'same-origin' });
  if (!res.ok) return signIn();
  session = await res.json();
  document.getElementById('me').textContent = `${session.who.name}${session.who.admin ? ' (admin)' : ''}`;
  document.getElementById('signout').addEventListener('click', async () => {
    await fetch('/web/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': session.csrf } });
    location.href = '/web/signin';
  });
  window.addEventListener('hashchange', () => { rerender(true); main.focus(); });
  setInterval(() => {
    for (const el of document.querySelectorAll('[data-expires]')) el.textContent = timeLeft(el.dataset.expires);
  }, 1000);
  await rerender(true);
  listen();
}

start();
