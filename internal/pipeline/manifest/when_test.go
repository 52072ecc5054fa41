package manifest

import (
	"errors"
	"strings"
	"testing"
)

func TestWhen(t *testing.T) {
	facts := Source{LiveInput: "li_1", Protocol: "rtmp",
		Video: &VideoFacts{Codec: "h264", Width: 1920, Height: 1080, FPS: 29.97}}.Facts()
	for _, tc := range []struct {
		src  string
		want bool
		err  string
	}{
		{src: "source.video.height >= 720", want: true},
		{src: "source.video.height < 720 || source.video.codec == 'h264'", want: true},
		{src: "!(source.video.width > 1280) && source.video.codec != \"h264\"", want: false},
		{src: "720 <= source.video.height", want: true},
		{src: "source.audio.codec == 'aac'", want: false}, // a missing fact is its zero value
		{src: "!source.has_audio && source.has_video", want: true},
		{src: "source.video.fps > 25.0", want: true},
		{src: "source.video.codec in ['h264', 'h265'] && source.protocol.startsWith('rt')", want: true},
		{src: "[1, 2, 3].exists(x, x * 360 == source.video.height)", want: true},
		{src: "source.live_input.matches('^li_[0-9]+$')", want: true},
		{src: "", err: "empty"},
		{src: "source.video.height", err: "not a bool"},
		{src: "source.video.codec == 720", err: "no matching overload"},
		{src: "source.video.height >= 720 &&", err: "column"},
		{src: "(source.video.height >= 720", err: "column"},
		{src: strings.Repeat("(", 40) + "source.video.height > 1" + strings.Repeat(")", 40), err: "recursion"},
		{src: "size(x) > 1", err: "undeclared reference to 'x'"},
		{src: "source.video.bitrate > 1000", err: `unknown field "source.video.bitrate"`},
		{src: "source.audio.codec.size() > 1 && source.vidoe.height > 1", err: `unknown field "source.vidoe.height"`},
		{src: strings.Repeat("a", MaxWhenLen+1), err: "longer than"},
		// The worst case of nested comprehensions is over the cost limit.
		{src: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, a+b+c != source.video.height)))", err: "may cost up to"},
	} {
		w, err := ParseWhen(tc.src)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.src, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		got, err := w.Match(facts)
		if err != nil || got != tc.want {
			t.Errorf("%q = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}
}

// TestWhenRuntimeCost: an expression whose estimate passes but whose
// evaluation on long facts would not is stopped at the cost limit.
func TestWhenRuntimeCost(t *testing.T) {
	w, err := ParseWhen("source.live_input.contains('x')")
	if err != nil {
		t.Fatal(err)
	}
	// A fact far longer than the estimate assumed.
	_, err = w.Match(Facts{"source.live_input": strings.Repeat("y", 100*MaxWhenCost)})
	if !errors.Is(err, ErrWhenCost) {
		t.Fatalf("err %v, want ErrWhenCost", err)
	}
}

func TestCondition(t *testing.T) {
	m := parse(t, mutate(t, "team: av", "team: av"))
	cond, err := m.Condition("ladder")
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[int]bool{1080: true, 480: false} {
		got, err := cond(Source{Video: &VideoFacts{Codec: "h264", Height: h}}.Facts())
		if err != nil || got != want {
			t.Errorf("height %d: %v %v, want %v", h, got, err, want)
		}
	}
	always, err := m.Condition("cam")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := always(nil); !ok {
		t.Error("a node without when did not run")
	}
	if _, err := m.Condition("nope"); err == nil {
		t.Error("unknown node accepted")
	}
	// A manifest read back from the store (decoded, not validated)
	// compiles on demand.
	d, err := Decode([]byte(`{"api_version":"mpegflow.io/v1","kind":"Pipeline","metadata":{"name":"a"},"spec":{"nodes":[{"id":"c","type":"source.live","when":"source.has_video"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	cond, err = d.Condition("c")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := cond(Source{Video: &VideoFacts{}}.Facts()); !ok {
		t.Error("has_video false")
	}
}
