// Verifies webhook deliveries recorded by the fake peer with the `standardwebhooks`
// package (the reference verifier of the Standard Webhooks spec, not our code).
// Usage: WEBHOOK_SECRET=whsec_... node verify_webhooks.js requests.json
// Prints the event types in order; exits 1 when a genuine delivery fails to verify
// or a tampered one (changed body, other secret) verifies.
'use strict';
const fs = require('fs');
const { Webhook } = require('standardwebhooks');

const requests = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const wh = new Webhook(process.env.WEBHOOK_SECRET);
const other = new Webhook('whsec_' + Buffer.from('another secret entirely!').toString('base64'));

function refuses(verifier, body, headers) {
  try {
    verifier.verify(body, headers);
    return false;
  } catch (e) {
    return true;
  }
}

const types = [];
for (const r of requests) {
  const headers = {
    'webhook-id': r.headers['webhook-id'],
    'webhook-timestamp': r.headers['webhook-timestamp'],
    'webhook-signature': r.headers['webhook-signature'],
  };
  const payload = wh.verify(r.body, headers); // throws when the signature is wrong
  if (refuses(wh, r.body + ' ', headers) === false) {
    console.error('a changed body verified');
    process.exit(1);
  }
  if (refuses(other, r.body, headers) === false) {
    console.error('another secret verified');
    process.exit(1);
  }
  types.push(payload.type);
}
console.log(types.join(','));
