package transcode

import (
	"fmt"
	"io"
	"time"

	"github.com/mpegflow/mpegflow/internal/mpegts"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// errUnsupportedCodec is returned by the input muxers for a codec ffmpeg's
// input container here cannot carry.
var errUnsupportedCodec = fmt.Errorf("codec not supported by the transcoder input")

// tsPad keeps timestamps positive: the first source DTS maps to 10 s (the
// MPEG-TS muxer's and the Matroska muxer's alike).
const tsPad = mpegts.Pad

// tsInput is ffmpeg's MPEG-TS input: the shared muxer of internal/mpegts.
type tsInput struct{ m *mpegts.Muxer }

func newTSMuxer(w io.Writer, tracks []stream.Track, base time.Duration) (tsInput, error) {
	m, err := mpegts.NewMuxer(w, tracks, base)
	if err != nil {
		return tsInput{}, fmt.Errorf("%w: %w", errUnsupportedCodec, err)
	}
	return tsInput{m}, nil
}

func (t tsInput) videoTrack() int            { return t.m.VideoTrack() }
func (t tsInput) setBase(b time.Duration)    { t.m.SetBase(b) }
func (t tsInput) write(u *stream.Unit) error { return t.m.Write(u) }
