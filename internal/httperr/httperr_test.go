package httperr

import (
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, 409, "busy", `live input "x" already has a publisher`)
	if w.Code != 409 || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	if got, want := w.Body.String(), `{"error":{"code":"busy","message":"live input \"x\" already has a publisher"}}`+"\n"; got != want {
		t.Fatalf("body %s, want %s", got, want)
	}
}
