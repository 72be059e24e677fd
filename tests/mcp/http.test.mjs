// http.test.mjs - countersign mcp-proxy in Streamable HTTP mode, driven by the
// official MCP SDK client (StreamableHTTPClientTransport) against the official
// server-everything in its Streamable HTTP mode, with a real gateway deciding.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import net from 'node:net';
import path from 'node:path';
import { Gateway, httpServer, httpProxy, httpClient, freePort, sleep, mcpDir } from './lib/harness.mjs';

let gw, up, px;
before(async () => {
  gw = await new Gateway().start();
  up = await httpServer();
  px = await httpProxy(gw, up.url);
});
after(async () => {
  const st = await px.stop();
  assert.equal(st.code, 0, 'the proxy stops cleanly on SIGTERM');
  await up.stop();
  await gw.stop();
});

async function pendingFor(tool, args) {
  return gw.waitFor(async () => (await gw.actions('pending')).find((a) => a.context.tool === tool && JSON.stringify(a.context.arguments) === JSON.stringify(args)), `pending ${tool}`);
}

const initBody = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
const mcpHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

test('initialize and listing through the proxy are exactly what the server says directly', async () => {
  const d = await httpClient(up.url);
  const p = await httpClient(px.url);
  try {
    assert.deepEqual(p.client.getServerVersion(), d.client.getServerVersion());
    assert.deepEqual(p.client.getServerCapabilities(), d.client.getServerCapabilities());
    assert.equal(p.client.getInstructions(), d.client.getInstructions());
    assert.deepEqual(await p.client.listTools(), await d.client.listTools());
    assert.deepEqual(await p.client.listPrompts(), await d.client.listPrompts());
    assert.deepEqual(await p.client.listResources(), await d.client.listResources());
    await p.client.ping();
    assert.ok(p.transport.sessionId, 'a session id came through');
  } finally {
    await d.client.close();
    await p.client.close();
  }
});

test('Mcp-Session-Id is the upstream session id, passed through both ways', async () => {
  const r = await fetch(px.url, { method: 'POST', headers: mcpHeaders, body: initBody });
  assert.equal(r.status, 200);
  const sid = r.headers.get('mcp-session-id');
  assert.ok(sid);
  await r.text();
  // The upstream server knows this session: use it there directly.
  const h = { ...mcpHeaders, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' };
  await (await fetch(up.url, { method: 'POST', headers: h, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
  const direct = await fetch(up.url, { method: 'POST', headers: h, body: '{"jsonrpc":"2.0","id":2,"method":"ping"}' });
  assert.equal(direct.status, 200);
  await direct.text();
  // And the proxy relays requests carrying it.
  const via = await fetch(px.url, { method: 'POST', headers: h, body: '{"jsonrpc":"2.0","id":3,"method":"tools/list"}' });
  assert.equal(via.status, 200);
  assert.match(await via.text(), /"echo"/);
  const del = await fetch(px.url, { method: 'DELETE', headers: h });
  assert.equal(del.status, 200);
  const after = await fetch(up.url, { method: 'POST', headers: h, body: '{"jsonrpc":"2.0","id":4,"method":"ping"}' });
  assert.notEqual(after.status, 200, 'DELETE through the proxy ended the upstream session');
});

test('an allowed call returns what the direct call returns; server notifications arrive on the GET stream', async () => {
  const d = await httpClient(up.url);
  const p = await httpClient(px.url);
  try {
    for (const [name, args] of [['echo', { message: 'hello über' }], ['get-tiny-image', {}]]) {
      assert.deepEqual(await p.client.callTool({ name, arguments: args }), await d.client.callTool({ name, arguments: args }));
    }
    const logs = [];
    p.client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));
    await p.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await gw.waitFor(async () => logs.length >= 2, 'two logging notifications (one on the standalone SSE stream)', 20000);
    await p.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    const a = await gw.waitFor(async () => (await gw.actions()).find((x) => x.context.tool === 'echo' && x.outcome), 'outcome');
    assert.equal(a.status, 'allowed');
    assert.equal(a.outcome.status, 'succeeded');
  } finally {
    await d.client.close();
    await p.client.close();
  }
});

test("an allowed call's own progress from the server streams through as it happens; a quick answer comes whole", async () => {
  // A quick answer is complete before the proxy relays it: one response with a length.
  const r0 = await fetch(px.url, { method: 'POST', headers: mcpHeaders, body: initBody });
  const sid = r0.headers.get('mcp-session-id');
  await r0.text();
  const h = { ...mcpHeaders, 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '2025-06-18' };
  await (await fetch(px.url, { method: 'POST', headers: h, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })).text();
  // "Within 1 ms of its headers" is a race the proxy may lose on a loaded machine
  // (CI runs tests side by side), and then the answer streams, correctly: so of a few
  // calls, every one must be right, and at least one must have come whole.
  let whole = 0;
  for (let i = 0; i < 5 && whole === 0; i++) {
    const quick = await fetch(px.url, { method: 'POST', headers: h, body: `{"jsonrpc":"2.0","id":${2 + i},"method":"tools/call","params":{"name":"echo","arguments":{"message":"whole"}}}` });
    assert.equal(quick.status, 200);
    assert.match(quick.headers.get('content-type'), /text\/event-stream/);
    const text = await quick.text();
    assert.match(text, /Echo: whole/);
    const len = quick.headers.get('content-length');
    if (len !== null) {
      assert.equal(Number(len), Buffer.byteLength(text));
      whole++;
    }
  }
  assert.ok(whole > 0, 'no quick answer came whole, with a length, in five calls');
  // A slow one streams: each progress notification reaches the client while the
  // tool still runs, well before its answer.
  const p = await httpClient(px.url);
  try {
    const seen = [];
    const started = Date.now();
    const result = await p.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } }, undefined, { onprogress: (x) => seen.push({ ...x, at: Date.now() - started }) });
    const done = Date.now() - started;
    assert.match(result.content[0].text, /Long running operation completed/);
    assert.deepEqual(seen.map((x) => x.progress), [1, 2, 3, 4]);
    assert.ok(seen[0].at < done - 1000, `first progress at ${seen[0].at} ms, answer at ${done} ms`);
  } finally {
    await p.client.close();
  }
});

