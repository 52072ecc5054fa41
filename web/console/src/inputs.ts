// Live inputs: the list with live status from the event stream, the create
// and edit form, the streamer's view (OBS settings, SRT, WHIP, preview) and
// the current session with its bitrate graph.
import { html } from 'htm/preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api, list, MFEvent } from './api';
import { AppCtx, Badge, ConfirmButton, CopyField, ErrorBox, Graph, Player, fmtBps, fmtTime } from './ui';
import { Outputs } from './outputs';
import { WhepPlayer } from './whep';

// merge keeps the secrets of the fetched copy when an event's copy (which
// never carries them) replaces it.
function merge(old: any, next: any): any {
  const out = { ...old, ...next };
  if (!old) return out;
  for (const k of ['rtmp', 'srt', 'whip', 'playback']) {
    // objects absent from the event's copy are kept; within them, a secret
    // the event leaves out is kept too (a rotation sends the new one in the
    // rotate_key response, which replaces both)
    if (next[k] == null) out[k] = old[k];
    else if (old[k]) out[k] = { ...old[k], ...Object.fromEntries(Object.entries(next[k]).filter(([, v]) => v !== '' && v != null)) };
  }
  return out;
}

// markBadge records, for tests and the figures, how long after the
// publisher connected (the event's time) the live badge was on screen.
function markBadge(ev: MFEvent): void {
  if (ev.type !== 'live_input.connected') return;
  requestAnimationFrame(() => {
    const mc = (window as any).mpegflowConsole;
    mc.badgeLatencyMs = Date.now() - Date.parse(ev.time);
    mc.badgeLatencies = [...(mc.badgeLatencies || []), mc.badgeLatencyMs];
  });
}

// useLiveInputEvents calls f for every live_input.* event, and refresh when
// the event stream (re)opens.
function useLiveInputEvents(f: (ev: MFEvent) => void, refresh: () => void, deps: any[]) {
  const { events } = useContext(AppCtx);
  useEffect(() => {
    const off1 = events.on((ev) => {
      if (ev.type.startsWith('live_input.') || ev.type === 'session.kicked') f(ev);
    });
    const off2 = events.onState((s) => s === 'open' && refresh());
    return () => {
      off1();
      off2();
    };
  }, deps);
}

export function InputsList() {
  const { can } = useContext(AppCtx);
  const [items, setItems] = useState<any[] | null>(null);
  const [error, setError] = useState<any>(null);
  const [creating, setCreating] = useState(false);
  const load = () => list('/v1/live_inputs').then(setItems, setError);
  useEffect(() => {
    load();
  }, []);
  useLiveInputEvents((ev) => {
    setItems((cur) => {
      if (!cur) return cur;
      if (ev.type === 'live_input.deleted') return cur.filter((i) => i.id !== ev.live_input_id);
      if (!ev.data || !ev.data.id) return cur;
      const i = cur.findIndex((x) => x.id === ev.data.id);
      if (i < 0) return ev.type === 'live_input.created' ? [...cur, ev.data] : cur;
      const next = cur.slice();
      next[i] = merge(cur[i], ev.data);
      return next;
    });
    markBadge(ev);
  }, load, []);
  return html`<section aria-labelledby="h-inputs">
    <div class="head">
      <h1 id="h-inputs">Live inputs</h1>
      ${can('live_inputs:write') && !creating && html`<button type="button" onClick=${() => setCreating(true)}>New live input</button>`}
    </div>
    <${ErrorBox} error=${error} />
    ${creating && html`<${InputForm} onDone=${(li: any) => {
      setCreating(false);
      if (li) location.hash = '#/inputs/' + li.id;
    }} />`}
    ${items === null ? html`<p>Loading…</p>` : items.length === 0 ? html`<p>No live inputs yet.</p>` : html`
    <ul class="cards" aria-label="Live inputs">
      ${items.map((li) => html`<li key=${li.id} data-id=${li.id}>
        <a href=${'#/inputs/' + li.id}><strong>${li.name || li.id}</strong></a>
        <${Badge} status=${li.status} />
        <span class="muted small">${li.id}</span>
        ${li.recording?.mode === 'automatic' && html`<span class="tag">recording</span>`}
        ${li.transcode?.mode === 'on' && html`<span class="tag">transcoding</span>`}
        ${li.require_signed_urls && html`<span class="tag">signed</span>`}
      </li>`)}
    </ul>`}
  </section>`;
}

