package hls

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// discardWriter is an http.ResponseWriter that keeps its header map and
// counts the body bytes, so that a benchmark measures the handler only.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// benchToken is shaped like an RS256 playback token: 36 + 1 + 110 + 1 +
// 342 characters of base64url.
func benchToken() string {
	var b strings.Builder
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	x := uint32(2463534242)
	for i := 0; i < 490; i++ {
		if i == 36 || i == 147 {
			b.WriteByte('.')
			continue
		}
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte(alphabet[x%64])
	}
	return b.String()
}

// BenchmarkBlockedPlaylist measures the answer to a blocking playlist
// reload once the part it waits for is there (what every woken waiter
// does): 68 s window, 10 s target duration, 200 ms parts (the daemon's
// defaults: parts listed for the last 30 s). Cases: no query, the same
// with gzip, a per-player token as ?token= (carried onto all ~190 URIs),
// and the same with gzip, each player with its own token ("token-gzip")
// or all with the same ("token-gzip-shared"). The playlist template is
// shared, as in a fan-out. B/resp is the body size.
func BenchmarkBlockedPlaylist(b *testing.B) {
	m, err := NewMuxer(MuxerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(b), Audio: testAAC()})
	feed(b, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, audio: true, duration: 100 * time.Second}, testH264(b))
	m.mu.Lock()
	msn, idx, _ := r.lastPartPos()
	m.mu.Unlock()
	blocking := "_HLS_msn=" + itoa(int(msn)) + "&_HLS_part=" + itoa(idx)
	tok := benchToken()
	for _, tc := range []struct {
		name, query  string
		gzip, unique bool
	}{
		{"plain", "", false, false},
		{"plain-gzip", "", true, false},
		{"token", "token=" + tok + "&", false, false},
		{"token-gzip-shared", "token=" + tok + "&", true, false},
		{"token-gzip", "token=" + tok + "&", true, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodGet, "/v/media.m3u8?"+tc.query+blocking, nil)
			if tc.gzip {
				req.Header.Set("Accept-Encoding", "gzip, deflate, br")
			}
			w := &discardWriter{h: http.Header{}}
			m.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("HTTP %d", w.status)
			}
			size := w.n
			// distinct tokens, one per player; each round over them starts
			// with the template's per-query cache emptied, so that every
			// request builds its body
			var ring []string
			if tc.unique {
				for i := range 1024 {
					ring = append(ring, "token="+tok[:len(tok)-10]+itoa(1_000_000_000+i)+"&"+blocking)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if tc.unique {
					if i%len(ring) == 0 {
						m.mu.Lock()
						for _, t := range r.tmpl {
							if t != nil {
								t.carryMu.Lock()
								t.carried = nil
								t.carryMu.Unlock()
							}
						}
						m.mu.Unlock()
					}
					req.URL.RawQuery = ring[i%len(ring)]
				}
				w.n = 0
				clear(w.h)
				m.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(size), "B/resp")
		})
	}
}

// BenchmarkCarryBody compares ways to build the body of one playlist with
// a per-player token carried (68 s window as BenchmarkBlockedPlaylist):
// the expanded text alone (what a client without gzip gets), gzip at
// BestSpeed of that text per request (compress/gzip), and the splice
// (gzipCarry from the template's bit stream for the query's length, built
// once per part and length, not per request).
func BenchmarkCarryBody(b *testing.B) {
	m, err := NewMuxer(MuxerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(b), Audio: testAAC()})
	feed(b, r, feedSpec{frameDur: time.Second / 30, gop: 2 * time.Second, audio: true, duration: 100 * time.Second}, testH264(b))
	m.mu.Lock()
	t := r.mediaTemplateLocked(skipNone)
	m.mu.Unlock()
	q := "token=" + benchToken()
	lz := tokenize(t.data, t.cuts)
	lz.encode(m.fixedCodes(), t.data)
	buf := t.expand(q)
	b.Run("expand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = t.expandInto(buf[:0], q)
		}
		b.ReportMetric(float64(len(buf)), "B/resp")
	})
	b.Run("gzip-bestspeed", func(b *testing.B) {
		zw, _ := gzip.NewWriterLevel(io.Discard, gzip.BestSpeed)
		var out bytes.Buffer
		b.ReportAllocs()
		for b.Loop() {
			buf = t.expandInto(buf[:0], q)
			out.Reset()
			zw.Reset(&out)
			_, _ = zw.Write(buf)
			_ = zw.Close()
		}
		b.ReportMetric(float64(out.Len()), "B/resp")
	})
	b.Run("splice", func(b *testing.B) {
		var n int
		b.ReportAllocs()
		scratch := make([]byte, 0, 2*crcChunk+len(q)+1024)
		cc := lz.code(m.fixedCodes(), t.data, t.cuts, 1+len(q))
		for b.Loop() {
			n = len(gzipCarry(m.fixedCodes(), t.data, t.cuts, cc, nil, q, scratch))
		}
		b.ReportMetric(float64(n), "B/resp")
	})
	b.Run("splice-planned-crc", func(b *testing.B) {
		var n int
		cc := lz.code(m.fixedCodes(), t.data, t.cuts, 1+len(q))
		plan := newCRCPlan(t.data, t.cuts, 1+len(q))
		b.ReportAllocs()
		for b.Loop() {
			n = len(gzipCarry(m.fixedCodes(), t.data, t.cuts, cc, plan, q, nil))
		}
		b.ReportMetric(float64(n), "B/resp")
	})
	b.Run("crc-plan", func(b *testing.B) {
		for b.Loop() {
			_ = newCRCPlan(t.data, t.cuts, 1+len(q))
		}
	})
}
