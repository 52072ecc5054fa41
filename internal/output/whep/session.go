package whep

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
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// ICE consent timers of viewer sessions (RFC 7675 §5.1).
var iceTimeouts = webrtcice.Timeouts{Disconnected: 5 * time.Second, Failed: 10 * time.Second, Keepalive: 2 * time.Second}

// nackBuffer is the packets per track each viewer's NACK responder keeps
// (a power of two; about a second of 2.5 Mb/s video).
const nackBuffer = 256

// session is one WHEP viewer: a PeerConnection sending the feed's frames
// from its own bounded queue.
type session struct {
	srv    *Server
	f      *feed
	id     string
	liveID string
	log    *slog.Logger
	pc     *webrtc.PeerConnection
	plan   offerPlan
	video  *webrtc.TrackLocalStaticRTP // nil when not sent
	audio  *webrtc.TrackLocalStaticRTP
	q      chan item

	ctx     context.Context
	cancel  context.CancelCauseFunc
	conn    chan struct{}
	connO   sync.Once
	done    chan struct{}
	wg      sync.WaitGroup // writer and RTCP readers
	mu      sync.Mutex     // guards closing
	closing bool

	// hold releases the viewer's demand for an on-demand source (nil:
	// none), at the end of run
	hold func()

	// only touched by the feed goroutine (offer)
	started, needKey bool
	dropped          atomic.Uint64
}

type item struct {
	fr    *frame
	track int
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newSession negotiates the PeerConnection for the offer and registers the
// session; it returns the answer with every local candidate (the server
// does not trickle).
func (s *Server) newSession(ctx context.Context, f *feed, liveID string, plan offerPlan, offer string, hold func()) (*session, string, error) {
	// the NACK responder (RFC 4585 §6.2.1) and RTCP sender reports
	api, err := s.cfg.ICE.NewAPI(webrtcice.APIConfig{Video: plan.Video, Audio: plan.Audio, NACKBuffer: nackBuffer, Timeouts: iceTimeouts})
	if err != nil {
		return nil, "", err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", fmt.Errorf("new peer connection: %w", err)
	}
	sctx, cancel := context.WithCancelCause(s.ctx)
	ss := &session{
		srv: s, f: f, id: randomID(), liveID: liveID, pc: pc, plan: plan,
		q:   make(chan item, s.cfg.QueueSize),
		ctx: sctx, cancel: cancel, conn: make(chan struct{}), done: make(chan struct{}), hold: hold,
	}
	ss.log = s.log.With("live_input", liveID, "session", ss.id)
	fail := func(err error) (*session, string, error) {
		cancel(err)
		_ = pc.Close()
		return nil, "", err
	}
	pc.OnConnectionStateChange(ss.onConnectionState)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(fmt.Errorf("%w: %s", errMalformedOffer, err.Error()))
	}
	var senders []*webrtc.RTPSender
	for _, c := range []*codecChoice{plan.Video, plan.Audio} {
		if c == nil {
			continue
		}
		kind := "video"
		if c == plan.Audio {
			kind = "audio"
		}
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{
			MimeType: c.Mime, ClockRate: c.ClockRate, Channels: c.Channels, SDPFmtpLine: c.Fmtp,
		}, kind, "mpegflow-"+liveID)
		if err != nil {
			return fail(fmt.Errorf("new %s track: %w", kind, err))
		}
		snd, err := pc.AddTrack(tr)
		if err != nil {
			return fail(fmt.Errorf("add %s track: %w", kind, err))
		}
		senders = append(senders, snd)
		if c == plan.Video {
			ss.video = tr
		} else {
			ss.audio = tr
		}
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
	if err := s.add(ss); err != nil {
		return fail(err)
	}
	for _, snd := range senders {
		ss.spawn(func() { ss.readRTCP(snd) })
	}
	go ss.run()
	return ss, local.SDP, nil
}

// stop ends the session for cause; idempotent.
func (ss *session) stop(cause error) { ss.cancel(cause) }

