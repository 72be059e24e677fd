// stdio.test.mjs - countersign mcp-proxy in stdio mode, driven by the official MCP SDK
// client against the official reference servers (@modelcontextprotocol/server-everything
// and server-filesystem), with a real gateway deciding.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gateway, stdioClient, everything, filesystem, RawProxy, mcpDir, sleep, childOf } from './lib/harness.mjs';

let gw;
before(async () => {
  gw = await new Gateway().start();
});
after(async () => {
  await gw.stop();
});

const ev = [everything, 'stdio'];

async function pendingFor(tool, args) {
  return gw.waitFor(async () => (await gw.actions('pending')).find((a) => a.context.tool === tool && JSON.stringify(a.context.arguments) === JSON.stringify(args)), `pending ${tool}`);
}

test('initialize and listing through the proxy are exactly what the server says directly', async () => {
  const d = await stdioClient(null, ev, { proxy: false, stderr: 'ignore' });
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    assert.deepEqual(p.client.getServerVersion(), d.client.getServerVersion());
    assert.deepEqual(p.client.getServerCapabilities(), d.client.getServerCapabilities());
    assert.equal(p.client.getInstructions(), d.client.getInstructions());
    assert.deepEqual(await p.client.listTools(), await d.client.listTools());
    assert.deepEqual(await p.client.listPrompts(), await d.client.listPrompts());
    assert.deepEqual(await p.client.listResources(), await d.client.listResources());
    assert.deepEqual(await p.client.listResourceTemplates(), await d.client.listResourceTemplates());
    assert.deepEqual(await p.client.getPrompt({ name: 'simple-prompt' }), await d.client.getPrompt({ name: 'simple-prompt' }));
    await p.client.ping();
  } finally {
    await d.client.close();
    await p.close();
  }
});

test('messages that are not gated pass through byte for byte, both ways', async () => {
  const rec = path.join(os.tmpdir(), `cs-rec-${process.pid}.log`);
  fs.writeFileSync(rec, '');
  const server = path.join(mcpDir, 'lib', 'recorder-server.mjs');
  const gwEnv = { env: () => ({ ...gw.env(), RECORD_FILE: rec }) };
  const p = new RawProxy(gwEnv, [process.execPath, server], { name: 'rec' });
  try {
    const odd = [
      '{"method":"initialize", "jsonrpc":"2.0","id":1,"params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
      '{ "jsonrpc" : "2.0" , "method" : "notifications/initialized" }',
      '{"jsonrpc":"2.0","id":"a\\u0062","method":"resources/list","params":{"cursor":"\\u00e9","n":1.0e1}}',
    ];
    for (const l of odd) p.send(l + '\n');
    const r1 = await p.next((m) => m && m.id === 1);
    assert.equal(r1, '{ "result" : {"protocolVersion":"2025-06-18", "capabilities":{"tools":{}},"serverInfo":{"name":"rec","version":"0"}}, "id" : 1, "jsonrpc":"2.0" }');
    const r2 = await p.next((m) => m && m.id === 'ab');
    assert.equal(r2, '{ "jsonrpc":"2.0","id" : "ab" ,"result":{ "echo" : "\\u00e9\\n", "n": 1e2 }}');
    assert.deepEqual(fs.readFileSync(rec, 'utf8').split('\n').filter(Boolean), odd);
  } finally {
    await p.close();
    fs.rmSync(rec, { force: true });
  }
});

test('an allowed call returns exactly what the direct call returns, and its outcome is recorded', async () => {
  const d = await stdioClient(null, ev, { proxy: false, stderr: 'ignore' });
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    for (const [name, args] of [['echo', { message: 'hello über' }], ['get-tiny-image', {}], ['get-structured-content', { location: 'New York' }]]) {
      assert.deepEqual(await p.client.callTool({ name, arguments: args }), await d.client.callTool({ name, arguments: args }));
    }
    const a = await gw.waitFor(async () => (await gw.actions()).find((x) => x.context.tool === 'echo' && x.outcome), 'outcome of echo');
    assert.equal(a.status, 'allowed');
    assert.equal(a.resource, 'mcp/everything/echo');
    // context.source is "mcp": the test policy forbids mcp.call from any other source.
    assert.deepEqual(a.context, { tool: 'echo', arguments: { message: 'hello über' } });
    assert.equal(a.outcome.status, 'succeeded');
  } finally {
    await d.client.close();
    await p.close();
  }
});

