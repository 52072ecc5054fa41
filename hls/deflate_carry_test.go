package hls

import (
	"bytes"
	"compress/gzip"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return out
}

// TestGzipCarry checks the spliced gzip of real playlists against the
// expanded text, for queries from empty to longer than a match.
func TestGzipCarry(t *testing.T) {
	m, _ := newFedMuxer(t, MuxerConfig{}, 100*time.Second)
	r := m.byName["v"]
	m.mu.Lock()
	tmpls := []*mediaTemplate{r.mediaTemplateLocked(skipNone), r.mediaTemplateLocked(skipYes)}
	m.mu.Unlock()
	for _, tm := range tmpls {
		lz := tokenize(tm.data, tm.cuts)
		f := newFixedCodes()
		lz.encode(f, tm.data)
		for _, q := range []string{"a", "ab", "abc", "token=" + benchToken(), "x=" + strings.Repeat("y", 600), "t=" + strings.Repeat("z", 256)} {
			gz := gzipCarry(f, tm.data, tm.cuts, lz.code(f, tm.data, tm.cuts, 1+len(q)), nil, q, nil)
			want := tm.expand(q)
			if got := gunzip(t, gz); !bytes.Equal(got, want) {
				t.Fatalf("q %.20q: %d bytes, want %d", q, len(got), len(want))
			}
			if len(q) > 100 && len(gz) > len(want)/8 {
				t.Errorf("q of %d bytes: %d compressed bytes of %d", len(q), len(gz), len(want))
			}
			// the bit stream of a length serves every query of that length
			q2 := strings.Map(func(r rune) rune { return r ^ 1 }, q)
			cc := lz.code(f, tm.data, tm.cuts, 1+len(q))
			if got := gunzip(t, gzipCarry(f, tm.data, tm.cuts, cc, newCRCPlan(tm.data, tm.cuts, 1+len(q)), q2, nil)); !bytes.Equal(got, tm.expand(q2)) {
				t.Fatalf("q %.20q: the stream of another query of its length differs", q2)
			}
		}
	}
}

// FuzzGzipCarry checks the splicer on arbitrary texts, cuts and queries.
func FuzzGzipCarry(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"part1.m4s\"\n#EXT-X-PART:DURATION=0.2,URI=\"part2.m4s\"\n"), []byte{40, 80}, "token=abc")
	f.Add(bytes.Repeat([]byte("aaaa"), 100), []byte{0, 1, 2, 3, 200}, "q")
	f.Fuzz(func(t *testing.T, data []byte, cutb []byte, q string) {
		if len(data) > 1<<16 || len(q) > 4096 || q == "" {
			return
		}
		var cuts []int32
		for _, c := range cutb {
			p := int32(int(c) * len(data) / 256)
			if len(cuts) == 0 || p > cuts[len(cuts)-1] {
				cuts = append(cuts, p)
			}
		}
		tm := &mediaTemplate{data: data, cuts: cuts}
		f := newFixedCodes()
		got := gunzip(t, gzipCarry(f, data, cuts, lzEncoded(f, data, cuts).code(f, data, cuts, 1+len(q)), nil, q, nil))
		if want := tm.expand(q); !bytes.Equal(got, want) {
			t.Fatalf("%d bytes, want %d", len(got), len(want))
		}
	})
}

// TestGzipCarryRandom runs the splicer on random repetitive texts with
// cuts everywhere, including long distances.
func TestGzipCarryRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := newFixedCodes()
	words := []string{"#EXT-X-PART:DURATION=0.20000,URI=\"part", ".m4s\"", "\n", "INDEPENDENT=YES", "seg", "12", "345", "\"", "?"}
	for it := 0; it < 200; it++ {
		var b []byte
		var cuts []int32
		n := rng.IntN(3000)
		for i := 0; i < n; i++ {
			b = append(b, words[rng.IntN(len(words))]...)
			if rng.IntN(4) == 0 && (len(cuts) == 0 || int(cuts[len(cuts)-1]) < len(b)) {
				cuts = append(cuts, int32(len(b)))
			}
		}
		q := strings.Repeat("k", rng.IntN(900)+1)
		tm := &mediaTemplate{data: b, cuts: cuts}
		if got := gunzip(t, gzipCarry(f, b, cuts, lzEncoded(f, b, cuts).code(f, b, cuts, 1+len(q)), nil, q, nil)); !bytes.Equal(got, tm.expand(q)) {
			t.Fatalf("#%d: mismatch", it)
		}
	}
}

func lzEncoded(f *fixedCodes, data []byte, cuts []int32) *lzTemplate {
	lz := tokenize(data, cuts)
	lz.encode(f, data)
	return lz
}

// TestCRCPlan checks the planned CRC-32 against the CRC of the expanded
// text, for random templates and queries.
func TestCRCPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for it := 0; it < 100; it++ {
		data := make([]byte, rng.IntN(5000)+1)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		var cuts []int32
		for p := rng.IntN(40); p <= len(data); p += 1 + rng.IntN(200) {
			cuts = append(cuts, int32(p))
		}
		if len(cuts) == 0 {
			continue
		}
		lq := 1 + rng.IntN(700)
		plan := newCRCPlan(data, cuts, lq)
		for k := 0; k < 3; k++ {
			q := make([]byte, lq-1)
			for i := range q {
				q[i] = byte(rng.IntN(256))
			}
			tm := &mediaTemplate{data: data, cuts: cuts}
			want := crc32.ChecksumIEEE(tm.expand(string(q)))
			if got := plan.crc(append([]byte{'?'}, q...)); got != want && lq > 1 {
				t.Fatalf("#%d: %08x, want %08x", it, got, want)
			}
		}
	}
}
