package hls

import (
	"bytes"
	"net"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
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
// HTTP. Reported, as means over the iterations:
//
//	ms-to-last      part completion to the last response received by a client
//	ms-server       part completion to the last handler returned (Hooks.OnRequest)
//	cpu-ms          CPU time the process (server and clients) used in that window
//	heap-B/waiter   heap growth per blocked request, both ends of the
//	                connection included (the clients are raw connections in this process)
//	stack-B/waiter  goroutine stack growth per blocked request (server and client)
//
// Every client first loads the playlist on its connection, as players do,
// then sends the blocking request on the same keep-alive connection. The
// clients read into buffers allocated once, do not parse beyond the status
// line and Content-Length, and close their connections after the
// measurement, so that the timed window is the server's fan-out plus the
// unavoidable client reads on the same CPUs.
//
// In "shared" every player sends the same query; in "token" each carries its
// own playback token (?token=N), which every URI of its playlist repeats.
func BenchmarkFanout(b *testing.B) {
	b.Run("shared", func(b *testing.B) { benchmarkFanout(b, false) })
	b.Run("token", func(b *testing.B) { benchmarkFanout(b, true) })
}

func benchmarkFanout(b *testing.B, tokens bool) {
	const waiters = 1000
	var sumLast, sumServer, sumCPU time.Duration
	var sumHeap, sumStack float64
	bufs := make([]byte, waiters*fanoutBuf) // client read buffers, reused
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		var lastHandler atomic.Int64
		m, _ := NewMuxer(MuxerConfig{Hooks: Hooks{OnRequest: func(RequestKind, int) {
			now := time.Now().UnixNano()
			for {
				old := lastHandler.Load()
				if old >= now || lastHandler.CompareAndSwap(old, now) {
					return
				}
			}
		}}})
		r, _ := m.AddRendition(RenditionConfig{Name: "v", Video: testH264(b)})
		fd := time.Second / 30
		feed(b, r, feedSpec{frameDur: fd, gop: 2 * time.Second, duration: 10 * time.Second}, testH264(b))
		srv := httptest.NewServer(m)
		m.mu.Lock()
		msn, parts := r.progress()
		m.mu.Unlock()
		blocking := "_HLS_msn=" + itoa(int(msn)) + "&_HLS_part=" + itoa(parts)
		addr := srv.Listener.Addr().String()

		// Twice: the second GC empties the sync.Pools that net/http keeps
		// its connection buffers in, so that they count.
		runtime.GC()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		conns := make([]net.Conn, waiters)
		for i := range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			// a player loads the playlist, then keeps the connection for
			// blocking reloads
			q := ""
			if tokens {
				q = "token=" + itoa(100000+i)
			}
			if _, err := c.Write([]byte("GET /v/media.m3u8?" + q + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				b.Fatal(err)
			}
			if !readResponse(c, bufs[:fanoutBuf]) {
				b.Fatal("warm-up request failed")
			}
			if q != "" {
				q += "&"
			}
			if _, err := c.Write([]byte("GET /v/media.m3u8?" + q + blocking + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		for m.blockedWaiters() != waiters {
			time.Sleep(5 * time.Millisecond)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		sumHeap += float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / waiters
		sumStack += float64(int64(after.StackInuse)-int64(before.StackInuse)) / waiters

		var wg sync.WaitGroup
		var lastRecv atomic.Int64
		var failed atomic.Int32
		for i, c := range conns {
			wg.Add(1)
			go func(c net.Conn, buf []byte) {
				defer wg.Done()
				if !readResponse(c, buf) {
					failed.Add(1)
					return
				}
				now := time.Now().UnixNano()
				for {
					old := lastRecv.Load()
					if old >= now || lastRecv.CompareAndSwap(old, now) {
						return
					}
				}
			}(c, bufs[i*fanoutBuf:(i+1)*fanoutBuf:(i+1)*fanoutBuf])
		}
		runtime.Gosched()
		b.StartTimer()
		cpu0 := processCPU()
		start := time.Now()
		// complete the next part
		dts := 10 * time.Second
		for i := 0; i < 8; i++ {
			t := dts + time.Duration(i)*fd
			_ = r.WriteVideo(VideoUnit{DTS: t, PTS: t, Wall: testWall.Add(t), NALUs: [][]byte{{0x41, 1, 2}}})
		}
		wg.Wait()
		cpu := processCPU() - cpu0
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d requests failed", n)
		}
		sumCPU += cpu
		sumLast += time.Duration(lastRecv.Load() - start.UnixNano())
		sumServer += time.Duration(lastHandler.Load() - start.UnixNano())
		for _, c := range conns {
			c.Close()
		}
		srv.Close()
		m.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(sumLast.Microseconds())/1000/n, "ms-to-last")
	b.ReportMetric(float64(sumServer.Microseconds())/1000/n, "ms-server")
	b.ReportMetric(float64(sumCPU.Microseconds())/1000/n, "cpu-ms")
	b.ReportMetric(sumHeap/n, "heap-B/waiter")
	b.ReportMetric(sumStack/n, "stack-B/waiter")
}

// fanoutBuf is the read buffer of one BenchmarkFanout client.
const fanoutBuf = 8 << 10

// readResponse reads one HTTP/1.1 200 response with a Content-Length into buf
// without allocating, leaving the connection open (keep-alive, as players do).
func readResponse(c net.Conn, buf []byte) bool {
	n, body := 0, -1
	for {
		k, err := c.Read(buf[n:])
		if err != nil {
			return false
		}
		n += k
		if body < 0 {
			h := bytes.Index(buf[:n], []byte("\r\n\r\n"))
			if h < 0 {
				if n == len(buf) {
					return false
				}
				continue
			}
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 ")) {
				return false
			}
			i := bytes.Index(buf[:h], []byte("\r\nContent-Length: "))
			if i < 0 {
				return false
			}
			cl := 0
			for _, d := range buf[i+18 : h] {
				if d < '0' || d > '9' {
					break
				}
				cl = cl*10 + int(d-'0')
			}
			body = h + 4 + cl
			if cl == 0 || body > len(buf) {
				return false
			}
		}
		if n >= body {
			return true
		}
	}
}