test('a forbidden call returns an error result with the policy reason and never reaches the server', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const r = await p.client.callTool({ name: 'get-env', arguments: {} });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /denied by policy/);
    assert.match(r.content[0].text, /Environment variables may hold secrets/);
    const a = (await gw.actions('denied')).find((x) => x.context.tool === 'get-env');
    assert.ok(a, 'a denied action was recorded');
    assert.ok(r.content[0].text.includes(a.id), 'the result names the request');
    assert.ok(!JSON.stringify(r).includes('PATH'), 'the server did not run the tool');
  } finally {
    await p.close();
  }
});

test('a held call completes after an approval, with progress naming approvers and the link', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore', proxyArgs: ['--progress-interval', '200ms'] });
  try {
    const progress = [];
    const args = { a: 20, b: 22 };
    const call = p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { onprogress: (x) => progress.push(x) });
    const pend = await pendingFor('get-sum', args);
    await gw.waitFor(async () => progress.length > 0, 'a progress notification');
    assert.match(progress[0].message, /dba/);
    assert.match(progress[0].message, /0 of 1 approvals/);
    assert.ok(progress[0].message.includes(`${gw.url}/a/${pend.id}`), progress[0].message);
    // Progress keeps coming while the call is held, with increasing values.
    await gw.waitFor(async () => progress.length >= 2, 'a second progress notification');
    assert.ok(progress[1].progress > progress[0].progress);
    // Other traffic flows while the call is held.
    await p.client.ping();
    assert.equal((await p.client.callTool({ name: 'echo', arguments: { message: 'meanwhile' } })).content[0].text, 'Echo: meanwhile');
    const v = await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', { reason: 'fine' });
    assert.equal(v.json.status, 'approved');
    assert.deepEqual(await call, { content: [{ type: 'text', text: 'The sum of 20 and 22 is 42.' }] });
    const a = await gw.waitFor(async () => {
      const x = (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json;
      return x.outcome ? x : null;
    }, 'outcome');
    assert.ok(a.receipt_consumed_at, 'the approval was used (receipt consumed)');
    assert.equal(a.outcome.status, 'succeeded');
  } finally {
    await p.close();
  }
});

test('a held call that a human denies returns an error result saying who denied it', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const args = { a: 1, b: -1 };
    const call = p.client.callTool({ name: 'get-sum', arguments: args });
    const pend = await pendingFor('get-sum', args);
    await gw.api('POST', `/v1/actions/${pend.id}/deny`, 'carol', { reason: 'not today' });
    const r = await call;
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /denied by carol: not today/);
  } finally {
    await p.close();
  }
});

test('after the hold budget the call names the pending request; the identical retry runs once after approval', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore', proxyArgs: ['--hold-budget', '1s'] });
  try {
    const args = { a: 2, b: 3 };
    const r1 = await p.client.callTool({ name: 'get-sum', arguments: args });
    assert.equal(r1.isError, true);
    const first = await pendingFor('get-sum', args);
    assert.ok(r1.content[0].text.includes(first.id), r1.content[0].text);
    assert.match(r1.content[0].text, /retry the same call/);
    // Different arguments are a new request.
    const r2 = await p.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 4 } });
    const other = await pendingFor('get-sum', { a: 2, b: 4 });
    assert.notEqual(other.id, first.id);
    assert.ok(r2.content[0].text.includes(other.id));
    // A retry before the approval is still the same request.
    const r3 = await p.client.callTool({ name: 'get-sum', arguments: { b: 3, a: 2 } });
    assert.ok(r3.content[0].text.includes(first.id), 'same tool and arguments (any key order) -> same request');
    await gw.api('POST', `/v1/actions/${first.id}/approve`, 'bob', {});
    const r4 = await p.client.callTool({ name: 'get-sum', arguments: args });
    assert.deepEqual(r4, { content: [{ type: 'text', text: 'The sum of 2 and 3 is 5.' }] });
    // The approval is used once: the next identical call is a new request.
    const r5 = await p.client.callTool({ name: 'get-sum', arguments: args });
    assert.equal(r5.isError, true);
    assert.ok(!r5.content[0].text.includes(first.id), r5.content[0].text);
    const again = await pendingFor('get-sum', args);
    assert.notEqual(again.id, first.id);
    const used = (await gw.api('GET', `/v1/actions/${first.id}`, 'admin')).json;
    assert.ok(used.receipt_consumed_at);
  } finally {
    await p.close();
  }
});

