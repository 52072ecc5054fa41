// Package audio is the transcode.audio node kind of live graphs: the Opus
// audio of a source (WebRTC's codec, what WHIP publishers send) transcoded
// to AAC-LC by ffmpeg and published back into the hub as a rendition of
// the live input holding only that track, for the players that take AAC
// only (Safari's HLS) and the LL-HLS packager's muxed source rendition.
package audio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// KindName is the node kind of the Opus→AAC transcode.
const KindName = "transcode.audio"

// RenditionName is the name of the AAC rendition in the hub
// (stream.RenditionKey(live input, "aac")).
const RenditionName = "aac"

// AAC output: AAC-LC, 48 kHz, stereo, 1024 samples per frame (ISO/IEC
// 14496-3 §4.5.1); Opus is always 48 kHz on the wire (RFC 7587 §4.1).
const (
	sampleRate   = 48000
	frameSamples = 1024
)

// aacConfig is the AudioSpecificConfig of the output: object type 2 (AAC
// LC), sampling frequency index 3 (48 kHz), channel configuration 2
// (ISO/IEC 14496-3 §1.6.2.1).
var aacConfig = [2]byte{0x11, 0x90}

// restartEach bounds how often a failed encoder is started again.
const restartEach = time.Second

// maxLag is the transcode's delay the packager allows for at a segment
// cut (pipeline.AudioRendition.Lag). An AAC frame is out about 60 ms
// after the Opus that completes it (priming, a frame's fill, the pipes)
// on a quiet host, p95 about 350 ms on a host with load 11; past the bound
// a segment is cut short of its audio rather than the picture held.
const maxLag = 600 * time.Millisecond

// Config configures a Transcoder.
type Config struct {
	// FFmpegPath is the ffmpeg program; "" looks up "ffmpeg" on PATH.
	// Without ffmpeg no node is built: the packager carries the Opus as it
	// came (no audio for Safari).
	FFmpegPath string
	// Account is the daemon's ffmpeg capacity: a node is a live job of
	// ffmpeg.AudioUnits; a source that finds no room when its graph is
	// built keeps its Opus. nil: not counted.
	Account *ffmpeg.Account
	// Logger receives the nodes' logs (ffmpeg's stderr included); nil
	// discards them.
	Logger *slog.Logger
}

// Transcoder builds the transcode.audio nodes.
type Transcoder struct {
	path string // "" without ffmpeg
	acct *ffmpeg.Account
	log  *slog.Logger
}

// New returns a Transcoder; it looks ffmpeg up once.
func New(cfg Config) *Transcoder {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	path := cfg.FFmpegPath
	if path == "" {
		path = "ffmpeg"
	}
	if p, err := exec.LookPath(path); err == nil {
		path = p
	} else {
		cfg.Logger.Warn("ffmpeg not found: Opus audio goes to HLS as Opus (no AAC for Safari)", "ffmpeg", path, "error", err)
		path = ""
	}
	return &Transcoder{path: path, acct: cfg.Account, log: cfg.Logger}
}

// Kind is the transcode as a node kind of live graphs: a source with an
// Opus track gets a node that reads it, encodes AAC with one ffmpeg child
// (internal/ffmpeg, drawing on the shared account) and publishes the AAC
// as the rendition RenditionName, stamped on the source's timeline (frame
// i starts exactly i·1024 samples after the first Opus packet fed, so the
// AAC is late in wall-clock time only, never in media time). Building the
// node sets Env.Audio, so the kind is registered before the packager's.
// Sources with AAC (RTMP, SRT, RTSP) get no node.
func (t *Transcoder) Kind() pipeline.Kind {
	return pipeline.Kind{Name: KindName, New: t.newNode}
}

