package app

import (
	"net/http"

	"github.com/mpegflow/mpegflow/internal/rpc"
)

// rpcRoutes mounts the gRPC, gRPC-Web and Connect services (internal/rpc)
// on the HTTP mux, over the same service layer as /v1.
func (a *App) rpcRoutes(mux *http.ServeMux) {
	for _, rt := range rpc.New(a.control.api, a.log.With("component", "rpc")).Routes() {
		mux.Handle(rt.Pattern, rt.Handler)
	}
}

// h2c lets gRPC clients speak HTTP/2 without TLS (prior knowledge) on the
// HTTP port, beside HTTP/1.1.
func h2c() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}
