package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
)

// Limits of request bodies.
const (
	// MaxBodyBytes is the largest request body accepted: 1 MiB (413 above).
	MaxBodyBytes = 1 << 20
	// MaxJSONDepth is the deepest nesting of objects and arrays accepted.
	MaxJSONDepth = 32
)

// readBody reads the request body up to MaxBodyBytes and checks that it is
// JSON (Content-Type application/json or application/merge-patch+json, or
// none). An empty body reads as "{}" when emptyOK.
func readBody(w http.ResponseWriter, r *http.Request, emptyOK bool) ([]byte, error) {
	if err := checkMediaType(r, "the body must be application/json", "application/json", "application/merge-patch+json"); err != nil {
		return nil, err
	}
	return readRaw(w, r, emptyOK)
}

// checkMediaType answers 415 with msg unless the Content-Type is absent or
// one of types.
func checkMediaType(r *http.Request, msg string, types ...string) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && slices.Contains(types, mt) {
		return nil
	}
	return apiErr(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, msg)
}

// readRaw reads the request body up to MaxBodyBytes, whatever its type.
func readRaw(w http.ResponseWriter, r *http.Request, emptyOK bool) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, apiErr(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apiErr(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes))
		}
		return nil, apiErr(http.StatusBadRequest, CodeInvalidJSON, "cannot read the body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if emptyOK {
			return []byte("{}"), nil
		}
		return nil, apiErr(http.StatusBadRequest, CodeInvalidJSON, "the body is empty; a JSON object is required")
	}
	return b, nil
}

// decodeJSON decodes b, which must hold exactly one JSON object, into v
// (a pointer to a struct): unknown fields, wrong types, nesting deeper than
// MaxJSONDepth and trailing data are errors naming what is wrong. It is the
// one decoder of untrusted request bytes (see FuzzDecode).
func decodeJSON(b []byte, v any) error {
	if err := checkJSON(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiErr(http.StatusBadRequest, CodeInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

// checkJSON verifies that b is one valid JSON value, that it is an object,
// and that it nests no deeper than MaxJSONDepth. The depth scan runs before
// any decoding so that deeply nested input costs linear time and no stack.
func checkJSON(b []byte) error {
	depth, inStr, esc := 0, false, false
	for _, c := range b {
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > MaxJSONDepth {
				return apiErr(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("JSON nested deeper than %d levels", MaxJSONDepth))
			}
		case '}', ']':
			depth--
		}
	}
	if !json.Valid(b) {
		return apiErr(http.StatusBadRequest, CodeInvalidJSON, "the body is not valid JSON")
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return apiErr(http.StatusBadRequest, CodeInvalidJSON, "the body must be a JSON object")
	}
	return nil
}

// jsonErr turns an encoding/json error into an API error naming the field.
func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var ae *Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return fieldErr(CodeValidation, field, fmt.Sprintf("%s must be %s, not %s", field, jsonKind(te.Type.Kind().String()), te.Value))
	case errors.As(err, &se):
		return apiErr(http.StatusBadRequest, CodeInvalidJSON, fmt.Sprintf("invalid JSON at byte %d", se.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return apiErr(http.StatusBadRequest, CodeInvalidJSON, "the JSON body ends early")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		f = strings.Trim(f, `"`)
		return fieldErr(CodeUnknownField, f, fmt.Sprintf("unknown field %q", f))
	}
	return apiErr(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON body")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int64", "int32", "uint", "uint64", "uint32", "float64":
		return "a number"
	}
	return "of another type"
}
