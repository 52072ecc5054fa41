package restream

import (
	"bufio"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	gosrt "github.com/datarhei/gosrt"

	"github.com/mpegflow/mpegflow/internal/mpegts/mpegtstest"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// A 2.5 Mb/s stream: 30 fps video of about 10 KB a frame (a key frame a
// second) and 43 AAC frames a second.
const (
	benchFrameBytes = 2_500_000 / 8 / 30
	benchUnitsPerS  = 30 + 43
)

func benchUnits() ([]stream.Track, []*stream.Unit) {
	tracks := []stream.Track{
		{Codec: stream.H264{SPS: mpegtstest.SPS, PPS: mpegtstest.PPS}},
		{Codec: stream.AAC{Config: []byte{0x12, 0x10}}},
	}
	var units []*stream.Unit
	payload := make([]byte, benchFrameBytes)
	for i := range 30 {
		d := time.Duration(i) * time.Second / 30
		h := byte(0x41)
		if i == 0 {
			h = 0x65
		}
		units = append(units, &stream.Unit{Track: 0, DTS: d, PTS: d, Key: i == 0, NALUs: [][]byte{append([]byte{h}, payload...)}})
		units = append(units, &stream.Unit{Track: 1, DTS: d, PTS: d, Key: true, Data: make([]byte, 180)})
	}
	return tracks, units
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCore reports the share of one core an output at 2.5 Mb/s costs:
// the process's CPU time since cpu0 per unit, at benchUnitsPerS.
func reportCore(b *testing.B, cpu0 time.Duration) {
	perUnit := float64(cpuTime()-cpu0) / float64(b.N)
	b.ReportMetric(perUnit*benchUnitsPerS/1e9*100, "%core@2.5Mbps")
}

// BenchmarkRTMPOutput is the per-output cost of RTMP: FLV tags, chunking
// and the writes to a loopback TCP connection (drained by a reader).
func BenchmarkRTMPOutput(b *testing.B) {
	tracks, units := benchUnits()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	mux, _ := newFLVMuxer(tracks)
	s := &rtmpSession{nc: nc, mux: mux, stall: 10 * time.Second, ctl: make(chan []controlMsg, 1), done: make(chan struct{})}
	s.counter = &countingWriter{w: nc}
	s.bw = bufio.NewWriterSize(s.counter, 64<<10)
	s.cw = chunkWriter{w: s.bw, size: outChunkSize}
	b.SetBytes(benchFrameBytes / 2)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		u := *units[i%len(units)]
		u.DTS += time.Duration(i/len(units)) * time.Second
		u.PTS = u.DTS
		if err := s.WriteUnit(&u); err != nil {
			b.Fatal(err)
		}
	}
	reportCore(b, cpu0)
}

// BenchmarkSRTOutput is the per-output cost of SRT: MPEG-TS muxing and
// gosrt's sender, to a gosrt listener in the same process (whose receive
// side is counted too).
func BenchmarkSRTOutput(b *testing.B) {
	tracks, units := benchUnits()
	ln, err := gosrt.Listen("srt", "127.0.0.1:0", gosrt.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		req, err := ln.Accept2()
		if err != nil {
			return
		}
		c, err := req.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 1500)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	t, err := parseTarget(Target{URL: "srt://" + ln.Addr().String() + "?streamid=bench"})
	if err != nil {
		b.Fatal(err)
	}
	s, err := dialSRT(b.Context(), t, tracks, 3*time.Second, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetBytes(benchFrameBytes / 2)
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		u := *units[i%len(units)]
		u.DTS += time.Duration(i/len(units)) * time.Second
		u.PTS = u.DTS
		if err := s.WriteUnit(&u); err != nil {
			b.Fatal(err)
		}
		// pace to about 20x real time so gosrt's send queue drains
		if ahead := u.DTS/20 - time.Since(start); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	reportCore(b, cpu0)
}
