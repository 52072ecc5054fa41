package rpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/mpegflow/mpegflow/internal/api"
)

// call is one method as its REST route: api.Server.Do runs the route's
// own code, so a method only says which route and how its message maps
// onto path, query and body.
type call struct {
	route   string
	path    map[string]string
	query   url.Values
	ifMatch string
	// body is rendered as the JSON body, less the fields in skip (those
	// that travel in the path); nil = no body.
	body proto.Message
	skip []string
	// patch is sent as the body instead (a JSON merge patch).
	patch *structpb.Struct
	// raw is sent as the body as it is, of media type contentType (a
	// manifest in YAML or JSON).
	raw         []byte
	contentType string
}

// run runs c for the request of ctx.
func (s *Server) run(ctx context.Context, c call) (api.Result, error) {
	r, ok := ctx.Value(requestKey{}).(*http.Request)
	if !ok {
		return api.Result{}, connect.NewError(connect.CodeInternal, errors.New("no HTTP request"))
	}
	ac := api.Call{Route: c.route, Path: c.path, Query: c.query, IfMatch: c.ifMatch, ContentType: c.contentType}
	var err error
	switch {
	case c.raw != nil:
		ac.Body = c.raw
	case c.patch != nil:
		ac.Body, err = c.patch.MarshalJSON()
	case c.body != nil:
		ac.Body, err = restBody(c.body, c.skip...)
	}
	if err != nil {
		return api.Result{}, connect.NewError(connect.CodeInvalidArgument, err)
	}
	res, err := s.api.Do(r.WithContext(ctx), ac)
	if err != nil {
		return api.Result{}, s.toConnect(err)
	}
	return res, nil
}

// one runs c and fills m from the object of the answer ({"data": ...});
// it returns the answer's ETag.
func (s *Server) one(ctx context.Context, c call, m proto.Message) (string, error) {
	res, err := s.run(ctx, c)
	if err != nil {
		return "", err
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(res.Body, &env); err != nil {
		return "", s.toConnect(err)
	}
	if err := fromJSON(env.Data, m); err != nil {
		return "", s.toConnect(err)
	}
	return res.ETag, nil
}

// page runs c and fills m, a list response (data, next_cursor), from the
// page it answers.
func (s *Server) page(ctx context.Context, c call, m proto.Message) error {
	res, err := s.run(ctx, c)
	if err != nil {
		return err
	}
	if err := fromJSON(res.Body, m); err != nil {
		return s.toConnect(err)
	}
	return nil
}

// none runs c, which answers no object.
func (s *Server) none(ctx context.Context, c call) error {
	_, err := s.run(ctx, c)
	return err
}

// reply wraps m, unless err.
func reply[T any](m *T, err error) (*connect.Response[T], error) {
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(m), nil
}

// id is the {id} path of a route.
func id(v string) map[string]string { return map[string]string{"id": v} }

// pageQuery is the query of a list route.
func pageQuery(limit int32, cursor string) url.Values {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(int(limit)))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// restBody renders m as a REST request body: snake_case names, unset
// fields omitted, 64-bit integers as JSON numbers (protojson writes them
// as strings, which the REST decoder refuses), less the fields in skip.
func restBody(m proto.Message, skip ...string) ([]byte, error) {
	b, err := toJSON(m)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	for _, k := range skip {
		delete(v, k)
	}
	int64Numbers(m.ProtoReflect().Descriptor(), v)
	return json.Marshal(v)
}

// int64Numbers turns the 64-bit integer fields of v (a message of md, as
// protojson renders it) back into numbers.
func int64Numbers(md protoreflect.MessageDescriptor, v map[string]any) {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := string(fd.Name())
		x, ok := v[name]
		if !ok {
			continue
		}
		switch fd.Kind() {
		case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
			protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
			if fd.IsList() {
				if l, ok := x.([]any); ok {
					for j, e := range l {
						if s, ok := e.(string); ok {
							l[j] = json.Number(s)
						}
					}
				}
			} else if s, ok := x.(string); ok {
				v[name] = json.Number(s)
			}
		case protoreflect.MessageKind:
			if fd.Message().ParentFile().Package() == "google.protobuf" {
				continue // well-known types: their own JSON forms
			}
			if fd.IsList() {
				if l, ok := x.([]any); ok {
					for _, e := range l {
						if em, ok := e.(map[string]any); ok {
							int64Numbers(fd.Message(), em)
						}
					}
				}
			} else if xm, ok := x.(map[string]any); ok {
				int64Numbers(fd.Message(), xm)
			}
		}
	}
}

// patchOf is the merge patch of an Update method; unset = {}.
func patchOf(p *structpb.Struct) *structpb.Struct {
	if p == nil {
		return &structpb.Struct{}
	}
	return p
}
