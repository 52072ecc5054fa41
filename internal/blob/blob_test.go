package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestCheckKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		{"videos/vid_1/seg0.m4s", true},
		{"a", true},
		{"a-b_c.d/E9", true},
		{"", false},
		{"/abs", false},
		{"a//b", false},
		{"a/../b", false},
		{"..", false},
		{"a/./b", false},
		{"trailing/", false},
		{"sp ace", false},
		{"back\\slash", false},
		{"ünï", false},
		{strings.Repeat("a", 1025), false},
	}
	for _, tc := range tests {
		err := CheckKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("CheckKey(%q) = %v, want ErrInvalidKey", tc.key, err)
		}
	}
}

func FuzzCheckKey(f *testing.F) {
	for _, s := range []string{"videos/a/seg1.m4s", "../x", "a//b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if CheckKey(key) != nil {
			return
		}
		// a valid key never escapes the store's root
		p := filepath.Clean(filepath.Join("/root", key))
		if !strings.HasPrefix(p, "/root/") {
			t.Fatalf("key %q escapes: %s", key, p)
		}
	})
}

func TestLocal(t *testing.T) {
	s, err := NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	conformance(t, s)
}

func TestLocalPutIsAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := PutBytes(ctx, s, "a/b", []byte("old")); err != nil {
		t.Fatal(err)
	}
	// a failing writer leaves the old object and no stray file
	err = s.Put(ctx, "a/b", iotest.ErrReader(errors.New("boom")), -1)
	if err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	got := read(t, s, "a/b")
	if string(got) != "old" {
		t.Fatalf("after a failed Put: %q", got)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "a"))
	if len(ents) != 1 {
		t.Fatalf("stray files after a failed Put: %v", ents)
	}
	// a short read is refused
	if err := s.Put(ctx, "a/c", strings.NewReader("ab"), 3); err == nil {
		t.Fatal("Put with a short body succeeded")
	}
}

func TestS3(t *testing.T) {
	s := StartS3(t)
	conformance(t, s)
}

