// Package rpc serves MpegFlow's control API over gRPC, gRPC-Web and the
// Connect protocol (connectrpc.com/connect), on the HTTP port next to REST.
// It holds no business logic: every method authenticates and runs the
// operation of its REST route through the service layer of internal/api
// (api.Server), and converts the JSON object REST renders into its
// protobuf message (proto/mpegflow/v1). Errors keep the REST error code in
// an ErrorDetail; their gRPC code follows the HTTP status (codeOf).
package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mpegflow/mpegflow/internal/api"
	mpegflowv1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// Server is the gRPC front end of an api.Server.
type Server struct {
	api    *api.Server
	log    *slog.Logger
	events *eventMessages
}

// New returns the gRPC front end of a.
func New(a *api.Server, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{api: a, log: log, events: newEventMessages()}
}

// Route is one path prefix and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes returns the services, the gRPC health service (grpc.health.v1)
// and server reflection (v1 and v1alpha), to mount on the HTTP mux. The
// HTTP server must accept HTTP/2 without TLS (h2c) for gRPC clients.
func (s *Server) Routes() []Route {
	var out []Route
	add := func(p string, h http.Handler) { out = append(out, Route{p, withRequest(h)}) }
	// Answers under 4 KiB go uncompressed even to clients that accept
	// gzip (connect's default compresses every answer): compressing a live
	// input costs more CPU than the call itself and saves little.
	opts := []connect.HandlerOption{connect.WithCompressMinBytes(4 << 10)}
	add(mpegflowv1connect.NewLiveInputServiceHandler(liveInputs{s}, opts...))
	add(mpegflowv1connect.NewEventServiceHandler(eventsSvc{s}, opts...))
	add(mpegflowv1connect.NewVideoServiceHandler(videos{s}, opts...))
	add(mpegflowv1connect.NewWebhookServiceHandler(webhooks{s}, opts...))
	add(mpegflowv1connect.NewTokenServiceHandler(tokens{s}, opts...))
	add(mpegflowv1connect.NewSigningKeyServiceHandler(signingKeys{s}, opts...))
	add(mpegflowv1connect.NewSessionServiceHandler(sessions{s}, opts...))
	add(mpegflowv1connect.NewOutputServiceHandler(outputs{s}, opts...))
	add(mpegflowv1connect.NewPipelineServiceHandler(pipelines{s}, opts...))
	names := []string{mpegflowv1connect.LiveInputServiceName, mpegflowv1connect.EventServiceName,
		mpegflowv1connect.VideoServiceName, mpegflowv1connect.WebhookServiceName, mpegflowv1connect.TokenServiceName,
		mpegflowv1connect.SigningKeyServiceName, mpegflowv1connect.SessionServiceName, mpegflowv1connect.OutputServiceName,
		mpegflowv1connect.PipelineServiceName}
	checker := grpchealth.NewStaticChecker(names...)
	add(grpchealth.NewHandler(checker))
	reflector := grpcreflect.NewStaticReflector(names...)
	add(grpcreflect.NewHandlerV1(reflector))
	add(grpcreflect.NewHandlerV1Alpha(reflector))
	return out
}

type requestKey struct{}

// withRequest keeps the HTTP request in the context: the service layer
// authenticates it and renders URLs for its host, as for REST.
func withRequest(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, r)))
	})
}

// call authenticates the request of ctx for scope.
func (s *Server) call(ctx context.Context, scope string) (*http.Request, *api.Caller, error) {
	r, ok := ctx.Value(requestKey{}).(*http.Request)
	if !ok {
		return nil, nil, connect.NewError(connect.CodeInternal, errors.New("no HTTP request"))
	}
	r = r.WithContext(ctx)
	c, err := s.api.Authorize(r, scope)
	if err != nil {
		return nil, nil, s.toConnect(err)
	}
	return r, c, nil
}

// codeOf maps the HTTP status REST answers an error with onto its gRPC
// code (https://grpc.github.io/grpc/core/md_doc_statuscodes.html).
func codeOf(status int) connect.Code {
	switch status {
	case 400, 413, 415, 422:
		return connect.CodeInvalidArgument
	case 401:
		return connect.CodeUnauthenticated
	case 403:
		return connect.CodePermissionDenied
	case 404:
		return connect.CodeNotFound
	case 409, 412:
		return connect.CodeFailedPrecondition
	case 429:
		return connect.CodeResourceExhausted
	case 501:
		return connect.CodeUnimplemented
	case 503:
		return connect.CodeUnavailable
	}
	return connect.CodeInternal
}

// toConnect turns an API error into a connect error with the REST code in
// an ErrorDetail; anything else is internal (logged, not shown).
func (s *Server) toConnect(err error) error {
	var ae *api.Error
	if !errors.As(err, &ae) {
		s.log.Error("rpc request failed", "error", err)
		return connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	ce := connect.NewError(codeOf(ae.Status), errors.New(ae.Message))
	d := &mpegflowv1.ErrorDetail{Code: ae.Code, Message: ae.Message, HttpStatus: int32(ae.Status)}
	if len(ae.Details) > 0 {
		// through JSON, as REST renders them: details hold typed values
		// (a manifest's []manifest.Error) that structpb.NewStruct refuses
		if b, err := json.Marshal(ae.Details); err == nil {
			st := &structpb.Struct{}
			if st.UnmarshalJSON(b) == nil {
				d.Details = st
			}
		}
	}
	if det, err := connect.NewErrorDetail(d); err == nil {
		ce.AddDetail(det)
	}
	return ce
}

// fromJSON fills m from the JSON of a REST object; fields REST adds later
// are skipped until the message has them.
func fromJSON(b []byte, m proto.Message) error {
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
}

// toJSON renders m as a REST request body (snake_case names, unset fields
// omitted).
func toJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
}

// ErrorDetailOf returns the ErrorDetail of a connect error, or nil.
func ErrorDetailOf(err error) *mpegflowv1.ErrorDetail {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return nil
	}
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if ed, ok := v.(*mpegflowv1.ErrorDetail); ok {
				return ed
			}
		}
	}
	return nil
}
