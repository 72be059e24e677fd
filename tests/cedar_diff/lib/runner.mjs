// runner.mjs - feeds cases to the C runner (cedar_diff_runner) as JSON lines and
// reads its verdicts back.

import { spawn, spawnSync } from 'node:child_process';

const caseLine = (c) => JSON.stringify({ id: c.id, policies: c.policies, entities: c.entities, requests: c.requests });

function parseOutput(stdout, out) {
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const o = JSON.parse(line);
    out.set(o.id, o);
  }
  return out;
}

/** Starts the runner on `cases` in the background; the promise resolves to Map id
 * -> runner output. Lets the driver compute the reference's answers meanwhile. */
export function runEngineAsync(runnerPath, cases) {
  return new Promise((resolve, reject) => {
    const child = spawn(runnerPath, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const outChunks = [], errChunks = [];
    child.stdout.on('data', (d) => outChunks.push(d));
    child.stderr.on('data', (d) => errChunks.push(d));
    child.on('error', (e) => reject(new Error(`cannot run ${runnerPath}: ${e.message}`)));
    child.on('close', (status, signal) => {
      const stderr = Buffer.concat(errChunks).toString('utf8');
      if (status !== 0 || signal) {
        reject(new Error(`${runnerPath} failed (status ${status}, signal ${signal}) on cases `
          + `${cases[0].id}..${cases[cases.length - 1].id}:\n${stderr.slice(0, 4000)}`));
        return;
      }
      if (stderr) process.stderr.write(stderr.slice(0, 4000));
      resolve(parseOutput(Buffer.concat(outChunks).toString('utf8'), new Map()));
    });
    child.stdin.on('error', () => {}); // a crash shows up in 'close'
    child.stdin.end(cases.map(caseLine).join('\n') + '\n');
  });
}

/** Runs `cases` through the runner in batches; returns Map id -> runner output.
 * Throws when the runner dies (a crash or a sanitizer report is a failure too). */
export function runEngine(runnerPath, cases, batchSize = 2000) {
  const out = new Map();
  for (let start = 0; start < cases.length; start += batchSize) {
    const batch = cases.slice(start, start + batchSize);
    const input = batch.map(caseLine).join('\n') + '\n';
    const res = spawnSync(runnerPath, [], { input, maxBuffer: 1 << 30, encoding: 'utf8' });
    if (res.error) throw new Error(`cannot run ${runnerPath}: ${res.error.message}`);
    if (res.status !== 0 || res.signal) {
      throw new Error(`${runnerPath} failed (status ${res.status}, signal ${res.signal}) on cases `
        + `${batch[0].id}..${batch[batch.length - 1].id}:\n${(res.stderr || '').slice(0, 4000)}`);
    }
    if (res.stderr) process.stderr.write(res.stderr.slice(0, 4000));
    parseOutput(res.stdout, out);
  }
  return out;
}
