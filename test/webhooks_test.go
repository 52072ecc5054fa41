package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/webhook/verify"
)

// whEvent is one verified delivery seen by a receiver.
type whEvent struct {
	ID, Type, LiveInput string
	CreatedAt           time.Time
	Received            time.Time
	Signatures          int
	Data                map[string]any // the event's object
}

// whReceiver is a webhook receiver that verifies every delivery twice:
// with the Standard Webhooks algorithm written here, independently of
// MpegFlow's code, and with the public webhook/verify package.
type whReceiver struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	secrets []string
	got     []whEvent
	status  atomic.Int64 // the answer; 0 = 200
	calls   atomic.Int64
}

func newWHReceiver(t *testing.T) *whReceiver {
	r := &whReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *whReceiver) setSecrets(s ...string) {
	r.mu.Lock()
	r.secrets = s
	r.mu.Unlock()
}

// standardSignature is HMAC-SHA256(base64-decoded secret after "whsec_",
// "id.timestamp.body"), base64: the Standard Webhooks scheme.
func standardSignature(secret, id, ts string, body []byte) string {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.", id, ts)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (r *whReceiver) serve(w http.ResponseWriter, req *http.Request) {
	r.calls.Add(1)
	body, _ := io.ReadAll(req.Body)
	id, ts, sigs := req.Header.Get("webhook-id"), req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature")
	r.mu.Lock()
	secrets := slices.Clone(r.secrets)
	r.mu.Unlock()
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		r.t.Errorf("content type %q", ct)
	}
	if ua := req.Header.Get("User-Agent"); !strings.HasPrefix(ua, "MpegFlow-Webhooks/") {
		r.t.Errorf("user agent %q", ua)
	}
	tsn, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(tsn, 0)).Abs() > 5*time.Minute {
		r.t.Errorf("webhook-timestamp %q", ts)
	}
	fields := strings.Fields(sigs)
	ok := false
	for _, s := range secrets {
		want := "v1," + standardSignature(s, id, ts, body)
		if slices.Contains(fields, want) {
			ok = true
		}
	}
	if !ok {
		r.t.Errorf("delivery %s: no signature matches (independent check): %q", id, sigs)
	}
	v, err := verify.New(secrets...)
	if err != nil || v.Verify(req.Header, body) != nil {
		r.t.Errorf("delivery %s: webhook/verify refuses it", id)
	}
	st := int(r.status.Load())
	if st == 0 {
		st = 200
	}
	if st < 300 {
		var env struct {
			ID          string          `json:"id"`
			Type        string          `json:"type"`
			CreatedAt   time.Time       `json:"created_at"`
			LiveInputID string          `json:"live_input_id"`
			Data        json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil || env.ID != id || env.Type == "" || len(env.Data) == 0 {
			r.t.Errorf("envelope %s: %v", body, err)
		}
		var obj map[string]any
		_ = json.Unmarshal(env.Data, &obj)
		r.mu.Lock()
		r.got = append(r.got, whEvent{ID: env.ID, Type: env.Type, LiveInput: env.LiveInputID, CreatedAt: env.CreatedAt,
			Received: time.Now(), Signatures: len(fields), Data: obj})
		r.mu.Unlock()
	}
	w.WriteHeader(st)
}

func (r *whReceiver) events() []whEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// unique returns the deliveries de-duplicated by event id, in arrival order.
func (r *whReceiver) unique() []whEvent {
	seen := map[string]bool{}
	var out []whEvent
	for _, e := range r.events() {
		if !seen[e.ID] {
			seen[e.ID] = true
			out = append(out, e)
		}
	}
	return out
}

// typesOf lists the types of the events about live input id, in order.
func typesOf(es []whEvent, id string) []string {
	var out []string
	for _, e := range es {
		if e.LiveInput == id {
			out = append(out, e.Type)
		}
	}
	return out
}

