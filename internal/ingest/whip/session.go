package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// Session timing.
const (
	connectTimeout      = 30 * time.Second       // from answer to ICE+DTLS connected
	iceDisconnected     = 5 * time.Second        // no traffic → disconnected
	iceFailed           = 15 * time.Second       // disconnected → failed, session ends
	iceKeepalive        = 2 * time.Second        // STUN binding keepalives
	reorderWait         = 150 * time.Millisecond // wait for reordered / NACKed packets
	keyframeRequestEach = time.Second            // PLI interval while waiting for a key frame
)

// session is one WHIP publish: a PeerConnection, its track readers and the
// media state that turns RTP into hub units.
type session struct {
	srv    *Server
	id     string
	etag   string
	live   auth.LiveInput
	remote string // the HTTP client of the POST (host:port)
	log    *slog.Logger
	plan   offerPlan
	pc     *webrtc.PeerConnection

	ctx    context.Context
	cancel context.CancelFunc
	endNow atomic.Bool
	done   chan struct{}
	conn   chan struct{} // closed when the PeerConnection connected
	connO  sync.Once
	wg     sync.WaitGroup // track and RTCP readers, kick watcher

	tc *transcoder // nil: Opus goes to the hub as is

	mu      sync.Mutex // guards closing, tracks and media
	closing bool
	tracks  int
	media   mediaState
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newSession negotiates the PeerConnection for offer and registers the
// session. It returns the SDP answer with every local candidate.
func (s *Server) newSession(ctx context.Context, li auth.LiveInput, remote string, plan offerPlan, offer string) (*session, string, error) {
	// pion's default interceptors: NACK generator, RTCP receiver reports,
	// TWCC, stats
	api, err := s.ice.NewAPI(webrtcice.APIConfig{Video: plan.Video, Audio: plan.Audio,
		Timeouts: webrtcice.Timeouts{Disconnected: iceDisconnected, Failed: iceFailed, Keepalive: iceKeepalive}})
	if err != nil {
		return nil, "", err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("new peer connection: %w", err)
	}
	sctx, cancel := context.WithCancel(s.ctx)
	ss := &session{
		srv:    s,
		id:     randomID(),
		etag:   `"` + randomID()[:16] + `"`,
		live:   li,
		remote: remote,
		plan:   plan,
		pc:     pc,
		ctx:    sctx,
		cancel: cancel,
		done:   make(chan struct{}),
		conn:   make(chan struct{}),
		media:  newMediaState(plan),
	}
	ss.log = s.log.With("live_input", li.ID, "session", ss.id)
	fail := func(err error) (*session, string, error) {
		cancel()
		_ = pc.Close()
		return nil, "", err
	}
	pc.OnTrack(ss.onTrack)
	pc.OnConnectionStateChange(ss.onConnectionState)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %s", errMalformedOffer, err.Error()))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(fmt.Errorf("create answer: %w", err))
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(answer); err != nil {
		return fail(fmt.Errorf("set local description: %w", err))
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(fmt.Errorf("ice gathering: %w", ctx.Err()))
	}
	local := pc.LocalDescription()
	if local == nil {
		return fail(errors.New("no local description"))
	}
	old, err := s.add(ss)
	if err != nil {
		return fail(err)
	}
	if old != nil {
		old.log.Info("whip session taken over by a new publisher")
		old.stop(false)
	}
	if plan.Audio != nil && s.ffmpeg != "" {
		tc, err := startTranscoder(sctx, s.ffmpeg, s.cfg.Capacity, ss.log, ss.onAAC)
		if err != nil {
			ss.log.Warn("audio transcode unavailable, publishing opus", "error", err)
		} else {
			ss.tc = tc
			ss.media.aac = true
		}
	}
	s.cfg.Metrics.SessionOpened(Protocol, li.ID)
	video, audio := "none", "none"
	if plan.Video != nil {
		video = plan.Video.Mime
	}
	if plan.Audio != nil {
		audio = plan.Audio.Mime
	}
	ss.log.Info("whip session created", "video", video, "audio", audio, "aac", ss.tc != nil)
	go ss.run()
	return ss, local.SDP, nil
}

// stop ends the session; end also ends the stream at once (DELETE) instead
// of leaving it in the hub's reconnect window.
func (ss *session) stop(end bool) {
	if end {
		ss.endNow.Store(true)
	}
	ss.cancel()
}

// run owns the session's lifetime: it waits for the end, then closes the
// PeerConnection, waits for the readers, flushes the transcode and detaches
// the publisher.
func (ss *session) run() {
	defer ss.srv.wg.Done()
	timer := time.NewTimer(connectTimeout)
	select {
	case <-ss.ctx.Done():
	case <-ss.conn:
		timer.Stop()
		<-ss.ctx.Done()
	case <-timer.C:
		ss.log.Warn("whip session never connected", "timeout", connectTimeout)
		ss.stop(false)
	}
	ss.mu.Lock()
	ss.closing = true
	ss.mu.Unlock()
	_ = ss.pc.Close()
	ss.wg.Wait()
	if ss.tc != nil {
		ss.tc.close()
	}
	ss.mu.Lock()
	pub := ss.media.pub
	if pub != nil {
		ss.flushHeld(time.Now(), true)
	}
	ss.mu.Unlock()
	if pub != nil {
		if ss.endNow.Load() {
			pub.End()
		} else {
			pub.Close()
		}
	}
	ss.srv.cfg.Metrics.SessionClosed(Protocol, ss.live.ID)
	ss.srv.remove(ss)
	ss.log.Info("whip session ended", "ended_stream", ss.endNow.Load())
	close(ss.done)
}

func (ss *session) onConnectionState(st webrtc.PeerConnectionState) {
	ss.log.Debug("whip peer connection state", "state", st.String())
	switch st {
	case webrtc.PeerConnectionStateConnected:
		ss.connO.Do(func() { close(ss.conn) })
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		ss.stop(false)
	}
}

// spawn runs f as a session goroutine unless the session is closing.
func (ss *session) spawn(f func()) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return false
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		f()
	}()
	return true
}

