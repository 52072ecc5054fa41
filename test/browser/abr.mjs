// abr.mjs — plays a live ABR ladder in headless Chromium with hls.js
// (Debian's /usr/bin/chromium, driven by playwright-core), forces level
// switches (smooth by default, see --switch) and prints one JSON line of what happened.
// Used by test/transcode_browser_test.go; runnable by hand:
//
//   node test/browser/abr.mjs --url http://127.0.0.1:8080/live/demo/ --dwell 5
//
// Options:
//   --url URL         the player page (the daemon's /live/{id}/)
//   --dwell N         seconds to watch on each level once it shows (default 5)
//   --switch-timeout N
//                     seconds a forced switch may take to show the level's
//                     frames (default 15)
//   --timeout N       overall deadline in seconds (default 120)
//   --chromium PATH   browser binary (default /usr/bin/chromium, or $CHROMIUM)
//   --hold HEIGHT     instead of switching through the levels: force the
//                     level of that height, then watch --watch seconds
//                     whatever happens (the level may go away: a rung
//                     that gave up), recording the video heights shown
//   --watch N         seconds to watch in --hold mode (default 30)
//   --switch MODE     how a level is forced: "load" (default; hls.loadLevel,
//                     a smooth switch: the buffer plays out and the next
//                     fragments come from the level, as hls.js's own ABR
//                     switches), "next" (hls.nextLevel: the buffer after the
//                     playing fragment is flushed) or "immediate"
//                     (hls.currentLevel: the whole buffer is flushed and
//                     reloaded from the level, a stall by design)
//
// The order of the forced levels: lowest, every level up to the highest,
// then the lowest again (for 3 levels: 0, 1, 2, 0 sorted by height).
// In --hold mode the output has "hold":{"height":..,"shownMs":..,
// "heights":[{"h":..,"atMs":..}],"advanced":..,"levelsAtEnd":..,
// "buffers":{..}} where buffers (diagnostics) holds the buffered ranges at
// the end, hls.js's stream-controller state, its current fragment, the
// level's playlist as hls.js knows it, and "parsed": the last 60 appends
// (sn, part, cc, fragment and part start/duration in hls.js's playlist
// time, buffered ranges after the append).
// "requests" (diagnostics, every mode) lists the last 60 playlist and media
// requests: path and query, ms from the page's start to request and answer,
// HTTP status.
//
// Output (one line): {"ok":bool,"engine":..,"levels":[{"height":..,"bitrate":..,"url":..}],
//   "switches":[{"level":..,"height":..,"shownMs":..,"videoHeight":..,"advanced":..,"ok":bool,
//     "stallMs":.. (stalls that began after this switch and before the next)}],
//   "stalls":n,"longestStallMs":..,"stallMsTotal":..,"frozenMs":..,"watchedMs":..,
//   "errors":[..],"hlsErrors":[..],"console":[..]}
// Exit status: 0 when the JSON line was printed (judging is the caller's job), 2 on usage
// or browser failures (an {"ok":false,...} line is still printed).

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function parseArgs(argv) {
  const o = { url: '', dwell: 5, 'switch-timeout': 15, timeout: 120, hold: 0, watch: 30, switch: 'load', chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (v === undefined) throw new Error(`missing value for --${k}`);
    if (!(k in o)) throw new Error(`unknown option --${k}`);
    o[k] = typeof o[k] === 'number' ? Number(v) : v;
  }
  if (!o.url) throw new Error('--url is required');
  if (!['load', 'next', 'immediate'].includes(o.switch)) throw new Error(`--switch ${o.switch}: want load, next or immediate`);
  return o;
}

const result = {
  ok: false, engine: '', levels: [], switches: [],
  stalls: 0, longestStallMs: 0, stallMsTotal: 0, frozenMs: 0, watchedMs: 0,
  errors: [], hlsErrors: [], console: [],
};