// InputForm creates (no input) or edits a live input.
export function InputForm({ input, onDone }: { input?: any; onDone: (li: any) => void }) {
  const [profiles, setProfiles] = useState<any[]>([]);
  const [error, setError] = useState<any>(null);
  const [f, setF] = useState(() => ({
    name: input?.name || '',
    enabled: input ? input.enabled : true,
    recording: input?.recording?.mode || 'off',
    delete_after_days: input?.recording?.delete_after_days || 0,
    transcode: input?.transcode?.mode || 'off',
    ladder: (input?.transcode?.ladder || []) as string[],
    require_signed_urls: !!input?.require_signed_urls,
    allowed_origins: (input?.allowed_origins || []).join('\n'),
    reconnect_window_seconds: input?.reconnect_window_seconds || 0,
  }));
  useEffect(() => {
    api('GET', '/v1/system').then((s) => setProfiles(s.transcode.profiles || []), () => {});
  }, []);
  const set = (k: string) => (e: any) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body = {
      name: f.name,
      enabled: f.enabled,
      recording: { mode: f.recording, delete_after_days: Number(f.delete_after_days) || 0 },
      transcode: { mode: f.transcode, ladder: f.ladder },
      require_signed_urls: f.require_signed_urls,
      allowed_origins: f.allowed_origins.split(/[\s,]+/).filter(Boolean),
      reconnect_window_seconds: Number(f.reconnect_window_seconds) || 0,
    };
    try {
      const li = input ? await api('PATCH', '/v1/live_inputs/' + input.id, body) : await api('POST', '/v1/live_inputs', body);
      onDone(li);
    } catch (err) {
      setError(err);
    }
  };
  const p = input ? 'edit' : 'new';
  return html`<form class="panel" onSubmit=${submit} aria-label=${input ? 'Edit live input' : 'New live input'}>
    <h2>${input ? 'Edit live input' : 'New live input'}</h2>
    <label for=${p + '-name'}>Name</label>
    <input id=${p + '-name'} name="name" value=${f.name} onInput=${set('name')} maxlength="256" autocomplete="off" />
    <label class="check"><input type="checkbox" checked=${f.enabled} onChange=${set('enabled')} /> Enabled (accepts a publisher)</label>
    <fieldset>
      <legend>Recording</legend>
      <label for=${p + '-rec'}>Mode</label>
      <select id=${p + '-rec'} value=${f.recording} onChange=${set('recording')}>
        <option value="off">Off</option><option value="automatic">Record every broadcast</option>
      </select>
      <label for=${p + '-del'}>Delete recordings after (days, 0 = keep)</label>
      <input id=${p + '-del'} type="number" min="0" value=${f.delete_after_days} onInput=${set('delete_after_days')} />
    </fieldset>
    <fieldset>
      <legend>Transcoding</legend>
      <label for=${p + '-tc'}>Mode</label>
      <select id=${p + '-tc'} value=${f.transcode} onChange=${set('transcode')}>
        <option value="off">Off (passthrough)</option><option value="on">Adaptive ladder</option>
      </select>
      ${f.transcode === 'on' && profiles.length > 0 && html`<div class="checks" role="group" aria-label="Ladder rungs (none checked = all)">
        ${profiles.map((pr) => html`<label class="check"><input type="checkbox" checked=${f.ladder.includes(pr.name)} onChange=${(e: any) =>
          setF({ ...f, ladder: e.target.checked ? [...f.ladder, pr.name] : f.ladder.filter((x) => x !== pr.name) })} /> ${pr.name} (${pr.height}p, ${fmtBps(pr.video_bitrate_bps)})</label>`)}
      </div>`}
    </fieldset>
    <fieldset>
      <legend>Playback</legend>
      <label class="check"><input type="checkbox" checked=${f.require_signed_urls} onChange=${set('require_signed_urls')} /> Require signed URLs</label>
      <label for=${p + '-origins'}>Allowed origins (one per line; empty = any)</label>
      <textarea id=${p + '-origins'} rows="2" value=${f.allowed_origins} onInput=${set('allowed_origins')} placeholder="https://example.com"></textarea>
      <label for=${p + '-rw'}>Reconnect window (seconds, 0 = default)</label>
      <input id=${p + '-rw'} type="number" min="0" value=${f.reconnect_window_seconds} onInput=${set('reconnect_window_seconds')} />
    </fieldset>
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="submit">${input ? 'Save' : 'Create'}</button>
      <button type="button" class="ghost" onClick=${() => onDone(null)}>Cancel</button>
    </div>
  </form>`;
}

