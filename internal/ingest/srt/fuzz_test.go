package srt

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// FuzzStreamID: the stream id parser never panics, accepts only what it
// can explain, and a key it returns is a substring of its (decoded) input.
func FuzzStreamID(f *testing.F) {
	for _, s := range []string{"abc", "publish:abc", "#!::r=abc,m=publish", "#!::m=request,r=x", "read:x", "#!::r=a,r=b", "%23%21%3A%3Ar%3Dk", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseStreamID(s)
		if err != nil {
			if !errors.Is(err, ErrBadStreamID) && !errors.Is(err, ErrNotPublish) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		if id.Key != "" && !strings.Contains(s, id.Key) && !strings.Contains(decodeEncoded(s), id.Key) {
			t.Fatalf("key %q not in %q", id.Key, s)
		}
		if strings.ContainsAny(id.Key, "\x00\n") {
			t.Fatalf("control character in key %q", id.Key)
		}
	})
}

// fuzzSink checks the demuxer's output invariants.
type fuzzSink struct {
	t    *testing.T
	last map[stream.Kind]time.Duration
}

func (s *fuzzSink) unit(k stream.Kind, c stream.Codec, u *stream.Unit) {
	if c == nil || c.Kind() != k {
		s.t.Fatalf("unit of %s with codec %v", k, c)
	}
	if p, ok := s.last[k]; ok && u.DTS <= p {
		s.t.Fatalf("%s DTS %v after %v", k, u.DTS, p)
	}
	if u.PTS < u.DTS {
		s.t.Fatalf("PTS %v < DTS %v", u.PTS, u.DTS)
	}
	if u.Size() == 0 {
		s.t.Fatal("empty unit")
	}
	s.last[k] = u.DTS
}
func (s *fuzzSink) tsError(string)      {}
func (s *fuzzSink) dropped(stream.Kind) {}

// FuzzTSDemux feeds arbitrary bytes into the MPEG-TS → units path: it must
// never panic, and what comes out keeps its invariants (codec of the unit's
// kind, increasing DTS per kind, PTS ≥ DTS, no empty unit).
func FuzzTSDemux(f *testing.F) {
	m := newTSMuxer(streamTypeH264, streamTypeAACADTS)
	avClip(m, 8, 4, 900000, nil)
	f.Add(m.out)
	f.Add(m.out[:1000])
	o := newTSMuxer(0, streamTypePrivate)
	o.audioDsc = []byte{0x05, 4, 'O', 'p', 'u', 's', 0x7F, 2, 0x80, 1}
	o.tables()
	o.pes(o.audioPID, 900000, -1, opusAU([]byte{0xFC, 1, 2, 3}), false)
	f.Add(o.out)
	h := newTSMuxer(streamTypeH265, streamTypeAACADTS)
	h.tables()
	f.Add(h.out)
	f.Fuzz(func(t *testing.T, data []byte) {
		sink := &fuzzSink{t: t, last: map[stream.Kind]time.Duration{}}
		d := newDemuxer(sink, slog.New(slog.DiscardHandler), 10*time.Second)
		// feed in SRT-sized chunks, or in odd ones chosen by the input
		n := 1316
		if len(data)%2 == 1 && len(data) > 0 {
			n = int(data[0]) + 1
		}
		now := time.Unix(1700000000, 0)
		for len(data) > 0 {
			k := min(n, len(data))
			d.feed(data[:k], now)
			data = data[k:]
		}
	})
}