func read(t *testing.T, s Store, key string) []byte {
	t.Helper()
	o, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open %s: %v", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// conformance is what every Store must do.
func conformance(t *testing.T, s Store) {
	ctx := t.Context()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := PutBytes(ctx, s, "videos/v1/seg0.m4s", big); err != nil {
		t.Fatal(err)
	}
	// byte ranges (a clip's cut segments)
	for _, r := range [][2]int64{{0, 10}, {5, 100000}, {int64(len(big)) - 7, 7}, {int64(len(big)), 0}, {3, 0}} {
		rc, err := OpenRange(ctx, s, "videos/v1/seg0.m4s", r[0], r[1])
		if err != nil {
			t.Fatalf("OpenRange %v: %v", r, err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(b, big[r[0]:r[0]+r[1]]) {
			t.Fatalf("OpenRange %v: %d bytes, %v", r, len(b), err)
		}
	}
	if _, err := OpenRange(ctx, s, "videos/v1/seg0.m4s", int64(len(big))-3, 4); !errors.Is(err, ErrRange) {
		t.Fatalf("OpenRange past the end: %v, want ErrRange", err)
	}
	if _, err := OpenRange(ctx, s, "videos/v1/nope.m4s", 0, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("OpenRange of a missing object: %v, want ErrNotFound", err)
	}
	if err := s.Put(ctx, "videos/v1/init0.mp4", strings.NewReader("init"), -1); err != nil {
		t.Fatal(err)
	}
	if err := PutBytes(ctx, s, "videos/v2/seg0.m4s", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "videos/v1/seg0.m4s"); !bytes.Equal(got, big) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(big))
	}
	// ranges: seek and ReadAt
	o, err := s.Open(ctx, "videos/v1/seg0.m4s")
	if err != nil {
		t.Fatal(err)
	}
	if o.Info().Size != int64(len(big)) {
		t.Errorf("Info().Size = %d", o.Info().Size)
	}
	if _, err := o.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	if _, err := io.ReadFull(o, b); err != nil || !bytes.Equal(b, big[1000:1016]) {
		t.Fatalf("read after seek: %q %v", b, err)
	}
	if n, err := o.ReadAt(b, int64(len(big))-16); n != 16 || (err != nil && err != io.EOF) || !bytes.Equal(b, big[len(big)-16:]) {
		t.Fatalf("ReadAt end: %d %v", n, err)
	}
	_ = o.Close()
	// replace
	if err := PutBytes(ctx, s, "videos/v2/seg0.m4s", []byte("yy")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "videos/v2/seg0.m4s"); string(got) != "yy" {
		t.Fatalf("after replace: %q", got)
	}
	st, err := s.Stat(ctx, "videos/v2/seg0.m4s")
	if err != nil || st.Size != 2 || time.Since(st.ModTime) > time.Hour {
		t.Fatalf("Stat: %+v %v", st, err)
	}
	// list
	keys := func(prefix string) []string {
		infos, err := s.List(ctx, prefix)
		if err != nil {
			t.Fatalf("List %q: %v", prefix, err)
		}
		out := []string{}
		for _, i := range infos {
			out = append(out, i.Key)
		}
		return out
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"videos/v1/", []string{"videos/v1/init0.mp4", "videos/v1/seg0.m4s"}},
		{"videos/", []string{"videos/v1/init0.mp4", "videos/v1/seg0.m4s", "videos/v2/seg0.m4s"}},
		{"videos/v1/seg", []string{"videos/v1/seg0.m4s"}},
		{"nothing/", []string{}},
	} {
		if got := keys(tc.prefix); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("List(%q) = %v, want %v", tc.prefix, got, tc.want)
		}
	}
	// not found, invalid keys
	if _, err := s.Open(ctx, "videos/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open missing: %v", err)
	}
	if _, err := s.Stat(ctx, "videos/none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Stat missing: %v", err)
	}
	if err := PutBytes(ctx, s, "../escape", []byte("x")); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Put ../escape: %v", err)
	}
	// delete
	if n, err := DeletePrefix(ctx, s, "videos/v1/"); err != nil || n != 2 {
		t.Fatalf("DeletePrefix: %d %v", n, err)
	}
	if got := keys("videos/"); !reflect.DeepEqual(got, []string{"videos/v2/seg0.m4s"}) {
		t.Errorf("after DeletePrefix: %v", got)
	}
	if err := s.Delete(ctx, "videos/v1/seg0.m4s"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

// StartS3 starts versitygw (an S3-compatible server, github.com/versity/
// versitygw; scripts/s3.sh installs it) on a free loopback port serving a
// temporary directory and returns a Store on a fresh bucket. Without
// versitygw the test is skipped, unless CI is set.
func StartS3(t *testing.T) *S3 {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		cand := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "versitygw")
		if _, serr := os.Stat(cand); serr == nil {
			bin, err = cand, nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("versitygw not found: run scripts/s3.sh")
		}
		t.Skip("versitygw not found (scripts/s3.sh installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--access", "testkey", "--secret", "testsecret1234", "--port", addr, "posix", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("versitygw output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("versitygw exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, err := NewS3(t.Context(), S3Config{Endpoint: addr, Bucket: "mpegflow-test", AccessKey: "testkey", SecretKey: "testsecret1234", CreateBucket: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLocalPutFile(t *testing.T) {
	s, err := NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(s.TempDir(), 0o750); err != nil {
		t.Fatal(err)
	}
	for i, dir := range []string{s.TempDir(), t.TempDir()} { // rename, then across directories
		p := filepath.Join(dir, "out.mp4")
		if err := os.WriteFile(p, []byte("movie"), 0o600); err != nil {
			t.Fatal(err)
		}
		key := "videos/v/download" + string(rune('0'+i)) + ".mp4"
		if err := s.PutFile(t.Context(), key, p); err != nil {
			t.Fatal(err)
		}
		if got := read(t, s, key); string(got) != "movie" {
			t.Fatalf("%s = %q", key, got)
		}
	}
	infos, err := s.List(t.Context(), "")
	if err != nil || len(infos) != 2 {
		t.Fatalf("List sees the temp dir or misses files: %v %v", infos, err)
	}
}
