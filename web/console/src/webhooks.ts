// Webhooks: endpoints, their delivery log (request, response, status),
// retry, secret rotation and test sends.
import { html } from 'htm/preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { api, list } from './api';
import { AppCtx, ConfirmButton, CopyField, ErrorBox, fmtTime } from './ui';

const TYPES = ['live_input.created', 'live_input.updated', 'live_input.deleted', 'live_input.connected', 'live_input.disconnected',
  'live_input.idle', 'live_input.errored', 'session.kicked', 'recording.started', 'video.ready', 'video.errored', 'video.deleted',
  'video.download.ready'];

function Secret({ secret }: { secret: string }) {
  return html`<div class="panel notice" role="status">
    <p><strong>Signing secret — shown only now.</strong> Store it in the receiver to verify webhook-signature.</p>
    <${CopyField} label="Webhook secret" name="webhook-secret" value=${secret} />
  </div>`;
}

export function WebhooksList() {
  const { can } = useContext(AppCtx);
  const [items, setItems] = useState<any[] | null>(null);
  const [error, setError] = useState<any>(null);
  const [creating, setCreating] = useState(false);
  const [f, setF] = useState({ url: '', description: '', types: [] as string[] });
  const [secret, setSecret] = useState('');
  const load = () => list('/v1/webhooks').then(setItems, setError);
  useEffect(() => {
    load();
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const w = await api('POST', '/v1/webhooks', { url: f.url, description: f.description, event_types: f.types });
      setSecret(w.secret);
      setCreating(false);
      setF({ url: '', description: '', types: [] });
      load();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section aria-labelledby="h-webhooks">
    <div class="head">
      <h1 id="h-webhooks">Webhooks</h1>
      ${can('webhooks:write') && !creating && html`<button type="button" onClick=${() => setCreating(true)}>New endpoint</button>`}
    </div>
    <${ErrorBox} error=${error} />
    ${secret && html`<${Secret} secret=${secret} />`}
    ${creating && html`<form class="panel" onSubmit=${submit} aria-label="New webhook endpoint">
      <label for="wh-url">URL</label>
      <input id="wh-url" type="url" required value=${f.url} onInput=${(e: any) => setF({ ...f, url: e.target.value })} placeholder="https://example.com/hooks/mpegflow" />
      <label for="wh-desc">Description</label>
      <input id="wh-desc" value=${f.description} onInput=${(e: any) => setF({ ...f, description: e.target.value })} />
      <fieldset><legend>Event types (none checked = every type)</legend><div class="checks">
        ${TYPES.map((t) => html`<label class="check"><input type="checkbox" checked=${f.types.includes(t)} onChange=${(e: any) =>
          setF({ ...f, types: e.target.checked ? [...f.types, t] : f.types.filter((x) => x !== t) })} /> ${t}</label>`)}
      </div></fieldset>
      <div class="actions"><button type="submit">Create</button><button type="button" class="ghost" onClick=${() => setCreating(false)}>Cancel</button></div>
    </form>`}
    ${items === null ? html`<p>Loading…</p>` : items.length === 0 ? html`<p>No endpoints.</p>` : html`<ul class="cards" aria-label="Webhook endpoints">
      ${items.map((w) => html`<li key=${w.id} data-id=${w.id}>
        <a href=${'#/webhooks/' + w.id}><strong>${w.url}</strong></a>
        <span class=${'badge ' + (w.enabled ? 'badge-connected' : 'badge-disabled')}>${w.enabled ? 'enabled' : 'disabled'}</span>
        ${w.failing_since && html`<span class="tag warn">failing since ${fmtTime(w.failing_since)}</span>`}
        <span class="muted small">${w.description}</span>
      </li>`)}
    </ul>`}
  </section>`;
}

export function WebhookDetail({ id }: { id: string }) {
  const { can, events } = useContext(AppCtx);
  const [w, setW] = useState<any>(null);
  const [dels, setDels] = useState<any[]>([]);
  const [error, setError] = useState<any>(null);
  const [secret, setSecret] = useState('');
  const [test, setTest] = useState<any>(null);
  const timers = useRef<number[]>([]);
  const loadDels = () => list('/v1/webhooks/' + id + '/deliveries', 1).then(setDels, setError);
  const load = () => {
    api('GET', '/v1/webhooks/' + id).then(setW, setError);
    loadDels();
  };
  useEffect(() => {
    load();
  }, [id]);
  // Every event may become a delivery: refresh the log shortly after one,
  // rather than polling it.
  useEffect(() => {
    const off = events.on(() => {
      timers.current.forEach(clearTimeout);
      timers.current = [window.setTimeout(loadDels, 700), window.setTimeout(loadDels, 3000)];
    });
    return () => {
      off();
      timers.current.forEach(clearTimeout);
    };
  }, [id]);
  if (error && !w) return html`<${ErrorBox} error=${error} />`;
  if (!w) return html`<p>Loading…</p>`;
  const write = can('webhooks:write');
  const act = (f: () => Promise<void>) => async () => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    }
  };
  return html`<section aria-labelledby="h-webhook">
    <p><a href="#/webhooks">← Webhooks</a></p>
    <div class="head"><h1 id="h-webhook">${w.url}</h1>
      <span class=${'badge ' + (w.enabled ? 'badge-connected' : 'badge-disabled')}>${w.enabled ? 'enabled' : 'disabled'}</span></div>
    <p class="muted small">${w.id} · ${w.description || 'no description'} · types: ${(w.event_types || []).join(', ') || 'all'}</p>
    ${w.disabled_reason && html`<p class="error">Disabled by the daemon: ${w.disabled_reason}</p>`}
    <${ErrorBox} error=${error} />
    ${secret && html`<${Secret} secret=${secret} />`}
    ${write && html`<div class="actions">
      <button type="button" onClick=${act(async () => setTest(await api('POST', '/v1/webhooks/' + id + '/test')))}>Send test</button>
      <button type="button" class="ghost" onClick=${act(async () => setW(await api('PATCH', '/v1/webhooks/' + id, { enabled: !w.enabled })))}>${w.enabled ? 'Disable' : 'Enable'}</button>
      <${ConfirmButton} label="Rotate secret" warning="The previous secret keeps signing alongside the new one for 24 h." confirmLabel="Rotate secret"
        onConfirm=${act(async () => {
          const r = await api('POST', '/v1/webhooks/' + id + '/rotate_secret');
          setSecret(r.secret);
          setW(r);
        })} />
      <${ConfirmButton} label="Delete" warning="Delete this endpoint and its delivery log?" confirmLabel="Delete endpoint"
        onConfirm=${act(async () => {
          await api('DELETE', '/v1/webhooks/' + id);
          location.hash = '#/webhooks';
        })} />
    </div>`}
    ${test && html`<p role="status" class=${test.success ? 'ok' : 'error'} data-test-result=${test.success ? 'ok' : 'failed'}>
      Test: ${test.status_code ? 'HTTP ' + test.status_code : 'no response'} in ${Math.round(test.latency_ms)} ms ${test.error ? test.error.code + ': ' + test.error.message : ''}</p>`}
    <div class="head"><h2>Delivery log</h2><button type="button" class="ghost" onClick=${loadDels}>Refresh</button></div>
    ${dels.length === 0 ? html`<p class="muted">No deliveries yet.</p>` : html`<ul class="deliveries" aria-label="Deliveries">
      ${dels.map((d) => html`<li key=${d.id} data-id=${d.id} data-state=${d.status}>
        <details>
          <summary>
            <span class=${'badge badge-' + d.status}>${d.status}</span>
            <span>${d.type}</span>
            <span class="muted">${d.last_status_code ? 'HTTP ' + d.last_status_code : d.attempts ? 'no response' : 'not sent yet'}</span>
            <span class="muted small">${fmtTime(d.created_at)}</span>
          </summary>
          <dl>
            <dt>Request</dt><dd>POST ${w.url}<br />webhook-id: ${d.event_id}<br />event: ${d.type}${d.live_input_id ? ' · live input ' + d.live_input_id : ''}</dd>
            <dt>Response</dt><dd>${d.last_status_code ? 'HTTP ' + d.last_status_code : '–'} ${d.last_latency_ms ? '(' + Math.round(d.last_latency_ms) + ' ms)' : ''}
              ${d.response_body_prefix && html`<pre>${d.response_body_prefix}</pre>`}</dd>
            <dt>Attempts</dt><dd>${d.attempts}${d.next_attempt_at ? ' · next ' + fmtTime(d.next_attempt_at) : ''}</dd>
            ${d.last_error && html`<dt>Error</dt><dd>${d.last_error}</dd>`}
          </dl>
          ${write && html`<button type="button" class="ghost" onClick=${act(async () => {
            await api('POST', '/v1/webhooks/' + id + '/deliveries/' + d.id + '/retry');
            loadDels();
          })}>Retry</button>`}
        </details>
      </li>`)}
    </ul>`}
  </section>`;
}
