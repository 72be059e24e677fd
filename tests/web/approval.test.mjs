// approval.test.mjs - the approval page /a/{id} that notifications link to:
// GET never decides (link scanners), POST decides only with the session's CSRF
// token, the session survives the Strict cookie's cross-site hop, and refusals
// are explained.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, launchChromium, signedIn, shot, DESKTOP, PHONE } from './harness.mjs';

let d, browser;
before(async () => { d = await startDaemon(); browser = await launchChromium(); });
after(async () => { await browser?.close(); await d?.stop(); });

const votes = async id => (await d.get(id)).approval.votes;

test('GET never decides: scanners and signed-in viewers leave the action pending', async () => {
  const a = await d.submit('demo-agent', 'db.export', 'prod/db/customers', { purpose: 'scanner check' });
  // A link scanner: plain GETs, following redirects, with and without query strings.
  for (const path of [`/a/${a.id}`, `/a/${a.id}?s=1`, `/a/${a.id}?decision=approve`])
    assert.equal((await fetch(d.url + path)).status, 200);
  // A signed-in DBA who only looks.
  const bob = await signedIn(browser, d, 'bob', DESKTOP, `/a/${a.id}`);
  await bob.page.getByRole('button', { name: 'Approve' }).waitFor();
  await bob.page.reload();
  await bob.page.goto(`${d.url}/a/${a.id}?decision=approve&csrf=x`);
  assert.equal((await d.get(a.id)).status, 'pending');
  assert.deepEqual(await votes(a.id), []);
  await bob.ctx.close();
});

test('POST with the CSRF token decides; without it, or with a wrong one, nothing happens', async () => {
  const a = await d.submit('demo-agent', 'db.export', 'prod/db/orders', { purpose: 'finance close', context: { rows: 1200 } });
  const bob = await signedIn(browser, d, 'bob', DESKTOP, `/a/${a.id}`);
  const text = await bob.page.locator('main').innerText();
  for (const want of ['db.export', 'prod/db/orders', 'Agent demo-agent (owned by alice)', 'finance close', '"rows": 1200',
    'Exports of production data need two DBAs', '0 of 2 approvals from dba', a.args_hash])
    assert.ok(text.includes(want), `the page shows "${want}"`);
  await shot(bob.page, 'approval-desktop');

  // The same browser session, but a POST that lacks (or forges) the token.
  for (const form of [{ decision: 'approve' }, { decision: 'approve', csrf: 'f'.repeat(64) }]) {
    const r = await bob.ctx.request.post(`${d.url}/a/${a.id}`, { form, maxRedirects: 0 });
    assert.equal(r.status(), 403);
    assert.match(await r.text(), /did not come from your current session; nothing was decided/);
  }
  // A form over 16 KiB is refused as too large (413), not as the wrong kind (415).
  const big = await bob.ctx.request.post(`${d.url}/a/${a.id}`, { form: { decision: 'approve', reason: 'x'.repeat(20000) }, maxRedirects: 0 });
  assert.equal(big.status(), 413);
  assert.match(await big.text(), /larger than 16 KiB; nothing was decided/);
  const bigSignin = await bob.ctx.request.post(`${d.url}/web/login`, { form: { token: 'x'.repeat(20000) }, maxRedirects: 0 });
  assert.equal(bigSignin.status(), 413);
  // The JSON API with the cookie but without the header is refused the same way.
  const api = await bob.ctx.request.post(`${d.url}/v1/actions/${a.id}/approve`, { data: {} });
  assert.equal(api.status(), 403);
  assert.equal((await api.json()).type, 'csrf-failed');
  assert.deepEqual(await votes(a.id), []);

  await bob.page.getByLabel(/Reason/).fill('checked the ticket');
  await bob.page.getByRole('button', { name: 'Approve' }).click();
  await bob.page.locator('[data-notice]').getByText('You approved this action. Status: pending.').waitFor();
  assert.match(await bob.page.locator('main').innerText(), /1 of 2 approvals from dba/);
  await shot(bob.page, 'approval-decided-desktop');
  const v = await votes(a.id);
  assert.equal(v.length, 1);
  assert.equal(v[0].voter, 'bob');
  assert.equal(v[0].reason, 'checked the ticket');
  assert.equal(v[0].channel, 'web');
  await bob.ctx.close();
});