test('a gateway restarted between two calls: the second call goes on a new connection, unnoticed', async () => {
  const g = await new Gateway().start();
  const p = await stdioClient(g, ev, { stderr: 'ignore' });
  try {
    const args = { message: 'before' };
    assert.deepEqual((await p.client.callTool({ name: 'echo', arguments: args })).content[0].text, 'Echo: before');
    await g.kill(); // the proxy's kept-alive connection to the gateway is now closed
    await g.serve();
    const r = await p.client.callTool({ name: 'echo', arguments: { message: 'after' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.content[0].text, 'Echo: after');
    const all = await g.actions();
    assert.equal(all.filter((x) => x.context.tool === 'echo' && x.context.arguments.message === 'after').length, 1, 'asked once');
  } finally {
    await p.close();
    await g.stop();
  }
});

test('an outcome report the gateway cannot take (it is restarting) is sent again and recorded', async () => {
  const g = await new Gateway().start();
  const p = await stdioClient(g, ev, { stderr: 'ignore' });
  try {
    const tool = 'trigger-long-running-operation';
    const call = p.client.callTool({ name: tool, arguments: { duration: 2, steps: 1 } });
    const a = await g.waitFor(async () => (await g.actions()).find((x) => x.context.tool === tool), 'the allowed call');
    assert.equal(a.status, 'allowed');
    await g.kill(); // down while the server runs the call: its report finds no gateway
    const r = await call;
    assert.ok(!r.isError);
    await sleep(400);
    await g.serve();
    const done = await g.waitFor(async () => (await g.actions()).find((x) => x.id === a.id && x.outcome), 'the outcome after the restart', 15000);
    assert.equal(done.outcome.status, 'succeeded');
  } finally {
    await p.close();
    await g.stop();
  }
});

test('float arguments reach the policy as strings (Cedar has no floats) and the call runs', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const tool = 'trigger-long-running-operation';
    const r = await p.client.callTool({ name: tool, arguments: { duration: 0.25, steps: 1 } });
    assert.ok(!r.isError, JSON.stringify(r));
    const a = await gw.waitFor(async () => (await gw.actions()).find((x) => x.context.tool === tool && x.context.arguments.duration === '0.25'), 'the call with a float argument');
    assert.equal(a.status, 'allowed');
    assert.deepEqual(a.context.arguments, { duration: '0.25', steps: 1 });
  } finally {
    await p.close();
  }
});

test('null arguments reach the policy left out (Cedar has no null) and the call runs', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const tool = 'trigger-long-running-operation';
    const r = await p.client.callTool({ name: tool, arguments: { duration: 0.25, steps: 1, note: null, tags: ['a', null, 1.5, { x: null, y: 1 }] } });
    assert.ok(!r.isError, JSON.stringify(r));
    const a = await gw.waitFor(async () => (await gw.actions()).find((x) => x.context.tool === tool && x.context.arguments.tags), 'the call with null arguments');
    assert.equal(a.status, 'allowed');
    assert.deepEqual(a.context.arguments, { duration: '0.25', steps: 1, tags: ['a', '1.5', { y: 1 }] });
  } finally {
    await p.close();
  }
});

test('arguments shaped like Cedar escapes reach the policy as text, never as entities', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const tool = 'trigger-long-running-operation';
    const who = { __entity: { type: 'User', id: 'admin' } };
    const args = { duration: 0.25, steps: 1, who, net: { __extn: { fn: 'ip', arg: '10.0.0.1' } }, bad: { __extn: 'x' }, two: { __entity: 1, n: 2 } };
    const r = await p.client.callTool({ name: tool, arguments: args });
    assert.ok(!r.isError, JSON.stringify(r));
    const a = await gw.waitFor(async () => (await gw.actions()).find((x) => x.context.tool === tool && x.context.arguments.who), 'the call with escape-shaped arguments');
    assert.equal(a.status, 'allowed');
    assert.deepEqual(a.context.arguments, {
      duration: '0.25', steps: 1,
      who: '{"__entity":{"id":"admin","type":"User"}}',
      net: '{"__extn":{"arg":"10.0.0.1","fn":"ip"}}',
      bad: '{"__extn":"x"}',
      two: { __entity: 1, n: 2 },
    });
  } finally {
    await p.close();
  }
});

