// Command flow is the main flow over REST with Go's standard library:
// register a webhook, create a signed live input, mint a playback token,
// list the recordings.
//
//	MPEGFLOW_URL=http://localhost:8080 MPEGFLOW_TOKEN=mf_... \
//	WEBHOOK_URL=https://example.com/hooks go run ./examples/go
//
// To verify the webhooks it sends, see the webhook/verify package.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"
)

// client calls the API with a token.
type client struct {
	base, token string
	hc          *http.Client
}

// call sends body (nil = none) and decodes the answer's "data" into out.
func (c *client) call(method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var env struct {
		Data  json.RawMessage `json:"data"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: HTTP %d: %w", method, path, res.StatusCode, err)
	}
	if env.Error != nil {
		return fmt.Errorf("%s %s: HTTP %d %s: %s", method, path, res.StatusCode, env.Error.Code, env.Error.Message)
	}
	return json.Unmarshal(env.Data, out)
}

func run() error {
	c := &client{base: strings.TrimSuffix(os.Getenv("MPEGFLOW_URL"), "/"), token: os.Getenv("MPEGFLOW_TOKEN"),
		hc: &http.Client{Timeout: 30 * time.Second}}

	// 1. a webhook endpoint; its secret (whsec_...) is shown once: keep it for verification
	var wh struct{ ID, Secret string }
	if err := c.call("POST", "/v1/webhooks", map[string]any{"url": os.Getenv("WEBHOOK_URL"),
		"event_types": []string{"live_input.created", "live_input.connected", "recording.started", "video.ready", "webhook.test"}}, &wh); err != nil {
		return err
	}
	fmt.Println("webhook", wh.ID, wh.Secret)

	// 2. a live input whose playback needs a signed token; the answer has the OBS settings
	var li struct {
		ID   string
		RTMP struct {
			URL       string `json:"url"`
			StreamKey string `json:"stream_key"`
		} `json:"rtmp"`
	}
	if err := c.call("POST", "/v1/live_inputs", map[string]any{"name": "go example", "require_signed_urls": true}, &li); err != nil {
		return err
	}
	fmt.Println("live_input", li.ID)
	fmt.Println("rtmp", li.RTMP.URL, li.RTMP.StreamKey)

	// 3. a playback token for viewers, with the ready-to-use URLs
	var tok struct {
		Token    string
		Playback struct{ HLS string }
	}
	if err := c.call("POST", "/v1/live_inputs/"+li.ID+"/token", map[string]any{"ttl_seconds": 3600}, &tok); err != nil {
		return err
	}
	fmt.Println("token", tok.Token)
	fmt.Println("hls", tok.Playback.HLS)

	// 4. the recordings (every broadcast becomes a video)
	var videos []json.RawMessage
	if err := c.call("GET", "/v1/videos?limit=10", nil, &videos); err != nil {
		return err
	}
	fmt.Println("videos", len(videos))
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
