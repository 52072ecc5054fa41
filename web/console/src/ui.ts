// Shared pieces of the console: formatting, the copy field, the two-step
// confirmation, the HLS player and the bitrate graph.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { createContext } from 'preact';
import { Events } from './api';

export interface Ctx {
  can: (scope: string) => boolean;
  events: Events;
}
export const AppCtx = createContext<Ctx>(null as any);

export function fmtBps(b: number): string {
  if (!b) return '0 kb/s';
  if (b >= 1e6) return (b / 1e6).toFixed(2) + ' Mb/s';
  return Math.round(b / 1e3) + ' kb/s';
}

export function fmtDuration(s: number): string {
  if (!s && s !== 0) return '–';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, '0'), ss = String(sec).padStart(2, '0');
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function fmtTime(t?: string | null): string {
  if (!t) return '–';
  const d = new Date(t);
  return d.toLocaleString();
}

export function fmtBytes(n: number): string {
  if (!n) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return n.toFixed(i ? 1 : 0) + ' ' + u[i];
}

// ErrorBox shows an error (or nothing) as an alert.
export function ErrorBox({ error }: { error: any }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${String(error.message || error)}</p>`;
}

export function Badge({ status }: { status: string }) {
  const label = status === 'connected' ? 'live' : status;
  return html`<span class=${'badge badge-' + status} data-status=${status}>${label}</span>`;
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
}

// CopyField is a read-only field with a copy button; secret hides the value
// until shown.
export function CopyField({ label, value, secret = false, name }: { label: string; value: string; secret?: boolean; name?: string }) {
  const [shown, setShown] = useState(!secret);
  const [copied, setCopied] = useState(false);
  const id = 'f-' + (name || label.replace(/\W+/g, '-').toLowerCase());
  const copy = async () => {
    await copyText(value);
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return html`<div class="copy-field">
    <label for=${id}>${label}</label>
    <div class="row">
      <input id=${id} type=${shown ? 'text' : 'password'} readonly value=${value} data-field=${name} onFocus=${(e: any) => e.target.select()} />
      ${secret && html`<button type="button" class="ghost" aria-pressed=${shown} onClick=${() => setShown(!shown)}>${shown ? 'Hide' : 'Show'}</button>`}
      <button type="button" onClick=${copy} aria-label=${'Copy ' + label}>${copied ? 'Copied' : 'Copy'}</button>
    </div>
    <span class="sr-only" aria-live="polite">${copied ? label + ' copied' : ''}</span>
  </div>`;
}

// ConfirmButton asks again, inline, before doing something destructive.
export function ConfirmButton({ label, warning, confirmLabel, onConfirm, disabled = false }: {
  label: string; warning: string; confirmLabel?: string; onConfirm: () => Promise<void> | void; disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) ref.current?.focus();
  }, [asking]);
  if (!asking) {
    return html`<button type="button" class="danger" disabled=${disabled} onClick=${() => setAsking(true)}>${label}</button>`;
  }
  return html`<span class="confirm" role="alertdialog" aria-label=${label}>
    <span>${warning}</span>
    <button type="button" class="danger" ref=${ref} disabled=${busy} onClick=${async () => {
      setBusy(true);
      try {
        await onConfirm();
      } finally {
        setBusy(false);
        setAsking(false);
      }
    }}>${confirmLabel || 'Confirm'}</button>
    <button type="button" class="ghost" onClick=${() => setAsking(false)}>Cancel</button>
  </span>`;
}

let hlsLoading: Promise<any> | null = null;

// loadHls loads the daemon's embedded copy of hls.js once (no CDN).
export function loadHls(): Promise<any> {
  const w = window as any;
  if (w.Hls) return Promise.resolve(w.Hls);
  if (!hlsLoading) {
    hlsLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/static/hls.min.js';
      s.onload = () => resolve(w.Hls);
      s.onerror = () => {
        hlsLoading = null;
        reject(new Error('hls.js is not embedded in this build'));
      };
      document.head.appendChild(s);
    });
  }
  return hlsLoading;
}

// Player plays an HLS URL with hls.js (low latency for live), or natively
// where Media Source Extensions are missing (Safari on iOS).
export function Player({ src, live, label, onVideo }: { src: string; live: boolean; label: string; onVideo?: (v: HTMLVideoElement | null) => void }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [err, setErr] = useState<string>('');
  useEffect(() => {
    const v = ref.current!;
    let hls: any = null;
    let gone = false;
    onVideo?.(v);
    setErr('');
    if (v.canPlayType('application/vnd.apple.mpegurl') && !(window as any).MediaSource) {
      v.src = src;
    } else {
      loadHls().then((Hls) => {
        if (gone) return;
        if (!Hls || !Hls.isSupported()) {
          v.src = src;
          return;
        }
        hls = new Hls({ lowLatencyMode: live, enableWorker: true });
        hls.on(Hls.Events.ERROR, (_: any, d: any) => {
          if (d.fatal) setErr('playback error: ' + d.details);
        });
        hls.loadSource(src);
        hls.attachMedia(v);
        (window as any).mpegflowConsole.hls = hls;
      }, (e) => setErr(String(e.message || e)));
    }
    return () => {
      gone = true;
      hls?.destroy();
      onVideo?.(null);
    };
  }, [src]);
  return html`<div class="player">
    <video ref=${ref} controls muted autoplay playsinline aria-label=${label}></video>
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </div>`;
}

// Graph draws samples (time ms, value) of the last windowMs as an SVG line.
export function Graph({ samples, windowMs, label }: { samples: [number, number][]; windowMs: number; label: string }) {
  const w = 600, h = 120;
  const now = samples.length ? samples[samples.length - 1][0] : Date.now();
  const max = Math.max(1, ...samples.map((s) => s[1])) * 1.1;
  const pts = samples.map(([t, v]) => `${(((t - (now - windowMs)) / windowMs) * w).toFixed(1)},${(h - (v / max) * h).toFixed(1)}`).join(' ');
  const last = samples.length ? samples[samples.length - 1][1] : 0;
  return html`<figure class="graph">
    <svg viewBox=${`0 0 ${w} ${h}`} preserveAspectRatio="none" role="img" aria-label=${label + ': ' + fmtBps(last)} data-samples=${samples.length}>
      <line x1="0" y1=${h - 0.5} x2=${w} y2=${h - 0.5} class="axis" />
      <polyline points=${pts} class="line" />
    </svg>
    <figcaption>${label}: <strong>${fmtBps(last)}</strong> · peak ${fmtBps(max / 1.1)} · last ${Math.round(windowMs / 60000)} min</figcaption>
  </figure>`;
}
