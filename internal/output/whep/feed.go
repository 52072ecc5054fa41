package whep

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// frame is one access unit packetized: shared, read-only, by every viewer.
type frame struct {
	video bool
	key   bool
	pkts  []*rtp.Packet
}

// feed is the WHEP side of one hub stream: a single hub Reader whose units
// are packetized once per track and handed to every viewer's bounded
// queue. It lives as long as the stream (a publisher's reconnect within
// the window included); when the stream ends it ends its viewers.
type feed struct {
	srv *Server
	s   *stream.Stream
	log *slog.Logger
	r   *stream.Reader

	subs atomic.Pointer[[]*session] // copy-on-write snapshot for the data path
	smu  sync.Mutex                 // serialises subs updates; guards pending
	// pending are viewers the feed goroutine admits at its next unit
	// (join), hasPending says there are some
	pending    []*session
	hasPending atomic.Bool
	gop        gopCache // only touched by the feed goroutine

	// bframes is set once a video unit had PTS != DTS: WebRTC has no
	// decode timestamps, so such video cannot be passed through
	bframes atomic.Bool
	ended   chan struct{}

	kmu     sync.Mutex
	lastKey time.Time  // last key-frame request sent upstream
	lastOut keyOutcome // what came of it

	omu      sync.Mutex
	opus     atomic.Pointer[opusTranscoder] // AAC→Opus, started by the first viewer wanting audio
	opusDone bool                           // started or failed for good, or the feed ended
}

func newFeed(srv *Server, s *stream.Stream) *feed {
	f := &feed{
		srv:   srv,
		s:     s,
		log:   srv.log.With("live_input", s.ID()),
		r:     s.AddReader("whep", stream.ReaderOptions{QueueSize: feedQueue}),
		ended: make(chan struct{}),
	}
	f.subs.Store(&[]*session{})
	return f
}

// feedQueue is the feed's hub queue: the feed only packetizes and hands
// off, so it is short.
const feedQueue = 256

// run reads the stream until it ends or ctx is done, then ends the viewers.
func (f *feed) run(ctx context.Context) {
	defer close(f.ended)
	defer f.r.Close()
	pk := map[int]*packetizer{}
	for {
		u, err := f.r.Next(ctx)
		if err != nil {
			if !errors.Is(err, stream.ErrEnded) && !errors.Is(err, context.Canceled) {
				f.log.Warn("whep feed stopped", "error", err)
			}
			break
		}
		tracks := f.s.Tracks()
		if u.Track >= len(tracks) {
			continue
		}
		video := tracks[u.Track].Kind() == stream.KindVideo
		if aac, ok := tracks[u.Track].Codec.(stream.AAC); ok {
			if t := f.opus.Load(); t != nil && len(*f.subs.Load()) > 0 {
				t.write(u, aac.Config)
			}
			continue
		}
		if video && u.PTS != u.DTS && !f.bframes.Load() {
			f.bframes.Store(true)
			f.log.Warn("whep: the source has B-frames, which WebRTC cannot carry; ending its viewers")
			f.endViewers(errBFrames)
		}
		if video && f.bframes.Load() {
			continue
		}
		// with no viewer, packetize only to keep the frames since the
		// last key frame for the next one to join (join.go)
		if len(*f.subs.Load()) == 0 && !f.hasPending.Load() && f.srv.cfg.JoinMaxAge <= 0 {
			continue
		}
		p := pk[u.Track]
		if p == nil || u.Codec != nil && !sameCodecKind(p.codec, u.Codec) {
			if p = newPacketizer(tracks[u.Track].Codec); p == nil {
				continue
			}
			pk[u.Track] = p
		}
		pkts := p.packetize(u)
		if len(pkts) == 0 {
			continue
		}
		f.deliver(&frame{video: video, key: u.Key, pkts: pkts}, u.Track)
	}
	f.omu.Lock()
	f.opusDone = true
	f.omu.Unlock()
	if t := f.opus.Load(); t != nil {
		t.close()
	}
	f.endViewers(errStreamEnded)
}

