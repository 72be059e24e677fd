// runner.mjs - feeds cases to the C runner (cedar_diff_runner) as JSON lines and
// reads its verdicts back.

import { spawnSync } from 'node:child_process';

/** Runs `cases` through the runner in batches; returns Map id -> runner output.
 * Throws when the runner dies (a crash or a sanitizer report is a failure too). */
export function runEngine(runnerPath, cases, batchSize = 2000) {
  const out = new Map();
  for (let start = 0; start < cases.length; start += batchSize) {
    const batch = cases.slice(start, start + batchSize);
    const input = batch.map((c) => JSON.stringify({ id: c.id, policies: c.policies,
      entities: c.entities, requests: c.requests })).join('\n') + '\n';
    const res = spawnSync(runnerPath, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
    if (res.error) throw new Error(`cannot run ${runnerPath}: ${res.error.message}`);
    if (res.status !== 0 || res.signal) {
      throw new Error(`${runnerPath} failed (status ${res.status}, signal ${res.signal}) on cases `
        + `${batch[0].id}..${batch[batch.length - 1].id}:\n${(res.stderr || '').slice(0, 4000)}`);
    }
    if (res.stderr) process.stderr.write(res.stderr.slice(0, 4000));
    for (const line of res.stdout.split('\n')) {
      if (!line) continue;
      const o = JSON.parse(line);
      out.set(o.id, o);
    }
  }
  return out;
}
