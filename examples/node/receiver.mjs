// A webhook receiver with Node's standard library: it verifies the
// Standard Webhooks signature of every delivery and prints its type.
//   WEBHOOK_SECRET=whsec_... PORT=8000 node examples/node/receiver.mjs
// The key is the base64-decoded part of the secret after "whsec_"; the
// signature is HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${body}`)
// in base64, one of the space-separated "v1,..." values of webhook-signature.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

const key = Buffer.from(process.env.WEBHOOK_SECRET.replace(/^whsec_/, ''), 'base64');
const tolerance = 5 * 60; // seconds; older or newer timestamps are replays

function verify(headers, body) {
  const id = headers['webhook-id'] ?? '';
  const ts = headers['webhook-timestamp'] ?? '';
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > tolerance) return false;
  const mac = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest('base64');
  const want = Buffer.from(`v1,${mac}`);
  return (headers['webhook-signature'] ?? '').split(' ').some((sig) => {
    const got = Buffer.from(sig);
    return got.length === want.length && timingSafeEqual(got, want);
  });
}

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (!verify(req.headers, body)) {
      console.log('refused', req.headers['webhook-id']);
      res.writeHead(401).end();
      return;
    }
    const event = JSON.parse(body);
    // de-duplicate on webhook-id: a delivery may come more than once
    console.log('verified', event.type, event.live_input_id ?? '');
    res.writeHead(204).end();
  });
}).listen(Number(process.env.PORT ?? 8000), '127.0.0.1');
