// Restream outputs of a live input: the list with each output's state,
// last error, next retry and bitrate, kept current by the
// live_input.output.* events (the list is refetched when the event stream
// (re)opens and when the input's status changes); add (the stream key is
// write-only: typed into a password field, only its masked form is shown
// back), edit (url, stream key, name and rendition with PATCH; while live
// only that output reconnects, and only when its target changed),
// enable/disable, delete. Bitrates have no events: while an output
// broadcasts, the list is fetched again every 5 s for them, and every 2 s
// while one is connecting or retrying (a fetch answered before an event
// and applied after it would otherwise show a stale state until the next
// event, which may never come).
import { html } from 'htm/preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api, list } from './api';
import { AppCtx, ConfirmButton, ErrorBox, fmtBps, fmtTime } from './ui';

export function Outputs({ liveInputId, write, live }: { liveInputId: string; write: boolean; live: boolean }) {
  const { events } = useContext(AppCtx);
  const base = '/v1/live_inputs/' + liveInputId + '/outputs';
  const [items, setItems] = useState<any[] | null>(null);
  const [error, setError] = useState<any>(null);
  const [adding, setAdding] = useState(false);
  const [editing, setEditing] = useState('');
  const load = () => list(base).then(setItems, setError);
  // upsert puts o in the list; onlyNew leaves a copy already there alone
  // (a create's answer can arrive after the event of its first connection)
  const upsert = (o: any, onlyNew = false) => setItems((cur) => {
    if (!cur) return cur;
    const i = cur.findIndex((x) => x.id === o.id);
    if (i < 0) return [...cur, o];
    if (onlyNew) return cur;
    const next = cur.slice();
    next[i] = o;
    return next;
  });
  useEffect(() => {
    load();
    const off1 = events.on((ev) => {
      if (ev.live_input_id !== liveInputId) return;
      if (ev.type.startsWith('live_input.output.') && ev.data?.id) upsert(ev.data);
      // a broadcast starting or ending moves every output (idle <-> connecting)
      else if (ev.type === 'live_input.connected' || ev.type === 'live_input.disconnected' || ev.type === 'live_input.idle') load();
    });
    const off2 = events.onState((s) => s === 'open' && load());
    return () => {
      off1();
      off2();
    };
  }, [liveInputId]);
  const inState = (...states: string[]) => !!items?.some((o) => o.enabled && states.includes(o.status.state));
  const every = !live ? 0 : inState('connecting', 'retrying') ? 2000 : inState('broadcasting') ? 5000 : 0;
  useEffect(() => {
    if (!every) return;
    const t = setInterval(load, every);
    return () => clearInterval(t);
  }, [every, liveInputId]);
  const act = async (f: () => Promise<any>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    }
  };
  return html`<div class="panel" aria-labelledby="h-outputs">
    <div class="head">
      <h2 id="h-outputs">Restream outputs</h2>
      ${write && !adding && html`<button type="button" class="ghost" onClick=${() => setAdding(true)}>Add output</button>`}
    </div>
    <${ErrorBox} error=${error} />
    ${adding && html`<${OutputForm} base=${base} onDone=${(o: any) => {
      setAdding(false);
      if (o) upsert(o, true);
    }} />`}
    ${items === null ? html`<p>Loading…</p>` : items.length === 0 ? html`<p class="muted">No outputs: the stream goes nowhere else.</p>` : html`
    <div class="table-wrap"><table class="outputs">
      <thead><tr><th scope="col">Output</th><th scope="col">State</th><th scope="col">Bitrate</th><th scope="col">Last error</th>${write && html`<th scope="col"><span class="sr-only">Actions</span></th>`}</tr></thead>
      <tbody>${items.map((o) => stateRow(o, o.enabled ? o.status.state : 'disabled'))}</tbody>
    </table></div>`}
    ${editing && items?.some((o) => o.id === editing) && html`<${OutputForm} key=${editing} base=${base} output=${items.find((o) => o.id === editing)} onDone=${(o: any) => {
      setEditing('');
      if (!o) return;
      // the answer may be older than the events it caused: the list is fetched again after it
      upsert(o);
      load();
    }} />`}
  </div>`;

  function stateRow(o: any, state: string) {
    return html`<tr key=${o.id} data-id=${o.id} data-state=${state} data-connected-at=${o.status.connected_at || undefined}>
        <td><strong>${o.name || o.id}</strong><br /><span class="muted small mono">${o.url}${o.stream_key ? ' · key ' + o.stream_key : ''}</span>
          ${o.rendition && o.rendition !== 'source' && html` <span class="tag">${o.rendition}</span>`}</td>
        <td><span class=${'badge badge-' + state} data-status=${state}>${state}</span>
          ${o.status.next_retry_at && html`<br /><span class="muted small">retry ${fmtTime(o.status.next_retry_at)}</span>`}</td>
        <td>${state === 'broadcasting' ? fmtBps(o.status.bitrate) : '–'}</td>
        <td class="small">${o.status.last_error ? html`<span class="error">${o.status.last_error.code}: ${o.status.last_error.message}</span><br /><span class="muted">${fmtTime(o.status.last_error.at)}</span>` : '–'}</td>
        ${write && html`<td><div class="row">
          <button type="button" class="ghost" aria-label=${'Edit output ' + (o.name || o.id)} aria-expanded=${editing === o.id} onClick=${() => setEditing(editing === o.id ? '' : o.id)}>Edit</button>
          <button type="button" class="ghost" onClick=${() => act(async () => {
            // the answer may be older than the events it caused: the list is fetched again after it
            upsert(await api('PATCH', base + '/' + o.id, { enabled: !o.enabled }));
            load();
          })}>${o.enabled ? 'Disable' : 'Enable'}</button>
          <${ConfirmButton} label="Delete" warning="Stop and delete this output?" confirmLabel="Delete output"
            onConfirm=${() => act(async () => {
              await api('DELETE', base + '/' + o.id);
              setItems((cur) => cur && cur.filter((x) => x.id !== o.id));
            })} />
        </div></td>`}
      </tr>`;
  }
}

