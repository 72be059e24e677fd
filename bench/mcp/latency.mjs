// latency.mjs - MCP proxy benchmark: latency of sequential allowed tools/call (and
// of an ungated ping) through `countersign mcp-proxy` vs straight to the same
// server-everything over stdio. Prints median and p99; asserts nothing.
//
// The two paths are measured in alternating blocks (after a warm-up long enough for
// V8 to optimise both servers), so that load from elsewhere on the machine falls on
// both alike; the spread of the per-block medians shows how noisy a run was.
import { spawn } from 'node:child_process';
import os from 'node:os';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Gateway, everything, binary, httpServer, httpProxy, freePort } from '../../tests/mcp/lib/harness.mjs';

const N = Number(process.env.CS_BENCH_CALLS ?? 2000);
const WARM = 1000;
const BLOCK = 250;

class Peer {
  constructor(cmd, args, env) {
    this.p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
    this.buf = '';
    this.waiting = new Map();
    this.p.stdout.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const m = JSON.parse(line);
        const w = this.waiting.get(m.id);
        if (w && !m.method) {
          this.waiting.delete(m.id);
          w(m);
        }
      }
    });
    this.id = 0;
  }
  call(method, params) {
    const id = ++this.id;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.p.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }
  async init() {
    await this.call('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } });
    this.p.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
  }
  close() {
    this.p.stdin.end();
    return new Promise((r) => this.p.once('exit', r));
  }
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p99: q(0.99) };
}

async function block(peer, method, params, n, lat) {
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const r = await peer.call(method, params);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.error || r.result?.isError) throw new Error(`call failed: ${JSON.stringify(r)}`);
  }
  return stats(lat.slice(-n)).median;
}

// N calls on each peer in alternating blocks; all samples pooled per peer, plus the
// range of "added" (proxied minus direct block median) over the block pairs.
async function measure(peers, method, params) {
  for (const peer of peers) await block(peer, method, params, WARM, []);
  const lats = peers.map(() => []), added = [];
  for (let done = 0; done < N; done += BLOCK) {
    const n = Math.min(BLOCK, N - done);
    const m = [];
    for (let k = 0; k < peers.length; k++) m.push(await block(peers[k], method, params, n, lats[k]));
    added.push(m[m.length - 1] - m[0]);
  }
  added.sort((a, b) => a - b);
  return [...lats.map(stats), { min: added[0], max: added[added.length - 1] }];
}

// Streamable HTTP: one session, sequential POSTs over a keep-alive connection.
class HttpPeer {
  constructor(url) {
    this.url = url;
    this.id = 0;
    this.headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  }
  async post(msg) {
    const r = await fetch(this.url, { method: 'POST', headers: this.headers, body: JSON.stringify(msg) });
    const text = await r.text();
    return { r, text };
  }
  async call(method, params) {
    const { text } = await this.post({ jsonrpc: '2.0', id: ++this.id, method, params });
    const data = text.startsWith('{') ? text : text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5)).pop();
    return JSON.parse(data);
  }
  async init() {
    const { r } = await this.post({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } });
    this.headers['Mcp-Session-Id'] = r.headers.get('mcp-session-id');
    this.headers['MCP-Protocol-Version'] = '2025-06-18';
    await this.post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  }
  close() {}
}

// nginx proxy_pass to 127.0.0.1:port in a scratch directory; null when nginx is
// not installed (the row is then left out).
async function nginxRelay(port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-mcp-nginx-'));
  const listen = await freePort();
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  upstream mcp { server 127.0.0.1:${port}; keepalive 8; }
  server {
    listen 127.0.0.1:${listen};
    location / { proxy_pass http://mcp; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
`);
  const p = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
  const ok = await new Promise((resolve) => {
    p.once('error', () => resolve(false));
    const poll = async (n) => {
      const up = await new Promise((r) => { const s = net.connect(listen, '127.0.0.1', () => { s.end(); r(true); }); s.on('error', () => r(false)); });
      if (up) resolve(true);
      else if (n > 0 && p.exitCode === null) setTimeout(() => poll(n - 1), 20);
      else resolve(false);
    };
    poll(250);
  });
  const stop = () => { p.kill(); fs.rmSync(dir, { recursive: true, force: true }); };
  if (!ok) { stop(); return null; }
  return { url: `http://127.0.0.1:${listen}/mcp`, stop };
}

const fmt = (x) => x.toFixed(3).padStart(8);
const TARGET_MS = 0.5; // issue: at most 0.5 ms added at the median for an allowed tools/call
const verdicts = [];
function row(label, d, p, a) {
  console.log(`${label.padEnd(34)} ${fmt(d.median)} ${fmt(d.p99)} |     ${fmt(p.median)} ${fmt(p.p99)} |   ${fmt(p.median - d.median)} ${fmt(p.p99 - d.p99)} | ${a.min.toFixed(3)}..${a.max.toFixed(3)}`);
  if (label.includes('tools/call')) verdicts.push(`${label}: added median ${(p.median - d.median).toFixed(3)} ms, ${p.median - d.median <= TARGET_MS ? 'met' : 'NOT met'}`);
}
const gw = await new Gateway().start();
try {
  const direct = new Peer(process.execPath, [everything, 'stdio'], process.env);
  const proxied = new Peer(binary, ['mcp-proxy', '--name', 'everything', '--', process.execPath, everything, 'stdio'], gw.env());
  await direct.init();
  await proxied.init();
  const rows = [];
  for (const [label, method, params] of [
    ['tools/call echo (gated, allowed)', 'tools/call', { name: 'echo', arguments: { message: 'bench' } }],
    ['ping (passed through)', 'ping', {}],
  ]) {
    rows.push([label, ...(await measure([direct, proxied], method, params))]);
  }
  console.log(`mcp-proxy latency, ${N} sequential calls each in alternating blocks of ${BLOCK} (ms; gateway data dir ${gw.dir}; load average ${os.loadavg()[0].toFixed(1)})`);
  console.log('                                   direct median   p99 | proxied median   p99 | added median   p99 | added per block');
  for (const [label, d, p, a] of rows) row(label, d, p, a);
  await direct.close();
  await proxied.close();
  const up = await httpServer();
  const px = await httpProxy(gw, up.url);
  try {
    const hd = new HttpPeer(up.url), hp = new HttpPeer(px.url);
    await hd.init();
    await hp.init();
    const echo = { name: 'echo', arguments: { message: 'bench' } };
    for (const [label, method, params] of [
      ['HTTP tools/call echo (allowed)', 'tools/call', echo],
      ['HTTP ping (passed through)', 'ping', {}],
    ]) {
      const [d, p, a] = await measure([hd, hp], method, params);
      row(label, d, p, a);
    }
    // A reference for the relay alone: nginx as a reverse proxy (kept-alive upstream
    // connections, no buffering) in front of the same server, when nginx is there.
    const ng = await nginxRelay(up.port);
    if (ng) {
      try {
        const hn = new HttpPeer(ng.url);
        await hn.init();
        const [d, p, a] = await measure([hd, hn], 'ping', {});
        row('HTTP ping via nginx (reference)', d, p, a);
      } finally {
        ng.stop();
      }
    }
  } finally {
    await px.stop();
    await up.stop();
  }
  console.log(`target <= ${TARGET_MS.toFixed(3)} ms added at the median: ${verdicts.join('; ')}`);
} finally {
  await gw.stop();
}