test('a forbidden call returns an error result with the policy reason', async () => {
  const p = await httpClient(px.url);
  try {
    const r = await p.client.callTool({ name: 'get-env', arguments: {} });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /Environment variables may hold secrets/);
  } finally {
    await p.client.close();
  }
});

test('a held call completes after an approval, with progress notifications', async () => {
  const p = await httpClient(px.url);
  try {
    const progress = [];
    const args = { a: 100, b: 1 };
    const call = p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { onprogress: (x) => progress.push(x) });
    const pend = await pendingFor('get-sum', args);
    await gw.waitFor(async () => progress.length > 0, 'a progress notification');
    assert.ok(progress[0].message.includes(`/a/${pend.id}`));
    assert.match(progress[0].message, /dba/);
    await p.client.ping(); // not blocked by the held call
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', {});
    assert.deepEqual(await call, { content: [{ type: 'text', text: 'The sum of 100 and 1 is 101.' }] });
    const a = await gw.waitFor(async () => {
      const x = (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json;
      return x.outcome ? x : null;
    }, 'outcome');
    assert.ok(a.receipt_consumed_at);
  } finally {
    await p.client.close();
  }
});

test('--idle-timeout: a stalled client connection is closed; a held stream quieter than that is not', async () => {
  const q = await httpProxy(gw, up.url, { proxyArgs: ['--idle-timeout', '1s', '--progress-interval', '2500ms'] });
  try {
    // Half a request, then nothing: the proxy closes the connection after about 1 s.
    const t0 = Date.now();
    const closedAfter = await new Promise((resolve, reject) => {
      const s = net.connect(q.port, '127.0.0.1', () => s.write('POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{'));
      s.on('close', () => resolve(Date.now() - t0));
      s.on('error', () => {});
      setTimeout(() => reject(new Error('the stalled connection was not closed')), 10000);
    });
    assert.ok(closedAfter >= 900 && closedAfter < 5000, `closed after ${closedAfter} ms`);
    // A held call whose SSE stream is silent for 2.5 s at a time, longer than the
    // idle timeout: it still completes after the approval.
    const p = await httpClient(q.url);
    try {
      const progress = [];
      const args = { a: 7, b: 35 };
      const call = p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { onprogress: (x) => progress.push(x) });
      const pend = await pendingFor('get-sum', args);
      await sleep(3500);
      await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', {});
      assert.deepEqual(await call, { content: [{ type: 'text', text: 'The sum of 7 and 35 is 42.' }] });
      assert.ok(progress.length >= 2, `${progress.length} progress notifications`);
      // The client's kept-alive connection was closed while idle: the next call opens another.
      await sleep(1500);
      await p.client.ping();
    } finally {
      await p.client.close();
    }
  } finally {
    await q.stop();
  }
});