func (t *Transcoder) newNode(env *pipeline.Env) (pipeline.Node, error) {
	if t.path == "" {
		return nil, nil
	}
	track := -1
	for i, tr := range env.Source.Tracks() {
		if _, ok := tr.Codec.(stream.Opus); ok {
			track = i
			break
		}
	}
	if track < 0 {
		return nil, nil
	}
	log := env.Log.With("node", KindName)
	n := &node{t: t, env: env, log: log, track: track}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	// ffmpeg starts now, while the publisher's first key frame is on its
	// way: the first AAC frames are not late by a process start.
	g, err := n.startGen(false)
	if err != nil {
		n.cancel()
		log.Warn("audio transcode unavailable, packaging opus", "error", err)
		return nil, nil
	}
	n.g = g
	env.Audio = &pipeline.AudioRendition{Name: RenditionName, Codec: stream.AAC{Config: aacConfig[:]}, Lag: maxLag}
	n.r = env.Source.AddReader(KindName, stream.ReaderOptions{})
	return n, nil
}

// node transcodes one source's Opus track.
type node struct {
	t      *Transcoder
	env    *pipeline.Env
	log    *slog.Logger
	track  int
	r      *stream.Reader
	ctx    context.Context // the encoders' (from New: see newNode)
	cancel context.CancelFunc

	// touched by Run only
	g        *gen
	lastFail time.Time // the last encoder that failed to start or exited

	mu  sync.Mutex // guards pub (set by Run, read by the encoders' goroutines)
	pub *stream.RenditionPublisher

	in, out, restarts, encDropped atomic.Uint64
}

var (
	_ pipeline.Node              = (*node)(nil)
	_ pipeline.RenditionProducer = (*node)(nil)
	_ pipeline.Counted           = (*node)(nil)
)

func (n *node) ID() string          { return KindName }
func (n *node) Kind() string        { return KindName }
func (n *node) ProducesRenditions() {}

// Counters implements pipeline.Counted: Opus packets in, AAC frames out,
// units dropped by the reader and the encoder's queue, encoder restarts.
func (n *node) Counters() pipeline.Counters {
	return pipeline.Counters{In: n.in.Load(), Out: n.out.Load(),
		Dropped: n.r.Dropped() + n.encDropped.Load(), Restarts: n.restarts.Load()}
}

// gen is one ffmpeg encoder and the timeline it encodes: its first Opus
// packet's PTS is the base every AAC frame of it is stamped from.
type gen struct {
	n    *node
	enc  *ffmpeg.AACEncoder
	ogg  *oggOpusWriter
	disc bool        // its first AAC unit starts a new timeline
	dead atomic.Bool // superseded: its remaining output is dropped

	mu    sync.Mutex // guards the base, set by Run, read by the encoder's goroutine
	based bool
	base  time.Duration
	wall  time.Time
	sent  bool
	cfg   []byte
}

// startGen starts an encoder:
//
//	ffmpeg -f ogg -i pipe:0 -af aresample=async=1 -c:a aac -b:a 128k -ar 48000 -ac 2 -f adts pipe:1
//
// Opus goes in as Ogg Opus (RFC 7845) pages, one packet each, with granule
// positions from the packets' PTS; aresample fills gaps from them, so
// output frame i ≥ 1 covers samples [(i-1)·1024, i·1024) after the first
// packet (frame 0 is the encoder's priming).
func (n *node) startGen(disc bool) (*gen, error) {
	g := &gen{n: n, ogg: newOggOpusWriter(0x6d70666c), disc: disc, cfg: aacConfig[:]}
	enc, err := ffmpeg.StartAACEncoder(n.ctx, ffmpeg.AACEncoderConfig{
		Path: n.t.path, Account: n.t.acct, Units: ffmpeg.AudioUnits,
		InputArgs: []string{"-f", "ogg"}, ProbeSize: 4096,
		FilterArgs: []string{"-af", "aresample=async=1"},
		SampleRate: sampleRate, Channels: 2, Bitrate: "128k",
		Logger: n.log, OnFrame: g.onFrame,
	})
	if err != nil {
		return nil, err
	}
	g.enc = enc
	enc.Write(g.ogg.headers(2))
	return g, nil
}

// stop ends g: with flush, the input ends and the last frames come out
// before it returns; without, its remaining output is dropped.
func (g *gen) stop(flush bool) {
	if !flush {
		g.dead.Store(true)
	}
	g.enc.Close()
	g.n.encDropped.Add(g.enc.Dropped())
}

