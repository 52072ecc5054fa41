package ingest

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	th := NewThrottle(100*time.Millisecond, time.Second, 5, time.Minute)
	th.now = func() time.Time { return now }
	want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	for i, w := range want {
		d, banned := th.Check("1.2.3.4")
		if d != w || banned {
			t.Fatalf("attempt %d: delay %v banned %v, want %v", i, d, banned, w)
		}
		th.Fail("1.2.3.4")
	}
	if _, banned := th.Check("1.2.3.4"); !banned {
		t.Fatal("not banned after 5 failures")
	}
	if d, banned := th.Check("5.6.7.8"); d != 0 || banned {
		t.Fatal("another address is affected")
	}
	now = now.Add(2 * time.Minute)
	if d, banned := th.Check("1.2.3.4"); banned || d != time.Second {
		t.Fatalf("after the ban: delay %v banned %v, want max delay", d, banned)
	}
	now = now.Add(time.Hour)
	if d, _ := th.Check("1.2.3.4"); d != 0 {
		t.Fatalf("not forgotten: %v", d)
	}
	th.maxEntries = 10
	for i := range 50 {
		th.Fail(fmt.Sprintf("10.0.0.%d", i))
		now = now.Add(time.Millisecond)
	}
	if n := th.Size(); n > 10 {
		t.Fatalf("throttle holds %d addresses, want <= 10", n)
	}
}
