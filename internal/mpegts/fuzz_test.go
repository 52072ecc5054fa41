package mpegts

import (
	"log/slog"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// fuzzSink checks the Demuxer's output invariants.
type fuzzSink struct {
	t    *testing.T
	last map[stream.Kind]time.Duration
}

func (s *fuzzSink) Unit(k stream.Kind, c stream.Codec, u *stream.Unit) {
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
func (s *fuzzSink) TSError(string)      {}
func (s *fuzzSink) Dropped(stream.Kind) {}

// FuzzTSDemux feeds arbitrary bytes into the MPEG-TS → units path: it must
// never panic, and what comes out keeps its invariants (codec of the unit's
// kind, increasing DTS per kind, PTS ≥ DTS, no empty unit).
func FuzzTSDemux(f *testing.F) {
	m := mpegtstest.NewMuxer(streamTypeH264, streamTypeAACADTS)
	mpegtstest.AVClip(m, 8, 4, 900000, nil)
	f.Add(m.Out)
	f.Add(m.Out[:1000])
	o := mpegtstest.NewMuxer(0, streamTypePrivate)
	o.AudioDesc = []byte{0x05, 4, 'O', 'p', 'u', 's', 0x7F, 2, 0x80, 1}
	o.Tables()
	o.PES(o.AudioPID, 900000, -1, mpegtstest.OpusAU([]byte{0xFC, 1, 2, 3}), false)
	f.Add(o.Out)
	h := mpegtstest.NewMuxer(streamTypeH265, streamTypeAACADTS)
	h.Tables()
	f.Add(h.Out)
	f.Fuzz(func(t *testing.T, data []byte) {
		sink := &fuzzSink{t: t, last: map[stream.Kind]time.Duration{}}
		d := NewDemuxer(sink, slog.New(slog.DiscardHandler), 10*time.Second)
		// feed in SRT-sized chunks, or in odd ones chosen by the input
		n := 1316
		if len(data)%2 == 1 && len(data) > 0 {
			n = int(data[0]) + 1
		}
		now := time.Unix(1700000000, 0)
		for len(data) > 0 {
			k := min(n, len(data))
			d.Feed(data[:k], now)
			data = data[k:]
		}
	})
}
