package api

import (
	"fmt"
	"testing"
	"time"
)

// transcodeEnv is an env whose server knows the profiles 480p and 360p and
// reports a transcoder.
func transcodeEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, openSQLite(t))
	srv, err := New(Config{Store: e.st, Bus: e.bus, Runtime: e.rt, Endpoints: Endpoints{RTMP: ":1935"},
		AuthFailures:      RateLimit{Burst: 5, Every: time.Minute},
		TranscodeProfiles: []string{"480p", "360p"},
		System: SystemDeps{Transcode: func() TranscodeInfo {
			return TranscodeInfo{Available: true, Requested: "auto", Encoder: "libx264", Family: "x264", Capacity: 1,
				Candidates: []EncoderCandidate{{Family: "nvenc", Encoder: "h264_nvenc", Compiled: true, Reason: "Cannot load libcuda.so.1"}}}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	e.srv = srv
	e.hs.Config.Handler = srv.Handler()
	return e
}

func TestLiveInputTranscodeSetting(t *testing.T) {
	e := transcodeEnv(t)
	tests := []struct {
		name       string
		body       any
		status     int
		code, mode string
		ladder     string
	}{
		{"default off", map[string]any{}, 201, "", "off", "[]"},
		{"on with ladder", map[string]any{"transcode": map[string]any{"mode": "on", "ladder": []string{"480p", "360p"}}}, 201, "", "on", "[480p 360p]"},
		{"on, every profile", map[string]any{"transcode": map[string]any{"mode": "on"}}, 201, "", "on", "[]"},
		{"bad mode", map[string]any{"transcode": map[string]any{"mode": "auto"}}, 400, CodeValidation, "", ""},
		{"unknown profile", map[string]any{"transcode": map[string]any{"mode": "on", "ladder": []string{"4k"}}}, 400, CodeValidation, "", ""},
		{"repeated profile", map[string]any{"transcode": map[string]any{"mode": "on", "ladder": []string{"360p", "360p"}}}, 400, CodeValidation, "", ""},
		{"unknown field", map[string]any{"transcode": map[string]any{"rungs": []string{}}}, 400, CodeUnknownField, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/live_inputs", e.admin, tt.body)
			r.want(t, tt.status, tt.code)
			if tt.code != "" {
				return
			}
			tc, _ := r.data()["transcode"].(map[string]any)
			if tc["mode"] != tt.mode || fmt.Sprint(tc["ladder"]) != tt.ladder {
				t.Fatalf("transcode = %v, want mode %s ladder %s", tc, tt.mode, tt.ladder)
			}
		})
	}

	t.Run("patch", func(t *testing.T) {
		id := e.do("POST", "/v1/live_inputs", e.admin, map[string]any{}).want(t, 201, "").data()["id"].(string)
		r := e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"transcode": map[string]any{"mode": "on", "ladder": []string{"360p"}}})
		if r.Status != 200 {
			t.Fatalf("PATCH: HTTP %d: %s", r.Status, r.Body)
		}
		tc, _ := r.data()["transcode"].(map[string]any)
		if tc["mode"] != "on" || fmt.Sprint(tc["ladder"]) != "[360p]" {
			t.Fatalf("after PATCH transcode = %v", tc)
		}
		r = e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"transcode": nil})
		tc, _ = r.data()["transcode"].(map[string]any)
		if r.Status != 200 || tc["mode"] != "off" || fmt.Sprint(tc["ladder"]) != "[]" {
			t.Fatalf("after PATCH null: HTTP %d transcode = %v", r.Status, tc)
		}
		r = e.do("PATCH", "/v1/live_inputs/"+id, e.admin, map[string]any{"transcode": map[string]any{"ladder": []string{"1080p"}}})
		if r.code() != CodeValidation {
			t.Fatalf("PATCH unknown profile: HTTP %d %s", r.Status, r.Body)
		}
	})
}

func TestSystem(t *testing.T) {
	e := transcodeEnv(t)
	d := e.do("GET", "/v1/system", e.admin, nil).want(t, 200, "").data()
	tc, _ := d["transcode"].(map[string]any)
	if tc["encoder"] != "libx264" || tc["available"] != true {
		t.Fatalf("transcode = %v", tc)
	}
	c, _ := tc["candidates"].([]any)
	if len(c) != 1 || c[0].(map[string]any)["reason"] != "Cannot load libcuda.so.1" {
		t.Fatalf("candidates = %v", c)
	}
	e.do("GET", "/v1/system", "", nil).want(t, 401, "")

	// without a transcoder: available false, never null lists
	plain := newEnv(t, openSQLite(t))
	tc, _ = plain.do("GET", "/v1/system", plain.admin, nil).want(t, 200, "").data()["transcode"].(map[string]any)
	if tc["available"] != false || tc["candidates"] == nil || tc["profiles"] == nil {
		t.Fatalf("transcode without transcoder = %v", tc)
	}
}
