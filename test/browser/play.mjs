// play.mjs — plays a live HLS stream in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) and prints one JSON line of
// measurements on stdout. Used by test/browser_test.go; runnable by hand:
//
//   node test/browser/play.mjs --url http://127.0.0.1:8080/live/demo/ --seconds 20
//
// Options:
//   --url URL         the player page (the daemon's /live/{id}/)
//   --seconds N       how long to watch after the first `playing` (default 20)
//   --timeout N       overall deadline in seconds (default seconds + 30)
//   --page daemon|repo
//                     daemon: load the page the daemon serves (default).
//                     repo:   answer the page URL with web/player.html from this
//                             repository and /static/hls.min.js with
//                             node_modules/hls.js/dist/hls.min.js (request
//                             interception, same origin), for when the daemon
//                             does not serve a player page yet.
//   --chromium PATH   browser binary (default /usr/bin/chromium, or $CHROMIUM)
//   --hls-config JSON hls.js settings merged over the page's (every new Hls
//                     of the page), e.g. '{"lowLatencyMode":false}' to play
//                     as a player without the low-latency features does
//
// Output (one line): {"ok":bool,"engine":..,"firstFrameMs":..,"latencyMs":{"p50":..,"p95":..,"min":..,"max":..,"n":..},
//   "stalls":n,"stallStartsMs":[ms after the first frame..],"longestStallMs":..,"stallMsTotal":..,"currentTimeStart":..,"currentTimeEnd":..,
//   "watchedMs":..,"errors":[..],"console":[..]}
// It writes "playing" on stderr when the video first plays (callers may
// act during the watch that follows).
// Exit status: 0 when the JSON line was printed (judging is the caller's job), 2 on usage
// or browser failures (an {"ok":false,"errors":[...]} line is still printed).

import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

function parseArgs(argv) {
  const o = { url: '', seconds: 20, timeout: 0, page: 'daemon', chromium: process.env.CHROMIUM || '/usr/bin/chromium', 'hls-config': '' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (v === undefined) throw new Error(`missing value for --${k}`);
    if (k === 'seconds' || k === 'timeout') o[k] = Number(v);
    else if (k in o) o[k] = v;
    else throw new Error(`unknown option --${k}`);
  }
  if (!o.url) throw new Error('--url is required');
  if (!o.timeout) o.timeout = o.seconds + 30;
  return o;
}

const result = {
  ok: false, engine: '', page: '', firstFrameMs: null,
  latencyMs: { p50: null, p95: null, min: null, max: null, n: 0 },
  stalls: 0, stallStartsMs: [], longestStallMs: 0, stallMsTotal: 0, frozenMs: 0,
  currentTimeStart: null, currentTimeEnd: null, watchedMs: 0,
  errors: [], console: [],
};

function quantile(sorted, q) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return Math.round(sorted[i]);
}

