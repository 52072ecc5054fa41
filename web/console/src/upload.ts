// Upload a video file with tus (resumable): POST /v1/videos/direct_upload
// makes the video and its one-time upload URL, tus-js-client (bundled from
// npm) sends the file there with upload progress, pause and resume (a
// resume asks the server for its offset with HEAD and goes on from there);
// then the server's processing progress follows from the video.processing
// events until video.ready (or video.errored). The upload URL is the
// credential of the upload: it is kept in memory only (no fingerprint in
// localStorage), so an upload resumes within this page, not after a reload.
//
// UploadLink makes a one-time upload URL for someone without a token and
// links it to the daemon's upload page (/upload/#URL).
import { html } from 'htm/preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { Upload as Tus } from 'tus-js-client';
import { api } from './api';
import { AppCtx, CopyField, ErrorBox, fmtBytes, fmtTime } from './ui';

// phases of an upload: creating (the direct upload), uploading, paused,
// processing (queued or inprogress on the server), ready, errored; '' idle
type Phase = '' | 'creating' | 'uploading' | 'paused' | 'processing' | 'ready' | 'errored';

const processing = new Set(['queued', 'inprogress', 'processing']);

export function Upload() {
  const { events } = useContext(AppCtx);
  const [file, setFile] = useState<File | null>(null);
  const [sent, setSent] = useState(0);
  const [video, setVideo] = useState<any>(null);
  const [pct, setPct] = useState<number | null>(null);
  const [phase, setPhase] = useState<Phase>('');
  const [error, setError] = useState<any>(null);
  const tus = useRef<Tus | null>(null);
  const id = video?.id;
  // the state of the video on the server, from an event or a fetch
  const follow = (status: string, p?: number, err?: any) => {
    if (status === 'ready') {
      setPhase('ready');
      setPct(100);
    } else if (status === 'errored') {
      setPhase('errored');
      setError(new Error(err?.message || err?.code || 'processing failed'));
    } else if (processing.has(status)) {
      setPhase('processing');
      if (typeof p === 'number') setPct(p);
    }
  };
  useEffect(() => events.on((ev) => {
    if (!id) return;
    if (ev.type === 'video.processing' && (ev.data?.video_id === id || ev.data?.id === id)) follow(ev.data.status || 'inprogress', ev.data.pct_complete);
    else if ((ev.type === 'video.ready' || ev.type === 'video.errored') && ev.data?.id === id) follow(ev.data.status || ev.type.slice(6), undefined, ev.data.error);
  }), [id]);
  // the upload stops when the view goes away (the server keeps its offset)
  useEffect(() => () => {
    tus.current?.abort();
  }, []);

  const start = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setVideo(null);
    setPct(null);
    setSent(0);
    setPhase('creating');
    let d: any;
    try {
      d = await api('POST', '/v1/videos/direct_upload', { meta: { name: file.name } });
    } catch (err) {
      setPhase('');
      setError(err);
      return;
    }
    setVideo(d.video || { id: d.id });
    setPhase('uploading');
    const up = new Tus(file, {
      endpoint: d.upload_url,
      retryDelays: [0, 1000, 3000, 5000],
      metadata: { name: file.name, filename: file.name, filetype: file.type || 'application/octet-stream' },
      storeFingerprintForResuming: false,
      onProgress: (n: number) => setSent(n),
      onError: (err: any) => {
        setPhase('errored');
        setError(new Error('the upload failed: ' + String(err?.message || err).split('\n')[0]));
      },
      onSuccess: async () => {
        setSent(file.size);
        setPhase('processing');
        // an event may have come before this: the video's state now
        try {
          const v = await api('GET', '/v1/videos/' + d.id);
          setVideo(v);
          follow(v.status, v.pct_complete, v.error);
        } catch {
          // the events still tell
        }
      },
    });
    tus.current = up;
    up.start();
  };
  const pause = async () => {
    await tus.current?.abort();
    setPhase('paused');
  };
  const resume = () => {
    setPhase('uploading');
    tus.current?.start();
  };
  const moving = phase === 'creating' || phase === 'uploading' || phase === 'paused';
  return html`<form class="panel" onSubmit=${start} aria-labelledby="h-upload">
    <h2 id="h-upload">Upload a video</h2>
    <label for="upload-file">Video file</label>
    <input id="upload-file" type="file" accept="video/*,.mp4,.mov,.mkv,.ts,.webm" disabled=${moving}
      onChange=${(e: any) => setFile(e.target.files[0] || null)} />
    <div class="actions">
      <button type="submit" disabled=${!file || moving}>Upload</button>
      ${phase === 'uploading' && html`<button type="button" class="ghost" onClick=${pause}>Pause</button>`}
      ${phase === 'paused' && html`<button type="button" onClick=${resume}>Resume</button>`}
    </div>
    ${phase && file && html`<div class="upload-progress" data-phase=${phase} aria-live="polite">
      ${moving ? html`<label for="upload-bar">${phase === 'paused' ? 'Paused at' : 'Sending'} ${fmtBytes(sent)} of ${fmtBytes(file.size)}</label>
        <progress id="upload-bar" max=${file.size} value=${sent}></progress>` : html`
        <label for="upload-bar">${phase === 'ready' ? 'Ready' : phase === 'errored' ? 'Failed' : 'Processing on the server'}${pct !== null ? ' · ' + Math.round(pct) + '%' : ''}</label>
        <progress id="upload-bar" max="100" value=${pct ?? undefined}></progress>`}
      ${video && html`<p><a href=${'#/videos/' + video.id} data-uploaded=${video.id}>${video.id}</a></p>`}
    </div>`}
    <${ErrorBox} error=${error} />
    <${UploadLink} />
  </form>`;
}

// UploadLink makes a one-time upload URL (30 minutes) and the link of the
// daemon's upload page with it, for someone who has no API token.
function UploadLink() {
  const [link, setLink] = useState<any>(null);
  const [error, setError] = useState<any>(null);
  const make = async () => {
    setError(null);
    try {
      const d = await api('POST', '/v1/videos/direct_upload', {});
      setLink({ ...d, page: location.origin + '/upload/#' + encodeURIComponent(d.upload_url) });
    } catch (e) {
      setError(e);
    }
  };
  return html`<details class="upload-link">
    <summary>Let someone else upload</summary>
    <p class="small muted">A one-time link to the <a href="/upload/" target="_blank" rel="noopener">upload page</a>: whoever has it can upload one file, without a token, until it expires.</p>
    ${link ? html`<${CopyField} label="Upload page link" name="upload-link" value=${link.page} />
      <p class="small muted">Expires ${fmtTime(link.expiry)} · video <a href=${'#/videos/' + link.id}>${link.id}</a> · <a href=${link.page} target="_blank" rel="noopener">open</a></p>`
    : html`<button type="button" class="ghost" onClick=${make}>Make an upload link</button>`}
    <${ErrorBox} error=${error} />
  </details>`;
}
