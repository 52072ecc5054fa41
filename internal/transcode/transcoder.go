package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ErrorCode values the transcoder reports through Config.OnError (they
// become the code of a live_input.errored event).
const (
	// CodeCapacityExceeded: transcoding was at capacity; the stream runs
	// passthrough-only.
	CodeCapacityExceeded = "transcode.capacity_exceeded"
	// CodeFailed: ffmpeg failed repeatedly; the stream stays passthrough.
	CodeFailed = "transcode_failed"
)

// RenditionWriter receives the access units of one rendition (track 0
// video, track 1 audio when present), on the source's timeline.
type RenditionWriter interface {
	Write(u *stream.Unit) error
}

// RenditionRemover is implemented by RenditionWriters whose rendition can
// be taken out of the packager while the stream goes on (a rung that gave
// up): new players no longer see it, players on it move to another
// variant.
type RenditionRemover interface {
	Remove()
}

// RenditionEnder is implemented by RenditionWriters that end with the
// source's broadcast (a rendition stream in the hub).
type RenditionEnder interface {
	End()
}

// Output is where renditions land: in the daemon, the hub (the live
// input's stream publishes each rung back into the hub, Node).
type Output interface {
	// AddRendition adds rendition name to the live input's packager with
	// tracks (video first).
	AddRendition(liveInput, name string, tracks []stream.Track) (RenditionWriter, error)
}

// Config configures a Transcoder.
type Config struct {
	// FFmpeg is the ffmpeg program (default "ffmpeg").
	FFmpeg string
	// Detection is the encoder Detect chose.
	Detection Detection
	// VAAPIDevice is the VAAPI render node (default /dev/dri/renderD128).
	VAAPIDevice string
	// Profiles are the rungs live inputs may name.
	Profiles []Profile
	// Account is the ffmpeg capacity every ffmpeg job of the daemon draws
	// on; a ladder is a live job of LadderUnits. nil = an account of its
	// own with Capacity.
	Account *ffmpeg.Account
	// Capacity is the budget in units (see RungUnits) of the account made
	// when Account is nil. 0 = AutoCapacity (30 units per core for x264,
	// 8 x 1080p60 for hardware).
	Capacity float64
	// Output receives the renditions of the sinks made by Sink; nodes
	// (Kind) publish theirs into the hub instead.
	Output Output
	// Metrics may be nil.
	Metrics *Metrics
	// OnError, when set, is told about a stream the transcoder gave up on
	// (CodeCapacityExceeded, CodeFailed). It must not block.
	OnError func(liveInput, code, message string)
	// Backoff is the first restart delay (default 500 ms), doubled per
	// consecutive failure up to MaxBackoff (default 10 s).
	Backoff, MaxBackoff time.Duration
	// MaxFailures is the number of consecutive failed runs (each shorter
	// than 30 s) after which the stream stays passthrough (default 5).
	MaxFailures int
	// StallTimeout: an ffmpeg fed the stream that gives no rung output for
	// this long is killed and restarted (default 20 s).
	StallTimeout time.Duration
	Logger       *slog.Logger
}

// Transcoder runs the ladders of live streams; one per daemon.
type Transcoder struct {
	cfg      Config
	log      *slog.Logger
	ladders  atomic.Int64
	standins standins
}

// New returns a Transcoder.
func New(cfg Config) (*Transcoder, error) {
	if cfg.FFmpeg == "" {
		cfg.FFmpeg = "ffmpeg"
	}
	if cfg.Detection.Family == "" {
		cfg.Detection.Family, cfg.Detection.Encoder = X264, X264.Encoder("h264")
	}
	if cfg.Account == nil {
		if cfg.Capacity <= 0 {
			cfg.Capacity = AutoCapacity(cfg.Detection.Family, runtime.NumCPU())
		}
		var err error
		if cfg.Account, err = ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: cfg.Capacity}); err != nil {
			return nil, fmt.Errorf("transcode: %w", err)
		}
	}
	cfg.Capacity = cfg.Account.Total()
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 20 * time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Transcoder{cfg: cfg, log: cfg.Logger}
	if m := cfg.Metrics; m != nil {
		m.encoder.WithLabelValues(cfg.Detection.Encoder).Set(1)
	}
	return t, nil
}

