package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/live"
	"github.com/mpegflow/mpegflow/internal/store"
)

func controlConfig(t *testing.T, dir string, inputs ...conf.LiveInput) *conf.Config {
	t.Helper()
	cfg, err := conf.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.LiveInputs = inputs
	return cfg
}

// testControl is the store with the Directory and the API over it.
type testControl struct {
	st   store.Store
	api  *api.Server
	once sync.Once
	err  error
}

func (c *testControl) Directory() auth.Directory { return live.NewDirectory(c.st.LiveInputs()) }
func (c *testControl) Handler() http.Handler     { return c.api.Handler() }
func (c *testControl) Close() error {
	c.once.Do(func() {
		_ = c.api.Close()
		c.err = c.st.Close()
	})
	return c.err
}

func openTestControl(t *testing.T, cfg *conf.Config) (*testControl, string) {
	t.Helper()
	var out bytes.Buffer
	st, err := openStore(context.Background(), cfg, slog.New(slog.DiscardHandler), &out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Store: st, Bus: events.NewBus(), Endpoints: api.Endpoints{RTMP: cfg.RTMP.Address, SRT: cfg.SRT.Address, HTTP: cfg.HTTP.Address}})
	if err != nil {
		t.Fatal(err)
	}
	return &testControl{st: st, api: a}, out.String()
}

var tokenRe = regexp.MustCompile(`mf_[0-9a-z]{52}`)

func TestControlBootstrapAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := controlConfig(t, dir, conf.LiveInput{ID: "main", Name: "Main", StreamKey: "auto"}, conf.LiveInput{ID: "old", Name: "Old", StreamKey: "sk_old_key_123456"})
	c, out := openTestControl(t, cfg)
	tok := tokenRe.FindString(out)
	if tok == "" {
		t.Fatalf("no admin token printed: %q", out)
	}
	ctx := context.Background()
	key, err := live.LoadOrCreateKey(live.KeyFile(dir, "main"))
	if err != nil {
		t.Fatal(err)
	}
	if li, err := c.Directory().ByStreamKey(ctx, key); err != nil || li.ID != "main" {
		t.Fatalf("static key: %v %v", li, err)
	}
	// Create an input over the API.
	hs := httptest.NewServer(c.Handler())
	req, _ := http.NewRequest("POST", hs.URL+"/v1/live_inputs", strings.NewReader(`{"name":"api"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("create: %v %v", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	hs.Close()
	apiKey := regexp.MustCompile(`"stream_key":"(sk_[0-9a-z]+)"`).FindStringSubmatch(string(body))[1]
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil { // idempotent
		t.Fatal(err)
	}

	// Restart without "old": no new token, the API input and its key survive, "old" is gone.
	cfg.LiveInputs = cfg.LiveInputs[:1]
	c, out = openTestControl(t, cfg)
	defer c.Close()
	if tokenRe.MatchString(out) {
		t.Fatalf("a second admin token was printed: %q", out)
	}
	if li, err := c.Directory().ByStreamKey(ctx, apiKey); err != nil || !strings.HasPrefix(li.ID, "li_") {
		t.Fatalf("API input after restart: %v %v", li, err)
	}
	if _, err := c.Directory().ByID(ctx, "old"); !errors.Is(err, auth.ErrNotFound) {
		t.Fatalf("removed static input: %v", err)
	}
	if _, err := c.Directory().ByStreamKey(ctx, "sk_old_key_123456"); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("removed static key: %v", err)
	}
	hs = httptest.NewServer(c.Handler())
	defer hs.Close()
	req, _ = http.NewRequest("GET", hs.URL+"/v1/live_inputs", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("list after restart: %v %v", res, err)
	}
	res.Body.Close()
}
