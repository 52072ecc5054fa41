// g2g.mjs — glass-to-glass latency in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core). One page publishes over
// WHIP a canvas (captureStream, 30 fps) on which it paints the wall clock
// as 32 black/white blocks every frame; other pages play the live input on
// the daemon's player page, over WHEP (?protocol=webrtc) and over LL-HLS
// (hls.js), and read the clock back from every frame they show
// (requestVideoFrameCallback), so latency = display time − paint time on one
// clock. Used by TestBrowserGlassToGlass in test/whep_test.go; by hand:
//
//   node test/browser/g2g.mjs --base http://127.0.0.1:8080 --id cam --key KEY --seconds 60
//
// Options: --base URL, --id ID, --key KEY (never printed), --seconds N
// (measured per player, default 60), --modes webrtc,hls, --chromium PATH,
// --publish whip|none (none: the caller publishes frames painted with the
// same code, e.g. ffmpeg over RTMP; --key is then not needed).
//
// Output (one line): {"ok":bool,"webrtc":{"p50":..,"p95":..,"min":..,"max":..,"n":..,"bad":..,
//   "jitterBufferMs":..,"decodeMs":..,"framesDropped":..},
//   "hls":{...},"errors":[..],"console":[..]}; exit 0 when printed with ok.

import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function parseArgs(argv) {
  const o = { base: '', id: '', key: '', seconds: 60, modes: 'webrtc,hls', publish: 'whip', chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (v === undefined || !(k in o)) throw new Error(`bad option --${k}`);
    o[k] = k === 'seconds' ? Number(v) : v;
  }
  if (!o.base || !o.id || (o.publish === 'whip' && !o.key)) throw new Error('--base, --id and --key are required');
  o.base = o.base.replace(/\/$/, '');
  return o;
}

const result = { ok: false, errors: [], console: [] };
let secret = '';
const redact = (s) => (secret ? String(s).split(secret).join('<key>') : String(s));

function quantile(sorted, q) {
  if (!sorted.length) return null;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]);
}

// The clock code, shared by painter and reader: 24 bits of Date.now() (ms,
// wraps every 4.6 h) and 8 check bits (the low byte inverted), one bit per
// 80x90 block of a 640x360 frame, white = 1.
const codec = `
  window.__g2g = {
    W: 640, H: 360, COLS: 8, ROWS: 4,
    encode(v) { const bits = []; for (let i = 0; i < 24; i++) bits.push((v >> i) & 1); for (let i = 0; i < 8; i++) bits.push(((~v) >> i) & 1); return bits; },
    decode(bits) {
      let v = 0; for (let i = 0; i < 24; i++) v |= bits[i] << i;
      for (let i = 0; i < 8; i++) if (bits[24 + i] !== (((~v) >> i) & 1)) return -1;
      return v;
    },
    // now24 − v, unwrapped
    age(v) { const n = Date.now() & 0xffffff; return (n - v + 0x1000000) % 0x1000000; },
  };`;

async function publisher(page, o) {
  await page.goto(`${o.base}/healthz`);
  await page.addScriptTag({ content: codec });
  await page.evaluate(async ({ url, key }) => {
    const g = window.__g2g;
    const c = document.createElement('canvas'); c.width = g.W; c.height = g.H; document.body.appendChild(c);
    const ctx = c.getContext('2d');
    const bw = g.W / g.COLS, bh = g.H / g.ROWS;
    const paint = () => {
      const bits = g.encode(Date.now() & 0xffffff);
      for (let i = 0; i < 32; i++) { ctx.fillStyle = bits[i] ? '#fff' : '#000'; ctx.fillRect((i % g.COLS) * bw, Math.floor(i / g.COLS) * bh, bw, bh); }
    };
    paint(); setInterval(paint, 5);
    const ms = c.captureStream(30);
    const pc = new RTCPeerConnection();
    const tr = pc.addTransceiver(ms.getVideoTracks()[0], { direction: 'sendonly' });
    const caps = RTCRtpSender.getCapabilities('video').codecs.filter((x) => x.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(x.sdpFmtpLine || ''));
    if (caps.length) tr.setCodecPreferences(caps);
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === 'complete') r(); pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r(); setTimeout(r, 2000); });
    const resp = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer ' + key }, body: pc.localDescription.sdp });
    if (resp.status !== 201) throw new Error('whip: HTTP ' + resp.status + ' ' + await resp.text());
    await pc.setRemoteDescription({ type: 'answer', sdp: await resp.text() });
    window.__pc = pc;
  }, { url: `${o.base}/whip/${encodeURIComponent(o.id)}`, key: o.key });
}