// Capacity is the ffmpeg budget in units (the account's).
func (t *Transcoder) Capacity() float64 { return t.cfg.Account.Total() }

// Used is the units the running ffmpeg jobs cost: the ladders and whatever
// else draws on the account.
func (t *Transcoder) Used() float64 { return t.cfg.Account.Used() }

// Profiles are the configured profiles (the rungs a live input's ladder
// may name).
func (t *Transcoder) Profiles() []Profile { return append([]Profile(nil), t.cfg.Profiles...) }

// Active is the number of ladders running now.
func (t *Transcoder) Active() int { return int(t.ladders.Load()) }

// Sink returns the graph sink that transcodes s into the rungs named by
// ladder. It satisfies pipeline.Sink.
func (t *Transcoder) Sink(s *stream.Stream, ladder []string) *Sink {
	k := &Sink{t: t, s: s, ladder: append([]string(nil), ladder...), out: t.cfg.Output, log: t.log.With("live_input", s.ID()),
		planned: make(chan struct{})}
	t.standins.add(k)
	return k
}

// Sink transcodes one stream (see Transcoder.Sink).
type Sink struct {
	t      *Transcoder
	s      *stream.Stream
	ladder []string
	// profiles replace the configured ones when not nil (a pipeline's
	// transcode.abr node names its rungs itself).
	profiles []Profile
	out      Output
	// errored, when set, is told about a stream given up on instead of
	// Config.OnError.
	errored interface {
		Errored(liveInput, code, message string)
	}
	log *slog.Logger

	mu      sync.Mutex
	pid     int     // the running ffmpeg, 0 when none
	standin standin // see Transcoder.Standin
	// planned is closed once standin is first set
	planned  chan struct{}
	planOnce sync.Once
}

// Name implements pipeline.Sink.
func (k *Sink) Name() string { return "transcode" }

// PID is the process id of the running ffmpeg, 0 when none (tests).
func (k *Sink) PID() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.pid
}

// videoInfo reads the size and frame rate from the video parameter sets.
func videoInfo(c stream.Codec) (codec string, w, h int, fps float64, err error) {
	switch c := c.(type) {
	case stream.H264:
		var sps h264.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return "", 0, 0, 0, fmt.Errorf("h264 sps: %w", err)
		}
		return "h264", sps.Width(), sps.Height(), sps.FPS(), nil
	case stream.H265:
		var sps h265.SPS
		if err := sps.Unmarshal(c.SPS); err != nil {
			return "", 0, 0, 0, fmt.Errorf("h265 sps: %w", err)
		}
		return "h265", sps.Width(), sps.Height(), sps.FPS(), nil
	case stream.VP8:
		if c.Width <= 0 || c.Height <= 0 {
			return "", 0, 0, 0, errors.New("vp8 size unknown")
		}
		return "vp8", c.Width, c.Height, 0, nil
	case stream.VP9:
		if c.Width <= 0 || c.Height <= 0 {
			return "", 0, 0, 0, errors.New("vp9 size unknown")
		}
		return "vp9", c.Width, c.Height, 0, nil
	case nil:
		return "", 0, 0, 0, errors.New("no video")
	default:
		return "", 0, 0, 0, fmt.Errorf("%w: %s", errUnsupportedCodec, c.Name())
	}
}

// planRungs is PlanLadder for a source in codec c of w x h at fps; a source
// HLS cannot carry (stream.TranscodedOnly) gets a rung at its height on top
// when none is there, since the rungs are all there is.
// Profiles, when not nil, replace the configured ones (a pipeline's
// ladder).
func (t *Transcoder) planRungs(profiles []Profile, ladder []string, c stream.Codec, w, h int, fps float64) ([]Rung, error) {
	if profiles == nil {
		profiles = t.cfg.Profiles
	}
	rungs, err := PlanLadder(profiles, ladder, w, h, fps)
	if err != nil {
		return nil, err
	}
	if stream.TranscodedOnly(c) {
		rungs = withSourceRung(profiles, rungs, w, h)
	}
	return rungs, nil
}

// TopRung returns the highest rung the transcoder makes of a stream whose
// video is c with ladder (profile names): the rendition that stands for
// the source when the stream has none (VP8, VP9), e.g. for recording. ok
// is false when c is not transcoded or the ladder plans no rung.
func (t *Transcoder) TopRung(c stream.Codec, ladder []string) (r Rung, ok bool) {
	return t.topRung(nil, c, ladder)
}

