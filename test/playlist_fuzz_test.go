package e2e

import "testing"

// FuzzParsePlaylist: the test playlist parser never panics, and whatever it
// accepts can be checked without panicking.
func FuzzParsePlaylist(f *testing.F) {
	f.Add(sampleLive)
	f.Add("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001f\"\nv.m3u8\n")
	f.Add("#EXTM3U\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n#EXTINF:1,\ns.mp4\n")
	f.Add("#EXTM3U\n#EXT-X-PART:DURATION=0.2,URI=\"p\"\n#EXT-X-PROGRAM-DATE-TIME:x\n")
	f.Fuzz(func(t *testing.T, body string) {
		p, err := parsePlaylist(body)
		if err != nil {
			return
		}
		checkLLHLS(p, true)
		checkLLHLS(p, false)
		checkMultivariant(p)
		p.nextPart()
		p.progress()
	})
}
