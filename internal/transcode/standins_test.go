package transcode

import (
	"context"
	"strings"
	"testing"
)

// TestStandinsWithoutTranscoder: a daemon that does not transcode says so,
// with the reason when it has one.
func TestStandinsWithoutTranscoder(t *testing.T) {
	for _, c := range []struct {
		svc  *Service
		want string
	}{
		{nil, "(no working encoder)"},
		{&Service{}, "(no working encoder)"},
		{&Service{Reason: "ffmpeg not found"}, "(ffmpeg not found)"},
	} {
		_, err := Standins{Service: c.svc}.Standin(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "transcoding is unavailable on this server "+c.want) {
			t.Errorf("%+v: %v", c.svc, err)
		}
	}
}

func TestProfileNames(t *testing.T) {
	s := &Service{Profiles: []Profile{{Name: "720p"}, {Name: "480p"}}}
	if got := s.ProfileNames(); len(got) != 2 || got[0] != "720p" || got[1] != "480p" {
		t.Fatalf("%v", got)
	}
	if got := (&Service{}).ProfileNames(); got == nil || len(got) != 0 {
		t.Fatalf("no profiles: %#v", got)
	}
}
