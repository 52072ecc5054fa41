package rtmp

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/rtmp/rtmptest"
)

// A publisher refused because the live input is busy is told why
// (NetStream.Publish.BadName) every time. The onStatus is longer than a
// chunk, and go-rtmp's own NetStream.Publish.Failed often lands between its
// chunks, so the code is looked for in the reassembled messages
// (rtmptest.ServerMessages), not in the bytes on the wire.
func TestBusyRefusalStatusArrives(t *testing.T) {
	env := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	wg.Add(1)
	go func() { defer wg.Done(); _ = publishSynthetic(pctx, env.url+testKey, 30*time.Second) }()
	env.nextReader(t, 10*time.Second)

	target := strings.TrimSuffix(strings.TrimPrefix(env.url, "rtmp://"), "/live/")
	for i := range 20 {
		got := busyAttempt(ctx, t, target)
		if !rtmptest.ServerSent(got, "NetStream.Publish.BadName") {
			t.Fatalf("attempt %d: the refused publisher read %d bytes without NetStream.Publish.BadName: %q", i, len(got), got[max(0, len(got)-300):])
		}
	}
	pcancel()
}

// busyAttempt publishes testKey through a loopback relay and returns what
// the server sent until it closed.
func busyAttempt(ctx context.Context, t *testing.T, target string) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		s, err := net.Dial("tcp", target)
		if err != nil {
			got <- nil
			return
		}
		go func() { _, _ = io.Copy(s, c); s.Close() }()
		var buf bytes.Buffer
		_, _ = io.Copy(io.MultiWriter(&buf, c), s)
		got <- buf.Bytes()
	}()
	c, err := rtmptest.Dial(ctx, "rtmp://"+ln.Addr().String()+"/live/"+testKey, nil)
	if err == nil {
		defer c.Close()
	}
	select {
	case b := <-got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the refused connection stayed open")
		return nil
	}
}
