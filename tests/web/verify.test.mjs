// verify.test.mjs - the browser's audit verifier (web/verify.js) on known-answer
// vectors from tests/web/web_vectors.c: valid proofs of trees from 1 to 1025
// leaves verify; every kind of tampering fails. Run in node, and in Chromium on
// the copy the daemon serves (the one the dashboard really uses).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startDaemon, launchChromium } from './harness.mjs';
import * as verify from '../../web/verify.js';

const bin = process.env.CS_WEB_VECTORS;
if (!bin) throw new Error('CS_WEB_VECTORS must name the web_vectors program');
const vectors = JSON.parse(execFileSync(bin, { encoding: 'utf8', maxBuffer: 64 << 20 }));

// Runs every case through the module `m`; returns [name, index, size, ok, message].
async function runAll(m, v) {
  const out = [];
  for (const c of v.cases) {
    try {
      const cp = await m.verifyProofText(c.proof, v.vkey, m.b64decode(c.entry), c.index);
      out.push([c.name, c.index, c.size, cp.size === c.size, '']);
    } catch (e) {
      out.push([c.name, c.index, c.size, false, e.message]);
    }
  }
  return out;
}

function check(results) {
  assert.equal(results.length, vectors.cases.length);
  let valid = 0, invalid = 0;
  results.forEach(([name, index, size, ok, msg], i) => {
    const want = vectors.cases[i].valid;
    assert.equal(ok, want, `${name}, entry ${index} of ${size}: ${want ? 'should verify' : 'should fail'} (${msg})`);
    if (want) valid++; else invalid++;
  });
  assert.ok(valid > 90 && invalid >= 7, `${valid} valid and ${invalid} tampered cases ran`);
}

test('vectors verify in node', async () => {
  check(await runAll(verify, vectors));
});

test('tile paths and entry bundles', () => {
  for (const t of vectors.tiles) assert.equal(verify.entriesPath(t.n, t.width), t.path);
  const enc = new TextEncoder();
  const parts = ['{"a":1}', '', 'x'.repeat(300)].map(s => enc.encode(s));
  const bundle = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) { bundle[at] = p.length >> 8; bundle[at + 1] = p.length & 255; bundle.set(p, at + 2); at += 2 + p.length; }
  parts.forEach((p, k) => assert.deepEqual(verify.bundleEntry(bundle, k), p));
  assert.throws(() => verify.bundleEntry(bundle, 3), /no entry 3/);
  assert.throws(() => verify.bundleEntry(bundle.slice(0, 20), 2), /no entry 2/);
});

test('malformed keys, notes and proofs are refused with a reason', async () => {
  assert.throws(() => verify.parseVkey('name+zz+AAAA'), /malformed/);
  assert.throws(() => verify.parseVkey(vectors.vkey.replace(/\+A/, '+B')), /not an Ed25519 key/);
  const good = vectors.cases[0];
  assert.throws(() => verify.parseProof(good.proof.replace('tlog-proof@v1', 'tlog-proof@v2')), /not a tlog-proof/);
  assert.throws(() => verify.parseProof(good.proof.replace(/\nindex \d+/, '\nindx 0')), /no index line/);
  const otherName = vectors.vkey.replace('countersign.test/vectors', 'someone.else/log');
  await assert.rejects(verify.verifyProofText(good.proof, otherName, verify.b64decode(good.entry)), /key id does not match|not signed by/);
  const res = await verify.verifyCheckpoint('countersign.test/vectors\n1\nAAAA\n', vectors.vkey);
  assert.equal(res.ok, false);
});

let d, browser;
before(async () => { d = await startDaemon(); browser = await launchChromium(); });
after(async () => { await browser?.close(); await d?.stop(); });

test('vectors verify in Chromium with the served verify.js', async () => {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${d.url}/web/signin`);
  const results = await page.evaluate(async ([v, src]) => {
    const m = await import(src);
    const out = [];
    for (const c of v.cases) {
      try {
        const cp = await m.verifyProofText(c.proof, v.vkey, m.b64decode(c.entry), c.index);
        out.push([c.name, c.index, c.size, cp.size === c.size, '']);
      } catch (e) {
        out.push([c.name, c.index, c.size, false, e.message]);
      }
    }
    return out;
  }, [vectors, '/assets/verify.js']);
  check(results);
});