test('hold budget and retry binding over HTTP', async () => {
  const budget = await httpProxy(gw, up.url, { proxyArgs: ['--hold-budget', '1s'] });
  const p = await httpClient(budget.url);
  try {
    const args = { a: 9, b: 9 };
    const r1 = await p.client.callTool({ name: 'get-sum', arguments: args });
    const first = await pendingFor('get-sum', args);
    assert.equal(r1.isError, true);
    assert.ok(r1.content[0].text.includes(first.id));
    await gw.api('POST', `/v1/actions/${first.id}/approve`, 'carol', {});
    assert.deepEqual(await p.client.callTool({ name: 'get-sum', arguments: args }), { content: [{ type: 'text', text: 'The sum of 9 and 9 is 18.' }] });
    const r3 = await p.client.callTool({ name: 'get-sum', arguments: args });
    assert.equal(r3.isError, true);
    assert.ok(!r3.content[0].text.includes(first.id), 'the approval was used once');
  } finally {
    await p.client.close();
    assert.equal((await budget.stop()).code, 0);
  }
});

test('notifications/cancelled cancels the pending request', async () => {
  const p = await httpClient(px.url);
  try {
    const args = { a: 5, b: 5 };
    const ac = new AbortController();
    const call = p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { signal: ac.signal });
    const pend = await pendingFor('get-sum', args);
    ac.abort('no longer needed');
    await assert.rejects(call);
    await gw.waitFor(async () => (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json.status === 'cancelled', 'cancelled');
    await p.client.ping();
  } finally {
    await p.client.close();
  }
});

test('bad input: malformed JSON, oversized bodies and an unreachable upstream get JSON-RPC errors', async () => {
  let r = await fetch(px.url, { method: 'POST', headers: mcpHeaders, body: '{"jsonrpc":"2.0",' });
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, -32700);
  r = await fetch(px.url, { method: 'POST', headers: mcpHeaders, body: '{"jsonrpc":"2.0","id":1}' });
  assert.equal(r.status, 400);
  const j = await r.json();
  assert.equal(j.error.code, -32600);
  assert.equal(j.id, 1);
  // DNS rebinding: a browser page from elsewhere cannot use the proxy (and its token).
  r = await fetch(px.url, { method: 'POST', headers: { ...mcpHeaders, Origin: 'http://evil.example' }, body: initBody });
  assert.equal(r.status, 403);
  assert.match((await r.json()).error.message, /Origin is not allowed/);
  r = await fetch(px.url, { method: 'POST', headers: { ...mcpHeaders, Origin: `http://localhost:${px.port}` }, body: initBody });
  assert.equal(r.status, 200);
  await r.text();
  r = await fetch(px.url, { method: 'POST', headers: mcpHeaders, body: 'x'.repeat(5 * 1024 * 1024) });
  assert.equal(r.status, 413);
  assert.equal((await r.json()).error.code, -32600);
  // Two Content-Length fields (request smuggling through a proxy in front): refused,
  // the connection closed, and the request hidden behind the body never relayed.
  for (const lengths of [`Content-Length: ${initBody.length}\r\nContent-Length: 3`, `Content-Length: 3\r\nContent-Length: ${initBody.length}`]) {
    const tail = 'POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}';
    const answer = await new Promise((resolve, reject) => {
      let got = '';
      const s = net.connect(px.port, '127.0.0.1', () => s.write(`POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n${lengths}\r\n\r\n${initBody}${tail}`));
      s.on('data', (d) => (got += d));
      // The proxy closes with the hidden request unread, so the kernel may end the
      // connection with a reset after the answer: what arrived counts either way.
      s.on('error', () => {});
      s.on('close', () => resolve(got));
      s.setTimeout(5000, () => { s.destroy(); reject(new Error(`no close; got ${got}`)); });
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /Connection: close/i);
    assert.match(answer, /send one Content-Length header/);
    assert.equal(answer.match(/HTTP\/1\.1 /g).length, 1, 'one answer: the hidden request was not relayed');
  }
  const dead = await httpProxy(gw, `http://127.0.0.1:${await freePort()}/mcp`);
  try {
    r = await fetch(dead.url, { method: 'POST', headers: mcpHeaders, body: initBody });
    assert.equal(r.status, 502);
    const e = await r.json();
    assert.equal(e.id, 1);
    assert.match(e.error.message, /could not be reached/);
  } finally {
    await dead.stop();
  }
});