test('numbers beyond 64-bit integers and doubles are valid JSON: the call runs and the policy sees their text', async () => {
  const p = new RawProxy(gw, [process.execPath, ...ev]);
  try {
    await p.initialize();
    p.send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"big","n":123456789012345678901234567890,"f":1e400}}}\n');
    const r = await p.response(7);
    assert.ok(r.result && !r.result.isError, JSON.stringify(r));
    assert.equal(r.result.content[0].text, 'Echo: big');
    const a = await gw.waitFor(async () => (await gw.actions()).find((x) => x.context.tool === 'echo' && x.context.arguments.message === 'big'), 'the call with big numbers');
    assert.equal(a.status, 'allowed');
    assert.deepEqual(a.context.arguments, { message: 'big', n: '123456789012345678901234567890', f: '1e400' });
  } finally {
    await p.close();
  }
});

test('a proxy stopping while the gateway is down gives its reports up within the flush deadline', async () => {
  const g = await new Gateway().start();
  const p = new RawProxy(g, [process.execPath, ...ev]);
  try {
    await p.initialize();
    const tool = 'trigger-long-running-operation';
    p.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: { duration: 2, steps: 1 } } }) + '\n');
    const a = await g.waitFor(async () => (await g.actions()).find((x) => x.context.tool === tool), 'the allowed call');
    await g.kill(); // down while the server runs the call: its report finds no gateway
    const r = await p.response(1);
    assert.ok(r.result && !r.result.isError, JSON.stringify(r));
    // The report failed and was retried after 100, 200, ..., 3200 ms; the reporter
    // now waits 6.4 s for its last try. The stop ends that wait at once, and another
    // backoff does not fit in the 5 s flush deadline: one more try, then given up.
    await sleep(7000);
    const t0 = Date.now();
    await p.close();
    const took = Date.now() - t0;
    assert.ok(took < 1500, `the proxy took ${took} ms to stop`);
    assert.match(p.stderr, new RegExp(`/v1/actions/${a.id}/outcome: .*given up`));
  } finally {
    if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    await g.stop();
  }
});

test('notifications/cancelled from the client cancels the pending request', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const args = { a: 7, b: 7 };
    const ac = new AbortController();
    const call = p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { signal: ac.signal });
    const pend = await pendingFor('get-sum', args);
    ac.abort('changed my mind');
    await assert.rejects(call);
    const a = await gw.waitFor(async () => {
      const x = (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json;
      return x.status === 'cancelled' ? x : null;
    }, 'cancelled status');
    assert.equal(a.status, 'cancelled');
    await p.client.ping();
  } finally {
    await p.close();
  }
});

test('bad input gets clear JSON-RPC errors and the proxy keeps going', async () => {
  const p = new RawProxy(gw, [process.execPath, everything, 'stdio'], { proxyArgs: ['--max-message', '4096'] });
  try {
    await p.initialize();
    p.send('{"jsonrpc":"2.0","id":5,"method":\n');
    let e = JSON.parse(await p.next((m) => m && m.error && m.id === null));
    assert.equal(e.error.code, -32700);
    p.send('{"jsonrpc":"1.0","id":6,"method":"ping"}\n');
    e = JSON.parse(await p.next((m) => m && m.id === 6));
    assert.equal(e.error.code, -32600);
    p.send('[1,2]\n{"jsonrpc":"2.0","id":true,"method":"ping"}\n');
    p.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { message: 'x'.repeat(10000) } } }) + '\n');
    e = JSON.parse(await p.next((m) => m && m.error && /larger than 4096/.test(m.error.message)));
    assert.equal(e.error.code, -32600);
    assert.equal(e.id, 7, 'the oversized request is answered under its own id');
    p.send('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":{}}}\n');
    e = JSON.parse(await p.next((m) => m && m.id === 8));
    assert.equal(e.error.code, -32602);
    p.send('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"a\\"b/c"}}\n');
    e = JSON.parse(await p.next((m) => m && m.id === 9));
    assert.equal(e.result.isError, true);
    p.send('{"jsonrpc":"2.0","id":10,"id":11,"method":"ping"}\n');
    e = JSON.parse(await p.next((m) => m && m.error && /duplicate/.test(m.error.message)));
    p.send('[{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"echo","arguments":{"message":"b"}}}]\n');
    e = JSON.parse(await p.next((m) => Array.isArray(m)));
    assert.equal(e[0].id, 12);
    assert.equal(e[0].error.code, -32600);
    p.send('{"jsonrpc":"2.0","id":13,"method":"ping"}\n');
    assert.deepEqual((await p.response(13)).result, {});
  } finally {
    const { code } = await p.close();
    assert.equal(code, 0);
  }
});

