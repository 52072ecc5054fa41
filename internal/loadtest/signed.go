package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// CreateSignedInputs creates n live inputs with require_signed_urls over
// the control API of the daemon at httpURL (POST /v1/live_inputs with the
// admin token) and mints a playback token for each (POST
// /v1/live_inputs/ID/token, ttl_seconds). The inputs it returns carry
// their id, RTMP stream key and token.
func CreateSignedInputs(ctx context.Context, client *http.Client, httpURL, adminToken string, n int, ttl time.Duration) ([]Input, error) {
	return CreateInputs(ctx, client, httpURL, adminToken, n, InputOptions{Signed: true, TokenTTL: ttl})
}

// InputOptions say how CreateInputs makes live inputs.
type InputOptions struct {
	// Signed: require_signed_urls, and a playback token minted for each
	// (valid TokenTTL; default 1 h).
	Signed   bool
	TokenTTL time.Duration
	// Record: recording.mode automatic (every broadcast becomes a video).
	Record bool
	// Transcode: transcode {mode: on, ladder: Transcode} (profile names).
	Transcode []string
	// SourceURL: a source the daemon pulls (an RTSP camera, over TCP).
	SourceURL string
}

// CreateInputs creates n live inputs over the control API of the daemon at
// httpURL (POST /v1/live_inputs with the admin token) as opts say. The
// inputs it returns carry their id, RTMP stream key and, when signed,
// token.
func CreateInputs(ctx context.Context, client *http.Client, httpURL, adminToken string, n int, opts InputOptions) ([]Input, error) {
	ttl := opts.TokenTTL
	base := strings.TrimSuffix(httpURL, "/")
	ttlS := int64(ttl / time.Second)
	if ttlS < 1 {
		ttlS = 3600
	}
	ins := make([]Input, 0, n)
	for i := 1; i <= n; i++ {
		var li struct {
			Data struct {
				ID   string `json:"id"`
				RTMP *struct {
					StreamKey string `json:"stream_key"`
				} `json:"rtmp"`
				RequireSignedURLs bool `json:"require_signed_urls"`
				Recording         struct {
					Mode string `json:"mode"`
				} `json:"recording"`
				Transcode struct {
					Mode string `json:"mode"`
				} `json:"transcode"`
			} `json:"data"`
		}
		body := map[string]any{"name": fmt.Sprintf("load %d", i)}
		if opts.Signed {
			body["require_signed_urls"] = true
		}
		if opts.Record {
			body["recording"] = map[string]any{"mode": "automatic"}
		}
		if len(opts.Transcode) > 0 {
			body["transcode"] = map[string]any{"mode": "on", "ladder": opts.Transcode}
		}
		if opts.SourceURL != "" {
			body["source"] = map[string]any{"url": opts.SourceURL, "transport": "tcp"}
		}
		if err := apiJSON(ctx, client, base, adminToken, http.MethodPost, "/v1/live_inputs", body, http.StatusCreated, &li); err != nil {
			return nil, err
		}
		if li.Data.ID == "" || li.Data.RTMP == nil || li.Data.RTMP.StreamKey == "" {
			return nil, fmt.Errorf("POST /v1/live_inputs: no id or stream key in the answer")
		}
		if li.Data.RequireSignedURLs != opts.Signed {
			return nil, fmt.Errorf("POST /v1/live_inputs: require_signed_urls is %v in the answer, want %v", li.Data.RequireSignedURLs, opts.Signed)
		}
		if opts.Record && li.Data.Recording.Mode != "automatic" {
			return nil, fmt.Errorf("POST /v1/live_inputs: recording.mode is %q in the answer, want automatic", li.Data.Recording.Mode)
		}
		if len(opts.Transcode) > 0 && li.Data.Transcode.Mode != "on" {
			return nil, fmt.Errorf("POST /v1/live_inputs: transcode.mode is %q in the answer, want on", li.Data.Transcode.Mode)
		}
		if !opts.Signed {
			ins = append(ins, Input{ID: li.Data.ID, Key: li.Data.RTMP.StreamKey})
			continue
		}
		var tok struct {
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		}
		path := "/v1/live_inputs/" + url.PathEscape(li.Data.ID) + "/token"
		if err := apiJSON(ctx, client, base, adminToken, http.MethodPost, path, map[string]any{"ttl_seconds": ttlS}, http.StatusOK, &tok); err != nil {
			return nil, err
		}
		if tok.Data.Token == "" {
			return nil, fmt.Errorf("POST %s: no token in the answer", path)
		}
		ins = append(ins, Input{ID: li.Data.ID, Key: li.Data.RTMP.StreamKey, Token: tok.Data.Token})
	}
	return ins, nil
}

// apiJSON does one control API call and decodes the answer into out.
func apiJSON(ctx context.Context, client *http.Client, base, token, method, path string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, want, tail(rb, 300))
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// MintTokens mints n more playback tokens for the live input id (one per
// reader, as a backend minting per viewer does).
func MintTokens(ctx context.Context, client *http.Client, httpURL, adminToken, id string, n int, ttl time.Duration) ([]string, error) {
	base := strings.TrimSuffix(httpURL, "/")
	ttlS := max(int64(ttl/time.Second), 1)
	path := "/v1/live_inputs/" + url.PathEscape(id) + "/token"
	out := make([]string, 0, n)
	for range n {
		var tok struct {
			Data struct {
				Token string `json:"token"`
			} `json:"data"`
		}
		if err := apiJSON(ctx, client, base, adminToken, http.MethodPost, path, map[string]any{"ttl_seconds": ttlS}, http.StatusOK, &tok); err != nil {
			return nil, err
		}
		if tok.Data.Token == "" {
			return nil, fmt.Errorf("POST %s: no token in the answer", path)
		}
		out = append(out, tok.Data.Token)
	}
	return out, nil
}

// playbackURL is the multivariant playlist URL a reader of in starts from:
// with ?token= when the input has one (the daemon carries the query onto
// every URI its playlists list), or with the token in place of the id when
// inPath (relative URIs then carry it).
func playbackURL(base string, in Input, inPath bool) string {
	base = strings.TrimSuffix(base, "/")
	if in.Token != "" && inPath {
		return base + "/live/" + url.PathEscape(in.Token) + "/index.m3u8"
	}
	u := base + "/live/" + url.PathEscape(in.ID) + "/index.m3u8"
	if in.Token != "" {
		u += "?token=" + url.QueryEscape(in.Token)
	}
	return u
}
