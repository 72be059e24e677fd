#!/usr/bin/env node
// report.mjs - compares the two sides of the policy benchmark: checks that every
// decision cedar-wasm made is the one countersign made for the same request, and
// prints the side-by-side table with the targets (p99 <= 5 us per decision
// with 1,000 policies; at least 100x cedar-wasm's throughput).
//
//   node bench/policy/report.mjs WORK_DIR   (exit 1 when a decision differs)

import fs from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
const cs = JSON.parse(fs.readFileSync(path.join(dir, 'countersign.json'), 'utf8'));
const ce = JSON.parse(fs.readFileSync(path.join(dir, 'cedar.json'), 'utf8'));
const ours = fs.readFileSync(path.join(dir, 'countersign.txt'), 'utf8').split('\n').filter(Boolean);
const theirs = fs.readFileSync(path.join(dir, 'cedar.txt'), 'utf8').split('\n').filter(Boolean);

let differ = 0;
const examples = [];
for (const line of theirs) {
  const [i, c] = line.split(' ');
  if (ours[Number(i)] !== c) {
    differ++;
    if (examples.length < 5) examples.push(`request ${i}: countersign ${ours[Number(i)]}, cedar-wasm ${c}`);
  }
}

const us = (ns) => `${(ns / 1000).toFixed(2)} us`;
const row = (name, a, b) => console.log(`  ${name.padEnd(16)}${String(a).padStart(18)}${String(b).padStart(22)}`);
console.log(`policy benchmark: ${cs.policies} policies, ${cs.requests} requests`
  + ` (cedar-wasm: every ${ce.every}${ce.every > 1 ? 'th' : ''} request, ${ce.requests} of ${ce.of_requests})`);
row('', 'countersign', ce.engine);
row('decisions/s', Math.round(cs.decisions_per_s).toLocaleString('en'), Math.round(ce.decisions_per_s).toLocaleString('en'));
row('p50', us(cs.p50_ns), us(ce.p50_ns));
row('p99', us(cs.p99_ns), us(ce.p99_ns));
row('max', us(cs.max_ns), us(ce.max_ns));
row('allowed', cs.allowed, ce.allowed);
row('denied', cs.denied, ce.denied);
row('pending', cs.pending, ce.pending);
const ratio = cs.decisions_per_s / ce.decisions_per_s;
console.log(`  throughput ratio: ${ratio.toFixed(0)}x; p99 ratio: ${(ce.p99_ns / cs.p99_ns).toFixed(0)}x`);
console.log(`  target p99 <= 5 us with ${cs.policies} policies: ${cs.p99_ns <= 5000 ? 'MET' : 'MISSED'} (${us(cs.p99_ns)})`);
console.log(`  target >= 100x cedar-wasm throughput: ${ratio >= 100 ? 'MET' : 'MISSED'} (${ratio.toFixed(0)}x)`);
if (differ) {
  console.log(`  decisions: ${differ} of ${theirs.length} differ, e.g. ${examples.join('; ')}`);
  process.exit(1);
}
console.log(`  decisions: identical on all ${theirs.length} requests both evaluated`);
