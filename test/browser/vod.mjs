// vod.mjs — plays a recording (HLS VOD) in the daemon's player page in
// headless Chromium (playwright-core), seeks to the middle, and prints one
// JSON line. Used by test/recording_test.go; runnable by hand:
//
//   node test/browser/vod.mjs --url http://127.0.0.1:8080/videos/vid_.../
//
// Output: {"ok":bool,"engine":..,"duration":s,"playedTo":s,"seekTo":s,
//   "afterSeek":s,"errors":[..],"console":[..]}
// Exit status 0 when the line was printed with ok, 2 otherwise.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 === 0 ? [...a, [v.replace(/^--/, ''), all[i + 1]]] : a), []));
const result = { ok: false, engine: '', duration: null, playedTo: null, seekTo: null, afterSeek: null, errors: [], console: [] };
const chromiumPath = args.chromium || process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = Number(args.timeout || 60) * 1000;

async function waitFor(page, fn, arg, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    await page.waitForTimeout(100);
  }
  return null;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mpegflow-chromium-'));
  let browser;
  const hardStop = setTimeout(() => { result.errors.push('overall timeout'); console.log(JSON.stringify(result)); process.exit(2); }, timeout + 5000);
  try {
    if (!args.url) throw new Error('--url is required');
    browser = await chromium.launchPersistentContext(dir, {
      executablePath: chromiumPath, headless: true, timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
    });
    const page = browser.pages()[0] || await browser.newPage();
    page.on('console', (m) => { if (result.console.length < 50) result.console.push(`${m.type()}: ${m.text()}`.slice(0, 300)); });
    page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`.slice(0, 300)));
    page.on('response', (r) => { if (r.status() >= 400 && result.console.length < 50) result.console.push(`HTTP ${r.status()}: ${r.url()}`); });
    const resp = await page.goto(args.url, { waitUntil: 'domcontentloaded', timeout: 15000 });
    if (!resp || !resp.ok()) throw new Error(`player page: HTTP ${resp ? resp.status() : 'no response'}`);
    result.engine = await page.evaluate(() => (window.mpegflow && window.mpegflow.engine) || '');
    // plays from the start for 2 s
    if (!await waitFor(page, () => { const v = document.querySelector('video'); return v && v.currentTime > 2 && Number.isFinite(v.duration); }, null, 30000)) {
      throw new Error('the VOD did not play 2 s');
    }
    result.duration = await page.evaluate(() => document.querySelector('video').duration);
    result.playedTo = await page.evaluate(() => document.querySelector('video').currentTime);
    // seek to the middle and play on
    result.seekTo = result.duration / 2;
    await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, result.seekTo);
    const after = await waitFor(page, (t) => { const v = document.querySelector('video'); return v.currentTime > t + 1 ? v.currentTime : null; }, result.seekTo, 20000);
    if (after === null) throw new Error(`playback did not continue after seeking to ${result.seekTo.toFixed(2)} s`);
    result.afterSeek = after;
    result.ok = true;
  } catch (e) {
    result.errors.push(String(e && e.message ? e.message : e).split('\n')[0]);
  } finally {
    clearTimeout(hardStop);
    if (browser) await browser.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 2);
}

main();