// OutputForm adds an output (no output) or edits one. What the API shows
// of an output is masked: the stream key is never shown (a new one is typed,
// or it stays as it is), and a URL with masked secrets (****) must be typed
// whole to be changed; a field left as it was is not sent.
function OutputForm({ base, output, onDone }: { base: string; output?: any; onDone: (o: any) => void }) {
  const [f, setF] = useState({ name: output?.name || '', url: output?.url || '', stream_key: '', clear_key: false, rendition: output?.rendition || 'source' });
  const [profiles, setProfiles] = useState<string[]>([]);
  const [error, setError] = useState<any>(null);
  useEffect(() => {
    api('GET', '/v1/system').then((s) => setProfiles((s.transcode?.profiles || []).map((p: any) => p.name)), () => {});
  }, []);
  const set = (k: string) => (e: any) => setF({ ...f, [k]: e.target.type === 'checkbox' ? e.target.checked : e.target.value });
  const p = output ? 'edit-out-' : 'out-';
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body: any = {};
    const url = f.url.trim();
    if (!output || url !== output.url) {
      if (url.includes('****')) {
        setError(new Error('Type the whole URL: its secrets (****) are not shown, so they cannot be kept in a changed URL.'));
        return;
      }
      body.url = url;
    }
    if (!output ? f.name.trim() : f.name.trim() !== (output.name || '')) body.name = f.name.trim();
    if (f.stream_key) body.stream_key = f.stream_key;
    else if (output && f.clear_key) body.stream_key = '';
    if (!output ? f.rendition !== 'source' : f.rendition !== (output.rendition || 'source')) body.rendition = f.rendition;
    try {
      if (!output) onDone(await api('POST', base, body));
      else onDone(Object.keys(body).length ? await api('PATCH', base + '/' + output.id, body) : null);
    } catch (err) {
      setError(err);
    }
  };
  const renditions = ['source', ...profiles.filter((n) => n !== 'source')];
  if (!renditions.includes(f.rendition)) renditions.push(f.rendition);
  return html`<form class="panel" onSubmit=${submit} aria-label=${output ? 'Edit output ' + (output.name || output.id) : 'Add output'} data-editing=${output?.id}>
    <label for=${p + 'url'}>Target URL (rtmp://, rtmps://, srt://)</label>
    <input id=${p + 'url'} required value=${f.url} onInput=${set('url')} placeholder="rtmp://a.rtmp.youtube.com/live2" autocomplete="off" />
    ${output && output.url.includes('****') && html`<p class="small muted">Its secrets are masked: to change the URL, type it whole.</p>`}
    <label for=${p + 'key'}>${output ? 'New stream key (write-only; empty keeps the current one)' : 'Stream key (write-only: never shown again)'}</label>
    <input id=${p + 'key'} type="password" value=${f.stream_key} onInput=${set('stream_key')} autocomplete="new-password"
      placeholder=${output?.stream_key ? 'set (' + output.stream_key + ')' : ''} />
    ${output?.stream_key && html`<label class="check"><input type="checkbox" checked=${f.clear_key} disabled=${!!f.stream_key} onChange=${set('clear_key')} /> Remove the stream key (the URL names the stream)</label>`}
    <label for=${p + 'name'}>Name</label>
    <input id=${p + 'name'} value=${f.name} onInput=${set('name')} autocomplete="off" />
    <label for=${p + 'rendition'}>Rendition</label>
    <select id=${p + 'rendition'} value=${f.rendition} onChange=${set('rendition')}>
      ${renditions.map((n) => html`<option value=${n}>${n === 'source' ? 'source (as published)' : n}</option>`)}
    </select>
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button type="submit">${output ? 'Save output' : 'Add'}</button>
      <button type="button" class="ghost" onClick=${() => onDone(null)}>Cancel</button>
    </div>
  </form>`;
}
