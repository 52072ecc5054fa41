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
	"github.com/mpegflow/mpegflow/internal/ingest"
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
	im     ingest.InputMetrics // the live input's counters

	ctx    context.Context
	cancel context.CancelFunc
	endNow atomic.Bool
	done   chan struct{}
	conn   chan struct{} // closed when the PeerConnection connected
	connO  sync.Once
	wg     sync.WaitGroup // track and RTCP readers, kick watcher

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
		im:     s.cfg.Metrics.Input(Protocol, li.ID),
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
	s.cfg.Metrics.SessionOpened(Protocol, li.ID)
	video, audio := "none", "none"
	if plan.Video != nil {
		video = plan.Video.Mime
	}
	if plan.Audio != nil {
		audio = plan.Audio.Mime
	}
	ss.log.Info("whip session created", "video", video, "audio", audio)
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
// PeerConnection, waits for the readers and detaches the publisher.
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
	ss.mu.Lock()
	pub := ss.media.pub
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

// writeUnit writes u to the hub and counts it; called with ss.mu held
// (Publisher.Write never blocks). Video and audio go out as they arrive:
// nothing waits for a transcode.
func (ss *session) writeUnit(u *stream.Unit, kind stream.Kind) {
	ss.media.pub.Write(u)
	ss.im.Received(kind, u.Size(), u.Key)
}
