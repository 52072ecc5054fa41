// upload.mjs — uploads a file with the daemon's upload page (tus-js-client)
// in headless Chromium (playwright-core), throttled so it can be paused
// midway; pauses, prints {"event":"paused",...} and waits for a line on
// stdin (the test restarts the daemon meanwhile), resumes, waits for the
// video to be ready and playing in hls.js, plays every rung of its ladder
// and seeks to the middle. Used by test/uploads_browser_test.go; runnable
// by hand:
//
//   echo | node test/browser/upload.mjs --url 'http://127.0.0.1:8080/upload/?chunk_kb=256#http://127.0.0.1:8080/uploads/vid_...' --file clip.mp4
//
// Output: progress lines {"event":...}, then one JSON line
//   {"ok":bool,"pausedAt":bytes,"size":bytes,"resumedFrom":bytes,"videoID":..,"duration":s,
//    "rungs":[{"level":i,"height":px,"from":s,"to":s}],"seekTo":s,"afterSeek":s,"errors":[..],"console":[..]}
// Exit status 0 when the line was printed with ok, 2 otherwise.

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 === 0 ? [...a, [v.replace(/^--/, ''), all[i + 1]]] : a), []));
const result = { ok: false, pausedAt: null, size: null, resumedFrom: null, videoID: '', duration: null, rungs: [], seekTo: null, afterSeek: null, errors: [], console: [] };
const chromiumPath = args.chromium || process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = Number(args.timeout || 600) * 1000;
const throughput = Number(args.throughput || 1_000_000); // bytes/s while uploading
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));

async function waitFor(page, fn, arg, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await page.evaluate(fn, arg);
    if (v) return v;
    await page.waitForTimeout(100);
  }
  return null;
}

const state = (page) => page.evaluate(() => ({ ...window.mpegflowUpload, upload: undefined, hls: undefined }));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'mpegflow-chromium-'));
  let browser;
  const hardStop = setTimeout(() => { result.errors.push('overall timeout'); console.log(JSON.stringify(result)); process.exit(2); }, timeout + 5000);
  try {
    if (!args.url || !args.file) throw new Error('--url and --file are required');
    browser = await chromium.launchPersistentContext(dir, {
      executablePath: chromiumPath, headless: true, timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required', '--mute-audio'],
    });
    const page = browser.pages()[0] || await browser.newPage();
    page.on('console', (m) => { if (result.console.length < 50) result.console.push(`${m.type()}: ${m.text()}`.slice(0, 300)); });
    page.on('pageerror', (e) => result.errors.push(`pageerror: ${e.message}`.slice(0, 300)));
    page.on('response', (r) => { if (r.status() >= 400 && result.console.length < 50) result.console.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`); });
    const patches = []; // Upload-Offset of every tus PATCH
    page.on('request', (r) => { if (r.method() === 'PATCH') patches.push(Number(r.headers()['upload-offset'])); });
    const resp = await page.goto(args.url, { waitUntil: 'load', timeout: 15000 });
    if (!resp || !resp.ok()) throw new Error(`upload page: HTTP ${resp ? resp.status() : 'no response'}`);
    if (!await page.evaluate(() => !!window.tus && !!window.Hls)) throw new Error('tus-js-client or hls.js is not loaded');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: throughput });

    await page.setInputFiles('#file', args.file);
    await page.click('#start');
    // pause once a fifth of the file is on the server
    const size = await page.evaluate(() => window.mpegflowUpload.size);
    result.size = size;
    if (!await waitFor(page, (n) => window.mpegflowUpload.offset > n / 5, size, 60000)) throw new Error('the upload did not progress');
    await page.click('#pause');
    if (!await waitFor(page, () => window.mpegflowUpload.state === 'paused', null, 15000)) throw new Error('the upload did not pause');
    const paused = await state(page);
    result.pausedAt = paused.offset;
    if (paused.offset >= size) throw new Error('the upload finished before the pause');
    console.log(JSON.stringify({ event: 'paused', offset: paused.offset, size }));
    await nextLine(); // the daemon restarts meanwhile

    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    patches.length = 0;
    await page.click('#start'); // Resume
    // tus-js-client asks the server for its offset (HEAD) and sends the rest from there
    if (!await waitFor(page, () => ['done', 'ready', 'error'].includes(window.mpegflowUpload.state), null, 120000)) throw new Error('the upload did not finish');
    result.resumedFrom = patches.length ? patches[0] : null; // the first PATCH after the pause
    console.log(JSON.stringify({ event: 'uploaded' }));
    // processed, then playing in hls.js
    if (!await waitFor(page, () => window.mpegflowUpload.state === 'ready' || window.mpegflowUpload.errors.length > 0, null, timeout)) throw new Error('the video did not become ready');
    const s = await state(page);
    if (s.errors.length) throw new Error('page errors: ' + s.errors.join('; '));
    result.videoID = s.videoID;
    const levels = await waitFor(page, () => { const h = window.mpegflowUpload.hls; return h && h.levels && h.levels.length ? h.levels.map((l) => l.height) : null; }, null, 30000);
    if (!levels) throw new Error('hls.js did not load the multivariant playlist');
    if (!await waitFor(page, () => { const v = document.querySelector('video'); return v.currentTime > 1 && Number.isFinite(v.duration); }, null, 30000)) {
      throw new Error('the video did not play');
    }
    result.duration = await page.evaluate(() => document.querySelector('video').duration);
    // every rung: switched to, shown at its height, playing on
    for (let i = 0; i < levels.length; i++) {
      await page.evaluate((l) => { window.mpegflowUpload.hls.currentLevel = l; }, i);
      const from = await waitFor(page, (h) => { const v = document.querySelector('video'); return Math.abs(v.videoHeight - h) <= 1 ? v.currentTime : null; }, levels[i], 30000);
      if (from === null) {
        const at = await page.evaluate(() => { const v = document.querySelector('video'), h = window.mpegflowUpload.hls; return JSON.stringify({ videoHeight: v.videoHeight, paused: v.paused, currentTime: v.currentTime, readyState: v.readyState, currentLevel: h.currentLevel, loadLevel: h.loadLevel, nextLevel: h.nextLevel }); });
        throw new Error(`rung ${i} (${levels[i]}p) is not shown: ${at}`);
      }
      const to = await waitFor(page, (t) => { const v = document.querySelector('video'); return v.currentTime > t + 1 ? v.currentTime : null; }, from, 20000);
      if (to === null) throw new Error(`rung ${i} (${levels[i]}p) does not play on`);
      result.rungs.push({ level: i, height: levels[i], from, to });
    }
    // seek to the middle and play on
    result.seekTo = result.duration / 2;
    await page.evaluate((t) => { document.querySelector('video').currentTime = t; }, result.seekTo);
    const after = await waitFor(page, (t) => { const v = document.querySelector('video'); return v.currentTime > t + 1 ? v.currentTime : null; }, result.seekTo, 20000);
    if (after === null) throw new Error(`playback did not continue after seeking to ${result.seekTo.toFixed(2)} s`);
    result.afterSeek = after;
    result.ok = true;
  } catch (e) {
    result.errors.push(String(e && e.message || e));
  } finally {
    clearTimeout(hardStop);
    if (browser) await browser.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  lines.close();
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 2);
}

main();
