// publish.mjs — goes live from the browser and watches the result: headless
// Chromium (Debian's /usr/bin/chromium, driven by playwright-core) with a fake
// camera and microphone opens the daemon's "go live" page (/live/{id}/publish),
// types the stream key, presses the button and waits until the page says
// "live" (WHIP, RFC 9725); a second page of the same browser then plays the
// HLS output on the daemon's player page (/live/{id}/, hls.js) and measures
// it like play.mjs. Used by TestBrowserWHIPPublishAndPlay in test/whip_test.go;
// runnable by hand:
//
//   node test/browser/publish.mjs --base http://127.0.0.1:8080 --id cam --key KEY --seconds 15
//
// Options:
//   --base URL        the daemon's HTTP base URL
//   --id ID           the live input id
//   --key KEY         its stream key (typed into the page; never printed)
//   --seconds N       how long to watch after the first `playing` (default 15)
//   --live-timeout N  seconds to wait for the HLS output to appear (default 30)
//   --timeout N       overall deadline in seconds (default seconds + 90)
//   --chromium PATH   browser binary (default /usr/bin/chromium, or $CHROMIUM)
//   --play-query Q    query of the player page, e.g. "?protocol=webrtc" (WHEP)
//
// Output (one line): {"ok":bool,"publish":{"state":..,"detail":..,"liveMs":..,
//   "hlsMs":..,"stopState":..,"stats":{..}},"play":{the fields of play.mjs},
//   "errors":[..],"console":[..]}
// Exit status: 0 when the JSON line was printed with ok, 2 otherwise (a line is
// still printed).

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function parseArgs(argv) {
  const o = { base: '', id: '', key: '', seconds: 15, 'live-timeout': 30, timeout: 0, chromium: process.env.CHROMIUM || '/usr/bin/chromium', 'play-query': '' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (v === undefined) throw new Error(`missing value for --${k}`);
    if (!(k in o)) throw new Error(`unknown option --${k}`);
    o[k] = (k === 'seconds' || k === 'timeout' || k === 'live-timeout') ? Number(v) : v;
  }
  if (!o.base || !o.id || !o.key) throw new Error('--base, --id and --key are required');
  o.base = o.base.replace(/\/$/, '');
  if (!o.timeout) o.timeout = o.seconds + 90;
  return o;
}

const result = {
  ok: false,
  publish: { state: '', detail: '', liveMs: null, hlsMs: null, stopState: '', stats: null },
  play: {
    ok: false, engine: '', fallback: '', page: 'daemon', firstFrameMs: null,
    latencyMs: { p50: null, p95: null, min: null, max: null, n: 0 },
    stalls: 0, longestStallMs: 0, stallMsTotal: 0, frozenMs: 0,
    currentTimeStart: null, currentTimeEnd: null, watchedMs: 0,
    videoWidth: 0, videoHeight: 0, errors: [], console: [],
  },
  errors: [], console: [],
};

let secret = '';
const redact = (s) => (secret ? String(s).split(secret).join('<key>') : String(s));

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[i]);
}

// Same as play.mjs: media events of every <video>, ms since navigation.
const initScript = () => {
  const ev = (window.__e2e = { events: [] });
  for (const type of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'playing', 'waiting', 'stalled', 'pause', 'ended', 'error']) {
    document.addEventListener(type, (e) => {
      if (!(e.target instanceof HTMLMediaElement)) return;
      ev.events.push({ type, t: performance.now(), ct: e.target.currentTime });
    }, true);
  }
};

