package transcode

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/mpegflow/mpegflow/internal/mpegts"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// rungFrame is one access unit read back from ffmpeg for a rung.
type rungFrame struct {
	Video bool
	// Codec is the codec in effect for the frame (stream.H264, stream.H265
	// or stream.AAC); Changed says it differs from the previous frame's of
	// its kind.
	Codec   stream.Codec
	Changed bool
	// DTS and PTS are ffmpeg's output timestamps (90 kHz, unwrapped).
	DTS, PTS time.Duration
	Key      bool
	NALUs    [][]byte
	Data     []byte
}

// rungMaxJump is the timestamp step the rung demuxer takes for a
// discontinuity. ffmpeg's output is continuous (-copyts on a continuous
// input), so only a step this large, which no stream makes, would rebase.
const rungMaxJump = time.Hour

// tsRungReader reads the MPEG-TS (ISO/IEC 13818-1) ffmpeg writes for one
// rung, with the shared MPEG-TS demuxer (internal/mpegts): H.264 or H.265
// video and AAC audio. Other streams are ignored, malformed input is
// counted and contained by the demuxer, never fatal.
type tsRungReader struct {
	r       io.Reader
	d       *mpegts.Demuxer
	buf     []byte
	q       []*rungFrame
	errs    int
	flushed bool
}

// newTSRungReader reads r; log receives the demuxer's warnings (its
// informational lines, "program" at every ffmpeg start, are left out).
func newTSRungReader(r io.Reader, log *slog.Logger) *tsRungReader {
	t := &tsRungReader{r: r, buf: make([]byte, 64<<10)}
	t.d = mpegts.NewDemuxer(t, slog.New(minLevel{log.Handler(), slog.LevelWarn}), rungMaxJump)
	return t
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}

// Unit implements mpegts.Sink.
func (t *tsRungReader) Unit(kind stream.Kind, c stream.Codec, u *stream.Unit) {
	f := &rungFrame{Video: kind == stream.KindVideo, Codec: c, Changed: u.Codec != nil,
		DTS: u.DTS, PTS: u.PTS, Key: u.Key, NALUs: u.NALUs, Data: u.Data}
	if !f.Video {
		f.Key = true
	}
	t.q = append(t.q, f)
}

// TSError implements mpegts.Sink.
func (t *tsRungReader) TSError(string) { t.errs++ }

// Dropped implements mpegts.Sink.
func (t *tsRungReader) Dropped(stream.Kind) {}

// next returns the next frame; the reader's error (io.EOF at the end of
// ffmpeg's output) once every frame was returned, the last one included.
func (t *tsRungReader) next() (*rungFrame, error) {
	for len(t.q) == 0 {
		n, err := t.r.Read(t.buf)
		if n > 0 {
			t.d.Feed(t.buf[:n], time.Now())
		}
		if err != nil {
			if !t.flushed {
				t.flushed = true
				t.d.Flush(time.Now())
			}
			if len(t.q) == 0 {
				return nil, err
			}
		}
	}
	f := t.q[0]
	t.q[0] = nil
	t.q = t.q[1:]
	return f, nil
}
