// worker.mjs - a worker thread of difftest.mjs: generates the cases of a range of
// case numbers and evaluates them with the reference, in parallel with the others.
import { parentPort, workerData } from 'node:worker_threads';
import { CaseGenerator, caseSeed } from './gen.mjs';
import { evaluateCase } from './reference.mjs';

parentPort.on('message', ({ from, to }) => {
  const cases = [], refs = [];
  for (let i = from; i < to; i++) {
    const c = new CaseGenerator(caseSeed(workerData.seed, i)).genCase(i);
    cases.push(c);
    refs.push(evaluateCase(c));
  }
  parentPort.postMessage({ cases, refs });
});
