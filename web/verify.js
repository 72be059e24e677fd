// verify.js - checks, in the browser, that an action's audit entry is in the
// signed audit log: RFC 6962 leaf hashing and inclusion proofs (verified with
// the RFC 9162 §2.1.3.2 algorithm), C2SP signed-note Ed25519 signatures over a
// C2SP tlog-checkpoint, C2SP tlog-proof files and tlog-tiles entry bundles.
// Uses WebCrypto only (SHA-256, Ed25519), so it runs in browsers and in node.

const enc = new TextEncoder();
const subtle = globalThis.crypto.subtle;

export function b64decode(s) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new Error('bad base64');
  const bin = atob(s);
  return Uint8Array.from(bin, c => c.charCodeAt(0));
}

export function b64encode(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

// RFC 6962 §2.1: leaves and interior nodes are hashed with different prefixes.
export function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), entry));
}

function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// RFC 9162 §2.1.3.2: the root a proof leads to from leaf `index` of a tree of
// `size` leaves. Plain arithmetic rather than bit operators: sizes may pass 2^32.
export async function rootFromInclusionProof(index, size, leaf, proof) {
  if (!(index >= 0 && index < size)) throw new Error(`index ${index} is outside a tree of ${size}`);
  let fn = index, sn = size - 1, r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error('the proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('the proof is shorter than the tree is deep');
  return r;
}

// C2SP signed-note verifier key: <name>+<hex key id>+<base64(0x01 || pubkey)>.
// The base64 part may itself contain '+', so only the first two separate fields.
export function parseVkey(text) {
  const m = text.match(/^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/);
  if (!m) throw new Error('the verifier key is malformed');
  const parts = m.slice(1);
  const key = b64decode(parts[2]);
  if (key.length !== 33 || key[0] !== 1) throw new Error('the verifier key is not an Ed25519 key');
  return { name: parts[0], idHex: parts[1], id: Uint8Array.from(parts[1].match(/../g), x => parseInt(x, 16)), pub: key.slice(1) };
}

async function keyIdOk(vk) {
  const h = await sha256(concat(enc.encode(vk.name), Uint8Array.of(0x0a, 0x01), vk.pub));
  return equal(h.slice(0, 4), vk.id);
}

// A signed note: the text, a blank line, then lines "— <name> <base64(id || sig)>".
export function parseNote(text) {
  const cut = text.lastIndexOf('\n\n');
  if (cut < 0) throw new Error('the note has no signatures');
  const body = text.slice(0, cut + 1);
  const sigs = [];
  for (const line of text.slice(cut + 2).split('\n')) {
    if (line === '') continue;
    const m = line.match(/^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/);
    if (!m) throw new Error('a signature line is malformed');
    const raw = b64decode(m[2]);
    if (raw.length < 5) throw new Error('a signature is too short');
    sigs.push({ name: m[1], id: raw.slice(0, 4), sig: raw.slice(4) });
  }
  return { body, sigs };
}

async function ed25519Verify(pub, sig, msg) {
  const key = await subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
  return subtle.verify({ name: 'Ed25519' }, key, sig, msg);
}

// Opens a checkpoint note signed by vkey: {origin, size, root}. Throws when the
// signature, the key or the checkpoint's shape is wrong.
export async function openCheckpoint(noteText, vkeyText) {
  const vk = parseVkey(vkeyText);
  if (!(await keyIdOk(vk))) throw new Error('the verifier key id does not match its key');
  const note = parseNote(noteText);
  const sig = note.sigs.find(s => s.name === vk.name && equal(s.id, vk.id));
  if (!sig) throw new Error(`the checkpoint is not signed by ${vk.name}`);
  if (sig.sig.length !== 64 || !(await ed25519Verify(vk.pub, sig.sig, enc.encode(note.body))))
    throw new Error('the checkpoint signature is not valid');
  const lines = note.body.split('\n');
  if (lines.length < 4 || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw new Error('the checkpoint is malformed');
  if (lines[0] !== vk.name) throw new Error(`the checkpoint's origin ${lines[0]} is not the key's name ${vk.name}`);
  const root = b64decode(lines[2]);
  if (root.length !== 32) throw new Error('the checkpoint root is not a SHA-256 hash');
  return { origin: lines[0], size: Number(lines[1]), root };
}

// C2SP tlog-proof: header, optional "extra", "index N", hashes, blank line, checkpoint.
export function parseProof(text) {
  const lines = text.split('\n');
  if (lines[0] !== 'c2sp.org/tlog-proof@v1') throw new Error('not a tlog-proof file');
  let i = 1;
  if (lines[i] && lines[i].startsWith('extra ')) i++;
  const m = (lines[i] || '').match(/^index (0|[1-9][0-9]*)$/);
  if (!m) throw new Error('the proof has no index line');
  const hashes = [];
  for (i++; i < lines.length && lines[i] !== ''; i++) {
    const h = b64decode(lines[i]);
    if (h.length !== 32) throw new Error('a proof hash is not 32 bytes');
    hashes.push(h);
  }
  if (i >= lines.length) throw new Error('the proof has no checkpoint');
  return { index: Number(m[1]), hashes, checkpoint: lines.slice(i + 1).join('\n') };
}

// The whole check for one entry: signature, then the path from the entry's leaf
// to the signed root.
export async function verifyProofText(proofText, vkeyText, entry, index) {
  const proof = parseProof(proofText);
  if (index !== undefined && proof.index !== index) throw new Error(`the proof is for entry ${proof.index}, not ${index}`);
  const cp = await openCheckpoint(proof.checkpoint, vkeyText);
  const root = await rootFromInclusionProof(proof.index, cp.size, await leafHash(entry), proof.hashes);
  if (!equal(root, cp.root)) throw new Error('the inclusion proof does not lead to the signed root');
  return cp;
}

// C2SP tlog-tiles path of entry bundle n: "x001/x234/067", with ".p/W" when partial.
export function entriesPath(n, width) {
  let s = String(n).padStart(3, '0');
  while (s.length % 3) s = '0' + s;
  const parts = s.match(/.../g);
  const path = parts.map((p, i) => (i < parts.length - 1 ? 'x' : '') + p).join('/');
  return `tile/entries/${path}` + (width < 256 ? `.p/${width}` : '');
}

// Entries in a bundle are each prefixed by a big-endian 16-bit length.
export function bundleEntry(bytes, k) {
  let at = 0;
  for (let i = 0; at + 2 <= bytes.length; i++) {
    const n = (bytes[at] << 8) | bytes[at + 1];
    if (at + 2 + n > bytes.length) break;
    if (i === k) return bytes.slice(at + 2, at + 2 + n);
    at += 2 + n;
  }
  throw new Error(`the entry bundle has no entry ${k}`);
}

// The entry's bytes from its tlog-tiles entry bundle.
async function fetchEntry(get, index, size) {
  const n = Math.floor(index / 256), width = Math.min(256, size - n * 256);
  const res = await get(`/v1/audit/${entriesPath(n, width)}`);
  if (!res.ok) throw new Error(`the entry bundle could not be read (${res.status})`);
  return bundleEntry(new Uint8Array(await res.arrayBuffer()), index % 256);
}

export async function verifyCheckpoint(noteText, vkeyText) {
  try {
    const cp = await openCheckpoint(noteText, vkeyText);
    return { ok: true, size: cp.size, message: `Checkpoint signature valid: ${cp.origin}, tree size ${cp.size}.` };
  } catch (e) {
    return { ok: false, message: `Checkpoint NOT verified: ${e.message}.` };
  }
}

// Fetches key, proof and entry through `get(path) -> Response`, then checks them.
// Missing audit endpoints (404) mean the gateway has no audit log yet.
export async function verifyInclusion(get, index, actionId) {
  const unavailable = { ok: false, unavailable: true, message: 'The audit log is not available on this gateway yet, so this entry cannot be verified.' };
  try {
    const keyRes = await get('/v1/audit/key');
    if (keyRes.status === 404) return unavailable;
    const proofRes = await get(`/v1/audit/proof/${index}`);
    if (proofRes.status === 404) return keyRes.ok ? { ok: false, unavailable: true, message: `Entry #${index} is not covered by a published checkpoint yet; try again shortly.` } : unavailable;
    if (!keyRes.ok || !proofRes.ok) throw new Error(`the gateway answered ${keyRes.status}/${proofRes.status}`);
    const vkey = (await keyRes.text()).trim();
    // The proof comes as a bare tlog-proof file, or as JSON carrying one
    // ({tlog_proof, entry, ...}); only the file and the entry's bytes are trusted.
    let proofText, entry = null;
    if ((proofRes.headers.get('Content-Type') || '').includes('json')) {
      const body = await proofRes.json();
      proofText = body.tlog_proof;
      if (typeof body.entry === 'string') entry = enc.encode(body.entry);
    } else {
      proofText = await proofRes.text();
    }
    const cp = await openCheckpoint(parseProof(proofText).checkpoint, vkey);
    if (entry === null) entry = await fetchEntry(get, index, cp.size);
    const doc = JSON.parse(new TextDecoder().decode(entry));
    if (actionId && doc.action_id !== actionId) throw new Error(`entry #${index} belongs to ${doc.action_id}, not ${actionId}`);
    await verifyProofText(proofText, vkey, entry, index);
    return { ok: true, message: `Verified: entry #${index} (${doc.type}) is in the log signed by ${cp.origin} at tree size ${cp.size}.` };
  } catch (e) {
    return { ok: false, message: `NOT verified: ${e.message}.` };
  }
}
