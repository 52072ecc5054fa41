package metrics

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// series returns name's sample count (histograms) or value, by label set
// written as "k=v,k=v" in label order.
func series(t *testing.T, m *Metrics, name string) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			k := ""
			for i, l := range s.GetLabel() {
				if i > 0 {
					k += ","
				}
				k += l.GetName() + "=" + l.GetValue()
			}
			switch {
			case s.Histogram != nil:
				out[k] = float64(s.Histogram.GetSampleCount())
			case s.Gauge != nil:
				out[k] = s.Gauge.GetValue()
			case s.Counter != nil:
				out[k] = s.Counter.GetValue()
			}
		}
	}
	return out
}

func TestAPIRouteLabels(t *testing.T) {
	m := New("test")
	inner := http.NewServeMux()
	inner.HandleFunc("GET /v1/live_inputs/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
	inner.HandleFunc("/v1/", func(http.ResponseWriter, *http.Request) {})
	outer := http.NewServeMux()
	outer.Handle("/v1/", m.API(inner))
	for _, p := range []string{"/v1/live_inputs/li_1", "/v1/live_inputs/li_2", "/v1/whatever"} {
		outer.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	ws := httptest.NewRequest("GET", "/v1/live_inputs/li_3", nil)
	ws.Header.Set("Upgrade", "websocket")
	outer.ServeHTTP(httptest.NewRecorder(), ws)
	got := series(t, m, "mpegflow_api_request_duration_seconds")
	want := map[string]float64{
		"code=404,route=GET /v1/live_inputs/{id}": 2, // ids never become labels; the upgrade is not timed
		"code=200,route=unmatched":                1,
	}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

func TestDataDirDisk(t *testing.T) {
	if n := len(series(t, New("test"), "mpegflow_data_dir_free_bytes")); n != 0 {
		t.Fatalf("without WithDataDir: %d series", n)
	}
	m := New("test", WithDataDir(t.TempDir()))
	free := series(t, m, "mpegflow_data_dir_free_bytes")[""]
	size := series(t, m, "mpegflow_data_dir_size_bytes")[""]
	if size <= 0 || free <= 0 || free > size {
		t.Fatalf("free %v of %v bytes", free, size)
	}
	bad := New("test", WithDataDir("/nonexistent/"+t.Name()))
	if _, err := bad.Registry.Gather(); err == nil {
		t.Fatal("statfs of a missing directory: no error reported at scrape")
	}
}

func TestPartAvailabilityAndConnects(t *testing.T) {
	m := New("test")
	m.HLSPartServed(30 * time.Millisecond)
	m.HLSPartServed(-time.Millisecond) // clock step: clamped to 0
	if n := series(t, m, "mpegflow_hls_part_availability_seconds")[""]; n != 2 {
		t.Fatalf("%v observations, want 2", n)
	}
	m.SessionOpened("rtmp", "li_a")
	m.SessionOpened("srt", "li_a")
	if n := series(t, m, "mpegflow_ingest_connects_total")["live_input=li_a"]; n != 2 {
		t.Fatalf("connects %v, want 2", n)
	}
}
