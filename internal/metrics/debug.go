package metrics

import (
	"net/http"
	"net/http/pprof"
)

// DebugHandler serves the metrics listener: /metrics, and the profiles
// for operators under /debug/pprof/ (the listener is loopback by
// default).
func (m *Metrics) DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