test('deny needs a reason; refusals are explained; the owner cannot decide', async () => {
  const a = await d.submit('demo-agent', 'deploy.apply', 'prod/web');
  const carol = await signedIn(browser, d, 'carol', PHONE, `/a/${a.id}`);
  await shot(carol.page, 'approval-phone');
  await carol.page.getByRole('button', { name: 'Deny' }).click();
  await carol.page.getByRole('alert').getByText('A denial needs a reason').waitFor();
  assert.equal((await d.get(a.id)).status, 'pending');

  // The owner sees why instead of a form; a POST anyway (with a valid CSRF
  // token) is refused by the gateway, in the same words.
  const alice = await signedIn(browser, d, 'alice', DESKTOP, `/a/${a.id}`);
  await alice.page.locator('.cannot[data-reason="owner-approval"]').getByText('requested by an agent you own').waitFor();
  assert.equal(await alice.page.getByRole('button', { name: 'Approve' }).count(), 0);
  const { csrf } = await (await alice.ctx.request.get(`${d.url}/web/session`)).json();
  const forced = await alice.ctx.request.post(`${d.url}/a/${a.id}`, { form: { csrf, decision: 'approve' }, maxRedirects: 0 });
  assert.equal(forced.status(), 403);
  assert.match(await forced.text(), /requested by an agent you own/);
  assert.equal((await d.get(a.id)).status, 'pending');

  // A reason that is not text (bytes no browser sends for this UTF-8 page) refuses
  // the vote instead of casting it with the reason left out.
  {
    const { csrf: c } = await (await carol.ctx.request.get(`${d.url}/web/session`)).json();
    for (const reason of ['bad%FFreason', 'cut%C3', 'nul%00']) {
      const r = await carol.ctx.request.post(`${d.url}/a/${a.id}`, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: d.url },
        data: `csrf=${c}&decision=deny&reason=${reason}`, maxRedirects: 0,
      });
      assert.equal(r.status(), 400, reason);
      assert.match(await r.text(), /not valid text; nothing was decided/);
    }
    assert.equal((await d.get(a.id)).status, 'pending');
    assert.equal((await d.get(a.id)).approval.votes.length, 0);
  }

  // Bob opens the form before Carol decides: his stale form is refused, in words.
  const bob = await signedIn(browser, d, 'bob', DESKTOP, `/a/${a.id}`);
  await bob.page.getByRole('button', { name: 'Approve' }).waitFor();
  await carol.page.goBack();
  await carol.page.getByLabel(/Reason/).fill('wrong release branch');
  await carol.page.getByRole('button', { name: 'Deny' }).click();
  await carol.page.locator('[data-notice]').getByText('You denied this action. Status: denied.').waitFor();
  await bob.page.getByRole('button', { name: 'Approve' }).click();
  await bob.page.getByRole('alert').getByText('already been decided').waitFor();
  assert.equal((await d.get(a.id)).approval.votes.length, 1);
  await bob.page.goto(`${d.url}/a/${a.id}`);
  await bob.page.locator('[data-status="denied"]').waitFor();
  assert.equal(await bob.page.getByRole('button', { name: 'Approve' }).count(), 0, 'no form once decided');
  for (const u of [carol, alice, bob]) await u.ctx.close();
});

test('signing in from the approval link comes back to it; a link opened from another site keeps the session', async () => {
  const a = await d.submit('demo-agent', 'db.export', 'prod/db/payments');
  const ctx = await browser.newContext({ viewport: DESKTOP });
  const page = await ctx.newPage();
  await page.goto(`${d.url}/a/${a.id}`);
  await page.waitForURL(/\/web\/signin\?next=/);
  await page.fill('#token', d.tokens.bob);
  await page.click('button[type=submit]');
  await page.waitForURL(`${d.url}/a/${a.id}`);
  await page.getByRole('button', { name: 'Approve' }).waitFor();

  // From a page of another site (as from Slack or mail): the SameSite=Strict
  // cookie is not sent on that navigation, and one same-site hop restores it.
  await page.goto(`data:text/html,<a id="l" href="${d.url}/a/${a.id}">open</a>`);
  await page.click('#l');
  await page.getByRole('button', { name: 'Approve' }).waitFor();
  assert.match(await page.locator('main').innerText(), /Signed in as bob/);
  await ctx.close();
});

test('sign-out needs the CSRF token and ends the session', async () => {
  const bob = await signedIn(browser, d, 'bob');
  const forged = await bob.ctx.request.post(`${d.url}/web/logout`, { maxRedirects: 0 });
  assert.equal(forged.status(), 403);
  assert.equal((await bob.ctx.request.get(`${d.url}/web/session`)).status(), 200, 'still signed in');
  await bob.page.getByRole('button', { name: 'Sign out' }).click();
  // Sign-out navigates (POST, then redirect); the page's live-update stream closing can
  // abort one navigation in favour of the next, so poll for where the page ends up.
  for (let i = 0; i < 100 && !/\/web\/signin/.test(bob.page.url()); i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(bob.page.url(), /\/web\/signin/);
  assert.equal((await bob.ctx.request.get(`${d.url}/web/session`)).status(), 401);
  assert.equal((await bob.ctx.request.get(`${d.url}/v1/whoami`)).status(), 401);
  await bob.ctx.close();
});

test('revoking the token ends the web session at once', async () => {
  const created = await d.api('admin', 'POST', '/v1/tokens', { kind: 'user', name: 'dave', groups: ['dba'] });
  assert.equal(created.status, 201, created.text);
  d.tokens.dave = created.json.token;
  const a = await d.submit('demo-agent', 'deploy.apply', 'prod/db');
  const dave = await signedIn(browser, d, 'dave', DESKTOP, `/a/${a.id}`);
  await dave.page.getByRole('button', { name: 'Approve' }).waitFor();
  assert.equal((await d.api('admin', 'DELETE', '/v1/tokens/dave')).status, 200);
  await dave.page.getByRole('button', { name: 'Approve' }).click();
  await dave.page.getByText('Sign in first; nothing was decided.').waitFor();
  assert.equal((await dave.ctx.request.get(`${d.url}/web/session`)).status(), 401);
  assert.deepEqual(await votes(a.id), []);
  await dave.ctx.close();
});
