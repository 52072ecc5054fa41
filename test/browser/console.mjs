// console.mjs — drives the web console (/console/) in headless Chromium as a
// user would, and prints one JSON line of results on stdout. Used by
// test/console_test.go; runnable by hand against a daemon:
//
//   node test/browser/console.mjs --url http://127.0.0.1:8080 --token mf_... \
//     --readonly mf_... --webhook http://127.0.0.1:9999/hook
//
// Steps: sign in; create a webhook endpoint; create a live input with
// recording; copy the stream key; publish it with ffmpeg (RTMP); wait for the
// live badge without reloading; see the preview play and the bitrate graph
// move; rotate the key and see the publisher cut; edit, disable and enable
// it; see a webhook delivery;
// play the recording, seek and make a clip; then sign in with a read-only
// token and find no write controls. With --restream: switch the preview to
// WebRTC (WHEP) and back; add a restream output to that URL and see it
// broadcasting, edit it, disable and delete it. With --pipelineinput: paste a
// pipeline manifest on that live input, see its plan, apply it, see its
// DAG, publish to it (--restream, --pipelinekey) and see its nodes run.
// With --upload FILE: upload it with tus, paused and resumed, and see the
// video turn ready; make a one-time upload link and open the upload page.
//
// Options: --url BASE, --token ADMIN, --readonly TOKEN, --webhook URL,
//   --chromium PATH, --ffmpeg PATH, --screenshots DIR (writes *.png there when
//   set), --timeout SECONDS (default 150), --restream RTMP_URL, --restreamkey
//   KEY, --pipelineinput LIVE_INPUT_ID, --pipelinekey KEY, --upload FILE.
// Output: {"ok":bool,"steps":[...],"stepMs":[...],"figures":{...},"errors":[...],"console":[...]}

import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

function parseArgs(argv) {
  const o = { url: '', token: '', readonly: '', webhook: '', chromium: process.env.CHROMIUM || '/usr/bin/chromium', ffmpeg: 'ffmpeg', screenshots: '', timeout: 150,
    restream: '', restreamkey: '', pipelineinput: '', pipelinekey: '', upload: '' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (v === undefined || !(k in o)) throw new Error(`bad option --${k}`);
    o[k] = k === 'timeout' ? Number(v) : v;
  }
  if (!o.url || !o.token) throw new Error('--url and --token are required');
  return o;
}

const o = parseArgs(process.argv);
// a URL of this run's own, so that a daemon used before has no endpoint of the same name
if (o.webhook) o.webhook += (o.webhook.includes('?') ? '&' : '?') + 'run=' + Date.now();
const result = { ok: false, steps: [], stepMs: [], figures: {}, errors: [], console: [] };
const started = Date.now();
let stepAt = started;
// step starts a named step; stepMs holds how long each step took
const step = (name) => {
  const now = Date.now();
  if (result.steps.length) result.stepMs.push(now - stepAt);
  stepAt = now;
  result.steps.push(name);
  process.stderr.write(`console.mjs: +${now - started} ms ${name}\n`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// within resolves as p does, or fails with msg after ms
const within = (p, ms, msg) => {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(msg)), ms); })]).finally(() => clearTimeout(t));
};
const deadline = setTimeout(() => {
  result.errors.push(`timed out after ${o.timeout} s at step ${result.steps.at(-1)}`);
  finish(2);
}, o.timeout * 1000);

let browser;
let ffmpeg;
let ffmpeg2;
async function finish(code) {
  clearTimeout(deadline);
  if (result.steps.length) result.stepMs.push(Date.now() - stepAt);
  try { ffmpeg?.kill('SIGKILL'); } catch {}
  try { ffmpeg2?.kill('SIGKILL'); } catch {}
  try { await browser?.close(); } catch {}
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(code);
}

// shot writes a screenshot of the viewport (1280x800) when --screenshots
// is set; without it nothing is written.
async function shot(page, name) {
  if (!o.screenshots) return;
  mkdirSync(o.screenshots, { recursive: true });
  await page.screenshot({ path: join(o.screenshots, name + '.png') });
}

