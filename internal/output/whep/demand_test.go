package whep

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/output/whep/wheptest"
)

// countDemand is a Demand that fails for "idle" and counts the holds of
// other inputs.
type countDemand struct {
	mu             sync.Mutex
	held, released int
}

func (d *countDemand) Demand(_ context.Context, id string) (func(), error) {
	if id == "idle" {
		return nil, errors.New("the camera did not start")
	}
	d.mu.Lock()
	d.held++
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		d.released++
		d.mu.Unlock()
	}, nil
}

func (d *countDemand) counts() (int, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held, d.released
}

// TestDemand: an offer for an input whose source does not start is 503
// with Retry-After; a session holds its input's demand until it ends.
func TestDemand(t *testing.T) {
	d := &countDemand{}
	e := newTestEnv(t, func(c *Config) { c.Demand = d })
	defer publish(t, e.hub, testID, 15, false)()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, body, err := wheptest.Do(ctx, http.MethodPost, e.endpoint("idle"), "", "application/sdp", chromeLikeOffer)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "source_not_started") {
		t.Fatalf("a source that does not start: %v %v %s", resp, err, body)
	}
	c, err := wheptest.Dial(ctx, e.endpoint(testID), wheptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitKeyFrame(ctx); err != nil {
		t.Fatal(err)
	}
	if held, released := d.counts(); held != 1 || released != 0 {
		t.Fatalf("while playing: held %d, released %d", held, released)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, released := d.counts(); released != 1; _, released = d.counts() {
		if time.Now().After(deadline) {
			t.Fatal("the session's hold was not released when it ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
