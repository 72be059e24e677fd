// recorder-server.mjs - a deliberately odd MCP stdio peer for byte-exactness tests:
// appends every line it receives to $RECORD_FILE and answers each request with a
// response written in an unusual but valid JSON layout (spaces, key order, escapes),
// so a proxy that re-serializes anything is caught. Method "big" answers with a
// result of params.size bytes (to exceed the proxy's cap).
import fs from 'node:fs';
import readline from 'node:readline';

const file = process.env.RECORD_FILE;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  fs.appendFileSync(file, line + '\n');
  let m;
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  if (m.id === undefined || !m.method) return;
  const idText = JSON.stringify(m.id);
  if (m.method === 'initialize') {
    process.stdout.write(`{ "result" : {"protocolVersion":"2025-06-18", "capabilities":{"tools":{}},"serverInfo":{"name":"rec","version":"0"}}, "id" : ${idText}, "jsonrpc":"2.0" }\n`);
  } else if (m.method === 'big') {
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', result: { blob: 'x'.repeat(m.params.size) }, id: m.id }) + '\n');
  } else if (m.method === 'tools/call') {
    process.stdout.write(`{"id":${idText},"jsonrpc":"2.0","result":{"content":[{"type":"text","text":"ran \\u0041 ${m.params.name}"}],  "extra": 1.50}}\n`);
  } else {
    process.stdout.write(`{ "jsonrpc":"2.0","id" : ${idText} ,"result":{ "echo" : "\\u00e9\\n", "n": 1e2 }}\n`);
  }
});