function watchPage(page, sink) {
  page.on('console', (m) => { if (sink.console.length < 50) sink.console.push(redact(`${m.type()}: ${m.text()}`).slice(0, 300)); });
  page.on('pageerror', (e) => sink.errors.push(redact(`pageerror: ${e.message}`).slice(0, 300)));
  page.on('response', (r) => {
    if (r.status() >= 400 && sink.console.length < 50) sink.console.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  page.on('requestfailed', (r) => {
    const f = r.failure();
    if (f && !/ERR_ABORTED/.test(f.errorText) && sink.console.length < 50) sink.console.push(`requestfailed: ${r.url()} ${f.errorText}`);
  });
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv);
  } catch (e) {
    result.errors.push(String(e.message || e));
    console.log(JSON.stringify(result));
    process.exit(2);
  }
  secret = opts.key;
  const deadline = Date.now() + opts.timeout * 1000;
  const userDataDir = mkdtempSync(join(tmpdir(), 'mpegflow-chromium-'));
  let browser;
  const hardStop = setTimeout(() => {
    result.errors.push(`overall timeout ${opts.timeout}s`);
    console.log(JSON.stringify(result));
    process.exit(2);
  }, opts.timeout * 1000 + 5000);
  try {
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--autoplay-policy=no-user-gesture-required', '--mute-audio',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        // Two pages: the publishing one must not be throttled when the player has the focus.
        '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'],
      permissions: ['camera', 'microphone'],
      timeout: 30000,
    });

    // 1. Go live.
    const pub = browser.pages()[0] || await browser.newPage();
    watchPage(pub, result);
    const pubURL = `${opts.base}/live/${encodeURIComponent(opts.id)}/publish`;
    const resp = await pub.goto(pubURL, { waitUntil: 'domcontentloaded', timeout: 15000 });
    if (!resp || !resp.ok()) throw new Error(`publish page ${pubURL}: HTTP ${resp ? resp.status() : 'no response'}`);
    await pub.waitForFunction(() => !!window.mpegflowPublish, null, { timeout: 10000 });
    const t0 = Date.now();
    await pub.fill('#key', opts.key);
    await pub.click('#start');
    while (Date.now() < deadline) {
      const s = await pub.evaluate(() => ({ state: window.mpegflowPublish.state(), detail: document.getElementById('detail').textContent }));
      result.publish.state = s.state; result.publish.detail = redact(s.detail);
      if (s.state === 'live') { result.publish.liveMs = Date.now() - t0; break; }
      if (s.state === 'error' || s.state === 'failed') throw new Error(`publish page: ${s.state}: ${redact(s.detail)}`);
      await pub.waitForTimeout(100);
    }
    if (result.publish.liveMs === null) throw new Error(`publish page never went live (state ${result.publish.state})`);

    // 2. Wait for the HLS output (the multivariant playlist answers 200).
    const m3u8 = `${opts.base}/live/${encodeURIComponent(opts.id)}/index.m3u8`;
    const liveDeadline = Math.min(deadline, Date.now() + opts['live-timeout'] * 1000);
    for (;;) {
      const r = await fetch(m3u8).catch(() => null);
      if (r && r.status === 200) { result.publish.hlsMs = Date.now() - t0; break; }
      if (Date.now() > liveDeadline) throw new Error(`${m3u8} did not answer 200 within ${opts['live-timeout']} s of going live`);
      await new Promise((res) => setTimeout(res, 200));
    }

    // 3. Play it on a second page, measured as play.mjs does.
    const play = result.play;
    const page = await browser.newPage();
    watchPage(page, play);
    await page.addInitScript(initScript);
    const playURL = `${opts.base}/live/${encodeURIComponent(opts.id)}/${opts['play-query']}`;
    const presp = await page.goto(playURL, { waitUntil: 'domcontentloaded', timeout: 15000 });
    if (!presp || !presp.ok()) throw new Error(`player page ${playURL}: HTTP ${presp ? presp.status() : 'no response'}`);
    while (Date.now() < deadline) {
      const first = await page.evaluate(() => (window.__e2e.events.find((e) => e.type === 'playing') || null));
      if (first) { play.firstFrameMs = Math.round(first.t); break; }
      await page.waitForTimeout(100);
    }
    play.engine = await page.evaluate(() => (window.mpegflow && window.mpegflow.engine) || (window.Hls ? 'hls.js ' + window.Hls.version : ''));
    play.fallback = await page.evaluate(() => (window.mpegflow && window.mpegflow.fallback) || '');
    if (play.firstFrameMs === null) throw new Error('video never started playing');

    const watchMs = opts.seconds * 1000;
    const w0 = Date.now();
    const lat = [];
    let lastCT = -1, lastAdvance = Date.now(), frozen = 0;
    play.currentTimeStart = await page.evaluate(() => document.querySelector('video').currentTime);
    while (Date.now() - w0 < watchMs && Date.now() < deadline) {
      const s = await page.evaluate(() => {
        const v = document.querySelector('video');
        const h = window.mpegflow && window.mpegflow.hls;
        let l = NaN;
        if (window.mpegflow && window.mpegflow.latency) l = window.mpegflow.latency();
        else if (h && h.playingDate) l = Date.now() - h.playingDate.getTime();
        return { ct: v.currentTime, lat: l };
      });
      if (Number.isFinite(s.lat)) lat.push(s.lat);
      const now = Date.now();
      if (s.ct > lastCT) { lastCT = s.ct; lastAdvance = now; }
      else frozen = Math.max(frozen, now - lastAdvance);
      await page.waitForTimeout(250);
    }
    play.watchedMs = Date.now() - w0;
    play.frozenMs = frozen;
    const end = await page.evaluate(() => { const v = document.querySelector('video'); return { ct: v.currentTime, w: v.videoWidth, h: v.videoHeight }; });
    play.currentTimeEnd = end.ct; play.videoWidth = end.w; play.videoHeight = end.h;

    const events = await page.evaluate(() => window.__e2e.events);
    const tEnd = await page.evaluate(() => performance.now());
    let waitingAt = null;
    const stall = (d) => { play.stalls++; play.stallMsTotal += d; play.longestStallMs = Math.max(play.longestStallMs, d); };
    for (const e of events) {
      if (e.t <= play.firstFrameMs) continue;
      if (e.type === 'waiting' && waitingAt === null) waitingAt = e.t;
      if (e.type === 'playing' && waitingAt !== null) { stall(e.t - waitingAt); waitingAt = null; }
    }
    if (waitingAt !== null) stall(tEnd - waitingAt);
    play.longestStallMs = Math.round(play.longestStallMs);
    play.stallMsTotal = Math.round(play.stallMsTotal);
    lat.sort((a, b) => a - b);
    play.latencyMs = { p50: quantile(lat, 0.5), p95: quantile(lat, 0.95), min: lat.length ? Math.round(lat[0]) : null, max: lat.length ? Math.round(lat[lat.length - 1]) : null, n: lat.length };
    play.ok = true;

    // 4. The publisher is still live; stop it from the page (DELETE).
    result.publish.stats = await pub.evaluate(() => window.mpegflowPublish.stats());
    result.publish.state = await pub.evaluate(() => window.mpegflowPublish.state());
    await pub.click('#start');
    for (let i = 0; i < 50; i++) {
      result.publish.stopState = await pub.evaluate(() => window.mpegflowPublish.state());
      if (result.publish.stopState === 'stopped') break;
      await pub.waitForTimeout(100);
    }
    result.ok = true;
  } catch (e) {
    result.errors.push(redact(String(e && e.message ? e.message : e).split('\n')[0]));
  } finally {
    clearTimeout(hardStop);
    if (browser) await browser.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 2);
}

main();