test('a client that drops a held stream does not cancel it; the identical retry runs once approved', async () => {
  const p = await httpClient(px.url);
  try {
    const args = { a: 64, b: 64 };
    const ac = new AbortController();
    // Abort the HTTP request itself, without a notifications/cancelled.
    const raw = fetch(px.url, {
      method: 'POST', signal: ac.signal,
      headers: { ...mcpHeaders, 'Mcp-Session-Id': p.transport.sessionId, 'MCP-Protocol-Version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'get-sum', arguments: args } }),
    }).then((r) => r.text()).catch(() => 'aborted');
    const pend = await pendingFor('get-sum', args);
    ac.abort();
    assert.equal(await raw, 'aborted');
    // The proxy notices a hang-up within about a second; a proxy that cancelled on
    // disconnect would show "cancelled" by then.
    await sleep(1500);
    assert.equal((await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json.status, 'pending');
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', {});
    assert.deepEqual(await p.client.callTool({ name: 'get-sum', arguments: args }), { content: [{ type: 'text', text: 'The sum of 64 and 64 is 128.' }] });
    const a = (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json;
    assert.ok(a.receipt_consumed_at);
  } finally {
    await p.client.close();
  }
});

test('an upstream that answers in JSON (SDK server, stateless): relayed as JSON; a held call gets SSE with progress, then the answer', async () => {
  const jup = await httpServer(path.join(mcpDir, 'lib', 'json-server.mjs'));
  const jpx = await httpProxy(gw, jup.url);
  const d = await httpClient(jup.url);
  const p = await httpClient(jpx.url);
  try {
    assert.deepEqual(await p.client.listTools(), await d.client.listTools());
    const raw = await fetch(jpx.url, { method: 'POST', headers: { ...mcpHeaders, 'MCP-Protocol-Version': '2025-06-18' }, body: '{"jsonrpc":"2.0","id":5,"method":"tools/list"}' });
    assert.match(raw.headers.get('content-type'), /application\/json/);
    await raw.text();
    assert.deepEqual(await p.client.callTool({ name: 'echo', arguments: { message: 'j' } }), await d.client.callTool({ name: 'echo', arguments: { message: 'j' } }));
    const progress = [];
    const args = { a: 40, b: 2 };
    const call = p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { onprogress: (x) => progress.push(x) });
    const pend = await pendingFor('get-sum', args);
    await gw.waitFor(async () => progress.length > 0, 'progress');
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', {});
    assert.deepEqual(await call, await d.client.callTool({ name: 'get-sum', arguments: args }));
    const a = await gw.waitFor(async () => {
      const x = (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json;
      return x.outcome ? x : null;
    }, 'outcome');
    assert.equal(a.outcome.status, 'succeeded');
  } finally {
    await d.client.close();
    await p.client.close();
    assert.equal((await jpx.stop()).code, 0);
    await jup.stop();
  }
});

test('an upstream that dies in the middle of a call: the client gets a JSON-RPC error, not a hang', async () => {
  const dup = await httpServer();
  const dpx = await httpProxy(gw, dup.url);
  const p = await httpClient(dpx.url);
  try {
    const call = p.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } });
    await gw.waitFor(async () => (await gw.actions('allowed')).find((a) => a.context.tool === 'trigger-long-running-operation'), 'the call to be allowed');
    await sleep(300);
    dup.proc.kill('SIGKILL');
    await assert.rejects(call, /failed before answering/);
  } finally {
    await p.client.close().catch(() => {});
    assert.equal((await dpx.stop()).code, 0);
    await dup.stop();
  }
});
