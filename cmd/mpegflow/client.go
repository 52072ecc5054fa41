package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// defaultAPIURL is the API address when neither --url nor MPEGFLOW_URL is set.
const defaultAPIURL = "http://127.0.0.1:8080"

// clientFlags are the flags every API command shares.
type clientFlags struct {
	getenv         func(string) string
	stdout, stderr io.Writer

	url, token, output string
	timeout            time.Duration
}

func (f *clientFlags) register(c *cobra.Command) {
	pf := c.PersistentFlags()
	pf.StringVar(&f.url, "url", "", "API address (default $MPEGFLOW_URL, else "+defaultAPIURL+")")
	pf.StringVar(&f.token, "token", "", "API token (default $MPEGFLOW_TOKEN)")
	pf.StringVarP(&f.output, "output", "o", "table", "output format: table, json or yaml")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "request timeout")
}

// client returns an API client from the flags and environment.
func (f *clientFlags) client() (*apiClient, error) {
	if f.output != "table" && f.output != "json" && f.output != "yaml" {
		return nil, usageError("--output must be table, json or yaml, not %q", f.output)
	}
	base := f.url
	if base == "" {
		base = f.getenv("MPEGFLOW_URL")
	}
	if base == "" {
		base = defaultAPIURL
	}
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url / MPEGFLOW_URL: %q is not an http(s) URL", base)
	}
	tok := f.token
	if tok == "" {
		tok = f.getenv("MPEGFLOW_TOKEN")
	}
	if tok == "" {
		return nil, fmt.Errorf("no API token: pass --token or set MPEGFLOW_TOKEN (the admin token is printed at the daemon's first start)")
	}
	return &apiClient{base: strings.TrimRight(u.String(), "/"), token: tok, hc: &http.Client{Timeout: f.timeout}}, nil
}

// apiClient calls the control API.
type apiClient struct {
	base, token string
	hc          *http.Client
}

// apiError is an error envelope from the API.
type apiError struct {
	Status  int
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details"`
}

func (e *apiError) Error() string {
	msg := e.Message
	if f, ok := e.Details["field"].(string); ok && !strings.Contains(msg, f) {
		msg += " (field " + f + ")"
	}
	return fmt.Sprintf("%s [%s, HTTP %d]", msg, e.Code, e.Status)
}

// do sends a request and decodes {"data": ...} into out (when not nil); it
// returns the raw body too.
func (c *apiClient) do(ctx context.Context, method, path string, body any, out any) (json.RawMessage, string, error) {
	if body == nil {
		return c.send(ctx, method, path, "", nil, nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, "", err
	}
	return c.send(ctx, method, path, "application/json", b, nil, out)
}

// send is do with a body already encoded in contentType ("" with no body)
// and extra request headers.
func (c *apiClient) send(ctx context.Context, method, path, contentType string, body []byte, hdr http.Header, out any) (json.RawMessage, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, "", err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodPost {
		// One key per invocation: a retry of this very request is safe.
		var k [16]byte
		_, _ = rand.Read(k[:])
		req.Header.Set("Idempotency-Key", "cli-"+hex.EncodeToString(k[:]))
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, "", err
	}
	if res.StatusCode >= 400 {
		var env struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(b, &env) != nil || env.Error.Code == "" {
			return nil, "", fmt.Errorf("HTTP %d from %s: %.200s", res.StatusCode, c.base, b)
		}
		env.Error.Status = res.StatusCode
		return nil, "", &env.Error
	}
	if len(b) == 0 {
		return nil, "", nil
	}
	var env struct {
		Data       json.RawMessage `json:"data"`
		NextCursor string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, "", fmt.Errorf("unexpected answer from %s: %w", c.base, err)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return nil, "", fmt.Errorf("unexpected answer from %s: %w", c.base, err)
		}
	}
	return env.Data, env.NextCursor, nil
}

// listAll follows next_cursor until the end or max items (0 = all) and
// returns the raw items.
func (c *apiClient) listAll(ctx context.Context, path string, q url.Values, max int) ([]json.RawMessage, error) {
	var all []json.RawMessage
	cursor := ""
	for {
		qq := url.Values{}
		for k, v := range q {
			qq[k] = v
		}
		page := 1000
		if max > 0 {
			page = min(page, max-len(all))
		}
		qq.Set("limit", fmt.Sprint(page))
		if cursor != "" {
			qq.Set("cursor", cursor)
		}
		var items []json.RawMessage
		_, next, err := c.do(ctx, http.MethodGet, path+"?"+qq.Encode(), nil, &items)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" || (max > 0 && len(all) >= max) {
			return all, nil
		}
		cursor = next
	}
}

// printYAML writes the JSON value raw as YAML (objects keep their keys,
// sorted).
func printYAML(w io.Writer, raw []byte) error {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
