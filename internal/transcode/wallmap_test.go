package transcode

import (
	"testing"
	"time"
)

func TestWallMap(t *testing.T) {
	var m wallMap
	if _, ok := m.at(time.Second); ok {
		t.Fatal("empty map answered")
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// a publisher whose clock runs 1 % slow: 33.3 ms of media arrive every
	// 33.67 ms of wall-clock
	for i := range 2 * wallMapSize {
		dts := time.Duration(i) * time.Second / 30
		m.add(dts, t0.Add(dts*101/100))
	}
	last := time.Duration(2*wallMapSize-1) * time.Second / 30
	for _, tc := range []struct {
		dts  time.Duration
		want time.Time
		ok   bool
	}{
		{last, t0.Add(last * 101 / 100), true},                                         // exact
		{last + 10*time.Millisecond, t0.Add(last*101/100 + 10*time.Millisecond), true}, // past the newest
		{last - time.Second, t0.Add((last - time.Second) * 101 / 100), true},           // a frame back
		{time.Second, time.Time{}, false},                                              // forgotten
	} {
		got, ok := m.at(tc.dts)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("at(%v) = %v %v, want %v %v", tc.dts, got, ok, tc.want, tc.ok)
		}
	}
	m.add(0, time.Time{}) // a zero wall-clock is not recorded
	if _, ok := m.at(last); !ok {
		t.Fatal("lost entries after a zero wall-clock")
	}
	m.reset()
	if _, ok := m.at(last); ok {
		t.Fatal("answered after reset")
	}
}