// playable returns tracks as a viewer may get them: an AAC track as Opus
// when the stream's AAC→Opus transcode runs or may be started (ffmpeg
// configured, no failed start). WebRTC cannot carry AAC.
func (f *feed) playable(tracks []stream.Track) []stream.Track {
	f.omu.Lock()
	can := f.opus.Load() != nil || (!f.opusDone && f.srv.cfg.FFmpegPath != "")
	f.omu.Unlock()
	out := append([]stream.Track(nil), tracks...)
	for i, t := range out {
		if _, ok := t.Codec.(stream.AAC); ok && can {
			out[i] = stream.Track{Codec: stream.Opus{ChannelCount: 2}}
		}
	}
	return out
}

// startOpus starts the AAC→Opus transcode of hub track track once.
func (f *feed) startOpus(track int) bool {
	f.omu.Lock()
	defer f.omu.Unlock()
	if f.opus.Load() != nil {
		return true
	}
	if f.opusDone || f.srv.cfg.FFmpegPath == "" {
		return false
	}
	f.opusDone = true
	pk := newPacketizer(stream.Opus{ChannelCount: 2})
	t, err := startOpus(f.srv.ctx, f.srv.cfg.FFmpegPath, f.srv.cfg.Capacity, f.log, func(pkt []byte, pts time.Duration) {
		pkts := pk.packetize(&stream.Unit{Track: track, PTS: pts, DTS: pts, Key: true, Data: pkt})
		if len(pkts) == 0 {
			return
		}
		fr := &frame{key: true, pkts: pkts}
		for _, ss := range *f.subs.Load() {
			ss.offer(fr, track)
		}
	})
	if err != nil {
		f.log.Warn("whep: no AAC→Opus transcode, viewers get video only", "error", err)
		return false
	}
	f.log.Info("whep: AAC→Opus transcode started")
	f.opus.Store(t)
	return true
}

func sameCodecKind(a, b stream.Codec) bool { return a != nil && b != nil && a.Name() == b.Name() }

// add subscribes ss; false once the feed has ended.
func (f *feed) add(ss *session) bool {
	f.smu.Lock()
	defer f.smu.Unlock()
	select {
	case <-f.ended:
		return false
	default:
	}
	old := *f.subs.Load()
	next := make([]*session, 0, len(old)+1)
	next = append(append(next, old...), ss)
	f.subs.Store(&next)
	return true
}

func (f *feed) remove(ss *session) {
	f.smu.Lock()
	defer f.smu.Unlock()
	old := *f.subs.Load()
	next := make([]*session, 0, len(old))
	for _, x := range old {
		if x != ss {
			next = append(next, x)
		}
	}
	f.subs.Store(&next)
	for i, x := range f.pending {
		if x == ss {
			f.pending = append(f.pending[:i], f.pending[i+1:]...)
			break
		}
	}
}

// viewers is the number of sessions receiving from the feed, or about to.
func (f *feed) viewers() int {
	f.smu.Lock()
	defer f.smu.Unlock()
	return len(*f.subs.Load()) + len(f.pending)
}

func (f *feed) endViewers(cause error) {
	f.smu.Lock()
	pending := append([]*session(nil), f.pending...)
	f.smu.Unlock()
	for _, ss := range append(pending, *f.subs.Load()...) {
		ss.stop(cause)
	}
}

// requestKeyframe turns viewers' PLI/FIR (RFC 4585 §6.3.1, RFC 5104
// §4.3.1) and new viewers into at most one key-frame request upstream per
// keyframeRequestGap: to the WHIP publisher, or nothing for RTMP/SRT and
// for a transcoded rung (their next key frame comes at the source's
// interval; see join.go).
func (f *feed) requestKeyframe() keyOutcome {
	if f.srv.cfg.Keyframes == nil || f.s.Source() != nil {
		return keyNext
	}
	f.kmu.Lock()
	now := time.Now()
	if now.Sub(f.lastKey) < keyframeRequestGap {
		o := f.lastOut
		f.kmu.Unlock()
		if o == keyForwarded {
			return keyRateLimited
		}
		return o
	}
	f.lastKey, f.lastOut = now, keyNext
	f.kmu.Unlock()
	if !f.srv.cfg.Keyframes.RequestKeyframe(f.s.ID()) {
		return keyNext
	}
	f.srv.met.keyRequests.Inc()
	f.kmu.Lock()
	f.lastOut = keyForwarded
	f.kmu.Unlock()
	return keyForwarded
}

// keyframeRequestGap rate-limits key-frame requests upstream per stream.
const keyframeRequestGap = 500 * time.Millisecond
