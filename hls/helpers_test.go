package hls

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Parameter sets of a 320x240 High profile stream made by libx264.
func testH264(t testing.TB) H264 {
	sps, _ := hex.DecodeString("6764000dacd94141fb0110000003001000000303c0f1429960")
	pps, _ := hex.DecodeString("68ebe3cb22c0")
	return H264{SPS: sps, PPS: pps}
}

// testAAC is AAC-LC, 48 kHz, stereo.
func testAAC() AAC { return AAC{Config: []byte{0x11, 0x90}} }

type feedSpec struct {
	frameDur time.Duration // 0: no video
	gop      time.Duration
	bframes  bool
	audio    bool // AAC 48 kHz
	duration time.Duration
	start    time.Duration // first DTS
}

var testWall = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// feed writes synthetic units to r (video and/or audio interleaved in time order).
func feed(t testing.TB, r *Rendition, sp feedSpec, params H264) {
	t.Helper()
	payload := make([]byte, 1500)
	audioFrame := make([]byte, 300)
	var vi, ai int
	aDur := time.Second * 1024 / 48000
	gopFrames := 1
	if sp.frameDur > 0 {
		gopFrames = max(1, int(math.Round(float64(sp.gop)/float64(sp.frameDur))))
	}
	for {
		vt := time.Duration(math.MaxInt64)
		if sp.frameDur > 0 {
			vt = sp.start + time.Duration(vi)*sp.frameDur
		}
		at := time.Duration(math.MaxInt64)
		if sp.audio {
			at = sp.start + time.Duration(ai)*aDur
		}
		if min(vt, at) >= sp.start+sp.duration {
			return
		}
		if vt <= at {
			key := vi%gopFrames == 0
			pts := vt
			if sp.bframes {
				k := vi % gopFrames
				disp := k
				switch {
				case k == 0:
				case (k-1)%3 == 0:
					disp = k + 2
				default:
					disp = k - 1
				}
				pts = sp.start + time.Duration(vi-k+disp+1)*sp.frameDur
			}
			var nalus [][]byte
			if key {
				nalus = [][]byte{params.SPS, params.PPS, append([]byte{0x65}, payload...)}
			} else {
				nalus = [][]byte{append([]byte{0x41}, payload[:500]...)}
			}
			if err := r.WriteVideo(VideoUnit{DTS: vt, PTS: pts, Wall: testWall.Add(vt), Key: key, NALUs: nalus}); err != nil {
				t.Fatal(err)
			}
			vi++
		} else {
			if err := r.WriteAudio(AudioUnit{PTS: at, Wall: testWall.Add(at), Frame: audioFrame}); err != nil {
				t.Fatal(err)
			}
			ai++
		}
	}
}

func get(t testing.TB, h http.Handler, path string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/"+strings.TrimPrefix(path, "/"), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header(), body
}

func getPlaylist(t testing.TB, h http.Handler, path string) *playlist {
	t.Helper()
	code, hdr, body := get(t, h, path)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if ct := hdr.Get("Content-Type"); ct != contentTypePlaylist {
		t.Fatalf("GET %s: content type %q", path, ct)
	}
	pl, err := parsePlaylist(string(body))
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
	return pl
}

// boxes walks ISO BMFF boxes, calling fn with the type and payload.
func boxes(b []byte, fn func(typ string, body []byte)) bool {
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 8 || n > len(b) {
			return false
		}
		fn(string(b[4:8]), b[8:n])
		b = b[n:]
	}
	return len(b) == 0
}

// fragInfo is what the tests read back from a moof.
type fragInfo struct {
	firstSync  map[uint32]bool // per track: first sample is sync
	baseTime   map[uint32]uint64
	samples    map[uint32]int
	negCTO     bool
	ok         bool
	fragments  int
	trunV1     bool
	mdatLength int
}

func parseFragments(b []byte) fragInfo {
	fi := fragInfo{firstSync: map[uint32]bool{}, baseTime: map[uint32]uint64{}, samples: map[uint32]int{}}
	fi.ok = boxes(b, func(typ string, body []byte) {
		switch typ {
		case "mdat":
			fi.mdatLength += len(body)
		case "moof":
			fi.fragments++
			boxes(body, func(typ string, body []byte) {
				if typ != "traf" {
					return
				}
				var id uint32
				boxes(body, func(typ string, body []byte) {
					switch typ {
					case "tfhd":
						id = binary.BigEndian.Uint32(body[4:])
					case "tfdt":
						if _, ok := fi.baseTime[id]; !ok {
							fi.baseTime[id] = binary.BigEndian.Uint64(body[4:])
						}
					case "trun":
						fi.trunV1 = body[0] == 1
						flags := binary.BigEndian.Uint32(body) & 0xFFFFFF
						n := int(binary.BigEndian.Uint32(body[4:]))
						p := 12
						entry := 0
						for _, f := range []uint32{0x100, 0x200, 0x400, 0x800} {
							if flags&f != 0 {
								entry += 4
							}
						}
						if _, ok := fi.firstSync[id]; !ok {
							sync := true
							if flags&0x400 != 0 {
								off := p
								if flags&0x100 != 0 {
									off += 4
								}
								if flags&0x200 != 0 {
									off += 4
								}
								sync = binary.BigEndian.Uint32(body[off:])&0x10000 == 0
							}
							fi.firstSync[id] = sync
						}
						if flags&0x800 != 0 {
							for i := 0; i < n; i++ {
								if int32(binary.BigEndian.Uint32(body[p+i*entry+entry-4:])) < 0 {
									fi.negCTO = true
								}
							}
						}
						fi.samples[id] += n
					}
				})
			})
		}
	})
	return fi
}
