package loadtest

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRunAgainstRunningServer(t *testing.T) {
	f := &fakeLLHLS{
		t0:      time.Now().Add(-2 * time.Second).Truncate(time.Millisecond),
		partDur: 100 * time.Millisecond, perSeg: 5, lag: 2 * time.Millisecond, parts: true,
		requests: map[string]int{},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	rep, err := Run(context.Background(), Config{
		Readers: 3, Duration: 1500 * time.Millisecond, Warmup: 500 * time.Millisecond,
		HTTPURL: srv.URL, Inputs: []Input{{ID: "x", Key: "k"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	if rep.Readers != 3 || rep.DurationS != 1.5 || len(rep.Errors) != 0 {
		t.Errorf("report %+v", rep)
	}
	// 3 readers x 1.5 s of 100 ms parts.
	if rep.PartsFetched < 30 || rep.PartLatencyMS.N != int(rep.PartsFetched) || rep.PartLatencyMS.P50 > 100 {
		t.Errorf("parts %d latency %+v", rep.PartsFetched, rep.PartLatencyMS)
	}
	if rep.CPUPctOneCore != nil || rep.PeakRSSMB != nil {
		t.Error("server CPU/RSS reported without a pid")
	}
}

func TestRunSetupErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Readers: 1, Duration: time.Second},                                               // no target
		{Readers: 1, Duration: 0, HTTPURL: "http://127.0.0.1:1"},                          // no duration
		{Publishers: 0, Readers: 1, Duration: time.Second, HTTPURL: "http://127.0.0.1:1"}, // no inputs
		{Readers: 1, Duration: time.Second, DaemonPath: "/nonexistent/mpegflow"},
		{Readers: 1, Duration: time.Second, HTTPURL: "http://127.0.0.1:1", Protocol: "rtmfp", Inputs: []Input{{ID: "x", Key: "k"}}},
	} {
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrSetup) {
			t.Errorf("%+v: err = %v, want ErrSetup", cfg, err)
		}
	}
}

func TestSRTURL(t *testing.T) {
	if got, want := SRTURL("127.0.0.1:8890", "sk_1"), "srt://127.0.0.1:8890?streamid=publish%3Ask_1"; got != want {
		t.Errorf("SRTURL = %q, want %q", got, want)
	}
}
