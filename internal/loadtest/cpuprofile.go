package loadtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"
)

// fetchCPUProfile writes the daemon's CPU profile over d to path: Go's
// /debug/pprof/profile on the daemon's metrics listener (metricsURL is
// its /metrics address), which samples for whole seconds, d rounded up.
func fetchCPUProfile(ctx context.Context, metricsURL string, d time.Duration, path string) error {
	secs := max(int(math.Ceil(d.Seconds())), 1)
	u := strings.TrimSuffix(metricsURL, "/metrics") + fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: GET %s: HTTP %d", u, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	return nil
}
