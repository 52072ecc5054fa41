// Upload a video file: a plain upload (POST /v1/videos/upload, multipart)
// sent with XMLHttpRequest for its upload progress, then the server's
// processing progress from the video.processing events until video.ready
// (or video.errored). The file goes in one request: a resumable tus upload
// (POST /v1/videos/direct_upload) needs a tus client this console does not
// bundle.
import { html } from 'htm/preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { ApiError, token } from './api';
import { AppCtx, ErrorBox, fmtBytes } from './ui';

function send(file: File, onProgress: (sent: number) => void): Promise<any> {
  return new Promise((resolve, reject) => {
    const fd = new FormData();
    fd.append('meta', JSON.stringify({ name: file.name }));
    fd.append('file', file, file.name);
    const x = new XMLHttpRequest();
    x.open('POST', '/v1/videos/upload');
    x.setRequestHeader('Authorization', 'Bearer ' + token());
    x.responseType = 'json';
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => {
      const j = x.response;
      if (x.status >= 200 && x.status < 300) return resolve(j && j.data);
      const e = (j && j.error) || {};
      reject(new ApiError(x.status, e.code || 'http_' + x.status, e.message || x.statusText));
    };
    x.onerror = () => reject(new Error('the upload failed (network error)'));
    x.send(fd);
  });
}

export function Upload() {
  const { events } = useContext(AppCtx);
  const [file, setFile] = useState<File | null>(null);
  const [sent, setSent] = useState(0);
  const [video, setVideo] = useState<any>(null);
  const [pct, setPct] = useState<number | null>(null);
  const [phase, setPhase] = useState('');
  const [error, setError] = useState<any>(null);
  useEffect(() => events.on((ev) => {
    const id = video?.id;
    if (!id) return;
    if (ev.type === 'video.processing' && (ev.data?.video_id === id || ev.data?.id === id)) {
      setPhase('processing');
      if (typeof ev.data.pct_complete === 'number') setPct(ev.data.pct_complete);
    } else if (ev.type === 'video.ready' && ev.data?.id === id) {
      setPhase('ready');
      setPct(100);
    } else if (ev.type === 'video.errored' && ev.data?.id === id) {
      setPhase('errored');
      setError(new Error(ev.data.error?.message || 'processing failed'));
    }
  }), [video?.id]);
  const start = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    setError(null);
    setVideo(null);
    setPct(null);
    setSent(0);
    setPhase('uploading');
    try {
      const v = await send(file, setSent);
      setVideo(v);
      setPhase((p) => (v?.status === 'ready' ? 'ready' : p === 'uploading' ? 'queued' : p));
    } catch (err) {
      setPhase('');
      setError(err);
    }
  };
  const busy = phase === 'uploading';
  return html`<form class="panel" onSubmit=${start} aria-labelledby="h-upload">
    <h2 id="h-upload">Upload a video</h2>
    <label for="upload-file">Video file</label>
    <input id="upload-file" type="file" accept="video/*,.mp4,.mov,.mkv,.ts,.webm" disabled=${busy}
      onChange=${(e: any) => setFile(e.target.files[0] || null)} />
    <div class="actions"><button type="submit" disabled=${!file || busy}>Upload</button></div>
    ${phase && file && html`<div class="upload-progress" data-phase=${phase} aria-live="polite">
      ${phase === 'uploading' ? html`<label for="upload-bar">Sending ${fmtBytes(sent)} of ${fmtBytes(file.size)}</label>
        <progress id="upload-bar" max=${file.size} value=${sent}></progress>` : html`
        <label for="upload-bar">${phase === 'ready' ? 'Ready' : phase === 'errored' ? 'Failed' : 'Processing on the server'}${pct !== null ? ' · ' + Math.round(pct) + '%' : ''}</label>
        <progress id="upload-bar" max="100" value=${pct ?? undefined}></progress>`}
      ${video && html`<p><a href=${'#/videos/' + video.id} data-uploaded=${video.id}>${video.id}</a></p>`}
    </div>`}
    <${ErrorBox} error=${error} />
  </form>`;
}