func (t *Transcoder) topRung(profiles []Profile, c stream.Codec, ladder []string) (r Rung, ok bool) {
	_, w, h, fps, err := videoInfo(c)
	if err != nil {
		return r, false
	}
	rungs, err := t.planRungs(profiles, ladder, c, w, h, fps)
	if err != nil || len(rungs) == 0 {
		return r, false
	}
	return rungs[0], true
}

// Run implements pipeline.Sink: it plans the ladder, takes a capacity slot
// and runs ffmpeg until the stream ends, restarting it with backoff when it
// dies. It never fails the source: errors are logged and reported, and the
// stream stays passthrough-only.
func (k *Sink) Run(ctx context.Context, r *stream.Reader) error {
	tracks := k.s.Tracks()
	var vcodec, acodec string
	var job Job
	var srcFPS float64
	for _, tr := range tracks {
		if tr.Kind() == stream.KindVideo && vcodec == "" {
			c, w, h, fps, err := videoInfo(tr.Codec)
			if err != nil {
				k.log.Warn("not transcoding", "error", err)
				k.setStandin("", fmt.Errorf("%w: %w", ErrNoRung, err))
				return nil
			}
			vcodec, srcFPS = c, fps
			rungs, err := k.t.planRungs(k.profiles, k.ladder, tr.Codec, w, h, fps)
			if err != nil {
				k.log.Warn("not transcoding", "error", err)
				k.setStandin("", fmt.Errorf("%w: %w", ErrNoRung, err))
				return nil
			}
			job.Rungs = rungs
			job.GOP = 10 * max(30, int(fps+0.5))
			job.FrameThreads = w*h > frameThreadsAbove
		} else if tr.Kind() == stream.KindAudio && acodec == "" {
			acodec = tr.Codec.Name()
		}
	}
	if len(job.Rungs) == 0 {
		k.log.Info("no ladder rung below the source; passthrough only")
		k.setStandin("", fmt.Errorf("%w: the source is smaller than every rung of its ladder", ErrNoRung))
		return nil
	}
	job.Family, job.VAAPIDevice, job.InputCodec, job.AudioCodec = k.t.cfg.Detection.Family, k.t.cfg.VAAPIDevice, vcodec, acodec

	units := LadderUnits(job.Family, job.Rungs, srcFPS)
	lease, err := k.t.cfg.Account.Take(ffmpeg.Live, units)
	if err != nil {
		used := k.t.cfg.Account.Used()
		msg := capacityMessage(units, used, k.t.cfg.Account.Total())
		k.log.Warn(msg)
		if m := k.t.cfg.Metrics; m != nil {
			m.refused.Inc()
		}
		k.report(CodeCapacityExceeded, msg)
		k.setStandin("", fmt.Errorf("%w: %.1f of %.1f units used, the ladder needs %.1f; raise transcode.capacity or end another transcoded stream",
			ErrAtCapacity, used, k.t.cfg.Account.Total(), units))
		return nil
	}
	k.setStandin(job.Rungs[0].Name, nil)
	k.t.ladders.Add(1)
	if m := k.t.cfg.Metrics; m != nil {
		m.active.Inc()
	}
	defer func() {
		lease.Release()
		k.t.ladders.Add(-1)
		if m := k.t.cfg.Metrics; m != nil {
			m.active.Dec()
			m.speed.DeleteLabelValues(k.s.ID())
			for _, rg := range job.Rungs {
				m.fps.DeleteLabelValues(k.s.ID(), rg.Name)
				m.delay.DeleteLabelValues(k.s.ID(), rg.Name)
			}
		}
	}()
	names := make([]string, len(job.Rungs))
	for i, rg := range job.Rungs {
		names[i] = fmt.Sprintf("%s(%dx%d)", rg.Name, rg.Width, rg.Height)
	}
	k.log.Info("transcoding", "encoder", k.t.cfg.Detection.Encoder, "rungs", names, "units", fmt.Sprintf("%.1f", units))

	st := &runState{job: job, tracks: tracks, rends: make([]*rungOut, len(job.Rungs))}
	for i, rg := range job.Rungs {
		st.rends[i] = &rungOut{name: rg.Name}
	}
	// renditions end with the source (after ffmpeg flushed); one removed
	// below on giving up is ended already. A ladder stopped while the
	// source goes on (a pipeline's ladder changed or deleted) withdraws
	// them: out of the multivariant playlist, so that players move to
	// the source or the new ladder's rungs.
	defer func() {
		withdraw := false
		select {
		case <-k.s.Ended():
		default:
			withdraw = ctx.Err() != nil
		}
		for _, ro := range st.rends {
			if rm, ok := ro.w.(RenditionRemover); ok && withdraw {
				rm.Remove()
			} else if e, ok := ro.w.(RenditionEnder); ok {
				e.End()
			}
		}
	}()
	policy := ffmpeg.Restart{Backoff: k.t.cfg.Backoff, MaxBackoff: k.t.cfg.MaxBackoff, MaxFailures: k.t.cfg.MaxFailures}
	err = policy.Run(ctx, k.log, func(ctx context.Context) error {
		err := k.runOnce(ctx, r, st)
		switch {
		case errors.Is(err, stream.ErrEnded):
			return nil
		case errors.Is(err, errSourceDiscontinuity):
			// the source's timeline restarted (publisher reconnect): a new
			// ffmpeg on a new base, the rungs marked discontinuous like the
			// source
			k.log.Info("source discontinuity; restarting ffmpeg on the new timeline")
			st.haveBase = false
			for _, ro := range st.rends {
				ro.disc = true
			}
			return fmt.Errorf("%w: %w", ffmpeg.ErrRestartNow, err)
		}
		return err
	}, func(error) {
		if m := k.t.cfg.Metrics; m != nil {
			m.restarts.WithLabelValues(k.s.ID()).Inc()
		}
	})
	if err == nil {
		return nil
	}
	k.log.Error("transcoding stopped; the stream stays passthrough", "error", err)
	// the rungs will get no more media: out of the multivariant playlist,
	// so that players leave them for the source
	for _, ro := range st.rends {
		if rm, ok := ro.w.(RenditionRemover); ok {
			rm.Remove()
		}
		ro.w = nil
	}
	k.report(CodeFailed, fmt.Sprintf("ffmpeg failed %d times in a row: %v", k.t.cfg.MaxFailures, errors.Unwrap(err)))
	k.setStandin("", fmt.Errorf("%w: ffmpeg failed %d times in a row", ErrNoRung, k.t.cfg.MaxFailures))
	return nil
}

