package transcode

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// TestTSRungReader: H.264 and AAC from a synthetic MPEG-TS come back with
// their codecs and 90 kHz timestamps, the last video frame included, also
// when the pipe delivers one byte at a time.
func TestTSRungReader(t *testing.T) {
	m := mpegtstest.NewMuxer(mpegtstest.StreamTypeH264, mpegtstest.StreamTypeAACADTS)
	mpegtstest.AVClip(m, 30, 10, 900000, nil)
	for _, oneByte := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(m.Out)
		if oneByte {
			r = iotest.OneByteReader(r)
		}
		fr := newTSRungReader(r, slog.New(slog.DiscardHandler))
		var video, audio, keys int
		var first *rungFrame
		for {
			f, err := fr.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Video {
				if first == nil {
					first = f
				}
				video++
				if f.Key {
					keys++
				}
				if _, ok := f.Codec.(stream.H264); !ok {
					t.Fatalf("video codec %T", f.Codec)
				}
			} else {
				audio++
				if _, ok := f.Codec.(stream.AAC); !ok {
					t.Fatalf("audio codec %T", f.Codec)
				}
			}
		}
		if video != 30 || keys != 3 || audio == 0 {
			t.Errorf("one byte %v: %d video (%d key), %d audio; want 30 (3), some", oneByte, video, keys, audio)
		}
		if first == nil || first.DTS != 10*time.Second || first.PTS != 10*time.Second+2*time.Second/30 {
			t.Errorf("first video frame %+v, want DTS 10 s PTS 10.0667 s", first)
		}
	}
}

// FuzzTSRungReader feeds arbitrary bytes to the reader of ffmpeg's rung
// output (untrusted: a broken or hostile ffmpeg): it never panics, ends
// with the reader's error, and hands out only frames with a codec of their
// kind, PTS not before DTS, and no empty frame. Seeds: synthetic H.264 +
// AAC and a real libx265 + AAC clip (testdata/fuzz).
func FuzzTSRungReader(f *testing.F) {
	m := mpegtstest.NewMuxer(mpegtstest.StreamTypeH264, mpegtstest.StreamTypeAACADTS)
	mpegtstest.AVClip(m, 6, 3, 900000, nil)
	f.Add(m.Out)
	f.Add(m.Out[:700])
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newTSRungReader(iotest.HalfReader(bytes.NewReader(data)), slog.New(slog.DiscardHandler))
		for range len(data) + 2 {
			x, err := fr.next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("error %v, want io.EOF", err)
				}
				return
			}
			switch c := x.Codec.(type) {
			case stream.H264, stream.H265:
				if !x.Video {
					t.Fatalf("audio frame with codec %T", c)
				}
				if len(x.NALUs) == 0 {
					t.Fatal("video frame without NAL units")
				}
			case stream.AAC:
				if x.Video || len(x.Data) == 0 {
					t.Fatalf("AAC frame video %v, %d bytes", x.Video, len(x.Data))
				}
			default:
				t.Fatalf("codec %T", c)
			}
			if x.PTS < x.DTS {
				t.Fatalf("PTS %v before DTS %v", x.PTS, x.DTS)
			}
		}
		t.Fatal("more frames than input bytes")
	})
}
