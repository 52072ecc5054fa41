// The MpegFlow web console: sign in with an API token, then live inputs,
// videos, webhooks and the system, each shown only to tokens whose scopes
// allow it.
import { html, render } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, ApiError, Events, handleUnauthorized, setToken, token, Whoami } from './api';
import { AppCtx, ErrorBox } from './ui';
import { InputDetail, InputsList } from './inputs';
import { VideoDetail, VideosList } from './videos';
import { WebhookDetail, WebhooksList } from './webhooks';
import { PipelineDetail, PipelinesList } from './pipelines';
import { SystemView } from './system';

(window as any).mpegflowConsole = { ready: false };

function useHash(): string {
  const [h, setH] = useState(location.hash || '#/inputs');
  useEffect(() => {
    const f = () => setH(location.hash || '#/inputs');
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  return h;
}

function SignIn({ onSignedIn, error }: { onSignedIn: (w: Whoami) => void; error: any }) {
  const [t, setT] = useState('');
  const [err, setErr] = useState<any>(error);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErr(null);
    setToken(t.trim());
    try {
      onSignedIn(await api<Whoami>('GET', '/v1/whoami'));
    } catch (x) {
      setToken('');
      setErr(x instanceof ApiError && x.status === 401 ? new Error('This token is not valid.') : x);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="signin">
    <form class="panel" onSubmit=${submit} aria-labelledby="h-signin">
      <h1 id="h-signin">MpegFlow console</h1>
      <p>Sign in with an API token (mf_…). It is kept in this tab only and forgotten when the tab closes.</p>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required minlength="16" value=${t} onInput=${(e: any) => setT(e.target.value)} />
      <${ErrorBox} error=${err} />
      <button type="submit" disabled=${busy}>Sign in</button>
    </form>
  </main>`;
}

function Shell({ who, onSignOut }: { who: Whoami; onSignOut: () => void }) {
  const hash = useHash();
  const events = useMemo(() => new Events(), []);
  const [ws, setWs] = useState(events.state);
  const scopes = new Set(who.effective_scopes);
  const can = (s: string) => scopes.has(s);
  useEffect(() => {
    const off = events.onState(setWs);
    if (can('events:read')) events.start();
    (window as any).mpegflowConsole.ready = true;
    (window as any).mpegflowConsole.readyAt = performance.now();
    return () => {
      off();
      events.stop();
    };
  }, []);
  const [, section, id] = hash.split('/');
  const nav = [
    can('live_inputs:read') && ['inputs', 'Live inputs'],
    can('videos:read') && ['videos', 'Videos'],
    can('webhooks:read') && ['webhooks', 'Webhooks'],
    can('live_inputs:read') && ['pipelines', 'Pipelines'],
    ['system', 'System'],
  ].filter(Boolean) as [string, string][];
  let view;
  switch (section) {
    case 'inputs':
      view = can('live_inputs:read') ? (id ? html`<${InputDetail} id=${id} key=${id} />` : html`<${InputsList} />`) : null;
      break;
    case 'videos':
      view = can('videos:read') ? (id ? html`<${VideoDetail} id=${id} key=${id} />` : html`<${VideosList} />`) : null;
      break;
    case 'webhooks':
      view = can('webhooks:read') ? (id ? html`<${WebhookDetail} id=${id} key=${id} />` : html`<${WebhooksList} />`) : null;
      break;
    case 'pipelines':
      view = can('live_inputs:read') ? (id ? html`<${PipelineDetail} name=${decodeURIComponent(id)} key=${id} />` : html`<${PipelinesList} />`) : null;
      break;
    case 'system':
      view = html`<${SystemView} />`;
      break;
  }
  if (!view) view = html`<p>This token cannot see this page. <a href=${'#/' + (nav[0] || ['system'])[0]}>Go to ${(nav[0] || ['', 'System'])[1]}</a></p>`;
  return html`<${AppCtx.Provider} value=${{ can, events }}>
    <a class="skip" href="#main">Skip to content</a>
    <header>
      <span class="brand">MpegFlow</span>
      <nav aria-label="Sections"><ul>
        ${nav.map(([k, label]) => html`<li><a href=${'#/' + k} aria-current=${section === k ? 'page' : undefined}>${label}</a></li>`)}
      </ul></nav>
      <span class="who">
        ${can('events:read') && html`<span class=${'ws ws-' + ws} title="Live updates" role="status" aria-label=${'Live updates ' + ws}>●</span>`}
        <span class="muted small">${who.token.name}</span>
        <button type="button" class="ghost" onClick=${onSignOut}>Sign out</button>
      </span>
    </header>
    <main id="main" tabindex="-1">${view}</main>
  <//>`;
}

function App() {
  const [who, setWho] = useState<Whoami | null>(null);
  const [checking, setChecking] = useState(!!token());
  const [error, setError] = useState<any>(null);
  const signOut = () => {
    setToken('');
    setWho(null);
  };
  useEffect(() => {
    handleUnauthorized(() => {
      setToken('');
      setWho(null);
      setError(new Error('The token was refused (revoked or expired); sign in again.'));
    });
    if (!token()) return;
    api<Whoami>('GET', '/v1/whoami').then(setWho, (e) => {
      setError(e);
      setToken('');
    }).finally(() => setChecking(false));
  }, []);
  if (checking) return html`<p>Loading…</p>`;
  if (!who) return html`<${SignIn} error=${error} onSignedIn=${(w: Whoami) => {
    setError(null);
    setWho(w);
  }} />`;
  return html`<${Shell} who=${who} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app')!);
