package hls

import (
	"bufio"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkWriteVideo measures writing one access unit (30 fps, GOP 2 s) into
// a muxed rendition, including part and segment cutting.
func BenchmarkWriteVideo(b *testing.B) {
	m, _ := NewMuxer(MuxerConfig{})
	defer m.Close()
	r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(b)})
	params := testH264(b)
	key := [][]byte{params.SPS, params.PPS, make([]byte, 20000)}
	key[2][0] = 0x65
	delta := [][]byte{make([]byte, 3000)}
	delta[0][0] = 0x41
	fd := time.Second / 30
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dts := time.Duration(i) * fd
		u := VideoUnit{DTS: dts, PTS: dts, Wall: testWall, Key: i%60 == 0, NALUs: delta}
		if u.Key {
			u.NALUs = key
		}
		if err := r.WriteVideo(u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFanout measures 1,000 blocked playlist requests over loopback
// HTTP: time from the part completing to the last response received, and
// heap per blocked request (server side; the clients are raw connections).
func BenchmarkFanout(b *testing.B) {
	const waiters = 1000
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		m, _ := NewMuxer(MuxerConfig{})
		r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(b)})
		fd := time.Second / 30
		feed(b, r, feedSpec{frameDur: fd, gop: 2 * time.Second, duration: 10 * time.Second}, testH264(b))
		srv := httptest.NewServer(m)
		m.mu.Lock()
		msn, parts := r.progress()
		m.mu.Unlock()
		req := []byte("GET /v/media.m3u8?_HLS_msn=" + itoa(int(msn)) + "&_HLS_part=" + itoa(parts) + " HTTP/1.1\r\nHost: x\r\n\r\n")
		addr := srv.Listener.Addr().String()

		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, waiters)
		for i := range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Write(req); err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		for {
			m.mu.Lock()
			n := m.waiters
			m.mu.Unlock()
			if n == waiters {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		perWaiter := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / waiters

		var wg sync.WaitGroup
		var mu sync.Mutex
		var last time.Time
		failed := 0
		for _, c := range conns {
			wg.Add(1)
			go func(c net.Conn) {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReaderSize(c, 512)
				line, err := br.ReadString('\n')
				if err != nil || line[:12] != "HTTP/1.1 200" {
					mu.Lock()
					failed++
					mu.Unlock()
					return
				}
				// keep-alive, as players do: read the headers, then Content-Length bytes
				n := -1
				for {
					h, err := br.ReadString('\n')
					if err != nil {
						break
					}
					if h == "\r\n" {
						break
					}
					if len(h) > 16 && (h[:16] == "Content-Length: " || h[:16] == "content-length: ") {
						n, _ = strconv.Atoi(h[16 : len(h)-2])
					}
				}
				if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil || n <= 0 {
					mu.Lock()
					failed++
					mu.Unlock()
					return
				}
				now := time.Now()
				mu.Lock()
				if now.After(last) {
					last = now
				}
				mu.Unlock()
			}(c)
		}
		b.StartTimer()
		start := time.Now()
		// complete the next part
		dts := 10 * time.Second
		for i := 0; i < 8; i++ {
			t := dts + time.Duration(i)*fd
			_ = r.WriteVideo(VideoUnit{DTS: t, PTS: t, Wall: testWall.Add(t), NALUs: [][]byte{{0x41, 1, 2}}})
		}
		wg.Wait()
		b.StopTimer()
		if failed > 0 {
			b.Fatalf("%d requests failed", failed)
		}
		b.ReportMetric(float64(last.Sub(start).Microseconds())/1000, "ms-to-last")
		b.ReportMetric(perWaiter, "heap-B/waiter")
		srv.Close()
		m.Close()
	}
}