// onTrack starts the RTP and RTCP readers of a remote track.
func (ss *session) onTrack(tr *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
	mimeType := tr.Codec().MimeType
	ss.log.Info("whip track", "kind", tr.Kind().String(), "codec", mimeType, "ssrc", uint32(tr.SSRC()))
	ss.spawn(func() { ss.readRTCP(rx) })
	switch {
	case tr.Kind() == webrtc.RTPCodecTypeVideo && ss.plan.Video != nil:
		ss.spawn(func() { ss.readVideo(tr) })
	case tr.Kind() == webrtc.RTPCodecTypeAudio && ss.plan.Audio != nil:
		ss.spawn(func() { ss.readAudio(tr) })
	default:
		ss.spawn(func() { discardRTP(tr) })
	}
}

func discardRTP(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}

// readRTCP reads the RTCP of a receiver (so the interceptors see it) and
// keeps the sender reports (RFC 3550 §6.4.1) for A/V sync.
func (ss *session) readRTCP(rx *webrtc.RTPReceiver) {
	for {
		pkts, _, err := rx.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				ss.mu.Lock()
				ss.media.senderReport(sr.SSRC, sr.NTPTime, sr.RTPTime)
				ss.mu.Unlock()
			}
		}
	}
}

// requestKeyframe sends a PLI (RFC 4585 §6.3.1) for ssrc.
func (ss *session) requestKeyframe(ssrc uint32) {
	if err := ss.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		ss.log.Debug("whip pli not sent", "error", err)
	}
}

// maxInterleaveHold bounds how long a video unit waits for the transcoded
// audio (ffmpeg's Opus→AAC path adds 100-300 ms); past it video goes out
// alone, so a stalled transcoder never stalls the picture.
const maxInterleaveHold = 600 * time.Millisecond

// writeUnit writes u to the hub and counts it; called with ss.mu held
// (Publisher.Write never blocks).
//
// With the AAC transcode the audio of a moment arrives after its video.
// The HLS packager cuts segments on video key frames, so audio that comes
// after the cut would be missing from the closed segment and leave a hole
// players stall on. Video is therefore held until audio has reached its
// presentation time (or maxInterleaveHold passed), so the hub sees the two
// interleaved as RTMP and SRT deliver them.
func (ss *session) writeUnit(u *stream.Unit, kind stream.Kind) {
	m := &ss.media
	if !m.aac || m.audioIndex < 0 {
		ss.emit(u, kind)
		return
	}
	if kind == stream.KindAudio {
		ss.emit(u, kind)
		m.lastAudio, m.audioSeen = u.PTS, true
	} else {
		m.held = append(m.held, u)
	}
	ss.flushHeld(time.Now(), false)
}

// flushHeld writes the held video units whose audio has arrived, or that
// waited maxInterleaveHold; all of them when all is set. Called with ss.mu
// held.
func (ss *session) flushHeld(now time.Time, all bool) {
	m := &ss.media
	n := 0
	for _, v := range m.held {
		ready := all || (m.audioSeen && v.PTS <= m.lastAudio) || now.Sub(v.Wall) >= maxInterleaveHold
		if !ready {
			break
		}
		ss.emit(v, stream.KindVideo)
		n++
	}
	if n > 0 {
		rest := copy(m.held, m.held[n:])
		clear(m.held[rest:])
		m.held = m.held[:rest]
	}
}

func (ss *session) emit(u *stream.Unit, kind stream.Kind) {
	ss.media.pub.Write(u)
	ss.srv.cfg.Metrics.Received(Protocol, ss.live.ID, kind, u.Size(), u.Key)
}