test('a server that dies: pending requests get errors, the child is reaped, the proxy exits', async () => {
  const p = new RawProxy(gw, [process.execPath, everything, 'stdio']);
  await p.initialize();
  // An allowed long-running call is outstanding at the server when it dies.
  p.send(JSON.stringify({ jsonrpc: '2.0', id: 'long', method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 3 } } }) + '\n');
  await gw.waitFor(async () => (await gw.actions('allowed')).find((a) => a.context.tool === 'trigger-long-running-operation'), 'the call to be allowed');
  await sleep(300);
  const child = childOf(p.proc.pid);
  assert.ok(child > 0);
  process.kill(child, 'SIGKILL');
  const e = await p.response('long');
  assert.equal(e.error.code, -32000);
  assert.match(e.error.message, /exited/);
  const { code } = await p.exited;
  assert.equal(code, 1);
  assert.match(p.stderr, /exited \(code 137\)/);
  assert.doesNotMatch(p.stderr, /Sanitizer|runtime error:/);
});

test('a server that cannot start is a clear error, not a hang', async () => {
  const p = new RawProxy(gw, ['/nonexistent/mcp-server']);
  const { code } = await p.exited;
  assert.equal(code, 1);
  assert.match(p.stderr, /cannot start \/nonexistent\/mcp-server/);
  assert.doesNotMatch(p.stderr, /Sanitizer|runtime error:/);
});

test('closing the client stops the server and the proxy exits 0', async () => {
  const p = new RawProxy(gw, [process.execPath, everything, 'stdio']);
  await p.initialize();
  const child = childOf(p.proc.pid);
  const { code } = await p.close();
  assert.equal(code, 0);
  assert.throws(() => process.kill(child, 0), 'the server process is gone');
});

