package api

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestBootstrapAnnounce: a generated token reaches the console once and
// never the log.
func TestBootstrapAnnounce(t *testing.T) {
	var console, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	Bootstrap{Generated: "mf_secret_token"}.Announce(&console, log)
	if !strings.Contains(console.String(), "mf_secret_token") || strings.Contains(logs.String(), "mf_secret_token") ||
		!strings.Contains(logs.String(), "printed it to the console") {
		t.Fatalf("console %q, log %q", console.String(), logs.String())
	}
	console.Reset()
	logs.Reset()
	Bootstrap{Replaced: 2}.Announce(&console, log)
	if console.Len() != 0 || !strings.Contains(logs.String(), "revoked=2") {
		t.Fatalf("console %q, log %q", console.String(), logs.String())
	}
}