const WINDOW = 5 * 60 * 1000;

export function InputDetail({ id }: { id: string }) {
  const { can } = useContext(AppCtx);
  const [li, setLi] = useState<any>(null);
  const [error, setError] = useState<any>(null);
  const [editing, setEditing] = useState(false);
  const [sessions, setSessions] = useState<any[]>([]);
  const [samples, setSamples] = useState<[number, number][]>([]);
  const [playURL, setPlayURL] = useState('');
  const [playTok, setPlayTok] = useState('');
  const [engine, setEngine] = useState('hls');
  const [videos, setVideos] = useState<any[] | null>(null);
  const load = () => api('GET', '/v1/live_inputs/' + id).then((x) => setLi((old: any) => (old ? merge(old, x) : x)), setError);
  useEffect(() => {
    setLi(null);
    load();
    if (can('videos:read')) list('/v1/live_inputs/' + id + '/videos', 1).then(setVideos, () => {});
  }, [id]);
  useLiveInputEvents((ev) => {
    if (ev.live_input_id !== id) return;
    if (ev.type === 'live_input.deleted') {
      location.hash = '#/inputs';
      return;
    }
    if (ev.data && ev.data.id === id) setLi((old: any) => merge(old, ev.data));
    markBadge(ev);
  }, load, [id]);
  // the recordings list follows recording.started and video.* events
  const { events } = useContext(AppCtx);
  useEffect(() => events.on((ev) => {
    if (ev.live_input_id === id && (ev.type === 'recording.started' || ev.type.startsWith('video.')) && can('videos:read')) {
      list('/v1/live_inputs/' + id + '/videos', 1).then(setVideos, () => {});
    }
  }), [id]);
  const live = li && (li.status === 'connected' || li.status === 'reconnecting');
  // The session's bitrate and viewers are sampled every 2 s while a
  // publisher is on (the status itself comes from the event stream).
  useEffect(() => {
    if (!live) {
      setSessions([]);
      return;
    }
    let stop = false;
    const tick = async () => {
      try {
        const s = await list('/v1/live_inputs/' + id + '/sessions', 1);
        if (stop) return;
        setSessions(s);
        const now = Date.now();
        const bps = s.reduce((a: number, x: any) => a + (x.bitrate_bps || 0), 0);
        setSamples((cur) => [...cur.filter(([t]) => t > now - WINDOW), [now, bps]]);
      } catch {
        /* the next tick retries */
      }
    };
    tick();
    const t = setInterval(tick, 2000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [id, live]);
  // Signed inputs are previewed with a playback token minted for a minute.
  useEffect(() => {
    if (!li || !live) {
      setPlayURL('');
      return;
    }
    if (!li.require_signed_urls) {
      setPlayURL(li.playback.hls);
      return;
    }
    if (!can('live_inputs:write')) return;
    api('POST', '/v1/live_inputs/' + id + '/token', { ttl_seconds: 3600 }).then(
      (t) => setPlayURL(li.playback.hls + '?token=' + encodeURIComponent(t.token)), () => {});
  }, [li?.playback?.hls, live, li?.require_signed_urls]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!li) return html`<p>Loading…</p>`;
  const write = can('live_inputs:write') && !li.static;
  const patch = async (body: any) => {
    try {
      setLi(merge(li, await api('PATCH', '/v1/live_inputs/' + id, body)));
    } catch (e) {
      setError(e);
    }
  };
  return html`<section aria-labelledby="h-input">
    <p><a href="#/inputs">← Live inputs</a></p>
    <div class="head">
      <h1 id="h-input">${li.name || li.id}</h1>
      <${Badge} status=${li.status} />
    </div>
    <p class="muted small">${li.id}${li.static ? ' · declared in the configuration file (read-only)' : ''}</p>
    ${write && html`<div class="actions">
      <button type="button" class="ghost" onClick=${() => setEditing(!editing)} aria-expanded=${editing}>Edit</button>
      <button type="button" class="ghost" onClick=${() => patch({ enabled: !li.enabled })}>${li.enabled ? 'Disable' : 'Enable'}</button>
      <${ConfirmButton} label="Delete" warning="Delete this live input? A running broadcast ends." confirmLabel="Delete live input"
        onConfirm=${async () => {
          await api('DELETE', '/v1/live_inputs/' + id);
          location.hash = '#/inputs';
        }} />
    </div>`}
    ${editing && html`<${InputForm} input=${li} onDone=${(x: any) => {
      setEditing(false);
      if (x) setLi(merge(li, x));
    }} />`}
    <div class="grid">
      <div class="panel">
        <h2>Connect your encoder</h2>
        ${li.rtmp && html`<${CopyField} label="OBS Server" name="rtmp-url" value=${li.rtmp.url} />`}
        ${li.rtmp?.stream_key && html`<${CopyField} label="Stream Key" name="stream-key" value=${li.rtmp.stream_key} secret />`}
        ${li.srt && html`<${CopyField} label="SRT URL" name="srt-url" value=${li.srt.url} secret=${!!li.srt.passphrase} />`}
        ${li.whip && html`<${CopyField} label="WHIP URL (bearer token: the stream key)" name="whip-url" value=${li.whip.url} />`}
        ${!li.rtmp?.stream_key && html`<p class="muted">The stream key is shown to tokens with live_inputs:write.</p>`}
        ${write && html`<div class="actions">
          <${ConfirmButton} label="Rotate key" warning="The publisher is disconnected and must use the new key." confirmLabel="Rotate now"
            onConfirm=${async () => {
              try {
                setLi(merge(li, await api('POST', '/v1/live_inputs/' + id + '/rotate_key')));
              } catch (e) {
                setError(e);
              }
            }} />
        </div>`}
        <p class="muted small">Last connected ${fmtTime(li.last_connected_at)} · key rotated ${fmtTime(li.keys_rotated_at)}</p>
      </div>
      <div class="panel">
        <h2>Preview</h2>
        ${li.webrtc_playback && html`<div class="row toggle" role="group" aria-label="Preview protocol">
          <button type="button" class="ghost" aria-pressed=${engine === 'hls'} onClick=${() => setEngine('hls')}>LL-HLS</button>
          <button type="button" class="ghost" aria-pressed=${engine === 'webrtc'} onClick=${() => setEngine('webrtc')}>WebRTC</button>
        </div>`}
        ${!(live && playURL) ? html`<p class="muted">${live ? 'Preparing playback…' : 'Nothing is being broadcast.'}</p>` :
          engine === 'webrtc' && li.webrtc_playback ? html`<${WhepPlayer} key="whep" url=${li.webrtc_playback.url + (playTok ? '?token=' + encodeURIComponent(playTok) : '')} label="Live preview (WebRTC)" />` :
          html`<${Player} key="hls" src=${playURL} live label="Live preview" />`}
        <${CopyField} label="HLS playback URL" name="hls-url" value=${li.playback.hls} />
        <p><a href=${li.playback.player} target="_blank" rel="noopener">Open the player page</a>${!li.require_signed_urls ? '' : ' (needs a signed token)'}</p>
      </div>
    </div>
    <div class="panel" aria-labelledby="h-session">
      <h2 id="h-session">Current session</h2>
      ${sessions.length === 0 ? html`<p class="muted">No publisher.</p>` : sessions.map((s) => html`<div class="session" key=${s.id}>
        <dl>
          <dt>Protocol</dt><dd data-field="protocol">${s.protocol}</dd>
          <dt>Codecs</dt><dd>${(s.codecs || []).join(', ') || '–'}</dd>
          <dt>Bitrate</dt><dd>${fmtBps(s.bitrate_bps)}</dd>
          <dt>Viewers</dt><dd data-field="viewers">${s.viewers}</dd>
          <dt>From</dt><dd>${s.remote}</dd>
          <dt>Since</dt><dd>${fmtTime(s.started_at)}</dd>
        </dl>
        ${write && html`<${ConfirmButton} label="Kick" warning="Disconnect this publisher? It may reconnect." confirmLabel="Kick publisher"
          onConfirm=${async () => {
            try {
              await api('DELETE', '/v1/sessions/' + s.id);
            } catch (e) {
              setError(e);
            }
          }} />`}
      </div>`)}
      ${samples.length > 0 && html`<${Graph} samples=${samples} windowMs=${WINDOW} label="Ingest bitrate" />`}
    </div>
    <${Outputs} liveInputId=${id} write=${can('live_inputs:write')} live=${!!live} />
    ${videos && html`<div class="panel">
      <h2>Recordings</h2>
      ${videos.length === 0 ? html`<p class="muted">None yet.</p>` : html`<ul>${videos.map((v) => html`<li key=${v.id}><a href=${'#/videos/' + v.id}>${fmtTime(v.started_at)}</a> · ${v.status}</li>`)}</ul>`}
    </div>`}
  </section>`;
}
