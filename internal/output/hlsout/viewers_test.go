package hlsout

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestViewersCountDistinctRecentClients(t *testing.T) {
	var v viewers
	now := time.Unix(1000, 0)
	req := func(addr, ua string) {
		r := httptest.NewRequest("GET", "/live/x/index.m3u8", nil)
		r.RemoteAddr = addr
		r.Header.Set("User-Agent", ua)
		v.touch(r, now)
	}
	req("10.0.0.1:5000", "chrome")
	req("10.0.0.1:5001", "chrome") // same viewer, new connection
	req("10.0.0.1:5002", "safari") // same address, another player
	req("10.0.0.2:6000", "chrome")
	if n := v.count(now); n != 3 {
		t.Fatalf("count = %d, want 3", n)
	}
	now = now.Add(10 * time.Second)
	req("10.0.0.2:6000", "chrome")
	now = now.Add(10 * time.Second)
	if n := v.count(now); n != 1 {
		t.Fatalf("after 20 s: count = %d, want 1 (only the one that reloaded)", n)
	}
}
