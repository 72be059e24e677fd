// harness.mjs - test harness for the MCP proxy: a real `countersign serve` on a free
// port in a fresh `countersign init` directory, and the official MCP SDK client
// talking to the official reference servers directly or through `countersign
// mcp-proxy`.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));
export const mcpDir = path.resolve(here, '..');
const require = createRequire(import.meta.url);

// The suite cannot run without its pinned npm packages: say so plainly.
function need(pkg) {
  try {
    return require.resolve(pkg);
  } catch {
    console.error(`tests/mcp: ${pkg} is missing; run scripts/install-deps (npm ci in tests/mcp)`);
    process.exit(1);
  }
}
need('@modelcontextprotocol/sdk/package.json');
export const everything = path.join(path.dirname(need('@modelcontextprotocol/server-everything/package.json')), 'dist/index.js');
export const filesystem = path.join(path.dirname(need('@modelcontextprotocol/server-filesystem/package.json')), 'dist/index.js');

const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
export { Client, StdioClientTransport, StreamableHTTPClientTransport };

export const binary = process.env.CS_BINARY;
if (!binary || !fs.existsSync(binary)) {
  console.error('tests/mcp: set CS_BINARY to the countersign binary');
  process.exit(1);
}

// Policy for the tests: echo is routine, get-sum needs one DBA, get-env is forbidden,
// the filesystem server may read but writes need approval.
export const testPolicy = `
@id("mcp-echo") permit (principal, action == Action::"mcp.call", resource == Resource::"mcp/everything/echo");
@id("mcp-sum-needs-dba") @approval("dba") @quorum("1") @reason("Sums are sensitive in this test")
permit (principal, action == Action::"mcp.call", resource == Resource::"mcp/everything/get-sum");
@id("mcp-no-env") @reason("Environment variables may hold secrets")
forbid (principal, action == Action::"mcp.call", resource == Resource::"mcp/everything/get-env");
@id("mcp-quick-expiry") @approval("dba") @timeout("1s")
permit (principal, action == Action::"mcp.call", resource == Resource::"mcp/everything/get-annotated-message");
@id("mcp-two-dbas") @approval("dba") @quorum("2")
permit (principal, action == Action::"mcp.call", resource == Resource::"mcp/everything/get-resource-links");
@id("mcp-everything-rest") permit (principal, action == Action::"mcp.call", resource in Resource::"mcp/everything")
unless { resource == Resource::"mcp/everything/get-sum" };
@id("fs-read") permit (principal, action == Action::"mcp.call", resource in Resource::"mcp/files")
when { context.tool like "read*" || context.tool like "list*" || context.tool like "get*" || context.tool like "search*" };
@id("fs-write-needs-dba") @approval("dba") permit (principal, action == Action::"mcp.call", resource == Resource::"mcp/files/write_file");
@id("mcp-source") forbid (principal, action == Action::"mcp.call", resource) unless { context.source == "mcp" };
`;

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Gateway {
  async start() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-mcp-'));
    const data = path.join(this.dir, 'data');
    const init = spawnSync(binary, ['init', '--dir', data, '--json'], { encoding: 'utf8' });
    if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
    this.tokens = JSON.parse(init.stdout).tokens;
    fs.writeFileSync(path.join(data, 'policy', 'demo.cedar'), testPolicy);
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.config = path.join(data, 'countersign.yaml');
    return this.serve();
  }

  // Starts the server on this gateway's data and port (again, after kill()).
  async serve() {
    this.proc = spawn(binary, ['serve', '--config', this.config, '--listen', `127.0.0.1:${this.port}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (let i = 0; i < 250; i++) {
      try {
        const r = await fetch(`${this.url}/healthz`);
        if (r.status === 200) return this;
      } catch {}
      await sleep(20);
    }
    throw new Error('gateway did not start');
  }

  async api(method, p, who, body) {
    const headers = { Authorization: `Bearer ${this.tokens[who] ?? who}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${this.url}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  }

  // Actions this agent requested, newest first.
  async actions(status) {
    const q = status ? `?status=${status}&limit=500` : '?limit=500';
    const r = await this.api('GET', `/v1/actions${q}`, 'admin');
    return r.json.items ?? r.json.actions ?? r.json;
  }

  async waitFor(pred, what, ms = 20000) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await pred();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  env(extra = {}) {
    return { ...process.env, COUNTERSIGN_URL: this.url, COUNTERSIGN_TOKEN: this.tokens['demo-agent'], ...extra };
  }

  // Stops the server (SIGTERM) and keeps its data, for serve() to start it again.
  async kill() {
    if (this.proc && this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await done;
    }
  }

  async stop() {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// An SDK client over stdio: direct to the server, or through the proxy.
export async function stdioClient(gw, serverArgs, { proxy = true, name = 'everything', proxyArgs = [], stderr = 'inherit' } = {}) {
  const command = proxy ? binary : process.execPath;
  const args = proxy ? ['mcp-proxy', '--name', name, ...proxyArgs, '--', process.execPath, ...serverArgs] : serverArgs;
  // The proxy's stderr is kept: a sanitizer report there fails the test at close().
  const transport = new StdioClientTransport({ command, args, env: gw ? gw.env() : process.env, stderr: proxy ? 'pipe' : stderr });
  let log = '';
  if (proxy) transport.stderr.on('data', (d) => (log += d));
  const client = new Client({ name: 'countersign-test', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  const close = async () => {
    await client.close();
    if (/Sanitizer|runtime error:/.test(log)) throw new Error(`sanitizer report from mcp-proxy:\n${log}`);
  };
  return { client, transport, close, stderr: () => log };
}

// The proxy spoken to with raw bytes: send() writes, next() returns the next line.
export class RawProxy {
  constructor(gw, serverArgs, { name = 'everything', proxyArgs = [] } = {}) {
    this.proc = spawn(binary, ['mcp-proxy', '--name', name, ...proxyArgs, '--', ...serverArgs], {
      env: gw.env(),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.lines = [];
    this.waiters = [];
    this.stderr = '';
    let buf = '';
    this.proc.stdout.on('data', (d) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      this.wake();
    });
    this.proc.stderr.on('data', (d) => (this.stderr += d.toString('utf8')));
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
    this.proc.once('exit', () => this.wake());
  }
  wake() {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
  send(text) {
    this.proc.stdin.write(text);
  }
  // Next line (raw text), or the first one for which pred(parsed) holds.
  async next(pred = () => true, ms = 20000) {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.lines.findIndex((l) => {
        try {
          return pred(JSON.parse(l), l);
        } catch {
          return pred(null, l);
        }
      });
      if (i >= 0) return this.lines.splice(i, 1)[0];
      if (this.proc.exitCode !== null || Date.now() > end) throw new Error(`no matching line; got ${JSON.stringify(this.lines)} stderr ${this.stderr}`);
      await new Promise((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  async response(id, ms) {
    return JSON.parse(await this.next((m) => m && m.id === id && !m.method, ms));
  }
  async initialize() {
    this.send(JSON.stringify({ jsonrpc: '2.0', id: 'init', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) + '\n');
    const r = await this.response('init');
    this.send('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    return r;
  }
  async close() {
    this.proc.stdin.end();
    const st = await this.exited;
    if (/Sanitizer|runtime error:/.test(this.stderr)) throw new Error(`sanitizer report from mcp-proxy:\n${this.stderr}`);
    return st;
  }
}

// A reference server in Streamable HTTP mode on a free port.
export async function httpServer(script = everything) {
  const port = await freePort();
  const proc = spawn(process.execPath, [script, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  await waitListening(port, () => err);
  return { url: `http://127.0.0.1:${port}/mcp`, port, proc, stop: () => stopProc(proc) };
}

// countersign mcp-proxy --listen in front of an upstream URL.
export async function httpProxy(gw, upstream, { name = 'everything', proxyArgs = [] } = {}) {
  const port = await freePort();
  const proc = spawn(binary, ['mcp-proxy', '--listen', `127.0.0.1:${port}`, '--upstream', upstream, '--name', name, ...proxyArgs], { env: gw.env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  await waitListening(port, () => err);
  const stop = async () => {
    const st = await stopProc(proc);
    if (/Sanitizer|runtime error:/.test(err)) throw new Error(`sanitizer report from mcp-proxy:\n${err}`);
    return st;
  };
  return { url: `http://127.0.0.1:${port}/mcp`, port, proc, stderr: () => err, stop };
}

async function waitListening(port, log) {
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await sleep(20);
  }
  throw new Error(`nothing listening on ${port}: ${log()}`);
}

export async function stopProc(proc, signal = 'SIGTERM') {
  if (proc.exitCode !== null || proc.signalCode !== null) return { code: proc.exitCode, signal: proc.signalCode };
  const done = new Promise((r) => proc.once('exit', (code, sig) => r({ code, signal: sig })));
  proc.kill(signal);
  return done;
}

export async function httpClient(url) {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = new Client({ name: 'countersign-test', version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport);
  return { client, transport };
}

// The first child process of pid (from /proc, no procps needed).
export function childOf(pid) {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) return Number(d);
    } catch {}
  }
  return 0;
}
