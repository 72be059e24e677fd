// latency.mjs - MCP proxy benchmark: latency of sequential allowed tools/call (and
// of an ungated ping) through `countersign mcp-proxy` vs straight to the same
// server-everything over stdio. Prints median and p99; asserts nothing.
//
// The two paths are measured in alternating blocks (after a warm-up long enough for
// V8 to optimise both servers), so that load from elsewhere on the machine falls on
// both alike; the spread of the per-block medians shows how noisy a run was.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { Gateway, everything, binary, httpServer, httpProxy } from '../../tests/mcp/lib/harness.mjs';

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
  } finally {
    await px.stop();
    await up.stop();
  }
  console.log(`target <= ${TARGET_MS.toFixed(3)} ms added at the median: ${verdicts.join('; ')}`);
} finally {
  await gw.stop();
}