// Installed before any page script: media events of every <video> with
// performance.now().
const initScript = () => {
  const ev = (window.__e2e = { events: [] });
  for (const type of ['playing', 'waiting', 'stalled', 'ended', 'error']) {
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
    page.on('console', (m) => { if (result.console.length < 60) result.console.push(`${m.type()}: ${m.text()}`.slice(0, 300)); });
    page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`.slice(0, 300)));
    page.on('response', (r) => {
      if (r.status() >= 400 && result.console.length < 60) result.console.push(`HTTP ${r.status()}: ${r.url()}`);
    });
    // the last requests of the media (diagnostics): when each was made and answered
    const tReq = Date.now();
    result.requests = [];
    const reqs = new Map();
    page.on('request', (q) => {
      const u = q.url();
      if (!/\.(m3u8|m4s|mp4)(\?|$)/.test(u)) return;
      const e = { u: u.replace(/^.*\/live\/[^/]+\//, '').replace(/^https?:\/\/[^/]+/, ''), at: Date.now() - tReq };
      reqs.set(q, e);
      result.requests.push(e);
      if (result.requests.length > 60) result.requests.shift();
    });
    page.on('requestfinished', async (q) => {
      const e = reqs.get(q); if (!e) return;
      reqs.delete(q);
      e.done = Date.now() - tReq;
      try { const r = await q.response(); e.st = r ? r.status() : 0; } catch { /* closed */ }
    });
    page.on('requestfailed', (q) => { const e = reqs.get(q); if (e) { e.failed = true; reqs.delete(q); } });
    await page.addInitScript(initScript);
    const resp = await page.goto(opts.url, { waitUntil: 'domcontentloaded', timeout: 15000 });
    if (!resp || !resp.ok()) throw new Error(`player page ${opts.url}: HTTP ${resp ? resp.status() : 'no response'}`);

    // First frame, with hls.js and every level known.
    let firstPlaying = null;
    while (Date.now() < deadline) {
      const s = await page.evaluate(() => {
        const h = window.mpegflow && window.mpegflow.hls;
        const p = window.__e2e.events.find((e) => e.type === 'playing');
        return { playing: p ? p.t : null, levels: h && h.levels ? h.levels.length : 0 };
      });
      if (s.playing !== null && s.levels > 1) { firstPlaying = s.playing; break; }
      await page.waitForTimeout(100);
    }
    if (firstPlaying === null) throw new Error('video never started playing with more than one level');
    result.engine = await page.evaluate(() => window.mpegflow.engine);
    result.levels = await page.evaluate(() => {
      const h = window.mpegflow.hls;
      window.__e2e.switched = [];
      window.__e2e.hlsErrors = [];
      h.on(window.Hls.Events.LEVEL_SWITCHED, (_, d) => window.__e2e.switched.push({ level: d.level, t: performance.now() }));
      window.__e2e.parsed = [];
      h.on(window.Hls.Events.BUFFER_APPENDED, (_, d) => {
        const p = window.__e2e.parsed;
        const r = []; const tr = d.timeRanges && (d.timeRanges.audiovideo || d.timeRanges.video);
        if (tr) for (let i = 0; i < tr.length; i++) r.push([+tr.start(i).toFixed(3), +tr.end(i).toFixed(3)]);
        p.push({ sn: d.frag.sn, part: d.part ? d.part.index : -1, cc: d.frag.cc, fs: +d.frag.start.toFixed(3), fd: +d.frag.duration.toFixed(3), ps: d.part ? +d.part.start.toFixed(3) : null, pd: d.part ? +d.part.duration.toFixed(3) : null, r: r.slice(-2) });
        if (p.length > 60) p.shift();
      });
      h.on(window.Hls.Events.ERROR, (_, d) => {
        if (window.__e2e.hlsErrors.length < 30) window.__e2e.hlsErrors.push(`${d.fatal ? 'fatal ' : ''}${d.type}/${d.details}`);
      });
      return h.levels.map((l) => ({ height: l.height, bitrate: l.bitrate, url: String(l.url) }));
    });
    const order = result.levels.map((l, i) => i).sort((a, b) => result.levels[a].height - result.levels[b].height);
    let plan = [...order, order[0]];
    if (opts.hold) {
      const l = result.levels.findIndex((x) => x.height === opts.hold);
      if (l < 0) throw new Error(`no level of height ${opts.hold}`);
      plan = [l];
      opts.dwell = 0;
    }

    const t0 = Date.now();
    let lastCT = -1, lastAdvance = Date.now(), frozen = 0;
    const sample = async () => {
      const s = await page.evaluate(() => {
        const v = document.querySelector('video');
        return { ct: v.currentTime, vh: v.videoHeight, cur: window.mpegflow.hls.currentLevel };
      });
      const now = Date.now();
      if (s.ct > lastCT) { lastCT = s.ct; lastAdvance = now; } else frozen = Math.max(frozen, now - lastAdvance);
      return s;
    };
    for (const level of plan) {
      const want = result.levels[level].height;
      const sw = { level, height: want, shownMs: null, videoHeight: 0, advanced: 0, ok: false, stallMs: 0 };
      result.switches.push(sw);
      sw.t = await page.evaluate(() => performance.now());
      const start = Date.now();
      // hls.js sends no LEVEL_SWITCHED when the level asked for is the one
      // playing already (a player that started on the lowest level).
      const already = await page.evaluate(([l, mode]) => {
        const h = window.mpegflow.hls; const was = h.currentLevel === l;
        if (mode === 'immediate') h.currentLevel = l; else if (mode === 'next') h.nextLevel = l; else h.loadLevel = l;
        return was;
      }, [level, opts.hold ? 'immediate' : opts.switch]);
      // The level shows once hls.js says it switched (or was on it) and the
      // video element decodes frames of its height.
      let s;
      while (Date.now() - start < opts['switch-timeout'] * 1000 && Date.now() < deadline) {
        s = await sample();
        const switched = already || await page.evaluate((l) => window.__e2e.switched.some((e) => e.level === l), level);
        if (switched && s.vh === want) { sw.shownMs = Date.now() - start; break; }
        await page.waitForTimeout(100);
      }
      sw.videoHeight = s ? s.vh : 0;
      if (sw.shownMs === null) break;
      // Keep watching on the level: playback must go on.
      const ct0 = s.ct;
      const dwellEnd = Date.now() + opts.dwell * 1000;
      while (Date.now() < dwellEnd && Date.now() < deadline) {
        s = await sample();
        await page.waitForTimeout(250);
      }
      sw.videoHeight = s.vh;
      sw.advanced = Math.round((s.ct - ct0) * 1000) / 1000;
      sw.ok = s.vh === want;
      await page.evaluate(() => { window.__e2e.switched = []; });
    }
    if (opts.hold && result.switches.length && result.switches[0].shownMs !== null) {
      // watch whatever happens, recording every change of video height
      const hold = { height: opts.hold, shownMs: result.switches[0].shownMs, heights: [], advanced: 0, levelsAtEnd: 0 };
      result.hold = hold;
      const w0 = Date.now();
      let s = await sample();
      const ct0 = s.ct;
      let lastH = -1;
      while (Date.now() - w0 < opts.watch * 1000 && Date.now() < deadline) {
        s = await sample();
        if (s.vh !== lastH) { hold.heights.push({ h: s.vh, atMs: Date.now() - w0 }); lastH = s.vh; }
        await page.waitForTimeout(250);
      }
      hold.advanced = Math.round((s.ct - ct0) * 1000) / 1000;
      // where playback stands: the element's buffered ranges and, from
      // hls.js's buffer controller, each SourceBuffer's (diagnostics)
      hold.buffers = await page.evaluate(() => {
        const r = (b) => { const o = []; for (let i = 0; i < b.length; i++) o.push([+b.start(i).toFixed(3), +b.end(i).toFixed(3)]); return o; };
        const v = document.querySelector('video');
        const out = { currentTime: +v.currentTime.toFixed(3), video: r(v.buffered) };
        try {
          for (const [name, sb] of window.mpegflow.hls.bufferController.sourceBuffers) if (name && sb) out[name] = r(sb.buffered);
        } catch (e) { out.error = String(e); }
        try {
          const h = window.mpegflow.hls, sc = h.streamController;
          out.state = sc.state;
          const f = sc.fragCurrent || sc.fragPrevious;
          if (f) out.frag = { sn: f.sn, part: sc.fragCurrent && sc.partCurrent ? sc.partCurrent.index : -1, start: +f.start.toFixed(3), cc: f.cc };
          const d = h.levels[h.currentLevel] && h.levels[h.currentLevel].details;
          if (d) {
            const last = d.fragments[d.fragments.length - 1];
            out.details = { live: d.live, end: +d.edge.toFixed(3), lastSn: last && last.sn, lastStart: last && +last.start.toFixed(3), parts: d.partList ? d.partList.length : 0, updated: d.updated, misses: d.misses, age: +d.age.toFixed(2) };
          }
          out.parsed = window.__e2e.parsed;
        } catch (e) { out.stateError = String(e); }
        return out;
      });
      hold.levelsAtEnd = await page.evaluate(() => window.mpegflow.hls.levels.length);
    }
    result.watchedMs = Date.now() - t0;
    result.frozenMs = frozen;

    // Stalls: every `waiting` after the first `playing`, lasting until the next `playing`.
    const events = await page.evaluate(() => window.__e2e.events);
    const tEnd = await page.evaluate(() => performance.now());
    let waitingAt = null;
    for (const e of events) {
      if (e.t <= firstPlaying) continue;
      if (e.type === 'waiting' && waitingAt === null) waitingAt = e.t;
      if (e.type === 'playing' && waitingAt !== null) {
        const d = e.t - waitingAt;
        result.stalls++; result.stallMsTotal += d; result.longestStallMs = Math.max(result.longestStallMs, d);
        // attribute the stall to the switch in force when it began
        const sw = result.switches.filter((x) => x.t <= waitingAt).pop();
        if (sw) sw.stallMs += Math.round(d);
        waitingAt = null;
      }
    }
    if (waitingAt !== null) {
      const d = tEnd - waitingAt;
      result.stalls++; result.stallMsTotal += d; result.longestStallMs = Math.max(result.longestStallMs, d);
    }
    result.longestStallMs = Math.round(result.longestStallMs);
    result.stallMsTotal = Math.round(result.stallMsTotal);
    result.hlsErrors = await page.evaluate(() => window.__e2e.hlsErrors);
    for (const sw of result.switches) delete sw.t;
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
