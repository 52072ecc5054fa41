package bind

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Thumbnail nodes make a JPEG of the source's video every `every` of
// stream time: at the first key frame due, that one frame alone is given
// to ffmpeg (the one supervisor, internal/ffmpeg) as an elementary stream
// (H.264 and H.265 in Annex B, ITU-T H.264 Annex B; VP8 and VP9 in IVF)
// and decoded into one image. The job draws on the on-demand share of the
// ffmpeg capacity, like the recorder's thumbnails: when it does not fit,
// that picture is skipped (and said in last_error), never queued in front
// of a live ladder. Each node keeps its latest images in
// Dir/LIVE_INPUT/NODE/ (config keep, default DefaultThumbnailKeep), so its
// disk is bounded; the newest of a live input is served by the API at
// GET /v1/live_inputs/ID/thumbnail.jpg, also after its broadcast ended.

// DefaultThumbnailKeep is how many images a thumbnail node keeps.
const DefaultThumbnailKeep = 3

// thumbnailJobTimeout bounds one ffmpeg run: decoding one frame takes
// well under a second.
const thumbnailJobTimeout = 30 * time.Second

// ErrNoThumbnail is returned by Latest when a live input has no image.
var ErrNoThumbnail = errors.New("no thumbnail")

// ThumbnailsConfig configures Thumbnails.
type ThumbnailsConfig struct {
	// Dir holds the images (created). Required.
	Dir string
	// FFmpeg is the ffmpeg program. Required.
	FFmpeg string
	// Capacity is the ffmpeg budget; nil: no budget.
	Capacity *ffmpeg.Account
	Logger   *slog.Logger
}

// Thumbnails makes and keeps the images of thumbnail nodes.
type Thumbnails struct {
	cfg ThumbnailsConfig
	log *slog.Logger
}

