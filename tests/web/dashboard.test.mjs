// dashboard.test.mjs - the dashboard in a real browser against a real daemon:
// sign-in, the live inbox, quorum votes, separation of duties as people see it,
// deny with a required reason, and the detail, history, agents and audit pages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchChromium, signedIn, shot, DESKTOP, PHONE } from './harness.mjs';

let d, browser;
before(async () => { d = await startDaemon(); browser = await launchChromium(); });
after(async () => { await browser?.close(); await d?.stop(); });

const card = (page, id) => page.locator(`article[data-id="${id}"]`);

test('sign-in refuses a wrong token and an agent token, accepts a person', async () => {
  const ctx = await browser.newContext({ viewport: DESKTOP });
  const page = await ctx.newPage();
  await page.goto(`${d.url}/`);
  await page.waitForURL(/\/web\/signin/);
  await shot(page, 'signin-desktop');
  await page.fill('#token', 'cst_not-a-token');
  await page.click('button[type=submit]');
  await assert.doesNotReject(page.getByRole('alert').getByText('not accepted').waitFor());
  await page.fill('#token', d.tokens['demo-agent']);
  await page.click('button[type=submit]');
  await page.getByRole('alert').getByText('Agent tokens cannot sign in').waitFor();
  await page.fill('#token', d.tokens.bob);
  await page.click('button[type=submit]');
  await page.locator('#me').getByText('bob').waitFor();
  const cookies = await ctx.cookies();
  const c = cookies.find(x => x.name === 'cs_session');
  assert.ok(c, 'a session cookie is set');
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.equal(await page.evaluate(() => document.cookie), '', 'the script cannot read the session cookie');
  await ctx.close();
});

test('a request appears in the inbox live; two DBAs approve it; the owner sees it without buttons', async () => {
  const bob = await signedIn(browser, d, 'bob');
  const carol = await signedIn(browser, d, 'carol');
  const alice = await signedIn(browser, d, 'alice');
  for (const u of [bob, carol, alice]) {
    await u.page.locator('#inbox-list').waitFor();
    await u.page.evaluate(() => { window.noReload = true; });
  }
  const a = await d.submit('demo-agent', 'db.export', 'prod/db/customers', { purpose: 'quarterly revenue report' });
  assert.equal(a.status, 'pending');

  // Arrives without a reload, with requester, owner, purpose, reason and quorum.
  const bc = card(bob.page, a.id);
  await bc.waitFor();
  assert.equal(await bob.page.evaluate(() => window.noReload), true, 'the page was not reloaded');
  const text = await bc.innerText();
  for (const want of ['db.export', 'prod/db/customers', 'agent demo-agent (owner alice)', 'quarterly revenue report',
    'Exports of production data need two DBAs', '0 of 2 approvals (dba)', 'left'])
    assert.ok(text.includes(want), `the card shows "${want}": ${text}`);
  await shot(bob.page, 'inbox-desktop');

  // The owner sees their agent's request, with the reason and no buttons.
  const ac = card(alice.page, a.id);
  await ac.waitFor();
  await ac.locator('.cannot[data-reason="owner-approval"]').getByText('agent you own').waitFor();
  assert.equal(await ac.locator('button').count(), 0, 'no buttons for the owner');

  // First DBA: "1 of 2"; the second DBA's inbox follows live.
  await bc.getByRole('button', { name: 'Approve' }).click();
  await card(bob.page, a.id).locator('.result').getByText('You approved this: 1 of 2 approvals (dba)').waitFor();
  await card(bob.page, a.id).locator('.cannot[data-reason="duplicate-vote"]').waitFor();
  const cc = card(carol.page, a.id);
  await cc.locator('.progress').getByText('1 of 2 approvals (dba)').waitFor();
  assert.equal(await carol.page.evaluate(() => window.noReload), true);
  await cc.getByRole('button', { name: 'Approve' }).click();
  await carol.page.locator('#toast').getByText('You approved this: approved').waitFor();
  assert.equal((await d.get(a.id)).status, 'approved');
  // Decided actions leave every inbox, live.
  await card(bob.page, a.id).waitFor({ state: 'detached' });
  await card(alice.page, a.id).waitFor({ state: 'detached' });
  assert.equal(await alice.page.evaluate(() => window.noReload), true);

  // The detail page: envelope, policy, votes with channel, receipt, audit.
  await bob.page.goto(`${d.url}/#/action/${a.id}`);
  const env = bob.page.locator(`section[data-id="${a.id}"]`);
  await env.waitFor();
  const detail = await env.innerText();
  for (const want of ['export-needs-dba', 'Exports of production data need two DBAs', 'quarterly revenue report',
    a.args_hash, 'Issued, single use', `audit entry #`])
    assert.ok(detail.includes(want), `the detail shows "${want}"`);
  const rows = await env.locator('table.votes-table tbody tr').allInnerTexts();
  assert.equal(rows.length, 2);
  assert.match(rows[0], /bob[\s\S]*approve[\s\S]*web/);
  assert.match(rows[1], /carol[\s\S]*approve[\s\S]*web/);
  await bob.page.getByRole('button', { name: 'Check receipt' }).click();
  await bob.page.locator('.receipt-state').getByText('Signature valid').waitFor();
  await shot(bob.page, 'detail-desktop');
  for (const u of [bob, carol, alice]) await u.ctx.close();
});