async function measure(browser, o, mode) {
  const page = await browser.newPage();
  page.on('console', (m) => { if (result.console.length < 40) result.console.push(`${mode} ${m.type()}: ${m.text()}`.slice(0, 200)); });
  page.on('pageerror', (e) => result.errors.push(`${mode} pageerror: ${e.message}`.slice(0, 200)));
  // the embedded hls.js may not be built in a source tree: serve node_modules'
  await page.route('**/static/hls.min.js', (r) => r.fulfill({ contentType: 'application/javascript', body: readFileSync(join(root, 'node_modules', 'hls.js', 'dist', 'hls.min.js')) }));
  const q = mode === 'webrtc' ? '?protocol=webrtc' : '';
  await page.goto(`${o.base}/live/${encodeURIComponent(o.id)}/${q}`);
  await page.addScriptTag({ content: codec });
  await page.waitForFunction(() => { const v = document.querySelector('video'); return v && v.readyState >= 2 && v.currentTime > 0; }, null, { timeout: 30000 });
  // Chromium's own share (WebRTC): the jitter buffer's and the decoder's
  // average delay per frame over the measured window, from getStats
  const rtcStats = () => page.evaluate(async () => {
    const pc = window.mpegflow && window.mpegflow.pc;
    if (!pc) return null;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        return { jb: s.jitterBufferDelay || 0, jbn: s.jitterBufferEmittedCount || 0, dec: s.totalDecodeTime || 0, decn: s.framesDecoded || 0, dropped: s.framesDropped || 0 };
      }
    }
    return null;
  });
  const st0 = mode === 'webrtc' ? await rtcStats() : null;
  const r = await page.evaluate(async (ms) => {
    const g = window.__g2g, v = document.querySelector('video');
    const c = document.createElement('canvas'); c.width = g.W; c.height = g.H;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    const bw = g.W / g.COLS, bh = g.H / g.ROWS;
    const lat = []; let bad = 0;
    const end = performance.now() + ms;
    await new Promise((resolve) => {
      const onFrame = () => {
        ctx.drawImage(v, 0, 0, g.W, g.H);
        const bits = [];
        for (let i = 0; i < 32; i++) {
          const x = (i % g.COLS) * bw + bw / 4, y = Math.floor(i / g.COLS) * bh + bh / 4;
          const d = ctx.getImageData(x, y, bw / 2, bh / 2).data;
          let sum = 0; for (let j = 0; j < d.length; j += 4) sum += d[j + 1];
          bits.push(sum / (d.length / 4) > 128 ? 1 : 0);
        }
        const val = g.decode(bits);
        if (val < 0) bad++; else lat.push(g.age(val));
        if (performance.now() < end) v.requestVideoFrameCallback(onFrame); else resolve();
      };
      v.requestVideoFrameCallback(onFrame);
    });
    return { lat, bad, engine: window.mpegflow && window.mpegflow.engine, fallback: window.mpegflow && window.mpegflow.fallback };
  }, o.seconds * 1000);
  const st1 = st0 ? await rtcStats() : null;
  await page.close();
  const lat = r.lat.sort((a, b) => a - b);
  const out = { engine: r.engine, fallback: r.fallback, p50: quantile(lat, 0.5), p95: quantile(lat, 0.95), min: lat[0] ?? null, max: lat[lat.length - 1] ?? null, n: lat.length, bad: r.bad };
  if (st0 && st1 && st1.jbn > st0.jbn) {
    out.jitterBufferMs = Math.round(1000 * (st1.jb - st0.jb) / (st1.jbn - st0.jbn));
    out.decodeMs = st1.decn > st0.decn ? Math.round(1000 * (st1.dec - st0.dec) / (st1.decn - st0.decn)) : null;
    out.framesDropped = st1.dropped - st0.dropped;
  }
  return out;
}

async function main() {
  let o;
  try { o = parseArgs(process.argv); } catch (e) { result.errors.push(e.message); console.log(JSON.stringify(result)); process.exit(2); }
  secret = o.key;
  const dir = mkdtempSync(join(tmpdir(), 'mpegflow-g2g-'));
  let browser;
  const hard = setTimeout(() => { result.errors.push('overall timeout'); console.log(JSON.stringify(result)); process.exit(2); }, (o.seconds * 2 + 120) * 1000);
  try {
    browser = await chromium.launchPersistentContext(dir, {
      executablePath: o.chromium, headless: true, timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--autoplay-policy=no-user-gesture-required', '--mute-audio',
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
    });
    if (o.publish === 'whip') {
      const pub = browser.pages()[0] || await browser.newPage();
      pub.on('pageerror', (e) => result.errors.push(redact(`publisher pageerror: ${e.message}`).slice(0, 200)));
      await publisher(pub, o);
    }
    for (const mode of o.modes.split(',')) result[mode] = await measure(browser, o, mode);
    result.ok = true;
  } catch (e) {
    result.errors.push(redact(String(e && e.message ? e.message : e).split('\n')[0]));
  } finally {
    clearTimeout(hard);
    if (browser) await browser.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 2);
}

main();
