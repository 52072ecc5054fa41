package web

import (
	"bytes"
	"io/fs"
	"testing"
)

func TestFSHasPlayerAndStatic(t *testing.T) {
	for _, p := range []string{PlayerPath, "static/README.txt"} {
		if _, err := fs.Stat(FS(), p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	page, err := fs.ReadFile(FS(), PlayerPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`src="` + DefaultHLSJSURL + `"`, "lowLatencyMode: true", "index.m3u8", "application/vnd.apple.mpegurl", "playingDate"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("player.html lacks %q", want)
		}
	}
}

func TestPlayerPageURL(t *testing.T) {
	if got := PlayerPage(""); !bytes.Contains(got, []byte(`src="`+DefaultHLSJSURL+`"`)) {
		t.Error("default page does not load the default hls.js URL")
	}
	got := PlayerPage(`https://cdn.example/hls.min.js?a=1&b="x"`)
	if !bytes.Contains(got, []byte(`<script src="https://cdn.example/hls.min.js?a=1&amp;b=&#34;x&#34;">`)) {
		t.Errorf("custom URL not substituted and escaped")
	}
	if bytes.Contains(got, []byte(DefaultHLSJSURL)) {
		t.Error("default URL still present")
	}
}