test('your own request and one made on your behalf show why you cannot decide them', async () => {
  const bob = await signedIn(browser, d, 'bob');
  const own = await d.submit('bob', 'db.export', 'prod/db/ledger', { purpose: 'my own export' });
  const obo = await d.submit('demo-agent', 'db.export', 'prod/db/hr', { on_behalf_of: 'bob', purpose: 'for bob' });
  for (const a of [own, obo]) {
    const c = card(bob.page, a.id);
    await c.locator('.cannot[data-reason="self-approval"]').getByText('someone else has to decide it').waitFor();
    assert.equal(await c.locator('button').count(), 0);
  }
  // Carol, another DBA, may decide both.
  const carol = await signedIn(browser, d, 'carol');
  for (const a of [own, obo]) await card(carol.page, a.id).getByRole('button', { name: 'Approve' }).waitFor();
  await bob.ctx.close();
  await carol.ctx.close();
});

test('deny needs a reason; a refusal is explained in words', async () => {
  const bob = await signedIn(browser, d, 'bob');
  const a = await d.submit('demo-agent', 'deploy.apply', 'prod/web', { purpose: 'release 1.4' });
  const c = card(bob.page, a.id);
  await c.waitFor();
  await c.getByRole('button', { name: 'Deny' }).click();
  await c.getByRole('button', { name: 'Confirm deny' }).click();
  await c.getByRole('alert').getByText('A denial needs a reason').waitFor();
  assert.equal((await d.get(a.id)).status, 'pending', 'nothing was sent without a reason');
  await shot(bob.page, 'inbox-deny-desktop');
  await c.getByLabel('Why deny? (required)').fill('not during the freeze window');
  await c.getByRole('button', { name: 'Confirm deny' }).click();
  await bob.page.locator('#toast').getByText('You denied this: denied').waitFor();
  const after = await d.get(a.id);
  assert.equal(after.status, 'denied');
  assert.equal(after.approval.votes[0].reason, 'not during the freeze window');

  // A vote the gateway refuses shows why. Live updates are cut for this page so
  // its card is stale when someone else decides the action first.
  const b = await d.submit('demo-agent', 'deploy.apply', 'prod/api');
  await bob.page.route('**/web/events', route => route.abort());
  await bob.page.reload();
  const bc = card(bob.page, b.id);
  await bc.waitFor();
  assert.equal((await d.api('carol', 'POST', `/v1/actions/${b.id}/approve`, {})).status, 200);
  await bc.getByRole('button', { name: 'Approve' }).click();
  await bob.page.locator('#toast').getByText('already been decided').waitFor();
  assert.equal((await d.get(b.id)).approval.votes.length, 1, 'the refused vote was not counted');
  await bob.ctx.close();
});