// report tells about a stream given up on.
func (k *Sink) report(code, message string) {
	switch {
	case k.errored != nil:
		k.errored.Errored(k.s.ID(), code, message)
	case k.t.cfg.OnError != nil:
		k.t.cfg.OnError(k.s.ID(), code, message)
	}
}

// runState is what survives ffmpeg restarts: the timeline mapping and the
// renditions.
type runState struct {
	job      Job
	tracks   []stream.Track
	haveBase bool
	base     time.Duration // source DTS that maps to tsPad
	// cts is the source's composition delay (PTS - DTS of its first key
	// frame, B-frames): rung frames (no B-frames) get DTS = PTS - cts so
	// their key frames have the source's DTS, and segment boundaries and
	// dates line up; their PTS is that DTS too (see writeRungFrame), and
	// their audio moves with it.
	cts   time.Duration
	wall0 time.Time
	// walls maps source video DTS to ingest wall-clock (rung PDTs)
	walls wallMap
	rends []*rungOut
	// carry is the unit that ended the previous run (a discontinuity): the
	// next run starts with it.
	carry *stream.Unit
}

// rungOut is one rung's rendition in the packager.
type rungOut struct {
	name  string
	w     RenditionWriter
	video stream.Codec // H.264 or H.265 in effect
	audio *stream.AAC  // nil until ffmpeg's first audio frame
	// hasAudio: the rendition was created with an audio track
	hasAudio bool
	frames   int64
	// disc marks the next unit written as Discontinuity (the source's
	// timeline restarted).
	disc bool
}

// errSourceDiscontinuity ends a run when the source's timeline restarts.
var errSourceDiscontinuity = errors.New("source discontinuity")

