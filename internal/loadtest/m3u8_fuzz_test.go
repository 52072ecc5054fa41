package loadtest

import "testing"

// FuzzParsePlaylist feeds arbitrary bytes to the playlist parser: it must
// not panic, and what it accepts must be self-consistent.
func FuzzParsePlaylist(f *testing.F) {
	f.Add([]byte(llPlaylist))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\nv.m3u8\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pl, err := ParsePlaylist(data)
		if err != nil {
			return
		}
		var prev uint64
		for i, s := range pl.Segments {
			if i > 0 && s.MSN <= prev {
				t.Fatalf("MSN not increasing: %d after %d", s.MSN, prev)
			}
			prev = s.MSN
			if !s.Complete && i != len(pl.Segments)-1 {
				t.Fatal("incomplete segment before the last")
			}
			for _, p := range s.Parts {
				if p.URI == "" || p.Duration < 0 {
					t.Fatalf("bad part %+v", p)
				}
			}
		}
		n := nextPart(pl)
		if l := lastListed(pl); !l.less(n) {
			t.Fatalf("lastListed %v not before nextPart %v", l, n)
		}
	})
}

// FuzzParseAttributes checks the attribute-list parser never panics and
// never returns lower-case or empty names.
func FuzzParseAttributes(f *testing.F) {
	f.Add(`DURATION=0.200,URI="part1.mp4",INDEPENDENT=YES`)
	f.Add(`TYPE=PART,URI="p.mp4",BYTERANGE-START=0`)
	f.Fuzz(func(t *testing.T, s string) {
		attrs, err := ParseAttributes(s)
		if err != nil {
			return
		}
		for k := range attrs {
			if k == "" {
				t.Fatal("empty name")
			}
			for _, c := range []byte(k) {
				if c >= 'a' && c <= 'z' {
					t.Fatalf("lower-case name %q", k)
				}
			}
		}
	})
}
