// The main flow over REST with Node's fetch, no dependencies: register a
// webhook, create a signed live input, mint a playback token, list the
// recordings.
//   MPEGFLOW_URL=http://localhost:8080 MPEGFLOW_TOKEN=mf_... \
//   WEBHOOK_URL=https://example.com/hooks node examples/node/flow.mjs
const base = process.env.MPEGFLOW_URL.replace(/\/$/, '');
const token = process.env.MPEGFLOW_TOKEN;

// api calls the API and returns the decoded answer; it exits on an error.
async function api(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const out = await res.json();
  if (!res.ok) {
    console.error(`${method} ${path}: HTTP ${res.status} ${out.error?.code}: ${out.error?.message}`);
    process.exit(1);
  }
  return out;
}

// 1. a webhook endpoint; its secret (whsec_...) is shown once: keep it for verification
const wh = (await api('POST', '/v1/webhooks', {
  url: process.env.WEBHOOK_URL,
  event_types: ['live_input.created', 'live_input.connected', 'recording.started', 'video.ready', 'webhook.test'],
})).data;
console.log('webhook', wh.id, wh.secret);

// 2. a live input whose playback needs a signed token; the answer has the OBS settings
const li = (await api('POST', '/v1/live_inputs', { name: 'node example', require_signed_urls: true })).data;
console.log('live_input', li.id);
console.log('rtmp', li.rtmp.url, li.rtmp.stream_key);

// 3. a playback token for viewers, with the ready-to-use URLs
const tok = (await api('POST', `/v1/live_inputs/${li.id}/token`, { ttl_seconds: 3600 })).data;
console.log('token', tok.token);
console.log('hls', tok.playback.hls);

// 4. the recordings (every broadcast becomes a video)
console.log('videos', (await api('GET', '/v1/videos?limit=10')).data.length);