func (r *whReceiver) waitFor(t *testing.T, what string, within time.Duration, cond func([]whEvent) bool) []whEvent {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		es := r.unique()
		if cond(es) {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook receiver: %s not seen within %v; got %v", what, within, es)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// kill ends the daemon with SIGKILL (no shutdown at all) and waits for it.
func (d *daemon) kill() {
	d.stopOnce.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.done
	})
}

// webhookDaemon starts a daemon whose webhooks may target the loopback
// receivers, with a short retry schedule.
func webhookDaemon(t *testing.T, dataDir string) *daemon {
	t.Helper()
	d := startDaemonAt(t, dataDir, daemonConfig{Env: []string{
		"MPEGFLOWTEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS=1",
		"MPEGFLOWTEST_WEBHOOKS_RETRY_SCHEDULE=200ms,400ms,800ms",
	}})
	if f, err := get(t.Context(), d.URL("/v1/openapi.json")); err != nil || f.Status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %v %v", f, err)
	}
	return d
}

func createWebhook(t *testing.T, d *daemon, admin string, body map[string]any) (id, secret string) {
	t.Helper()
	st, r := apiCall(t, d, admin, "POST", "/v1/webhooks", body)
	if st != http.StatusCreated {
		t.Fatalf("create webhook: HTTP %d %v", st, r)
	}
	return data(r)["id"].(string), data(r)["secret"].(string)
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// TestWebhooksEndToEnd: a real RTMP broadcast's lifecycle reaches a
// receiver signed and in order; a filtered endpoint gets only its type; a
// 4xx endpoint is not retried; rotate_secret signs with both secrets.
func TestWebhooksEndToEnd(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	requireTools(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := webhookDaemon(t, filepath.Join(t.TempDir(), "data"))
	admin := adminTokenRe.FindString(d.Output())

	all, only, refuse := newWHReceiver(t), newWHReceiver(t), newWHReceiver(t)
	refuse.status.Store(410)
	allID, allSecret := createWebhook(t, d, admin, map[string]any{"url": all.srv.URL, "description": "all"})
	all.setSecrets(allSecret)
	_, onlySecret := createWebhook(t, d, admin, map[string]any{"url": only.srv.URL, "event_types": []string{"live_input.idle"}})
	only.setSecrets(onlySecret)
	refuseID, refuseSecret := createWebhook(t, d, admin, map[string]any{"url": refuse.srv.URL})
	refuse.setSecrets(refuseSecret)

	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "webhooks"})
	if st != http.StatusCreated {
		t.Fatalf("create live input: HTTP %d %v", st, r)
	}
	li := data(r)["id"].(string)
	key := data(r)["rtmp"].(map[string]any)["stream_key"].(string)
	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 4})
	if exited, err := pub.Wait(30 * time.Second); !exited || err != nil {
		t.Fatalf("ffmpeg: exited %v, %v", exited, err)
	}
	want := []string{"live_input.created", "live_input.connected", "live_input.disconnected", "live_input.idle"}
	got := all.waitFor(t, "the broadcast's lifecycle", 20*time.Second, func(es []whEvent) bool { return len(typesOf(es, li)) >= len(want) })
	if !slices.Equal(typesOf(got, li), want) {
		t.Fatalf("lifecycle %v, want %v", typesOf(got, li), want)
	}
	checkLiveInputData(t, d, admin, li, got)
	only.waitFor(t, "live_input.idle", 5*time.Second, func(es []whEvent) bool { return len(es) >= 1 })
	time.Sleep(1500 * time.Millisecond) // time for wrong deliveries or retries to show up
	if es := only.events(); len(es) != 1 || es[0].Type != "live_input.idle" {
		t.Errorf("filtered endpoint got %v", es)
	}
	if n := refuse.calls.Load(); n != int64(len(want)) {
		t.Errorf("the 410 endpoint was called %d times for %d events: 4xx must not be retried", n, len(want))
	}
	var lat []time.Duration
	for _, e := range got {
		lat = append(lat, e.Received.Sub(e.CreatedAt))
	}
	t.Logf("delivery latency (event → receiver) over %d events: p50 %v, max %v", len(lat), percentile(lat, 0.5), percentile(lat, 1))

	// the delivery log of the refusing endpoint: final after one attempt
	st, r = apiCall(t, d, admin, "GET", "/v1/webhooks/"+refuseID+"/deliveries", nil)
	if st != http.StatusOK {
		t.Fatalf("deliveries: HTTP %d %v", st, r)
	}
	for _, x := range r["data"].([]any) {
		dl := x.(map[string]any)
		if dl["status"] != "failed" || dl["attempts"] != float64(1) || dl["last_status_code"] != float64(410) {
			t.Errorf("delivery of a 410 endpoint: %v", dl)
		}
	}

	// rotate: the test event carries two signatures, each verifiable
	st, r = apiCall(t, d, admin, "POST", "/v1/webhooks/"+allID+"/rotate_secret", nil)
	if st != http.StatusOK {
		t.Fatalf("rotate_secret: HTTP %d %v", st, r)
	}
	newSecret := data(r)["secret"].(string)
	all.setSecrets(newSecret) // a receiver that only knows the new secret
	st, r = apiCall(t, d, admin, "POST", "/v1/webhooks/"+allID+"/test", nil)
	if st != http.StatusOK || data(r)["status_code"] != float64(200) || data(r)["success"] != true {
		t.Fatalf("test: HTTP %d %v", st, r)
	}
	all.setSecrets(allSecret) // and one that only knows the old one
	st, _ = apiCall(t, d, admin, "POST", "/v1/webhooks/"+allID+"/test", nil)
	if st != http.StatusOK {
		t.Fatalf("test: HTTP %d", st)
	}
	es := all.events()
	tests := es[len(es)-2:]
	for _, e := range tests {
		if e.Type != "webhook.test" || e.Signatures != 2 {
			t.Errorf("after rotate_secret: %+v, want webhook.test with 2 signatures", e)
		}
	}
}