test('history filters by status, agent, action, resource prefix and text, and pages', async () => {
  const ids = [];
  for (let i = 0; i < 30; i++) ids.push((await d.submit('demo-agent', 'db.read', `staging/db/t${i}`, { purpose: `read number ${i}` })).id);
  await d.submit('bob', 'db.query', 'prod/db/orders', { purpose: 'find the lost order' });
  await d.submit('demo-agent', 'iam.role.update', 'prod/iam/admin', { purpose: 'escalate' });
  const bob = await signedIn(browser, d, 'bob', DESKTOP, '/#/history');
  const rows = bob.page.locator('table.history tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 25, 'a page has 25 rows');
  await bob.page.getByRole('button', { name: 'Older' }).click();
  await bob.page.waitForFunction(() => document.querySelectorAll('table.history tbody tr').length > 25);
  await shot(bob.page, 'history-desktop');

  await bob.page.selectOption('#f-status', 'denied');
  await bob.page.click('form[role=search] button[type=submit]');
  await bob.page.waitForFunction(() => [...document.querySelectorAll('table.history tbody tr')].every(r => r.innerText.includes('denied')));
  assert.ok((await rows.allInnerTexts()).some(t => t.includes('iam.role.update')));

  await bob.page.selectOption('#f-status', '');
  await bob.page.fill('#f-resource', 'prod/db');
  await bob.page.fill('#f-q', 'lost order');
  await bob.page.click('form[role=search] button[type=submit]');
  await bob.page.waitForFunction(() => document.querySelectorAll('table.history tbody tr').length === 1);
  assert.match(await rows.first().innerText(), /db\.query[\s\S]*prod\/db\/orders/);

  await bob.page.fill('#f-agent', 'nobody');
  await bob.page.click('form[role=search] button[type=submit]');
  await bob.page.getByText('No actions match.').waitFor();

  await bob.page.fill('#f-resource', '');
  await bob.page.fill('#f-q', '');
  await bob.page.fill('#f-agent', 'demo-agent');
  await bob.page.fill('#f-action', 'db.read');
  await bob.page.click('form[role=search] button[type=submit]');
  await bob.page.waitForFunction(() => {
    const r = [...document.querySelectorAll('table.history tbody tr')];
    return r.length === 25 && r.every(x => x.innerText.includes('db.read') && x.innerText.includes('demo-agent'));
  });
  await bob.ctx.close();
});

test('agents and audit pages', async () => {
  await d.submit('demo-agent', 'db.read', 'prod/db/customers', { purpose: 'agents page' });
  const admin = await signedIn(browser, d, 'admin', DESKTOP, '/#/agents');
  const ag = admin.page.locator('article[data-agent="demo-agent"]');
  await ag.waitFor();
  assert.match(await ag.innerText(), /Owner[\s\S]*alice/);
  const freezeApi = await d.api('admin', 'GET', '/v1/freeze');
  if (freezeApi.status !== 200) {
    assert.equal(await ag.getByRole('button', { name: /freeze/i }).count(), 0, 'no freeze control without the API');
    await admin.page.getByText('not available on this gateway yet').waitFor();
    await shot(admin.page, 'agents-desktop');
  } else {
    // The kill switch: freeze with a reason, see it frozen, unfreeze.
    await ag.getByLabel('Reason to freeze demo-agent').fill('runaway loop');
    await ag.getByRole('button', { name: 'Freeze demo-agent' }).click();
    await admin.page.locator('article[data-agent="demo-agent"][data-frozen="true"]').waitFor();
    const frozen = await d.api('admin', 'GET', '/v1/freeze');
    assert.ok(frozen.json.agents.some(f => f.agent === 'demo-agent'), 'the gateway has the freeze');
    await shot(admin.page, 'agents-desktop');
    await admin.page.getByRole('button', { name: 'Unfreeze demo-agent' }).click();
    await admin.page.locator('article[data-agent="demo-agent"][data-frozen="false"]').waitFor();
    // People who are not admins see the state but no controls.
    const bob = await signedIn(browser, d, 'bob', DESKTOP, '/#/agents');
    await bob.page.locator('article[data-agent="demo-agent"][data-frozen="false"]').waitFor();
    assert.equal(await bob.page.getByRole('button', { name: /freeze/i }).count(), 0);
    await bob.ctx.close();
  }

  await admin.page.goto(`${d.url}/#/audit`);
  const cp = await d.api('admin', 'GET', '/v1/audit/checkpoint');
  if (cp.status === 404) {
    await admin.page.locator('#audit-unavailable').getByText('not available on this gateway yet').waitFor();
  } else {
    await admin.page.locator('#tree-size').getByText(cp.text.split('\n')[1], { exact: true }).waitFor();
    await admin.page.getByRole('button', { name: 'Verify checkpoint signature' }).click();
    await admin.page.locator('#checkpoint-result.ok').waitFor();
    // The export buttons are links: they must work with the session cookie.
    for (const fmt of ['jsonl', 'csv', 'ocsf']) {
      const href = await admin.page.getByRole('link', { name: fmt.toUpperCase() }).getAttribute('href');
      const res = await admin.ctx.request.get(d.url + href);
      assert.equal(res.status(), 200, `export ${fmt} with the session cookie`);
    }
  }
  await shot(admin.page, 'audit-desktop');

  // The detail page's "verify": against the log when it exists, else a clear note.
  const a = await d.submit('demo-agent', 'db.read', 'prod/db/customers');
  await admin.page.goto(`${d.url}/#/action/${a.id}`);
  const result = admin.page.locator('.verify-result');
  if (cp.status === 404) {
    await admin.page.getByRole('button', { name: 'Verify in the audit log' }).click();
    await result.getByText('not available on this gateway yet').waitFor();
  } else {
    // A fresh entry is covered once the next checkpoint is published: ask again
    // until it is (bounded by the number of tries, not by a clock).
    let text = '';
    for (let i = 0; i < 100 && !text.startsWith('Verified'); i++) {
      await admin.page.getByRole('button', { name: 'Verify in the audit log' }).click();
      await admin.page.locator('#verify:not([disabled])').waitFor();
      text = await result.innerText();
      if (text.includes('not covered')) await admin.page.waitForTimeout(100);
      else assert.match(text, /^Verified: entry #/);
    }
    assert.match(text, new RegExp(`^Verified: entry #${a.audit.index} `));
  }
  await admin.ctx.close();
});

test('every page at phone width', async () => {
  const a = await d.submit('demo-agent', 'db.export', 'prod/db/invoices', { purpose: 'auditor request', context: { rows: 1200, format: 'csv' } });
  const bob = await signedIn(browser, d, 'bob', PHONE);
  await card(bob.page, a.id).waitFor();
  // Nothing wider than the screen: the page does not scroll sideways.
  const overflow = async () => bob.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(await overflow() <= 0, 'inbox fits a phone');
  await shot(bob.page, 'inbox-phone');
  for (const [hash, name, sel] of [[`#/action/${a.id}`, 'detail-phone', `section[data-id="${a.id}"]`],
    ['#/history', 'history-phone', 'table.history'], ['#/agents', 'agents-phone', 'article[data-agent]'], ['#/audit', 'audit-phone', 'h1']]) {
    await bob.page.goto(`${d.url}/${hash}`);
    await bob.page.locator(sel).first().waitFor();
    assert.ok(await overflow() <= 0, `${name} fits a phone`);
    await shot(bob.page, name);
  }
  // Keyboard only: Tab reaches the Approve button of the card and Enter votes.
  await bob.page.goto(`${d.url}/#/inbox`);
  await card(bob.page, a.id).waitFor();
  let focused = '';
  for (let i = 0; i < 30 && focused !== 'Approve'; i++) {
    await bob.page.keyboard.press('Tab');
    focused = await bob.page.evaluate(() => document.activeElement && document.activeElement.textContent);
  }
  assert.equal(focused, 'Approve', 'Approve is reachable with the keyboard');
  await bob.page.keyboard.press('Enter');
  await card(bob.page, a.id).locator('.result').getByText('You approved this: 1 of 2 approvals (dba)').waitFor();
  await bob.ctx.close();
});
