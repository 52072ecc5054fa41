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
