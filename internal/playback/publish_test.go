package playback

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/auth"
)

func TestPublishDirectory(t *testing.T) {
	dir, err := auth.NewStatic([]auth.StaticEntry{{ID: "allowed", StreamKey: "key-allowed"}, {ID: "denied", StreamKey: "key-denied"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []AdmissionRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req AdmissionRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		got = append(got, req)
		if req.LiveInputID == "denied" {
			_, _ = w.Write([]byte(`{"allow":false,"reason":"subscription expired"}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hook, _ := NewHook(HookConfig{URL: srv.URL, Secret: []byte("k"), Timeout: time.Second})
	d := &PublishDirectory{Directory: dir, Hook: hook}
	ctx := auth.WithPeer(t.Context(), "srt", "192.0.2.9:4000")
	tests := []struct {
		key     string
		wantID  string
		wantErr error
	}{
		{"key-allowed", "allowed", nil},
		{"key-denied", "", auth.ErrRefused},
		{"key-unknown", "", auth.ErrUnknownKey},
	}
	for _, tt := range tests {
		li, err := d.ByStreamKey(ctx, tt.key)
		if li.ID != tt.wantID || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("ByStreamKey(%s) = %q, %v; want %q, %v", tt.key, li.ID, err, tt.wantID, tt.wantErr)
		}
	}
	if len(got) != 2 || got[0].Action != ActionPublish || got[0].Protocol != "srt" || got[0].ClientAddr != "192.0.2.9" {
		t.Fatalf("hook requests %+v", got)
	}
	if _, err := d.ByStreamKey(ctx, "key-denied"); err == nil || err.Error() != auth.ErrRefused.Error()+": subscription expired" {
		t.Fatalf("refusal %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("answers not cached: %d calls", len(got))
	}
}