// run owns the session's lifetime: it waits for ICE+DTLS (reaping a
// session that never gets there), subscribes to the feed, and at the end
// closes the PeerConnection and waits for the session's goroutines.
func (ss *session) run() {
	defer ss.srv.wg.Done()
	defer close(ss.done)
	timer := time.NewTimer(ss.srv.cfg.ConnectTimeout)
	connected := false
	select {
	case <-ss.ctx.Done():
	case <-ss.conn:
		connected = true
	case <-timer.C:
		ss.srv.met.reaped.Inc()
		ss.stop(errNeverUp)
	}
	timer.Stop()
	// a viewer for whom no key frame can be asked upstream starts at the
	// feed's last one when it is recent (join.go)
	if connected && ss.f.join(ss, ss.f.requestKeyframe() == keyNext) {
		ss.srv.met.viewers.Inc()
		ss.log.Info("whep viewer connected")
		ss.spawn(ss.write)
		<-ss.ctx.Done()
		ss.f.remove(ss)
		ss.srv.met.viewers.Dec()
	} else if connected {
		ss.stop(errStreamEnded)
	}
	ss.mu.Lock()
	ss.closing = true
	ss.mu.Unlock()
	_ = ss.pc.Close()
	ss.wg.Wait()
	ss.srv.remove(ss)
	if ss.hold != nil {
		ss.hold()
	}
	ss.log.Info("whep session ended", "cause", context.Cause(ss.ctx).Error(), "dropped_frames", ss.dropped.Load())
}

func (ss *session) onConnectionState(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		ss.connO.Do(func() { close(ss.conn) })
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		ss.stop(errPeerGone)
	}
}

// spawn runs f as a session goroutine unless the session is closing.
func (ss *session) spawn(f func()) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closing {
		return
	}
	ss.wg.Add(1)
	go func() {
		defer ss.wg.Done()
		f()
	}()
}

// offer queues a frame of hub track track without blocking; called only
// by the feed goroutine. Video starts at a key frame, and after a drop
// (the queue was full) it resumes at the next key frame, so the viewer's
// decoder never gets a frame whose references it lacks.
func (ss *session) offer(fr *frame, track int) {
	if track != ss.plan.VideoTrack && track != ss.plan.AudioTrack {
		return
	}
	if fr.video {
		if !ss.started || ss.needKey {
			if !fr.key {
				return
			}
			ss.started, ss.needKey = true, false
		}
	}
	select {
	case ss.q <- item{fr, track}:
	default:
		ss.dropped.Add(1)
		ss.srv.met.dropped.Inc()
		if fr.video {
			ss.needKey = true
			_ = ss.f.requestKeyframe()
		}
	}
}

// write sends the queued frames. Sequence numbers are the session's own
// (RFC 3550 §5.1: consecutive per SSRC), so frames dropped for this viewer
// leave no gap its NACK generator would chase. Each frame's packets get
// headers of their own, never reused: the NACK responder keeps the
// headers written, without copying them (webrtcice.APIConfig.NACKBuffer);
// payloads are the frame's, shared and never modified.
func (ss *session) write() {
	var seqV, seqA uint16
	// audio headers are reused: audio has no NACK feedback, so the
	// responder keeps none of its packets
	var audio []rtp.Packet
	for {
		select {
		case <-ss.ctx.Done():
			return
		case it := <-ss.q:
			var out []rtp.Packet
			tr, seq := ss.audio, &seqA
			if it.track == ss.plan.VideoTrack {
				tr, seq = ss.video, &seqV
				out = make([]rtp.Packet, len(it.fr.pkts))
			} else {
				if cap(audio) < len(it.fr.pkts) {
					audio = make([]rtp.Packet, len(it.fr.pkts))
				}
				out = audio[:len(it.fr.pkts)]
			}
			for i, p := range it.fr.pkts {
				out[i] = *p
				out[i].SequenceNumber = *seq
				*seq++
				if err := tr.WriteRTP(&out[i]); err != nil {
					ss.stop(errPeerGone)
					return
				}
			}
		}
	}
}

// readRTCP reads a sender's RTCP, which feeds the interceptors (NACKs to
// the responder, receiver reports), and turns PLI and FIR into a key-frame
// request upstream.
func (ss *session) readRTCP(snd *webrtc.RTPSender) {
	for {
		pkts, _, err := snd.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				ss.f.pli()
			}
		}
	}
}