test('filesystem server: reads pass as directly, a write waits for approval and happens once', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cs-fs-'));
  const real = fs.realpathSync(root);
  fs.writeFileSync(path.join(real, 'a.txt'), 'alpha\n');
  const d = await stdioClient(null, [filesystem, real], { proxy: false, stderr: 'ignore' });
  const p = await stdioClient(gw, [filesystem, real], { name: 'files', stderr: 'ignore' });
  try {
    assert.deepEqual(await p.client.listTools(), await d.client.listTools());
    const args = { path: path.join(real, 'a.txt') };
    assert.deepEqual(await p.client.callTool({ name: 'read_text_file', arguments: args }), await d.client.callTool({ name: 'read_text_file', arguments: args }));
    const wargs = { path: path.join(real, 'b.txt'), content: 'written via countersign\n' };
    const call = p.client.callTool({ name: 'write_file', arguments: wargs });
    const pend = await pendingFor('write_file', wargs);
    assert.equal(fs.existsSync(path.join(real, 'b.txt')), false, 'nothing written before the approval');
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'carol', {});
    const r = await call;
    assert.notEqual(r.isError, true);
    assert.equal(fs.readFileSync(path.join(real, 'b.txt'), 'utf8'), 'written via countersign\n');
  } finally {
    await d.client.close();
    await p.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('without a reachable gateway tools/call fails closed with a JSON-RPC error; other traffic still flows', async () => {
  const dead = { env: () => ({ ...gw.env(), COUNTERSIGN_URL: 'http://127.0.0.1:9' }) };
  const p = new RawProxy(dead, [process.execPath, everything, 'stdio']);
  try {
    await p.initialize();
    p.send(JSON.stringify({ jsonrpc: '2.0', id: 'c', method: 'tools/call', params: { name: 'echo', arguments: { message: 'x' } } }) + '\n');
    const e = await p.response('c');
    assert.equal(e.error.code, -32603);
    assert.match(e.error.message, /cannot reach the gateway/);
    p.send('{"jsonrpc":"2.0","id":"l","method":"tools/list"}\n');
    assert.ok((await p.response('l')).result.tools.length > 0);
  } finally {
    assert.equal((await p.close()).code, 0);
  }
});

test('a proxy without an agent token refuses to start', async () => {
  const none = { env: () => ({ ...gw.env(), COUNTERSIGN_TOKEN: '' }) };
  const p = new RawProxy(none, [process.execPath, everything, 'stdio']);
  const { code } = await p.exited;
  assert.equal(code, 2);
  assert.match(p.stderr, /COUNTERSIGN_TOKEN is not set/);
  // A token that would split the Authorization header is refused, not sent.
  const crlf = { env: () => ({ ...gw.env(), COUNTERSIGN_TOKEN: `${gw.tokens['demo-agent']}\r\nX-Injected: 1` }) };
  const q = new RawProxy(crlf, [process.execPath, everything, 'stdio']);
  assert.equal((await q.exited).code, 2);
  assert.match(q.stderr, /COUNTERSIGN_TOKEN holds a space or control character/);
});

test('the hold budget and the approval link base come from countersign.yaml', async () => {
  const cfg = path.join(path.dirname(gw.config), 'proxy.yaml');
  const text = fs.readFileSync(gw.config, 'utf8')
    .replace(/hold_budget:.*/, 'hold_budget: 1s')
    .replace(/public_url:.*/, 'public_url: https://approvals.example.com');
  fs.writeFileSync(cfg, text);
  const p = await stdioClient(gw, ev, { stderr: 'ignore', proxyArgs: ['--config', cfg] });
  try {
    const progress = [];
    const args = { a: 31, b: 11 };
    const r = await p.client.callTool({ name: 'get-sum', arguments: args }, undefined, { onprogress: (x) => progress.push(x) });
    const pend = await pendingFor('get-sum', args);
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /retry the same call/);
    assert.ok(progress[0].message.includes(`https://approvals.example.com/a/${pend.id}`), progress[0].message);
  } finally {
    await p.close();
  }
});

test('a pending request that expires ends the held call with an error result; a retry asks again', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const args = { messageType: 'error' };
    const r = await p.client.callTool({ name: 'get-annotated-message', arguments: args });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /expired without a decision/);
    const expired = (await gw.actions('expired')).find((a) => a.context.tool === 'get-annotated-message');
    assert.ok(r.content[0].text.includes(expired.id));
    const again = p.client.callTool({ name: 'get-annotated-message', arguments: args });
    const pend = await pendingFor('get-annotated-message', args);
    assert.notEqual(pend.id, expired.id);
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', {});
    const ok = await again;
    assert.notEqual(ok.isError, true, JSON.stringify(ok));
  } finally {
    await p.close();
  }
});