// errExited is returned by runOnce when ffmpeg exited while the stream
// went on.
var errExited = errors.New("ffmpeg exited")

// runOnce runs one ffmpeg process until it exits, the stream ends or ctx is
// done. It returns nil at the stream's end.
func (k *Sink) runOnce(ctx context.Context, r *stream.Reader, st *runState) (err error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := len(st.job.Rungs)
	p, err := ffmpeg.Start(rctx, ffmpeg.Config{
		Path: k.t.cfg.FFmpeg, Args: Args(st.job), Logger: k.log,
		Stdin: true, Outputs: n, StallTimeout: k.t.cfg.StallTimeout, Metrics: k.t.cfg.Account.Metrics(),
	})
	if err != nil {
		return err
	}
	defer p.Stop()
	k.mu.Lock()
	k.pid = p.PID()
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.pid = 0
		k.mu.Unlock()
	}()

	var wg sync.WaitGroup
	defer wg.Wait() // before p.Stop closes the pipes
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.readRung(p.Output(i), st, st.rends[i], i == 0); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) {
				k.log.Warn("reading rung", "rung", st.rends[i].name, "error", err)
				cancel()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-p.Done()
		cancel() // unblocks the feeder
	}()

	stdin := p.Stdin()
	feedErr := k.feed(rctx, r, stdin, st)
	_ = stdin.Close() // at the end of the input ffmpeg flushes and exits
	if feedErr != nil && !errors.Is(feedErr, stream.ErrEnded) && !errors.Is(feedErr, errSourceDiscontinuity) {
		cancel() // ffmpeg is killed by the context
	}
	werr := p.Wait()
	wg.Wait()
	switch {
	case errors.Is(feedErr, stream.ErrEnded):
		return nil // ffmpeg flushed and exited
	case errors.Is(feedErr, errSourceDiscontinuity):
		return feedErr
	case ctx.Err() != nil:
		return ctx.Err()
	case werr != nil:
		return fmt.Errorf("%w: %w", errExited, werr)
	default:
		return errExited
	}
}

// feed writes the stream's units to ffmpeg as MPEG-TS, starting at a video
// key frame. It returns stream.ErrEnded at the stream's end.
func (k *Sink) feed(ctx context.Context, r *stream.Reader, w io.Writer, st *runState) error {
	mux, err := newInputMuxer(w, append([]stream.Track(nil), st.tracks...), st.job.InputCodec)
	if err != nil {
		return err
	}
	vIdx := mux.videoTrack()
	started := false
	for {
		u := st.carry
		st.carry = nil
		if u == nil {
			var err error
			if u, err = r.Next(ctx); err != nil {
				return err
			}
		}
		if u.Track >= len(st.tracks) {
			continue
		}
		if u.Discontinuity && started {
			st.carry = u
			return errSourceDiscontinuity
		}
		if u.Codec != nil {
			st.tracks[u.Track].Codec = u.Codec
		}
		if !started {
			if u.Track != vIdx || !u.Key {
				continue
			}
			started = true
		}
		if !st.haveBase {
			st.base, st.wall0, st.haveBase = u.DTS, u.Wall, true
			st.walls.reset()
			st.cts = max(0, u.PTS-u.DTS)
		}
		mux.setBase(st.base)
		if u.Track == vIdx {
			st.walls.add(u.DTS, u.Wall)
		}
		if err := mux.write(u); err != nil {
			return fmt.Errorf("write to ffmpeg: %w", err)
		}
	}
}

// inputMuxer writes source units in ffmpeg's input container.
type inputMuxer interface {
	videoTrack() int
	setBase(time.Duration)
	write(*stream.Unit) error
}

// newInputMuxer is the muxer of InputFormat(codec).
func newInputMuxer(w io.Writer, tracks []stream.Track, codec string) (inputMuxer, error) {
	if InputFormat(codec) == "matroska" {
		return newMKVMuxer(w, tracks, 0)
	}
	return newTSMuxer(w, tracks, 0)
}

func (m *mkvMuxer) videoTrack() int         { return m.vIdx }
func (m *mkvMuxer) setBase(b time.Duration) { m.base = b }

// maxHeldVideo bounds the video frames a rung holds back while it waits
// for its first audio frame (the rendition is created with both tracks);
// past it the rendition starts without audio.
const maxHeldVideo = 90

