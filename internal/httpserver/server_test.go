package httpserver

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServer: a bound server answers until Shutdown, then Run returns nil;
// a taken port fails Listen naming the setting.
func TestServer(t *testing.T) {
	s, err := Listen(ServerConfig{Address: "127.0.0.1:0", Setting: "http.address",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hi") })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(ServerConfig{Address: s.Addr().String(), Setting: "metrics.address"}); err == nil || !strings.HasPrefix(err.Error(), "metrics.address: ") {
		t.Fatalf("taken port: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run() }()
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(b) != "hi" {
		t.Fatalf("body %q", b)
	}
	s.Shutdown(time.Second)
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := net.Dial("tcp", s.Addr().String()); err == nil {
		t.Fatal("still listening after Shutdown")
	}
	s.Close() // idempotent after Shutdown
}
