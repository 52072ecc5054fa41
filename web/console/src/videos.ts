// Videos: recordings with state and duration, the player with seek, the
// thumbnail, clips cut on the timeline and the MP4 download.
import { html } from 'htm/preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { api, list } from './api';
import { AppCtx, ErrorBox, Player, fmtBytes, fmtDuration, fmtTime } from './ui';
import { Upload } from './upload';

function useVideoEvents(f: (ev: any) => void, deps: any[]) {
  const { events } = useContext(AppCtx);
  useEffect(() => events.on((ev) => {
    if (ev.type.startsWith('video.') || ev.type === 'recording.started') f(ev);
  }), deps);
}

export function VideosList() {
  const [items, setItems] = useState<any[] | null>(null);
  const [error, setError] = useState<any>(null);
  const load = () => list('/v1/videos').then((v) => setItems(v.reverse()), setError);
  useEffect(() => {
    load();
  }, []);
  const { can } = useContext(AppCtx);
  // video.processing repeats while a file is processed: it moves the row's
  // progress in place; the other events refetch the list
  useVideoEvents((ev) => ev.type === 'video.processing' ? setItems((cur) => cur && cur.map((v) =>
    v.id === ev.data?.video_id ? { ...v, status: ev.data.status || v.status, pct_complete: ev.data.pct_complete } : v)) : load(), []);
  return html`<section aria-labelledby="h-videos">
    <h1 id="h-videos">Videos</h1>
    <${ErrorBox} error=${error} />
    ${can('videos:write') && html`<${Upload} />`}
    ${items === null ? html`<p>Loading…</p>` : items.length === 0 ? html`<p>No videos yet. Turn recording on for a live input, or upload a file.</p>` : html`
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Video</th><th scope="col">State</th><th scope="col">Duration</th><th scope="col">Started</th><th scope="col">Size</th></tr></thead>
      <tbody>${items.map((v) => html`<tr key=${v.id} data-id=${v.id}>
        <td><a href=${'#/videos/' + v.id}>${(v.meta && v.meta.name) || v.id}</a></td>
        <td><span class=${'badge badge-' + v.status} data-status=${v.status}>${v.status.replace('_', ' ')}</span>${v.status !== 'ready' && typeof v.pct_complete === 'number' ? ' ' + Math.round(v.pct_complete) + '%' : ''}</td>
        <td>${fmtDuration(v.duration_seconds)}</td>
        <td>${fmtTime(v.started_at)}</td>
        <td>${fmtBytes(v.size_bytes)}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export function VideoDetail({ id }: { id: string }) {
  const { can } = useContext(AppCtx);
  const [v, setV] = useState<any>(null);
  const [error, setError] = useState<any>(null);
  const [tok, setTok] = useState<string | null>(null);
  const [video, setVideo] = useState<HTMLVideoElement | null>(null);
  const [pos, setPos] = useState(0);
  const [clip, setClip] = useState({ start: 0, end: 0, name: '' });
  const [made, setMade] = useState<any>(null);
  const load = () => api('GET', '/v1/videos/' + id).then(setV, setError);
  useEffect(() => {
    load();
  }, [id]);
  useVideoEvents((ev) => ev.data && ev.data.id === id && load(), [id]);
  useEffect(() => {
    if (!v) return;
    if (!v.require_signed_urls) {
      setTok('');
      return;
    }
    if (!can('videos:write')) return;
    api('POST', '/v1/videos/' + id + '/token', { ttl_seconds: 3600 }).then((t) => setTok(t.token), setError);
  }, [v?.id, v?.require_signed_urls]);
  useEffect(() => {
    if (!video) return;
    const f = () => setPos(video.currentTime);
    video.addEventListener('timeupdate', f);
    return () => video.removeEventListener('timeupdate', f);
  }, [video]);
  if (error && !v) return html`<${ErrorBox} error=${error} />`;
  if (!v) return html`<p>Loading…</p>`;
  const q = tok ? '?token=' + encodeURIComponent(tok) : '';
  const write = can('videos:write');
  const dur = v.duration_seconds || 0;
  const mkClip = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const c = await api('POST', '/v1/videos/' + id + '/clips', { start_seconds: Number(clip.start), end_seconds: Number(clip.end), name: clip.name || undefined });
      setMade(c);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section aria-labelledby="h-video">
    <p><a href="#/videos">← Videos</a></p>
    <div class="head">
      <h1 id="h-video">${(v.meta && v.meta.name) || v.id}</h1>
      <span class=${'badge badge-' + v.status} data-status=${v.status}>${v.status.replace('_', ' ')}</span>
    </div>
    <p class="muted small">${v.id} · ${v.live_input_id ? html`live input <a href=${'#/inputs/' + v.live_input_id}>${v.live_input_id}</a>` : 'uploaded'} · ${fmtDuration(dur)} · ${fmtBytes(v.size_bytes)}${v.recovered ? ' · recovered after a crash' : ''}</p>
    <${ErrorBox} error=${error} />
    ${v.error && html`<p class="error">${v.error.code}: ${v.error.message}</p>`}
    <div class="grid">
      <div class="panel">
        ${tok === null ? html`<p class="muted">This video needs a signed token; this API token cannot mint one.</p>` : html`
        <${Player} src=${v.playback.hls + q} live=${v.status === 'live_recording'} label="Recording" onVideo=${setVideo} />
        <label for="seek">Position ${fmtDuration(pos)} / ${fmtDuration(dur)}</label>
        <input id="seek" type="range" min="0" max=${Math.max(dur, 0.1)} step="0.1" value=${pos}
          onInput=${(e: any) => {
            if (video) video.currentTime = Number(e.target.value);
            setPos(Number(e.target.value));
          }} />`}
      </div>
      <div class="panel">
        <h2>Thumbnail</h2>
        ${tok !== null && html`<img class="thumb" src=${v.thumbnail + q} alt=${'Thumbnail of ' + v.id} loading="lazy" />`}
        <h2>Download</h2>
        ${v.download?.status === 'ready' ? html`<a class="button" href=${v.download.url + q} download>Download MP4</a>` :
          v.download?.status === 'pending' ? html`<p aria-live="polite">Building the MP4…</p>` :
          write && v.status === 'ready' ? html`<button type="button" onClick=${async () => {
            try {
              // the answer is the download's state; the video is fetched
              // again, and once more at video.download.ready
              await api('POST', '/v1/videos/' + id + '/downloads');
              await load();
            } catch (e) {
              setError(e);
            }
          }}>Prepare MP4</button>` : html`<p class="muted">Available once the video is ready.</p>`}
      </div>
    </div>
    ${write && v.status === 'ready' && html`<form class="panel" onSubmit=${mkClip} aria-labelledby="h-clip">
      <h2 id="h-clip">Make a clip</h2>
      <div class="timeline" aria-hidden="true"><span style=${`left:${(Math.min(clip.start, clip.end || dur) / (dur || 1)) * 100}%;width:${(Math.max(0, (clip.end || dur) - clip.start) / (dur || 1)) * 100}%`}></span><i style=${`left:${(pos / (dur || 1)) * 100}%`}></i></div>
      <div class="row wrap">
        <div><label for="clip-start">Start (s)</label><input id="clip-start" type="number" min="0" step="0.1" max=${dur} value=${clip.start} onInput=${(e: any) => setClip({ ...clip, start: e.target.value })} /></div>
        <button type="button" class="ghost" onClick=${() => setClip({ ...clip, start: Math.round(pos * 10) / 10 })}>Start here</button>
        <div><label for="clip-end">End (s)</label><input id="clip-end" type="number" min="0" step="0.1" max=${dur} value=${clip.end} onInput=${(e: any) => setClip({ ...clip, end: e.target.value })} /></div>
        <button type="button" class="ghost" onClick=${() => setClip({ ...clip, end: Math.round(pos * 10) / 10 })}>End here</button>
        <div><label for="clip-name">Name</label><input id="clip-name" value=${clip.name} onInput=${(e: any) => setClip({ ...clip, name: e.target.value })} /></div>
      </div>
      <button type="submit">Create clip</button>
      ${made && html`<p role="status" class="ok">Clip created: <a href=${'#/videos/' + made.id} data-clip=${made.id}>${made.id}</a>
        (${fmtDuration(made.clip?.actual_start_seconds ?? 0)}–${fmtDuration(made.clip?.actual_end_seconds ?? made.duration_seconds)})</p>`}
    </form>`}
    ${write && v.status !== 'live_recording' && html`<p><button type="button" class="danger" onClick=${async () => {
      if (!confirm('Delete this video and its files?')) return;
      try {
        await api('DELETE', '/v1/videos/' + id);
        location.hash = '#/videos';
      } catch (e) {
        setError(e);
      }
    }}>Delete video</button></p>`}
  </section>`;
}