// readRung reads one rung's MPEG-TS and writes it into its rendition. The
// rendition is created at the first video frame (a key frame: the demuxer
// holds video back until one with known parameter sets) once the audio
// codec is known too, when the job has audio.
func (k *Sink) readRung(rd io.Reader, st *runState, ro *rungOut, measure bool) error {
	fr := newTSRungReader(rd, k.log.With("rung", ro.name))
	var held []*rungFrame
	lastTick := time.Now()
	var tickFrames int64
	var tickMedia time.Duration = -1
	for {
		f, err := fr.next()
		if err != nil {
			return err
		}
		if !f.Video && ro.audio == nil {
			if c, ok := f.Codec.(stream.AAC); ok {
				ro.audio = &c
			}
		}
		if ro.w == nil {
			if f.Video {
				held = append(held, f)
			}
			if len(held) == 0 || (st.job.AudioCodec != "" && ro.audio == nil && len(held) < maxHeldVideo) {
				continue
			}
			tracks := []stream.Track{{Codec: held[0].Codec}}
			if st.job.AudioCodec != "" && ro.audio != nil {
				tracks = append(tracks, stream.Track{Codec: *ro.audio})
			}
			w, err := k.out.AddRendition(k.s.ID(), ro.name, tracks)
			if err != nil {
				return fmt.Errorf("add rendition %s: %w", ro.name, err)
			}
			ro.w, ro.video, ro.hasAudio = w, held[0].Codec, len(tracks) > 1
			if f.Video {
				f = nil // it is the last held frame
			}
			for _, h := range held {
				k.writeRungFrame(st, ro, h)
			}
			tickFrames += int64(len(held))
			held = nil
			if f == nil {
				continue
			}
		}
		if f.Video {
			tickFrames++
		}
		u := k.writeRungFrame(st, ro, f)
		if m := k.t.cfg.Metrics; m != nil && u != nil && f.Video {
			if tickMedia < 0 {
				tickMedia = u.DTS
			}
			if el := time.Since(lastTick); el >= 2*time.Second {
				m.fps.WithLabelValues(k.s.ID(), ro.name).Set(float64(tickFrames) / el.Seconds())
				m.delay.WithLabelValues(k.s.ID(), ro.name).Set(time.Since(u.Wall).Seconds())
				if measure {
					m.speed.WithLabelValues(k.s.ID()).Set((u.DTS - tickMedia).Seconds() / el.Seconds())
				}
				lastTick, tickFrames, tickMedia = time.Now(), 0, u.DTS
			}
		}
	}
}

// writeRungFrame maps f onto the source's timeline and writes it into the
// rung's rendition. It returns the unit written, nil for a frame it skips
// (audio the rendition has no track for).
func (k *Sink) writeRungFrame(st *runState, ro *rungOut, f *rungFrame) *stream.Unit {
	u := &stream.Unit{
		DTS: f.DTS - tsPad + st.base,
		PTS: f.PTS - tsPad + st.base,
		Key: f.Key,
	}
	// Presentation moves cts earlier, for audio too (in sync), so that a
	// rung frame's PTS is its DTS: a player that starts a new timeline at a
	// discontinuity (the restart of this transcoder) maps the first frame's
	// decode time to the segment's start, and a composition delay would
	// leave that much of a hole in its buffer before the first frame
	// (hls.js then stops loading at the hole).
	u.PTS -= st.cts
	if f.Video {
		u.DTS = min(u.DTS, u.PTS)
		if !f.Codec.Equal(ro.video) {
			u.Codec, ro.video = f.Codec, f.Codec
		}
		u.NALUs = f.NALUs
		ro.frames++
	} else {
		if !ro.hasAudio {
			return nil
		}
		u.DTS -= st.cts
		u.Track = 1
		u.Data = f.Data
	}
	if w, ok := st.walls.at(u.DTS); ok {
		u.Wall = w
	} else {
		u.Wall = st.wall0.Add(u.DTS - st.base)
	}
	if ro.disc && f.Video {
		u.Discontinuity, ro.disc = true, false
	}
	if err := ro.w.Write(u); err != nil {
		k.log.Debug("rendition write failed", "rung", ro.name, "error", err)
	}
	return u
}