// Installed before any page script: records media events of every <video>
// (capture phase on document, since media events do not bubble) with
// performance.now(), i.e. ms since the navigation started.
const initScript = (hlsConfig) => {
  const ev = (window.__e2e = { events: [] });
  if (hlsConfig) {
    // hls.js (UMD) assigns globalThis.Hls: hand the page a subclass whose
    // constructor merges the settings over the page's
    const over = JSON.parse(hlsConfig);
    let H;
    Object.defineProperty(window, 'Hls', {
      configurable: true,
      get() { return H; },
      set(v) { H = typeof v === 'function' ? class extends v { constructor(c) { super(Object.assign({}, c, over)); } } : v; },
    });
  }
  for (const type of ['loadstart', 'loadedmetadata', 'loadeddata', 'canplay', 'playing', 'waiting', 'stalled', 'pause', 'ended', 'error']) {
    document.addEventListener(type, (e) => {
      if (!(e.target instanceof HTMLMediaElement)) return;
      ev.events.push({ type, t: performance.now(), ct: e.target.currentTime });
    }, true);
  }
};

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv);
  } catch (e) {
    result.errors.push(String(e.message || e));
    console.log(JSON.stringify(result));
    process.exit(2);
  }
  result.page = opts.page;
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
        '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
      timeout: 30000,
    });
    const page = browser.pages()[0] || await browser.newPage();
    page.on('console', (m) => { if (result.console.length < 50) result.console.push(`${m.type()}: ${m.text()}`.slice(0, 300)); });
    page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`.slice(0, 300)));
    page.on('response', (r) => {
      if (r.status() >= 400 && result.console.length < 50) result.console.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    page.on('requestfailed', (r) => {
      const f = r.failure();
      // Aborted blocking-reload requests are normal when hls.js moves on.
      if (f && !/ERR_ABORTED/.test(f.errorText) && result.console.length < 50) result.console.push(`requestfailed: ${r.url()} ${f.errorText}`);
    });
    await page.addInitScript(initScript, opts['hls-config']);

    if (opts.page === 'repo') {
      const html = readFileSync(join(root, 'web', 'player.html'));
      const hlsjs = readFileSync(join(root, 'node_modules', 'hls.js', 'dist', 'hls.min.js'));
      const pageURL = new URL(opts.url);
      await page.route((u) => u.href === pageURL.href, (r) => r.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
      await page.route('**/static/hls.min.js', (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: hlsjs }));
    }

    const resp = await page.goto(opts.url, { waitUntil: 'domcontentloaded', timeout: 15000 });
    if (!resp || !resp.ok()) throw new Error(`player page ${opts.url}: HTTP ${resp ? resp.status() : 'no response'}`);

    // Wait for the first `playing`.
    while (Date.now() < deadline) {
      const first = await page.evaluate(() => (window.__e2e.events.find((e) => e.type === 'playing') || null));
      if (first) {
        result.firstFrameMs = Math.round(first.t);
        process.stderr.write('playing\n');
        // hls.js's own view at the first frame: how far behind its
        // estimate of the live edge it plays, and where it aimed
        Object.assign(result, await page.evaluate(() => {
          const h = window.mpegflow && window.mpegflow.hls;
          const r = (v) => (Number.isFinite(v) ? Math.round(v * 1000) : null);
          return h ? { hlsLatencyStartMs: r(h.latency), hlsTargetLatencyMs: r(h.targetLatency) } : {};
        }));
        break;
      }
      await page.waitForTimeout(100);
    }
    result.engine = await page.evaluate(() => (window.mpegflow && window.mpegflow.engine) || (window.Hls ? 'hls.js ' + window.Hls.version : ''));
    if (result.firstFrameMs === null) throw new Error('video never started playing');

    // Watch: sample currentTime and latency every 250 ms.
    const watchMs = opts.seconds * 1000;
    const t0 = Date.now();
    const lat = [];
    let lastCT = -1, lastAdvance = Date.now(), frozen = 0;
    result.currentTimeStart = await page.evaluate(() => document.querySelector('video').currentTime);
    while (Date.now() - t0 < watchMs && Date.now() < deadline) {
      const s = await page.evaluate(() => {
        const v = document.querySelector('video');
        const h = window.mpegflow && window.mpegflow.hls;
        let l = NaN;
        if (window.mpegflow && window.mpegflow.latency) l = window.mpegflow.latency();
        else if (h && h.playingDate) l = Date.now() - h.playingDate.getTime();
        return { ct: v.currentTime, lat: l, paused: v.paused };
      });
      if (Number.isFinite(s.lat)) lat.push(s.lat);
      const now = Date.now();
      if (s.ct > lastCT) { lastCT = s.ct; lastAdvance = now; }
      else frozen = Math.max(frozen, now - lastAdvance);
      await page.waitForTimeout(250);
    }
    result.watchedMs = Date.now() - t0;
    result.frozenMs = frozen;
    result.currentTimeEnd = await page.evaluate(() => document.querySelector('video').currentTime);

    // Stalls: every `waiting` after the first `playing`, lasting until the next `playing`.
    const events = await page.evaluate(() => window.__e2e.events);
    const tEnd = await page.evaluate(() => performance.now());
    let waitingAt = null;
    for (const e of events) {
      if (e.t <= result.firstFrameMs) continue;
      if (e.type === 'waiting' && waitingAt === null) { waitingAt = e.t; result.stallStartsMs.push(Math.round(e.t - result.firstFrameMs)); }
      if (e.type === 'playing' && waitingAt !== null) {
        const d = e.t - waitingAt;
        result.stalls++; result.stallMsTotal += d; result.longestStallMs = Math.max(result.longestStallMs, d);
        waitingAt = null;
      }
    }
    if (waitingAt !== null) {
      const d = tEnd - waitingAt;
      result.stalls++; result.stallMsTotal += d; result.longestStallMs = Math.max(result.longestStallMs, d);
    }
    result.longestStallMs = Math.round(result.longestStallMs);
    result.stallMsTotal = Math.round(result.stallMsTotal);

    lat.sort((a, b) => a - b);
    result.latencyMs = { p50: quantile(lat, 0.5), p95: quantile(lat, 0.95), min: lat.length ? Math.round(lat[0]) : null, max: lat.length ? Math.round(lat[lat.length - 1]) : null, n: lat.length };
    result.ok = true;
  } catch (e) {
    result.errors.push(String(e && e.message ? e.message : e).split('\n')[0]);
  } finally {
    clearTimeout(hardStop);
    if (browser) await browser.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 2);
}

main();
