package whip

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
)

// A second WHIP publisher of the same input is refused with 409 (Takeover
// off); Close ends the live session and returns after its goroutines.
func TestBusyAndClose(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, err := whiptest.Dial(ctx, e.endpoint(testID), testKey, whiptest.Options{NoAudio: true})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err := first.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = whiptest.Dial(ctx, e.endpoint(testID), testKey, whiptest.Options{NoAudio: true})
	var se *whiptest.StatusError
	if !errors.As(err, &se) || se.Code != 409 {
		t.Fatalf("second publisher: %v, want 409", err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := e.srv.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	resp, _, err := whiptest.Post(ctx, e.endpoint(testID), testKey, "application/sdp", minimalOffer)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("POST after Close: %v %v, want 503", resp, err)
	}
}