// onFrame stamps AAC frame index of g and writes it to the rendition;
// called from the encoder's goroutine.
func (g *gen) onFrame(index int64, f ffmpeg.AACFrame) {
	if index == 0 || g.dead.Load() {
		return
	}
	g.mu.Lock()
	if !g.based {
		g.mu.Unlock()
		return
	}
	pts := g.base + samplesToDuration((index-1)*frameSamples)
	u := &stream.Unit{DTS: pts, PTS: pts, Wall: g.wall.Add(pts - g.base), Key: true, Data: f.Data}
	if !g.sent {
		g.sent = true
		u.Discontinuity = g.disc
	}
	if string(f.Config) != string(g.cfg) {
		g.cfg = f.Config
		u.Codec = stream.AAC{Config: f.Config}
		g.n.log.Warn("aac transcode config differs from the expected one", "config", f.Config)
	}
	g.mu.Unlock()
	g.n.mu.Lock()
	pub := g.n.pub
	g.n.mu.Unlock()
	if pub != nil {
		_ = pub.Write(u)
		g.n.out.Add(1)
	}
}

// samplesToDuration converts 48 kHz samples to a duration, rounded to the
// nanosecond.
func samplesToDuration(s int64) time.Duration {
	return time.Duration((s*int64(time.Second) + sampleRate/2) / sampleRate)
}

// durationToSamples converts a duration to 48 kHz samples, rounded: PTS
// made from 48 kHz RTP timestamps come back to their exact sample.
func durationToSamples(d time.Duration) int64 {
	if d < 0 {
		return -durationToSamples(-d)
	}
	return (int64(d)*sampleRate + int64(time.Second)/2) / int64(time.Second)
}

// Run publishes the rendition and feeds the source's Opus to the encoder
// until the source ends (the encoder flushes, the rendition ends with the
// broadcast) or ctx is done (the node was taken out of a running graph:
// the rendition is withdrawn).
func (n *node) Run(ctx context.Context) error {
	defer n.cancel()
	defer n.r.Close()
	pub, err := n.env.Source.PublishRendition(RenditionName, []stream.Track{{Codec: stream.AAC{Config: aacConfig[:]}}})
	if err != nil {
		n.g.stop(false)
		return fmt.Errorf("publish the aac rendition: %w", err)
	}
	n.mu.Lock()
	n.pub = pub
	n.mu.Unlock()
	for {
		u, err := n.r.Next(ctx)
		if err != nil {
			ended := errors.Is(err, stream.ErrEnded)
			if n.g != nil {
				n.g.stop(ended)
			}
			if ended {
				pub.End()
				return nil
			}
			select {
			case <-n.env.Source.Ended():
				pub.End()
			default:
				pub.Remove()
			}
			return nil
		}
		if u.Track == n.track {
			n.feed(u)
		}
	}
}

// feed writes one Opus packet to the encoder of its timeline.
func (n *node) feed(u *stream.Unit) {
	n.in.Add(1)
	disc := false
	if g := n.g; g != nil {
		switch {
		case u.Discontinuity:
			// the publisher reconnected: a new timeline, a new encoder
			// (what the old one still holds belongs to the old timeline)
			g.stop(false)
			n.g, disc = nil, true
		case isDone(g.enc):
			n.log.Warn("aac encoder exited; starting a new one")
			g.stop(false)
			n.g, n.lastFail = nil, time.Now()
			n.restarts.Add(1)
		}
	}
	if n.g == nil {
		if time.Since(n.lastFail) < restartEach {
			return
		}
		g, err := n.startGen(disc || u.Discontinuity)
		if err != nil {
			n.lastFail = time.Now()
			n.log.Warn("aac encoder not started", "error", err)
			return
		}
		n.g = g
	}
	g := n.g
	g.mu.Lock()
	if !g.based {
		g.based, g.base, g.wall = true, u.PTS, u.Wall
	}
	base := g.base
	g.mu.Unlock()
	samples := opusSamples(u.Data)
	granule := durationToSamples(u.PTS-base) + int64(samples)
	if samples == 0 || granule <= 0 {
		return // malformed, or from before the timeline's first packet
	}
	page, err := g.ogg.page(u.Data, uint64(granule), 0)
	if err != nil {
		return
	}
	g.enc.Write(page)
}

func isDone(e *ffmpeg.AACEncoder) bool {
	select {
	case <-e.Done():
		return true
	default:
		return false
	}
}