// TestWebhooksNeverLost: the receiver is down while a broadcast starts and
// stops and live inputs change; the daemon is killed with SIGKILL with the
// deliveries pending, restarted, the receiver comes back: every event
// arrives, in order per live input, and none twice after de-duplication.
func TestWebhooksNeverLost(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	requireTools(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	d := webhookDaemon(t, dataDir)
	admin := adminTokenRe.FindString(d.Output())
	rc := newWHReceiver(t)
	rc.status.Store(503)
	_, secret := createWebhook(t, d, admin, map[string]any{"url": rc.srv.URL})
	rc.setSecrets(secret)
	ws := openEvents(ctx, t, d, admin)

	var inputs []string
	var key string
	for i := range 5 {
		st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": fmt.Sprint("lost ", i)})
		if st != http.StatusCreated {
			t.Fatalf("create: HTTP %d %v", st, r)
		}
		id := data(r)["id"].(string)
		inputs = append(inputs, id)
		key = data(r)["rtmp"].(map[string]any)["stream_key"].(string)
		for j := range 3 {
			if st, r := apiCall(t, d, admin, "PATCH", "/v1/live_inputs/"+id, map[string]any{"name": fmt.Sprint("lost ", i, " v", j)}); st != http.StatusOK {
				t.Fatalf("patch: HTTP %d %v", st, r)
			}
		}
	}
	last := inputs[len(inputs)-1]
	pub := publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 3})
	pub.Wait(30 * time.Second)
	// every event the daemon published, as the WebSocket saw them
	ws.waitEvent(t, "live_input.idle", last, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	if rc.calls.Load() == 0 {
		t.Fatal("no delivery attempt while the receiver was down")
	}
	d.kill()
	var published []map[string]any
	for drained := false; !drained; {
		select {
		case ev := <-ws.ch:
			published = append(published, ev)
		default:
			drained = true
		}
	}

	rc.status.Store(0) // the receiver is back
	start := time.Now()
	webhookDaemon(t, dataDir)
	wantPer := map[string][]string{}
	wantN := 0
	for _, id := range inputs {
		// created, 3 updates; the last input also connected..idle
		wantPer[id] = []string{"live_input.created", "live_input.updated", "live_input.updated", "live_input.updated"}
		if id == last {
			wantPer[id] = append(wantPer[id], "live_input.connected", "live_input.disconnected", "live_input.idle")
		}
		wantN += len(wantPer[id])
	}
	got := rc.waitFor(t, "every event after the restart", 60*time.Second, func(es []whEvent) bool { return len(es) >= wantN })
	t.Logf("%d events delivered within %v of the restart command (start-up included); %d deliveries in all (%d duplicates removed)",
		len(got), time.Since(start).Round(time.Millisecond), len(rc.events()), len(rc.events())-len(got))
	for _, id := range inputs {
		if g := typesOf(got, id); !slices.Equal(g, wantPer[id]) {
			t.Errorf("%s: got %v, want %v", id, g, wantPer[id])
		}
	}
	if len(got) != wantN {
		t.Errorf("got %d distinct events, want %d", len(got), wantN)
	}
	// what the WebSocket saw before the kill is a subset of what arrived
	ids := map[string]bool{}
	for _, e := range got {
		ids[e.ID] = true
	}
	for _, ev := range published {
		if id, _ := ev["id"].(string); !ids[id] && slices.Contains(inputs, fmt.Sprint(ev["live_input_id"])) {
			t.Errorf("event %v published before the kill never arrived", ev)
		}
	}
}

