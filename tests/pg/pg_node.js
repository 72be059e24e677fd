// pg_node.js - node-postgres (extended query protocol: Parse/Bind/Describe/Execute/
// Sync) through countersign pg-proxy: parameterized and prepared statements, a
// denied statement, a transaction around a denial, and a held DELETE approved
// through the API while the driver waits.
'use strict';
const assert = require('assert');
const { Client } = require('pg');

const PX = Number(process.env.PXPORT);
const PG = Number(process.env.PGPORT);
const GW = process.env.COUNTERSIGN_URL;
const BOB = process.env.BOB_TOKEN;
const ADMIN = process.env.ADMIN_TOKEN;
let failures = 0;

async function check(name, fn) {
  try {
    await fn();
    console.log('ok: ' + name);
  } catch (e) {
    failures++;
    console.log('FAIL: ' + name + ': ' + (e && e.stack ? e.stack : e));
  }
}

function client(port) {
  return new Client({ host: '127.0.0.1', port, user: 'postgres', database: 'appdb' });
}

async function api(method, path, token, body) {
  const r = await fetch(GW + path, {
    method,
    headers: Object.assign({ Authorization: 'Bearer ' + token }, body ? { 'Content-Type': 'application/json' } : {}),
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
}

async function pendingDelete() {
  for (let i = 0; i < 400; i++) {
    const list = await api('GET', '/v1/actions?status=pending&limit=50', ADMIN);
    const a = (list.items || []).find((x) => x.context && x.context.statement === 'delete');
    if (a) return a;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no pending delete appeared');
}

async function main() {
  const direct = client(PG);
  const px = client(PX);
  await direct.connect();
  await px.connect();

  await check('parameterized select equals the direct result', async () => {
    const q = { text: 'SELECT id, owner, balance FROM accounts WHERE id = ANY($1) ORDER BY id', values: [[1, 2, 3, 50]] };
    const a = await direct.query(q);
    const b = await px.query(q);
    assert.deepStrictEqual(b.rows, a.rows);
    assert.strictEqual(b.rows.length, 4);
  });

  await check('named prepared statement runs repeatedly (Bind/Execute without Parse)', async () => {
    for (const id of [5, 6, 7]) {
      const r = await px.query({ name: 'by-id', text: 'SELECT owner FROM accounts WHERE id = $1', values: [id] });
      assert.strictEqual(r.rows[0].owner, 'owner' + id);
    }
  });

  await check('denied statement over the extended protocol: 42501', async () => {
    await assert.rejects(px.query({ name: 'drop-it', text: 'DROP TABLE scratch', values: [] }), (e) => {
      assert.strictEqual(e.code, '42501');
      assert.match(e.message, /DROP is not allowed in prod/);
      return true;
    });
    const t = await direct.query("SELECT to_regclass('public.scratch') AS t");
    assert.strictEqual(t.rows[0].t, 'scratch');
  });

  await check('the connection stays usable after a denial', async () => {
    const r = await px.query({ text: 'SELECT $1::int + 1 AS n', values: [41] });
    assert.strictEqual(r.rows[0].n, 42);
  });

  await check('a denial inside a transaction aborts it (25P02), ROLLBACK recovers', async () => {
    await px.query('BEGIN');
    await px.query({ text: 'INSERT INTO scratch VALUES ($1)', values: [500] });
    await assert.rejects(px.query({ text: 'DROP TABLE scratch', values: [] }), { code: '42501' });
    await assert.rejects(px.query({ text: 'SELECT $1::int', values: [1] }), { code: '25P02' });
    await px.query('ROLLBACK');
    const r = await direct.query('SELECT count(*)::int AS n FROM scratch WHERE id = 500');
    assert.strictEqual(r.rows[0].n, 0);
    const ok = await px.query({ text: 'SELECT $1::int AS n', values: [3] });
    assert.strictEqual(ok.rows[0].n, 3);
  });

  await check('a committed extended-protocol transaction persists', async () => {
    await px.query('BEGIN');
    await px.query({ text: 'INSERT INTO scratch VALUES ($1)', values: [600] });
    await px.query('COMMIT');
    const r = await direct.query('SELECT count(*)::int AS n FROM scratch WHERE id = 600');
    assert.strictEqual(r.rows[0].n, 1);
  });

  await check('a held DELETE completes after a DBA approves through the API', async () => {
    const q = px.query({ text: 'DELETE FROM accounts WHERE id = $1', values: [77] });
    const notices = [];
    px.on('notice', (n) => notices.push(n.message));
    const a = await pendingDelete();
    assert.strictEqual(a.resource, 'pg/prod/appdb/public.accounts');
    assert.strictEqual(a.context.has_where, true);
    const v = await api('POST', '/v1/actions/' + a.id + '/approve', BOB, { reason: 'fine' });
    assert.strictEqual(v.status, 'approved');
    const r = await q;
    assert.strictEqual(r.rowCount, 1);
    assert.ok(notices.some((m) => m.includes(a.id)), 'a notice named the request: ' + JSON.stringify(notices));
    const gone = await direct.query('SELECT count(*)::int AS n FROM accounts WHERE id = 77');
    assert.strictEqual(gone.rows[0].n, 0);
  });

  await px.end();
  await direct.end();
  if (failures) {
    console.log(failures + ' check(s) failed');
    process.exit(1);
  }
  console.log('all checks passed');
}

main().catch((e) => {
  console.log('FAIL: ' + e.stack);
  process.exit(1);
});