// NewThumbnails returns Thumbnails writing under cfg.Dir.
func NewThumbnails(cfg ThumbnailsConfig) (*Thumbnails, error) {
	if cfg.Dir == "" || cfg.FFmpeg == "" {
		return nil, errors.New("bind: thumbnails need a directory and ffmpeg")
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("thumbnails: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// the work files of jobs a previous run left (a crash)
	for _, pat := range []string{"*.in", "*.tmp"} {
		left, _ := filepath.Glob(filepath.Join(cfg.Dir, "*", "*", pat))
		for _, f := range left {
			_ = os.Remove(f)
		}
	}
	return &Thumbnails{cfg: cfg, log: cfg.Logger}, nil
}

// safeName is what a live input id or node id must look like to name a
// directory (ids are validated upstream; this keeps paths inside Dir).
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$`)

// Latest returns the path of the newest image of live input li, among its
// thumbnail nodes', and when it was made; ErrNoThumbnail when none.
func (t *Thumbnails) Latest(li string) (string, time.Time, error) {
	if !safeName.MatchString(li) {
		return "", time.Time{}, ErrNoThumbnail
	}
	nodes, _ := os.ReadDir(filepath.Join(t.cfg.Dir, li))
	best, bestName := "", ""
	for _, n := range nodes {
		if !n.IsDir() {
			continue
		}
		dir := filepath.Join(t.cfg.Dir, li, n.Name())
		imgs := images(dir)
		if len(imgs) > 0 && imgs[len(imgs)-1] > bestName {
			bestName, best = imgs[len(imgs)-1], filepath.Join(dir, imgs[len(imgs)-1])
		}
	}
	if best == "" {
		return "", time.Time{}, ErrNoThumbnail
	}
	st, err := os.Stat(best)
	if err != nil {
		return "", time.Time{}, ErrNoThumbnail
	}
	return best, st.ModTime(), nil
}

// LiveThumbnail returns the newest image the thumbnail nodes of live
// input id made (see Thumbnails.Latest): the API serves it at
// GET /v1/live_inputs/ID/thumbnail.jpg. ok is false when there is none.
func (r *Runtime) LiveThumbnail(id string) (path string, made time.Time, ok bool) {
	if r.cfg.Thumbnails == nil {
		return "", time.Time{}, false
	}
	path, made, err := r.cfg.Thumbnails.Latest(id)
	return path, made, err == nil
}

// Forget removes the images of live input li (it was deleted).
func (t *Thumbnails) Forget(li string) error {
	if !safeName.MatchString(li) {
		return nil
	}
	return os.RemoveAll(filepath.Join(t.cfg.Dir, li))
}

// Sweep removes the images of every live input that exists no longer
// (deleted while this daemon was down, or by another node): exists
// reports whether one does. It stops at ctx's end.
func (t *Thumbnails) Sweep(ctx context.Context, exists func(ctx context.Context, li string) (bool, error)) {
	ents, _ := os.ReadDir(t.cfg.Dir)
	for _, e := range ents {
		if ctx.Err() != nil {
			return
		}
		if !e.IsDir() {
			continue
		}
		ok, err := exists(ctx, e.Name())
		if err != nil || ok {
			continue
		}
		if err := t.Forget(e.Name()); err != nil {
			t.log.Warn("thumbnails of a deleted live input not removed", "live_input", e.Name(), "error", err)
		}
	}
}

// images lists the images of a node's directory, oldest first (their
// names are the nanoseconds they were made at, zero-padded).
func images(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".jpg") && !e.IsDir() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// prune removes all but the newest keep images of dir.
func prune(dir string, keep int) error {
	imgs := images(dir)
	var errs []error
	for len(imgs) > keep {
		errs = append(errs, os.Remove(filepath.Join(dir, imgs[0])))
		imgs = imgs[1:]
	}
	return errors.Join(errs...)
}

// thumbnailType builds thumbnail nodes (nil t: the type is not offered).
func thumbnailType(t *Thumbnails) NodeType {
	return func(n manifest.Node) (func(*pipeline.Env) (pipeline.Node, error), error) {
		every := 10 * time.Second
		if s, ok := n.Config["every"].(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("config.every: %q is not a positive duration", s)
			}
			every = d
		}
		width, _ := intOf(n.Config["width"])
		keep := int64(DefaultThumbnailKeep)
		if k, ok := intOf(n.Config["keep"]); ok && k > 0 {
			keep = k
		}
		if !safeName.MatchString(n.ID) {
			return nil, fmt.Errorf("node id %q cannot name a directory", n.ID)
		}
		return func(env *pipeline.Env) (pipeline.Node, error) {
			li := env.Source.ID()
			if !safeName.MatchString(li) {
				return nil, fmt.Errorf("live input id %q cannot name a directory", li)
			}
			th := &thumbnail{t: t, id: n.ID, every: every, width: int(width), keep: int(keep), video: -1,
				dir: filepath.Join(t.cfg.Dir, li, n.ID), log: t.log.With("live_input", li, "node", n.ID)}
			for i, tr := range env.Source.Tracks() {
				if tr.Kind() == stream.KindVideo {
					th.video, th.codec = i, tr.Codec
					break
				}
			}
			if th.video < 0 {
				return nil, errors.New("the source has no video")
			}
			if err := os.MkdirAll(th.dir, 0o750); err != nil {
				return nil, fmt.Errorf("thumbnail directory: %w", err)
			}
			th.r = env.Source.AddReader("thumbnail:"+n.ID, stream.ReaderOptions{})
			return th, nil
		}, nil
	}
}

// thumbnail is a thumbnail node. It reads the source through its own
// bounded reader and hands due key frames to one worker goroutine of its
// own, so it never holds back the source or the other nodes; a frame due
// while the worker is still busy waits for the next key frame.
type thumbnail struct {
	t     *Thumbnails
	id    string
	dir   string
	every time.Duration
	width int
	keep  int
	log   *slog.Logger

	r     *stream.Reader
	video int
	codec stream.Codec

	in, made, skipped atomic.Uint64
	lastErr           atomic.Pointer[string]
}

func (th *thumbnail) ID() string   { return th.id }
func (th *thumbnail) Kind() string { return "thumbnail" }

// Counters implements pipeline.Counted: units read, images made, and
// units dropped by its reader or pictures skipped (busy, failed).
func (th *thumbnail) Counters() pipeline.Counters {
	return pipeline.Counters{In: th.in.Load(), Out: th.made.Load(), Dropped: th.r.Dropped() + th.skipped.Load()}
}

// LastError implements pipeline.Reporting: why the last picture was not
// made ("" once one is).
func (th *thumbnail) LastError() string {
	if p := th.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

func (th *thumbnail) fail(err error) {
	s := err.Error()
	th.lastErr.Store(&s)
	th.skipped.Add(1)
}

// schedule decides whether the unit is the next picture: a key frame of
// the video track at or after next (stream time), or one from before the
// last picture (the timeline started again: a publisher that came back);
// it returns the following due time.
func schedule(u *stream.Unit, video int, next, every time.Duration, first bool) (bool, time.Duration) {
	if u.Track != video || !u.Key {
		return false, next
	}
	if !first && u.DTS < next && u.DTS >= next-every {
		return false, next
	}
	return true, u.DTS + every
}

func (th *thumbnail) Run(ctx context.Context) error {
	defer th.r.Close()
	jobs := make(chan picture, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := range jobs {
			th.make(ctx, p)
		}
	}()
	defer wg.Wait()
	defer close(jobs)
	var next time.Duration
	first := true
	for {
		u, err := th.r.Next(ctx)
		if err != nil {
			return err
		}
		th.in.Add(1)
		if u.Codec != nil && u.Track == th.video {
			th.codec = u.Codec
		}
		due, after := schedule(u, th.video, next, th.every, first)
		if !due {
			continue
		}
		frame, err := elementary(th.codec, u)
		if err != nil {
			th.fail(err)
			first, next = false, after // said once per period
			continue
		}
		select {
		case jobs <- picture{frame: frame, format: demuxer(th.codec)}:
			first, next = false, after
		default: // the last picture is still being made: the next key frame
		}
	}
}

// picture is one key frame to decode: an elementary stream and its
// ffmpeg input format.
type picture struct {
	frame  []byte
	format string
}

// make decodes p into the node's next image and prunes the old ones.
func (th *thumbnail) make(ctx context.Context, p picture) {
	if ctx.Err() != nil {
		return // stopped: the frames still queued are not made
	}
	if c := th.t.cfg.Capacity; c != nil {
		lease, err := c.Take(ffmpeg.OnDemand, ffmpeg.ThumbnailUnits)
		if err != nil {
			th.fail(fmt.Errorf("busy, picture skipped: %w", err))
			return
		}
		defer lease.Release()
	}
	ctx, cancel := context.WithTimeout(ctx, thumbnailJobTimeout)
	defer cancel()
	stamp := strconv.FormatInt(time.Now().UnixNano(), 10)
	stamp = strings.Repeat("0", max(0, 20-len(stamp))) + stamp
	in := filepath.Join(th.dir, stamp+".in")
	tmp := filepath.Join(th.dir, stamp+".tmp")
	defer os.Remove(in)
	defer os.Remove(tmp)
	if err := os.WriteFile(in, p.frame, 0o640); err != nil {
		th.fail(err)
		return
	}
	args := []string{"-hide_banner", "-nostdin", "-v", "error", "-y", "-f", p.format, "-i", in, "-frames:v", "1", "-q:v", "3"}
	if th.width > 0 {
		args = append(args, "-vf", "scale="+strconv.Itoa(th.width)+":-2")
	}
	args = append(args, "-f", "image2", "-c:v", "mjpeg", tmp)
	var m *ffmpeg.Metrics
	if c := th.t.cfg.Capacity; c != nil {
		m = c.Metrics()
	}
	err := ffmpeg.Run(ctx, ffmpeg.Config{Path: th.t.cfg.FFmpeg, Args: args, Logger: th.log.With("job", "thumbnail"),
		Progress: true, StallTimeout: thumbnailJobTimeout, Metrics: m})
	if err == nil {
		if st, serr := os.Stat(tmp); serr != nil || st.Size() == 0 {
			err = errors.New("ffmpeg made no image")
		}
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(th.dir, stamp+".jpg"))
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopped while making it
		}
		th.log.Warn("thumbnail not made", "error", err)
		th.fail(fmt.Errorf("thumbnail: %w", err))
		return
	}
	th.made.Add(1)
	th.lastErr.Store(nil)
	if err := prune(th.dir, th.keep); err != nil {
		th.log.Warn("old thumbnails not removed", "error", err)
	}
}

// demuxer is ffmpeg's input format of elementary's output for c.
func demuxer(c stream.Codec) string {
	switch c.(type) {
	case stream.H265:
		return "hevc"
	case stream.VP8, stream.VP9:
		return "ivf"
	}
	return "h264"
}

// elementary returns key frame u of codec c as a stream ffmpeg decodes on
// its own: the parameter sets then the NAL units with start codes (ITU-T
// H.264 Annex B, H.265 Annex B), or an IVF file of one frame (VP8, VP9).
func elementary(c stream.Codec, u *stream.Unit) ([]byte, error) {
	var b []byte
	annexB := func(nalus ...[]byte) {
		for _, n := range nalus {
			if len(n) > 0 {
				b = append(b, 0, 0, 0, 1)
				b = append(b, n...)
			}
		}
	}
	switch c := c.(type) {
	case stream.H264:
		annexB(c.SPS, c.PPS)
		annexB(u.NALUs...)
	case stream.H265:
		annexB(c.VPS, c.SPS, c.PPS)
		annexB(u.NALUs...)
	case stream.VP8, stream.VP9:
		if len(u.NALUs) != 1 {
			return nil, errors.New("thumbnail: a VP8/VP9 unit holds one frame")
		}
		fourcc, w, h := "VP80", 0, 0
		if v, ok := c.(stream.VP8); ok {
			w, h = v.Width, v.Height
		} else {
			v := c.(stream.VP9)
			fourcc, w, h = "VP90", v.Width, v.Height
		}
		return ivf(fourcc, w, h, u.NALUs[0]), nil
	default:
		name := "none"
		if c != nil {
			name = c.Name()
		}
		return nil, fmt.Errorf("thumbnail: no image of %s video here", name)
	}
	if len(b) == 0 {
		return nil, errors.New("thumbnail: an empty key frame")
	}
	return b, nil
}

// ivf is an IVF file (the libvpx container: a 32-byte header, then each
// frame after a 12-byte header, little-endian) holding one frame.
func ivf(fourcc string, w, h int, frame []byte) []byte {
	b := make([]byte, 32+12, 32+12+len(frame))
	copy(b, "DKIF")
	binary.LittleEndian.PutUint16(b[4:], 0)  // version
	binary.LittleEndian.PutUint16(b[6:], 32) // header size
	copy(b[8:], fourcc)
	binary.LittleEndian.PutUint16(b[12:], uint16(w))
	binary.LittleEndian.PutUint16(b[14:], uint16(h))
	binary.LittleEndian.PutUint32(b[16:], 30) // time base denominator
	binary.LittleEndian.PutUint32(b[20:], 1)  // numerator
	binary.LittleEndian.PutUint32(b[24:], 1)  // frames
	binary.LittleEndian.PutUint32(b[32:], uint32(len(frame)))
	return append(b, frame...)
}
