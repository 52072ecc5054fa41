package vodhttp

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAuthorizerWithoutGate: no gate refuses with 503 rather than serve
// unchecked.
func TestAuthorizerWithoutGate(t *testing.T) {
	a := Authorizer{Kind: "live_input", Logger: slog.New(slog.DiscardHandler)}
	w := httptest.NewRecorder()
	if _, ok := a.Authorize(w, httptest.NewRequest(http.MethodPost, "/whep/x", nil), "x"); ok || w.Code != http.StatusServiceUnavailable {
		t.Fatalf("ok %v, status %d", ok, w.Code)
	}
}