test('a server that dies while a call is held: the call gets an error and its request is cancelled', async () => {
  const p = new RawProxy(gw, [process.execPath, everything, 'stdio']);
  await p.initialize();
  const args = { a: 13, b: 13 };
  p.send(JSON.stringify({ jsonrpc: '2.0', id: 'held', method: 'tools/call', params: { name: 'get-sum', arguments: args } }) + '\n');
  const pend = await pendingFor('get-sum', args);
  const child = childOf(p.proc.pid);
  process.kill(child, 'SIGKILL');
  const e = await p.response('held');
  assert.equal(e.error?.code, -32000, JSON.stringify(e));
  assert.equal((await p.exited).code, 1);
  await gw.waitFor(async () => (await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json.status === 'cancelled', 'cancelled');
  assert.doesNotMatch(p.stderr, /Sanitizer|runtime error:/);
});

test('SIGTERM stops the proxy cleanly: the server is stopped and reaped, exit 0', async () => {
  const p = new RawProxy(gw, [process.execPath, everything, 'stdio']);
  await p.initialize();
  const child = childOf(p.proc.pid);
  p.proc.kill('SIGTERM');
  const { code } = await p.exited;
  assert.equal(code, 0);
  assert.throws(() => process.kill(child, 0), 'the server process is gone');
  assert.match(p.stderr, /stopping on signal/);
  assert.doesNotMatch(p.stderr, /Sanitizer|runtime error:/);
});

test('the gateway takes source from the request (api when absent) and refuses unknown ones', async () => {
  const body = { action: 'mcp.call', resource: 'mcp/everything/echo', context: { tool: 'echo', arguments: {} } };
  let r = await gw.api('POST', '/v1/actions', 'demo-agent', body);
  assert.equal(r.status, 201);
  assert.equal(r.json.status, 'denied', 'the test policy forbids mcp.call unless context.source is "mcp"');
  r = await gw.api('POST', '/v1/actions', 'demo-agent', { ...body, source: 'mcp' });
  assert.equal(r.json.status, 'allowed');
  r = await gw.api('POST', '/v1/actions', 'demo-agent', { ...body, source: 'carrier-pigeon' });
  assert.equal(r.status, 400);
  assert.equal(r.json.field, 'source');
});

test('a vote that moves the quorum is reported in a progress notification at once', async () => {
  // A long interval: the second notification can only come from the vote.
  const p = await stdioClient(gw, ev, { stderr: 'ignore', proxyArgs: ['--progress-interval', '10m'] });
  try {
    const progress = [];
    const args = { count: 2 };
    const call = p.client.callTool({ name: 'get-resource-links', arguments: args }, undefined, { onprogress: (x) => progress.push(x) });
    const pend = await pendingFor('get-resource-links', args);
    await gw.waitFor(async () => progress.length === 1, 'the first progress notification');
    assert.match(progress[0].message, /0 of 2 approvals/);
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'bob', {});
    await gw.waitFor(async () => progress.length === 2, 'progress after the first vote');
    assert.match(progress[1].message, /1 of 2 approvals/);
    await gw.api('POST', `/v1/actions/${pend.id}/approve`, 'carol', {});
    const r = await call;
    assert.notEqual(r.isError, true);
    assert.ok(r.content.length >= 2, JSON.stringify(r));
  } finally {
    await p.close();
  }
});

test('an answer from the server over the cap becomes an error for its request, not a hang', async () => {
  const server = path.join(mcpDir, 'lib', 'recorder-server.mjs');
  const rec = path.join(os.tmpdir(), `cs-rec-big-${process.pid}.log`);
  const env = { env: () => ({ ...gw.env(), RECORD_FILE: rec }) };
  const p = new RawProxy(env, [process.execPath, server], { name: 'rec', proxyArgs: ['--max-message', '4096'] });
  try {
    await p.initialize();
    p.send('{"jsonrpc":"2.0","id":"b1","method":"big","params":{"size":100000}}\n');
    const e = await p.response('b1');
    assert.equal(e.error.code, -32603);
    assert.match(e.error.message, /answer was larger than 65536 bytes/);
    p.send('{"jsonrpc":"2.0","id":"b2","method":"big","params":{"size":1000}}\n');
    assert.equal((await p.response('b2')).result.blob.length, 1000);
  } finally {
    assert.equal((await p.close()).code, 0);
    fs.rmSync(rec, { force: true });
  }
});

// Issue 9: the kill switch reaches calls a proxy is holding.
test('freezing the agent releases its held call at once as an error; its new calls are refused until unfrozen', async () => {
  const p = await stdioClient(gw, ev, { stderr: 'ignore' });
  try {
    const args = { a: 7, b: 8 };
    const call = p.client.callTool({ name: 'get-sum', arguments: args });
    const pend = await pendingFor('get-sum', args);
    const f = await gw.api('POST', '/v1/freeze', 'admin', { agent: 'demo-agent', reason: 'incident 42' });
    assert.equal(f.status, 200, JSON.stringify(f.json));
    const r = await call;
    assert.equal(r.isError, true);
    assert.equal((await gw.api('GET', `/v1/actions/${pend.id}`, 'admin')).json.status, 'cancelled');
    const again = await p.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } });
    assert.equal(again.isError, true);
    assert.match(again.content[0].text, /frozen/);
    assert.equal((await gw.api('POST', '/v1/unfreeze', 'admin', { agent: 'demo-agent' })).status, 200);
    const ok = await p.client.callTool({ name: 'echo', arguments: { message: 'back' } });
    assert.equal(ok.content[0].text, 'Echo: back');
  } finally {
    await gw.api('POST', '/v1/unfreeze', 'admin', { agent: 'demo-agent' });
    await p.close();
  }
});
