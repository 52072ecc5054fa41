package storetest

import (
	"testing"

	"github.com/mpegflow/mpegflow/internal/store"
)

// transcodeCases cover a live input's transcode setting.
func transcodeCases() []testCase {
	return []testCase{
		{"transcode_setting_round_trip", testTranscodeSetting},
	}
}

func testTranscodeSetting(t *testing.T, s store.Store) {
	li := newLiveInput("li_transcode")
	mustCreate(t, s, li)
	got := mustGet(t, s, li.ID)
	if got.Transcode.Mode != "" && got.Transcode.Mode != "off" {
		t.Fatalf("default Transcode.Mode = %q, want off", got.Transcode.Mode)
	}
	if len(got.Transcode.Ladder) != 0 {
		t.Fatalf("default Transcode.Ladder = %v, want empty", got.Transcode.Ladder)
	}
	got.Transcode = store.TranscodeSetting{Mode: "on", Ladder: []string{"480p", "360p"}}
	if err := s.LiveInputs().Update(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	again := mustGet(t, s, li.ID)
	assertLiveInput(t, again, got)
	if again.Transcode.Mode != "on" || len(again.Transcode.Ladder) != 2 || again.Transcode.Ladder[0] != "480p" || again.Transcode.Ladder[1] != "360p" {
		t.Fatalf("Transcode = %+v, want on [480p 360p] in order", again.Transcode)
	}
	rows, _, err := s.LiveInputs().List(t.Context(), store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ID == li.ID && r.Transcode.Mode != "on" {
			t.Fatalf("List: Transcode = %+v", r.Transcode)
		}
	}
}
