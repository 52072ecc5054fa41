// System: version, node, encoders and capacity; playback signing keys and
// API tokens (their secrets are shown once, at creation).
import { html } from 'htm/preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api, list, SCOPES } from './api';
import { AppCtx, ConfirmButton, CopyField, ErrorBox, fmtBps, fmtTime } from './ui';

export function SystemView() {
  const { can } = useContext(AppCtx);
  const [sys, setSys] = useState<any>(null);
  const [error, setError] = useState<any>(null);
  useEffect(() => {
    if (can('live_inputs:read')) api('GET', '/v1/system').then(setSys, setError);
  }, []);
  const t = sys?.transcode;
  return html`<section aria-labelledby="h-system">
    <h1 id="h-system">System</h1>
    <${ErrorBox} error=${error} />
    ${sys && html`<div class="grid">
      <div class="panel">
        <h2>Daemon</h2>
        <dl><dt>Version</dt><dd data-field="version">${sys.version}</dd><dt>Node</dt><dd data-field="node">${sys.node_id}</dd></dl>
      </div>
      <div class="panel">
        <h2>Transcoding</h2>
        ${t.available ? html`<dl>
          <dt>Encoder</dt><dd>${t.encoder} (${t.family}${t.requested && t.requested !== 'auto' ? ', requested ' + t.requested : ''})</dd>
          <dt>Capacity</dt><dd><meter min="0" max=${t.capacity || 1} value=${t.capacity_used || 0} aria-label="Transcode capacity used"></meter>
            ${(t.capacity_used || 0).toFixed(1)} / ${(t.capacity || 0).toFixed(1)} units</dd>
          <dt>Ladders</dt><dd>${t.active || 0} running</dd>
        </dl>` : html`<p class="muted">Off: ${t.reason}</p>`}
      </div>
    </div>
    <div class="panel"><h2>Encoders considered</h2><div class="table-wrap"><table>
      <thead><tr><th scope="col">Family</th><th scope="col">Encoder</th><th scope="col">Usable</th><th scope="col">Why not</th></tr></thead>
      <tbody>${t.candidates.map((c: any) => html`<tr><td>${c.family}</td><td>${c.encoder}</td><td>${c.ok ? 'yes' : 'no'}</td><td>${c.reason || ''}</td></tr>`)}</tbody>
    </table></div>
    <h2>Ladder profiles</h2><div class="table-wrap"><table>
      <thead><tr><th scope="col">Name</th><th scope="col">Height</th><th scope="col">Bitrate</th><th scope="col">Max fps</th><th scope="col">Codec</th></tr></thead>
      <tbody>${t.profiles.map((p: any) => html`<tr><td>${p.name}</td><td>${p.height}</td><td>${fmtBps(p.video_bitrate_bps)}</td><td>${p.max_fps}</td><td>${p.codec}</td></tr>`)}</tbody>
    </table></div></div>`}
    ${can('admin') && html`<${SigningKeys} />`}
    ${can('tokens:read') && html`<${Tokens} />`}
  </section>`;
}

function SigningKeys() {
  const [keys, setKeys] = useState<any[]>([]);
  const [created, setCreated] = useState<any>(null);
  const [error, setError] = useState<any>(null);
  const load = () => list('/v1/signing_keys').then(setKeys, setError);
  useEffect(() => {
    load();
  }, []);
  return html`<div class="panel" aria-labelledby="h-keys">
    <div class="head"><h2 id="h-keys">Playback signing keys</h2>
      <button type="button" onClick=${async () => {
        try {
          setCreated(await api('POST', '/v1/signing_keys', {}));
          load();
        } catch (e) {
          setError(e);
        }
      }}>Generate key</button></div>
    <${ErrorBox} error=${error} />
    ${created && html`<div class="notice" role="status"><p><strong>Private key — shown only now.</strong> Sign playback tokens with it (kid ${created.id}).</p>
      <${CopyField} label="Private key (base64 PEM)" name="signing-pem" value=${created.pem} secret />
      <${CopyField} label="Private JWK (base64)" name="signing-jwk" value=${created.jwk} secret /></div>`}
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Key id</th><th scope="col">Algorithm</th><th scope="col">Created</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${keys.map((k) => html`<tr key=${k.id}><td>${k.id}${k.managed ? ' (server)' : ''}</td><td>${k.algorithm}</td><td>${fmtTime(k.created_at)}</td>
        <td>${k.revoked_at ? 'revoked ' + fmtTime(k.revoked_at) : 'active'}</td>
        <td>${!k.revoked_at && !k.managed && html`<${ConfirmButton} label="Revoke" warning="Every token it signed is refused." confirmLabel="Revoke key"
          onConfirm=${async () => {
            await api('DELETE', '/v1/signing_keys/' + k.id).catch(setError);
            load();
          }} />`}</td></tr>`)}</tbody>
    </table></div>
  </div>`;
}

function Tokens() {
  const { can } = useContext(AppCtx);
  const [toks, setToks] = useState<any[]>([]);
  const [error, setError] = useState<any>(null);
  const [f, setF] = useState({ name: '', scopes: [] as string[] });
  const [created, setCreated] = useState<any>(null);
  const load = () => list('/v1/tokens').then(setToks, setError);
  useEffect(() => {
    load();
  }, []);
  const write = can('tokens:write');
  return html`<div class="panel" aria-labelledby="h-tokens">
    <h2 id="h-tokens">API tokens</h2>
    <${ErrorBox} error=${error} />
    ${created && html`<div class="notice" role="status"><p><strong>Token — shown only now.</strong></p>
      <${CopyField} label="API token" name="api-token" value=${created.token} /></div>`}
    ${write && html`<form onSubmit=${async (e: Event) => {
      e.preventDefault();
      setError(null);
      try {
        setCreated(await api('POST', '/v1/tokens', f));
        setF({ name: '', scopes: [] });
        load();
      } catch (err) {
        setError(err);
      }
    }} aria-label="New API token">
      <label for="tok-name">Name</label>
      <input id="tok-name" required value=${f.name} onInput=${(e: any) => setF({ ...f, name: e.target.value })} />
      <fieldset><legend>Scopes</legend><div class="checks">
        ${SCOPES.filter((s) => can(s)).map((s) => html`<label class="check"><input type="checkbox" checked=${f.scopes.includes(s)} onChange=${(e: any) =>
          setF({ ...f, scopes: e.target.checked ? [...f.scopes, s] : f.scopes.filter((x) => x !== s) })} /> ${s}</label>`)}
      </div></fieldset>
      <button type="submit">Create token</button>
    </form>`}
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Name</th><th scope="col">Prefix</th><th scope="col">Scopes</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${toks.map((t) => html`<tr key=${t.id}><td>${t.name}</td><td><code>${t.prefix}</code></td><td>${t.scopes.join(', ')}</td>
        <td>${t.revoked_at ? 'revoked' : fmtTime(t.last_used_at)}</td>
        <td>${write && !t.revoked_at && html`<${ConfirmButton} label="Revoke" warning="Clients using it are refused at once." confirmLabel="Revoke token"
          onConfirm=${async () => {
            await api('DELETE', '/v1/tokens/' + t.id).catch(setError);
            load();
          }} />`}</td></tr>`)}</tbody>
    </table></div>
  </div>`;
}
