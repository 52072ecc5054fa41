// WhepPlayer plays a live input over WebRTC (WHEP, draft-ietf-wish-whep):
// POST an SDP offer with every ICE candidate gathered, apply the answer,
// DELETE the session resource when the view goes away. A refusal (a
// source with B-frames, no WebRTC) is shown, not retried.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function WhepPlayer({ url, label }: { url: string; label: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState('connecting');
  const [err, setErr] = useState('');
  useEffect(() => {
    if (!(window as any).RTCPeerConnection) {
      setErr('this browser has no WebRTC');
      return;
    }
    const v = ref.current!;
    const pc = new RTCPeerConnection();
    const mc = (window as any).mpegflowConsole;
    let resource = '';
    let gone = false;
    setErr('');
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const ms = new MediaStream();
    pc.ontrack = (e) => {
      ms.addTrack(e.track);
      v.srcObject = ms;
      v.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      setState(pc.connectionState);
      mc.whepState = pc.connectionState;
    };
    const gathered = () => new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve();
      pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && resolve());
      setTimeout(resolve, 2000);
    });
    (async () => {
      await pc.setLocalDescription(await pc.createOffer());
      await gathered();
      const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp });
      const body = await r.text();
      if (r.status !== 201) {
        let msg = 'HTTP ' + r.status;
        try {
          msg = JSON.parse(body).error.message || msg;
        } catch {
          /* not JSON */
        }
        throw new Error(msg);
      }
      const loc = r.headers.get('Location');
      if (loc) resource = new URL(loc, new URL(url, location.href)).href;
      if (gone) return;
      await pc.setRemoteDescription({ type: 'answer', sdp: body });
    })().catch((e) => !gone && setErr('WebRTC playback failed: ' + (e.message || e)));
    return () => {
      gone = true;
      pc.close();
      if (resource) fetch(resource, { method: 'DELETE', keepalive: true }).catch(() => {});
    };
  }, [url]);
  return html`<div class="player" data-engine="webrtc" data-state=${state}>
    <video ref=${ref} controls muted autoplay playsinline aria-label=${label}></video>
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </div>`;
}
