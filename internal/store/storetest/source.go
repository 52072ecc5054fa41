package storetest

import (
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
)

// sourceCases cover a live input's pull source (an RTSP camera).
func sourceCases() []testCase {
	return []testCase{
		{"source_round_trip", testSourceRoundTrip},
	}
}

func testSourceRoundTrip(t *testing.T, s store.Store) {
	li := newLiveInput("li_source")
	li.Source = &store.PullSource{URL: "rtsp://admin:p%40ss@cam.example:554/stream1", Transport: "tcp", OnDemand: true}
	mustCreate(t, s, li)
	got := mustGet(t, s, li.ID)
	assertLiveInput(t, got, li)
	if got.Source == nil || got.Source.URL != li.Source.URL || got.Source.Transport != "tcp" || !got.Source.OnDemand {
		t.Fatalf("Source = %+v, want %+v", got.Source, li.Source)
	}
	got.Source = &store.PullSource{URL: "rtsps://cam.example/live", Transport: "udp"}
	if err := s.LiveInputs().Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	again := mustGet(t, s, li.ID)
	assertLiveInput(t, again, got)
	again.Source = nil // removing the source
	if err := s.LiveInputs().Update(t.Context(), again); err != nil {
		t.Fatal(err)
	}
	if final := mustGet(t, s, li.ID); final.Source != nil {
		t.Fatalf("Source = %+v after removal, want nil", final.Source)
	}
	plain := newLiveInput("li_nosource")
	mustCreate(t, s, plain)
	if got := mustGet(t, s, plain.ID); got.Source != nil {
		t.Fatalf("a live input created without a source reads Source = %+v", got.Source)
	}
}
