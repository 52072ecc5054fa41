// The control API client of the console: the token lives in sessionStorage
// (gone when the tab closes, never in a URL) and goes in the Authorization
// header; the event stream gets it as a WebSocket subprotocol.

const KEY = 'mpegflow.token';

export class ApiError extends Error {
  status: number;
  code: string;
  details: any;
  constructor(status: number, code: string, message: string, details?: any) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function token(): string {
  return sessionStorage.getItem(KEY) || '';
}

export function setToken(t: string): void {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized: () => void = () => {};
export function handleUnauthorized(f: () => void): void {
  onUnauthorized = f;
}

// api calls the control API and returns the response's data member (or the
// whole body when there is none; null for 204). A body is sent as JSON,
// or as it is when its media type is given (a YAML manifest).
export async function api<T = any>(method: string, path: string, body?: unknown, type?: string): Promise<T> {
  const headers: Record<string, string> = { Authorization: 'Bearer ' + token() };
  if (body !== undefined) headers['Content-Type'] = type || 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : type ? (body as string) : JSON.stringify(body) });
  if (res.status === 204) return null as T;
  const j = await res.json().catch(() => null);
  if (!res.ok) {
    const e = (j && j.error) || {};
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || res.statusText, e.details);
  }
  return (j && 'data' in j ? j.data : j) as T;
}

// list follows next_cursor up to max pages.
export async function list<T = any>(path: string, max = 20): Promise<T[]> {
  const out: T[] = [];
  let cursor = '';
  for (let i = 0; i < max; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const headers = { Authorization: 'Bearer ' + token() };
    const res = await fetch(path + (cursor ? sep + 'cursor=' + encodeURIComponent(cursor) : ''), { headers });
    const j = await res.json().catch(() => null);
    if (!res.ok) {
      const e = (j && j.error) || {};
      if (res.status === 401) onUnauthorized();
      throw new ApiError(res.status, e.code || 'http_' + res.status, e.message || res.statusText);
    }
    out.push(...(j.data || []));
    if (!j.next_cursor) break;
    cursor = j.next_cursor;
  }
  return out;
}

export interface Whoami {
  token: { id: string; name: string; prefix: string; scopes: string[] };
  effective_scopes: string[];
}

export interface MFEvent {
  id: string;
  type: string;
  time: string;
  live_input_id?: string;
  data?: any;
}

type Listener = (ev: MFEvent) => void;
type StateListener = (state: string) => void;

// Events is the one WebSocket to GET /v1/events: it reconnects with backoff
// and tells its listeners when it (re)opens, so views refetch what they may
// have missed while it was down.
export class Events {
  private ws: WebSocket | null = null;
  private listeners = new Set<Listener>();
  private stateListeners = new Set<StateListener>();
  private closed = false;
  private backoff = 500;
  private timer = 0;
  state = 'connecting';

  start(): void {
    this.closed = false;
    this.open();
  }

  private open(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(proto + '//' + location.host + '/v1/events', ['mpegflow.events.v1', 'bearer.' + token()]);
    this.ws = ws;
    this.setState('connecting');
    ws.onopen = () => {
      this.backoff = 500;
      this.setState('open');
    };
    ws.onmessage = (m) => {
      let ev: MFEvent;
      try {
        ev = JSON.parse(m.data);
      } catch {
        return;
      }
      this.listeners.forEach((f) => f(ev));
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.closed) return;
      this.setState('reconnecting');
      this.timer = window.setTimeout(() => this.open(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 15000);
    };
  }

  private setState(s: string): void {
    this.state = s;
    this.stateListeners.forEach((f) => f(s));
  }

  on(f: Listener): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  onState(f: StateListener): () => void {
    this.stateListeners.add(f);
    return () => this.stateListeners.delete(f);
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }
}

export const SCOPES = [
  'admin', 'live_inputs:read', 'live_inputs:write', 'tokens:read', 'tokens:write', 'events:read',
  'videos:read', 'videos:write', 'webhooks:read', 'webhooks:write',
];