// checkLiveInputData: the data of every live_input.* event is the live
// input as the API returns it to a token that does not see secrets (no
// stream key, no SRT passphrase), with the status of the moment; that of
// the last event (idle) is exactly what GET /v1/live_inputs/ID returns
// afterwards.
func checkLiveInputData(t *testing.T, d *daemon, admin, li string, got []whEvent) {
	t.Helper()
	st, r := apiCall(t, d, admin, "POST", "/v1/tokens", map[string]any{"name": "reader", "scopes": []string{"live_inputs:read"}})
	if st != http.StatusCreated {
		t.Fatalf("create token: HTTP %d %v", st, r)
	}
	reader := data(r)["token"].(string)
	st, r = apiCall(t, d, reader, "GET", "/v1/live_inputs/"+li, nil)
	if st != http.StatusOK {
		t.Fatalf("get live input: HTTP %d %v", st, r)
	}
	want := data(r)
	if rtmp, _ := want["rtmp"].(map[string]any); rtmp == nil || rtmp["stream_key"] != nil {
		t.Fatalf("GET with a read-only token: %v", want)
	}
	status := map[string][]string{"live_input.created": {"idle"}, "live_input.connected": {"connected"},
		"live_input.disconnected": {"reconnecting", "idle"}, "live_input.idle": {"idle"}}
	var last map[string]any
	for _, e := range got {
		if e.LiveInput != li {
			continue
		}
		if e.Data["id"] != li || !slices.Contains(status[e.Type], fmt.Sprint(e.Data["status"])) {
			t.Errorf("%s data: id %v status %v", e.Type, e.Data["id"], e.Data["status"])
		}
		for k := range want {
			if _, ok := e.Data[k]; !ok {
				t.Errorf("%s data lacks %q, which the API returns", e.Type, k)
			}
		}
		for k := range e.Data {
			if _, ok := want[k]; !ok {
				t.Errorf("%s data has %q, which the API does not return", e.Type, k)
			}
		}
		if rtmp, _ := e.Data["rtmp"].(map[string]any); rtmp["stream_key"] != nil {
			t.Errorf("%s data carries the stream key", e.Type)
		}
		if srt, _ := e.Data["srt"].(map[string]any); srt != nil && (srt["passphrase"] != nil || srt["stream_id"] != nil) {
			t.Errorf("%s data carries SRT secrets", e.Type)
		}
		if e.Type == "live_input.connected" && e.Data["last_connected_at"] == nil {
			t.Errorf("connected data without last_connected_at: %v", e.Data)
		}
		last = e.Data
	}
	wb, _ := json.Marshal(want)
	lb, _ := json.Marshal(last)
	if string(wb) != string(lb) {
		t.Errorf("live_input.idle data\n%s\nis not what GET returns\n%s", lb, wb)
	}
}
