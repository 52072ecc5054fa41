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

func TestWriteJSON(t *testing.T) {
	w := httptest.NewRecorder()
	WriteJSON(w, 201, map[string]int{"a": 1})
	if w.Code != 201 || w.Header().Get("Cache-Control") != "no-store" || w.Body.String() != `{"a":1}`+"\n" {
		t.Fatalf("%d %v %q", w.Code, w.Header(), w.Body.String())
	}
	w = httptest.NewRecorder()
	WriteJSON(w, 200, func() {}) // does not marshal
	if got, want := w.Body.String(), `{"error":{"code":"internal","message":"internal error"}}`+"\n"; w.Code != 500 || got != want {
		t.Fatalf("%d %s, want 500 %s", w.Code, got, want)
	}
}
