package hlsout

import (
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
)

const ms = time.Millisecond

// Audio before the first key frame waits for it and moves with it; after
// it, every unit moves by the key frame's composition delay.
func TestPresentShiftBFrames(t *testing.T) {
	p := newPresentShift(true)
	if out := p.audio(hls.AudioUnit{PTS: 980 * ms}); len(out) != 0 {
		t.Fatalf("audio before the first key frame written at once: %v", out)
	}
	if out := p.video(&hls.VideoUnit{DTS: 900 * ms, PTS: 990 * ms}); out != nil {
		t.Fatalf("a non-key frame released the held audio: %v", out)
	}
	key := hls.VideoUnit{DTS: 1000 * ms, PTS: 1067 * ms, Key: true}
	out := p.video(&key)
	if key.PTS != 1000*ms {
		t.Errorf("key frame PTS %v, want its DTS 1s", key.PTS)
	}
	if len(out) != 1 || out[0].PTS != 913*ms {
		t.Errorf("held audio %v, want one unit at 913ms", out)
	}
	b := hls.VideoUnit{DTS: 1033 * ms, PTS: 1033 * ms}
	p.video(&b)
	if b.PTS != 966*ms {
		t.Errorf("B-frame PTS %v, want 966ms (before its DTS: a negative composition offset)", b.PTS)
	}
	if out := p.audio(hls.AudioUnit{PTS: 1100 * ms}); len(out) != 1 || out[0].PTS != 1033*ms {
		t.Errorf("audio after the key frame %v, want one unit at 1033ms", out)
	}
	// a discontinuity starts over: held audio of the old timeline comes
	// back unshifted, the new timeline takes its own delay
	p.audio(hls.AudioUnit{PTS: 0})
	p.reset()
	k2 := hls.VideoUnit{DTS: 5 * time.Second, PTS: 5*time.Second + 33*ms, Key: true}
	p.video(&k2)
	if k2.PTS != 5*time.Second {
		t.Errorf("new timeline's key frame PTS %v, want 5s", k2.PTS)
	}
}

func TestPresentShiftNoShift(t *testing.T) {
	// audio-only: nothing waits, nothing moves
	p := newPresentShift(false)
	if out := p.audio(hls.AudioUnit{PTS: time.Second}); len(out) != 1 || out[0].PTS != time.Second {
		t.Errorf("audio-only: %v", out)
	}
	// no B-frames: the key frame's delay is 0
	p = newPresentShift(true)
	p.audio(hls.AudioUnit{PTS: time.Second})
	k := hls.VideoUnit{DTS: time.Second, PTS: time.Second, Key: true}
	if out := p.video(&k); len(out) != 1 || out[0].PTS != time.Second || k.PTS != time.Second {
		t.Errorf("no B-frames: %v, key %v", out, k.PTS)
	}
	// a broken key frame timestamp is not taken as a delay
	p = newPresentShift(true)
	k = hls.VideoUnit{DTS: 0, PTS: 10 * time.Second, Key: true}
	p.video(&k)
	if k.PTS != 10*time.Second {
		t.Errorf("a 10 s composition offset was taken as a shift: %v", k.PTS)
	}
	// no key frame in sight: the held audio goes out unshifted, bounded
	p = newPresentShift(true)
	var got []hls.AudioUnit
	for i := range maxPresentHeld + 5 {
		got = append(got, p.audio(hls.AudioUnit{PTS: time.Duration(i) * 21 * ms})...)
	}
	if len(got) != maxPresentHeld+5 || got[0].PTS != 0 {
		t.Errorf("%d audio units out of %d after the hold overflowed", len(got), maxPresentHeld+5)
	}
}
