package vodhttp

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/record"
)

// TestErrorThumbnail: a thumbnail refused at ffmpeg capacity answers 503
// with Retry-After, a bad query 400.
func TestErrorThumbnail(t *testing.T) {
	h := New(Config{Logger: slog.New(slog.DiscardHandler)})
	for _, tt := range []struct {
		err        error
		status     int
		retryAfter string
	}{
		{fmt.Errorf("%w: %w", record.ErrBusy, &ffmpeg.CapacityError{Class: ffmpeg.OnDemand, Need: 4, Used: 8, Limit: 10}), http.StatusServiceUnavailable, "5"},
		{fmt.Errorf("%w: time must be a number", record.ErrBadQuery), http.StatusBadRequest, ""},
		{record.ErrOutOfRange, http.StatusBadRequest, ""},
		{record.ErrNotFound, http.StatusNotFound, ""},
		{record.ErrRecording, http.StatusConflict, ""},
		{record.ErrNoFFmpeg, http.StatusServiceUnavailable, ""},
	} {
		w := httptest.NewRecorder()
		h.error(w, httptest.NewRequest("GET", "/videos/v/thumbnail.jpg?time=1", nil), tt.err)
		if w.Code != tt.status || w.Header().Get("Retry-After") != tt.retryAfter {
			t.Errorf("%v: HTTP %d Retry-After %q, want %d %q", tt.err, w.Code, w.Header().Get("Retry-After"), tt.status, tt.retryAfter)
		}
	}
}
