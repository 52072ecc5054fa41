package loadtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// CPUProfile saves the daemon's CPU profile over the next d (its
// /debug/pprof/profile on the metrics listener, whole seconds, at least
// one) to path, for `go tool pprof`.
func (d *Daemon) CPUProfile(ctx context.Context, dur time.Duration, path string) error {
	secs := max(int(dur/time.Second), 1)
	base := strings.TrimSuffix(d.MetricsURL, "/metrics")
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("cpu profile: GET %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("cpu profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cpu profile: %w", err)
	}
	return nil
}