// signIn loads the console and signs in; it returns the time to the
// sign-in form being usable (time to interactive of a first load) and from
// the click on Sign in to the signed-in view.
async function signIn(page, token) {
  const t0 = Date.now();
  await page.goto(o.url + '/console/');
  const field = page.getByLabel('API token');
  await field.waitFor();
  const tti = Date.now() - t0;
  if (token === o.token) await shot(page, 'sign-in');
  await field.fill(token);
  const t1 = Date.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForFunction(() => window.mpegflowConsole && window.mpegflowConsole.ready);
  return { tti, signIn: Date.now() - t1 };
}

function publish(url, secs = 60) {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(secs),
    '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '0', '-g', '30', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-f', 'flv', url];
  const p = spawn(o.ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  p.exited = new Promise((r) => p.on('exit', (c, s) => r({ code: c, signal: s, at: Date.now() })));
  p.stderr.on('data', (d) => process.stderr.write('ffmpeg: ' + d));
  return p;
}

// videoTime returns the currentTime of the first video on the page.
const videoTime = (page) => page.evaluate(() => document.querySelector('video')?.currentTime ?? -1);

async function main() {
  browser = await chromium.launch({ executablePath: o.chromium, headless: true,
    args: ['--autoplay-policy=no-user-gesture-required', '--no-sandbox'] });
  const ctx = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'], viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.console.push(m.type() + ': ' + m.text()); });
  page.on('pageerror', (e) => result.errors.push('page error: ' + e.message));

  step('sign in');
  const times = await signIn(page, o.token);
  result.figures.timeToInteractiveMs = times.tti;
  result.figures.signInMs = times.signIn;
  result.figures.domContentLoadedMs = Math.round(await page.evaluate(() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd));
  const url = page.url();
  if (url.includes(o.token)) throw new Error('the token appears in the URL');
  if (!(await page.evaluate(() => sessionStorage.length === 1))) throw new Error('token not in sessionStorage');
  await page.getByRole('heading', { name: 'Live inputs' }).waitFor();

  if (o.webhook) {
    step('create a webhook endpoint');
    await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
    await page.getByRole('button', { name: 'New endpoint' }).click();
    await page.getByLabel('URL').fill(o.webhook);
    await page.getByLabel('Description').fill('console test');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const secret = await page.locator('input[data-field=webhook-secret]').inputValue();
    if (!secret.startsWith('whsec_')) throw new Error('no webhook secret shown: ' + secret);
    await page.getByRole('link', { name: o.webhook }).waitFor();
  }

  step('create a live input');
  await page.getByRole('link', { name: 'Live inputs', exact: true }).click();
  await page.getByRole('button', { name: 'New live input' }).click();
  await page.getByLabel('Name').fill('Console E2E');
  await page.locator('#new-rec').selectOption('automatic');
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  await page.waitForURL(/#\/inputs\/li_/);
  await page.locator('#h-input').waitFor();

  step('copy the stream key');
  await page.getByRole('button', { name: 'Copy Stream Key' }).click();
  const key = await page.evaluate(() => navigator.clipboard.readText());
  if (!/^sk_/.test(key)) throw new Error('clipboard holds ' + JSON.stringify(key) + ', not a stream key');
  const server = await page.locator('input[data-field=rtmp-url]').inputValue();

  step('publish with ffmpeg; the badge turns live without reloading');
  const navs = await page.evaluate(() => performance.getEntriesByType('navigation').length);
  const t0 = Date.now();
  ffmpeg = publish(server + '/' + key);
  await page.locator('.head [data-status=connected]').waitFor({ timeout: 20000 });
  result.figures.spawnToBadgeMs = Date.now() - t0;
  result.figures.connectToBadgeMs = await page.evaluate(() => window.mpegflowConsole.badgeLatencyMs);
  if (await page.evaluate(() => performance.getEntriesByType('navigation').length) !== navs) throw new Error('the page reloaded');

  step('preview plays');
  await page.waitForFunction(() => (document.querySelector('.player video')?.currentTime ?? 0) > 1, null, { timeout: 60000 }).catch(async (e) => {
    const st = await page.evaluate(() => {
      const v = document.querySelector('.player video');
      return { video: !!v, readyState: v?.readyState, currentTime: v?.currentTime, paused: v?.paused, error: document.querySelector('.player .error')?.textContent };
    });
    throw new Error('the preview did not play: ' + JSON.stringify(st) + ': ' + e.message);
  });

  step('bitrate graph moves');
  await page.waitForFunction(() => Number(document.querySelector('.graph svg')?.dataset.samples || 0) >= 2, null, { timeout: 15000 });
  const pts1 = await page.locator('.graph polyline').getAttribute('points');
  await page.waitForFunction((p) => document.querySelector('.graph polyline')?.getAttribute('points') !== p, pts1, { timeout: 10000 });
  const viewers = await page.locator('[data-field=viewers]').innerText();
  const protocol = await page.locator('[data-field=protocol]').innerText();
  if (protocol !== 'rtmp') throw new Error('session protocol ' + protocol);
  result.figures.viewers = Number(viewers);
  await shot(page, 'live-input');
  if (o.screenshots) {
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'live-input-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('link', { name: 'Live inputs', exact: true }).click();
    await page.locator('.cards li [data-status=connected]').first().waitFor({ timeout: 10000 });
    await shot(page, 'live-inputs');
    await page.goBack();
    await page.locator('.head [data-status=connected]').waitFor({ timeout: 10000 });
  }
  let newViews = 0;

  if (o.restream) {
    const t0 = Date.now();
    step('switch the preview to WebRTC (WHEP) and back');
    await page.getByRole('button', { name: 'WebRTC', exact: true }).click();
    await page.waitForFunction(() => (document.querySelector('.player[data-engine=webrtc] video')?.currentTime ?? 0) > 0.5, null, { timeout: 20000 }).catch(async (e) => {
      const err = await page.locator('.player .error').allInnerTexts();
      throw new Error('the WebRTC preview did not play: ' + err.join('; ') + ': ' + e.message);
    });
    await page.getByRole('button', { name: 'LL-HLS', exact: true }).click();
    await page.locator('.player video').first().waitFor();

    step('add a restream output; it broadcasts, then is disabled and deleted');
    const panel = page.locator('.panel', { has: page.locator('#h-outputs') });
    await panel.getByRole('button', { name: 'Add output' }).click();
    await page.locator('#out-url').fill(o.restream);
    await page.locator('#out-key').fill(o.restreamkey);
    await page.locator('#out-name').fill('console restream');
    const t1 = Date.now();
    await panel.getByRole('button', { name: 'Add', exact: true }).click();
    const row = panel.locator('tbody tr').first();
    await row.waitFor();
    await panel.locator('tbody tr[data-state=broadcasting]').waitFor({ timeout: 20000 });
    result.figures.outputBroadcastMs = Date.now() - t1;
    if ((await panel.innerText()).includes(o.restreamkey)) throw new Error('the output stream key is shown');

    step('edit the output (name; the key moved into the URL); it reconnects, the key is never shown');
    const t2 = Date.now();
    const connectedAt = await row.getAttribute('data-connected-at');
    await row.getByRole('button', { name: 'Edit output console restream' }).click();
    const form = panel.locator('form[data-editing]');
    if (await form.locator('#edit-out-key').inputValue() !== '') throw new Error('the edit form shows the stream key');
    if (o.screenshots) {
      await form.scrollIntoViewIfNeeded();
      await shot(page, 'outputs');
    }
    await form.locator('#edit-out-name').fill('console restream edited');
    await form.locator('#edit-out-url').fill(o.restream + '/' + o.restreamkey);
    await form.getByLabel(/Remove the stream key/).check();
    await form.getByRole('button', { name: 'Save output' }).click();
    await form.waitFor({ state: 'detached', timeout: 10000 });
    // broadcasting again on a new connection (the answer to the PATCH may still show the old one)
    await panel.locator(`tbody tr[data-state=broadcasting][data-connected-at]:not([data-connected-at="${connectedAt}"])`, { hasText: 'console restream edited' }).waitFor({ timeout: 20000 });
    result.figures.outputEditMs = Date.now() - t2;
    if ((await panel.innerText()).includes(o.restreamkey)) throw new Error('the output stream key is shown after the edit');
    if ((await page.content()).includes(o.restreamkey)) throw new Error('the output stream key is in the page');
    await row.getByRole('button', { name: 'Disable' }).click();
    await panel.locator('tbody tr[data-state=disabled]').waitFor({ timeout: 10000 });
    await row.getByRole('button', { name: 'Delete' }).click();
    await panel.getByRole('button', { name: 'Delete output' }).click();
    await panel.locator('tbody tr').waitFor({ state: 'detached', timeout: 10000 });
    newViews += Date.now() - t0;
  }

  step('rotate the key; the publisher is cut');
  await page.getByRole('button', { name: 'Rotate key' }).click();
  await page.getByRole('button', { name: 'Rotate now' }).click();
  const exit = await Promise.race([ffmpeg.exited, sleep(10000).then(() => null)]);
  if (!exit) throw new Error('the publisher was not cut within 10 s of the rotation');
  await page.waitForFunction((k) => {
    const v = document.querySelector('input[data-field=stream-key]')?.value;
    return v && v !== k;
  }, key, { timeout: 5000 });
  await page.locator('.head [data-status=connected]').waitFor({ state: 'detached', timeout: 15000 });

  step('edit, disable and enable the live input');
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.locator('#edit-name').fill('Console E2E renamed');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { name: 'Console E2E renamed' }).waitFor();
  await page.getByRole('button', { name: 'Disable' }).click();
  await page.locator('.head [data-status=disabled]').waitFor({ timeout: 10000 });
  await page.getByRole('button', { name: 'Enable' }).click();
  await page.locator('.head [data-status=idle]').waitFor({ timeout: 10000 });

  if (o.pipelineinput) {
    const t0 = Date.now();
    step('paste a pipeline manifest, see its plan, apply it and see its DAG');
    await page.getByRole('link', { name: 'Pipelines', exact: true }).click();
    await page.getByRole('button', { name: 'New pipeline' }).click();
    await page.locator('#manifest').fill(['api_version: mpegflow.io/v1', 'kind: Pipeline', 'metadata:', '  name: console-e2e', 'spec:', '  nodes:',
      `  - {id: cam, type: source.live, config: {live_input: ${o.pipelineinput}}}`, '  - {id: hls, type: package.llhls, inputs: [cam]}', ''].join('\n'));
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await page.locator('.plan .changes li[data-action=create]').nth(1).waitFor({ timeout: 10000 });
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.waitForURL(/#\/pipelines\/console-e2e$/);
    for (const n of ['cam', 'hls']) await page.locator(`svg.dag g[data-node=${n}][data-state]`).waitFor({ timeout: 10000 });
    if (await page.locator('svg.dag path.edge').count() !== 1) throw new Error('the DAG does not have its one edge');
    await page.locator('.revisions li[data-generation="1"]').waitFor();
    result.figures.pipelineApplyMs = Date.now() - t0;
    if (o.restream) {
      step('publish to the pipeline\'s live input; its nodes run');
      ffmpeg2 = publish(o.restream + '/' + (o.pipelinekey || o.restreamkey), 30);
      for (const n of ['cam', 'hls']) await page.locator(`svg.dag g[data-node=${n}][data-state=running]`).waitFor({ timeout: 20000 });
      await shot(page, 'pipeline');
      ffmpeg2.kill('SIGKILL');
    }
    step('change the manifest (plan: an update), apply it, roll back to generation 1');
    await page.getByRole('button', { name: 'Edit manifest' }).click();
    await page.locator('#manifest').fill(['api_version: mpegflow.io/v1', 'kind: Pipeline', 'metadata: {name: console-e2e}', 'spec:', '  nodes:',
      `  - {id: cam, type: source.live, config: {live_input: ${o.pipelineinput}}}`, '  - {id: hls, type: package.llhls, inputs: [cam], config: {part_duration: 500ms}}', ''].join('\n'));
    await page.getByRole('button', { name: 'Plan', exact: true }).click();
    await page.locator('.plan .changes li[data-action=update]').waitFor({ timeout: 10000 });
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.locator('.head [data-generation="2"]').waitFor({ timeout: 10000 });
    await page.locator('.revisions li[data-generation="1"]').getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('button', { name: 'Roll back now' }).click();
    await page.locator('.head [data-generation="3"]').waitFor({ timeout: 10000 });
    newViews += Date.now() - t0;
  }

  if (o.webhook) {
    step('see a webhook delivery');
    await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
    await page.getByRole('link', { name: o.webhook }).click();
    await page.getByRole('button', { name: 'Send test' }).click();
    await page.locator('[data-test-result=ok]').waitFor({ timeout: 10000 });
    await page.locator('.deliveries li[data-state=succeeded]').first().waitFor({ timeout: 15000 });
    await page.locator('.deliveries li[data-state=succeeded] summary').first().click();
    await page.getByText('HTTP 200').first().waitFor();
    await shot(page, 'webhook');
  }

  step('play the recording and make a clip');
  await page.getByRole('link', { name: 'Videos', exact: true }).click();
  await page.locator('tbody [data-status=ready]').first().waitFor({ timeout: 30000 });
  await page.locator('tbody tr', { has: page.locator('[data-status=ready]') }).first().getByRole('link').click();
  await page.waitForFunction(() => (document.querySelector('.player video')?.currentTime ?? 0) > 0.3, null, { timeout: 20000 });
  await page.locator('#seek').fill('2');
  await page.waitForFunction(() => Math.abs((document.querySelector('.player video')?.currentTime ?? 0) - 2) < 1.5, null, { timeout: 5000 });
  await page.getByLabel('Start (s)').fill('1');
  await page.getByLabel('End (s)').fill('3');
  await page.getByRole('button', { name: 'Create clip' }).click();
  await page.locator('[data-clip]').waitFor({ timeout: 10000 });
  result.figures.clip = await page.locator('[data-clip]').innerText();
  await page.getByRole('button', { name: 'Prepare MP4' }).click();
  await page.getByRole('link', { name: 'Download MP4' }).waitFor({ timeout: 30000 });
  await shot(page, 'video');

  if (o.upload) {
    const t0 = Date.now();
    step('upload a generated clip with tus, paused and resumed; the video appears and turns ready');
    await page.getByRole('link', { name: 'Videos', exact: true }).click();
    await page.locator('#upload-file').setInputFiles(o.upload);
    // the first PATCH of the file is held until the upload is paused (it
    // is aborted then), so that the pause comes mid-upload on any machine;
    // the resume asks the server for its offset (HEAD) and sends again
    let release, holding;
    const held = new Promise((r) => { release = r; });
    const firstPatch = new Promise((r) => { holding = r; });
    let patches = 0, heads = 0;
    await page.route('**/uploads/**', async (route) => {
      const m = route.request().method();
      if (m === 'HEAD') heads++;
      if (m === 'PATCH' && patches++ === 0) {
        holding();
        await held;
      }
      await route.continue().catch(() => {});
    });
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const id = await (await page.locator('[data-uploaded]').elementHandle({ timeout: 30000 })).getAttribute('data-uploaded');
    await within(firstPatch, 30000, 'no PATCH within 30 s of Upload');
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await page.locator('.upload-progress[data-phase=paused]').waitFor({ timeout: 10000 });
    release();
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await page.locator(`tbody tr[data-id=${id}]`).waitFor({ timeout: 10000 });
    await page.locator(`tbody tr[data-id=${id}] [data-status=ready]`).waitFor({ timeout: 60000 });
    await page.locator('.upload-progress[data-phase=ready]').waitFor({ timeout: 10000 });
    await page.unroute('**/uploads/**');
    if (patches < 2 || heads < 1) throw new Error(`the upload was not resumed (${patches} PATCH, ${heads} HEAD)`);
    result.figures.uploadReadyMs = Date.now() - t0;
    await shot(page, 'videos');
    step('make a one-time upload link; the upload page opens with its URL');
    await page.getByText('Let someone else upload').click();
    await page.getByRole('button', { name: 'Make an upload link' }).click();
    const link = await page.locator('input[data-field=upload-link]').inputValue();
    if (!link.startsWith(o.url + '/upload/#')) throw new Error('upload link ' + link);
    const up = await ctx.newPage();
    await up.goto(link);
    const upURL = await up.locator('#url').inputValue();
    await up.close();
    if (!/\/uploads\/vid_/.test(upURL) || upURL !== decodeURIComponent(link.split('#')[1])) throw new Error('the upload page has the URL ' + upURL);
    newViews += Date.now() - t0;
  }
  result.figures.newViewsMs = newViews;

  step('system view');
  await page.getByRole('link', { name: 'System', exact: true }).click();
  await page.locator('[data-field=version]').waitFor();
  step('create an API token and a signing key: their secrets are shown once');
  await page.getByLabel('Name', { exact: true }).fill('console test token');
  await page.getByRole('group', { name: 'Scopes' }).or(page.locator('fieldset', { hasText: 'Scopes' })).first().getByLabel('videos:read').check();
  await page.getByRole('button', { name: 'Create token' }).click();
  const tok = await page.locator('input[data-field=api-token]').inputValue();
  if (!/^mf_/.test(tok)) throw new Error('no token secret shown: ' + tok);
  await page.getByRole('cell', { name: 'console test token' }).first().waitFor();
  await page.getByRole('button', { name: 'Generate key' }).click();
  await page.locator('input[data-field=signing-pem]').waitFor();
  await page.reload();
  await page.locator('[data-field=version]').waitFor();
  if (await page.locator('input[data-field=api-token], input[data-field=signing-pem]').count()) throw new Error('a secret is shown again after a reload');
  await shot(page, 'system');

  if (o.readonly) {
    step('a read-only token sees no write controls');
    const ro = await browser.newContext();
    const rp = await ro.newPage();
    rp.on('pageerror', (e) => result.errors.push('read-only page error: ' + e.message));
    await signIn(rp, o.readonly);
    await rp.getByRole('heading', { name: 'Live inputs' }).waitFor();
    await rp.locator('.cards li a').first().click();
    await rp.locator('#h-input').waitFor();
    await rp.getByRole('heading', { name: 'Current session' }).waitFor();
    const write = /^(New live input|Edit|Disable|Enable|Delete|Rotate key|Kick|New endpoint|Send test|Rotate secret|Create clip|Prepare MP4|Retry|Generate key|Create token|Revoke|Add output|New pipeline|Edit manifest|Apply|Roll back|Upload)$/;
    const found = [];
    const scan = async (where) => {
      for (const b of await rp.getByRole('button').all()) {
        const t = (await b.innerText()).trim();
        if (write.test(t)) found.push(where + ': ' + t);
      }
      if (await rp.locator('input[data-field=stream-key]').count()) found.push(where + ': the stream key');
    };
    await scan('live input');
    await rp.getByRole('link', { name: 'Live inputs', exact: true }).click();
    await rp.locator('#h-inputs').waitFor();
    await scan('live inputs');
    // each detail view is scanned once what carries write controls has loaded
    const sections = [['Videos', '#h-videos', '#h-video'], ['Webhooks', '#h-webhooks', '.deliveries li'], ...(o.pipelineinput ? [['Pipelines', '#h-pipelines', '.revisions li']] : [])];
    for (const [link, sel, loaded] of sections) {
      await rp.getByRole('link', { name: link, exact: true }).click();
      await rp.locator(sel).waitFor();
      await rp.locator('tbody a, .cards a').first().click();
      await rp.locator(loaded).first().waitFor({ timeout: 10000 });
      await scan(link);
    }
    await shot(rp, 'read-only');
    if (found.length) throw new Error('write controls shown to a read-only token: ' + found.join('; '));
    await ro.close();
  }
  result.ok = true;
}

main().then(() => finish(0), (e) => {
  result.errors.push(String(e && e.stack || e));
  finish(2);
});
