// harness.mjs - what the browser tests share: a real countersign daemon on a free
// port in a fresh directory (made by `countersign init`), API calls with bearer
// tokens, and Debian's Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CS_CHROMIUM || '/usr/bin/chromium';

function fail(msg) {
  console.error(`web tests: ${msg}`);
  process.exit(1);
}

// Missing tools are a clear failure, never a skip.
export function loadPlaywright() {
  if (!existsSync(join(here, 'node_modules', 'playwright-core')))
    fail('tests/web/node_modules is missing: run scripts/install-deps (npm ci in tests/web)');
  if (!existsSync(CHROMIUM)) fail(`${CHROMIUM} is missing: run scripts/install-deps (apt-get install chromium)`);
  return createRequire(import.meta.url)('playwright-core');
}

export const outDir = process.env.CS_WEB_OUT || join(here, '..', '..', 'build', 'tests', 'web');
export const shotDir = join(outDir, 'screenshots');
mkdirSync(shotDir, { recursive: true });

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on('error', reject);
  });
}

// The demo policy of `countersign init` plus a one-approver deploy rule.
const POLICY = `
@id("routine-reads")
permit (principal, action in [Action::"db.read", Action::"db.query"], resource);
@id("export-needs-dba") @approval("dba") @quorum("2") @reason("Exports of production data need two DBAs")
permit (principal, action == Action::"db.export", resource in Resource::"prod");
@id("deploy-needs-one") @approval("dba") @reason("Production deploys need a DBA")
permit (principal, action == Action::"deploy.apply", resource in Resource::"prod");
@id("no-prod-iam") @reason("IAM changes in production are forbidden")
forbid (principal, action == Action::"iam.role.update", resource in Resource::"prod");
`;

export async function startDaemon() {
  const bin = process.env.CS_BINARY;
  if (!bin || !existsSync(bin)) fail('CS_BINARY must name the countersign binary');
  const dir = mkdtempSync(join(tmpdir(), 'cs-web-'));
  const data = join(dir, 'data');
  const init = JSON.parse(execFileSync(bin, ['init', '--dir', data, '--json'], { encoding: 'utf8' }));
  writeFileSync(join(data, 'policy', 'demo.cedar'), POLICY);
  const port = await freePort();
  const proc = spawn(bin, ['serve', '--config', join(data, 'countersign.yaml'), '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '', stopping = false;
  proc.stderr.on('data', d => { log += d; });
  proc.on('exit', (code, sig) => { if (!stopping) console.error(`web tests: the daemon died (${code ?? sig}):\n${log}`); });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) fail(`the daemon exited during start:\n${log}`);
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not up yet */ }
    if (i > 500) fail(`the daemon did not come up on ${url}`);
    await new Promise(r => setTimeout(r, 20));
  }
  const d = {
    url, port, tokens: init.tokens, dir,
    async api(who, method, path, body) {
      const res = await fetch(url + path, {
        method, headers: { Authorization: `Bearer ${d.tokens[who]}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, json, text };
    },
    async submit(who, action, resource, extra = {}) {
      const r = await d.api(who, 'POST', '/v1/actions', { action, resource, ...extra });
      if (r.status !== 201) throw new Error(`submit failed: ${r.status} ${r.text}`);
      return r.json;
    },
    async get(id) { return (await d.api('admin', 'GET', `/v1/actions/${id}`)).json; },
    async stop() {
      stopping = true;
      proc.kill('SIGTERM');
      const code = await new Promise(r => proc.exitCode !== null ? r(proc.exitCode) : proc.on('exit', c => r(c)));
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) throw new Error(`the daemon did not exit cleanly (${code}):\n${log}`);
    },
  };
  return d;
}

// Playwright gives every launch a fresh, temporary profile (--user-data-dir).
export async function launchChromium() {
  const { chromium } = loadPlaywright();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export const DESKTOP = { width: 1280, height: 860 };
export const PHONE = { width: 390, height: 844 };

// A browser context (its own cookies) signed in as `who` through the sign-in form.
export async function signedIn(browser, d, who, viewport = DESKTOP, next = '/') {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  await page.goto(`${d.url}/web/signin?next=${encodeURIComponent(next)}`);
  await page.fill('#token', d.tokens[who]);
  await page.click('button[type=submit]');
  await page.waitForURL(u => !u.pathname.startsWith('/web/'));
  return { ctx, page };
}

export async function shot(page, name) {
  await page.screenshot({ path: join(shotDir, `${name}.png`), fullPage: true });
}
