package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The operations kit in deploy/: the Grafana dashboard, the Prometheus alert
// rules and the docker-compose file. No container engine runs here, so the
// files are checked for structure, and every metric they name is checked
// against a running daemon (TestOpsMetricsExported).

// alertRules is the rule file format of Prometheus (rulefmt).
type alertRules struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// promqlWords are the PromQL keywords, aggregation modifiers and functions
// that the extraction below must not mistake for metric names.
var promqlWords = map[string]bool{
	"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "bool": true, "offset": true, "inf": true, "nan": true,
}

var (
	promDuration = regexp.MustCompile(`^(\d+(ms|s|m|h|d|w|y))+$`)
	promIdent    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
	// aggregationModifier starts "by (...)" or "without (...)" after an
	// aggregation operator: sum by (le) (...).
	aggregationModifier = regexp.MustCompile(`^(?i)(by|without)\s*\(`)
)

// promqlMetrics returns the metric names an expression selects, after
// checking that its brackets balance and its range durations are valid.
// It is a small lexer, not a parser: strings and label matchers ({...}) are
// skipped, identifiers followed by "(" are functions or aggregations, and
// identifiers after by/without/on/ignoring are label lists.
func promqlMetrics(expr string) ([]string, error) {
	var names, stack []string
	labelList := false
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			i = j + 1
		case c == '{':
			j := strings.IndexByte(expr[i:], '}')
			if j < 0 {
				return nil, fmt.Errorf("unclosed { at %d", i)
			}
			i += j + 1
		case c == '[':
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [ at %d", i)
			}
			d := strings.TrimSpace(expr[i+1 : i+j])
			if sub, _, ok := strings.Cut(d, ":"); ok {
				d = sub
			}
			if !promDuration.MatchString(d) && !strings.HasPrefix(d, "$") {
				return nil, fmt.Errorf("bad range duration %q", d)
			}
			i += j + 1
		case c == '(':
			stack = append(stack, "(")
			i++
		case c == ')':
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced ) at %d", i)
			}
			stack = stack[:len(stack)-1]
			labelList = false
			i++
		case c == '$':
			m := promIdent.FindString(expr[i+1:])
			i += 1 + len(m) // a Grafana variable
		case promIdent.MatchString(expr[i:]) && (i == 0 || !isNumChar(expr[i-1])):
			id := promIdent.FindString(expr[i:])
			i += len(id)
			rest := strings.TrimLeft(expr[i:], " \t\n")
			lower := strings.ToLower(id)
			switch {
			case labelList:
			case promqlWords[lower]:
				if lower == "by" || lower == "without" || lower == "on" || lower == "ignoring" || lower == "group_left" || lower == "group_right" {
					if strings.HasPrefix(rest, "(") {
						labelList = true
					}
				}
			case strings.HasPrefix(rest, "("), aggregationModifier.MatchString(rest):
				// a function, or an aggregation (its modifier may come first)
			default:
				names = append(names, id)
			}
		default:
			i++
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unbalanced (")
	}
	return names, nil
}

func isNumChar(c byte) bool { return c >= '0' && c <= '9' || c == '.' }

func TestPromQLMetricExtraction(t *testing.T) {
	tests := []struct {
		expr    string
		want    []string
		wantErr bool
	}{
		{`increase(mpegflow_ingest_connects_total[10m]) > 5`, []string{"mpegflow_ingest_connects_total"}, false},
		{`sum by (instance, protocol) (rate(a_total{job=~"x|y",le="0.5"}[5m])) > 0.2`, []string{"a_total"}, false},
		{`histogram_quantile(0.99, sum by (le, route) (rate(b_bucket{job=~"$job"}[$__rate_interval])))`, []string{"b_bucket"}, false},
		{`delta(c[10m]) > 0 and d > 300`, []string{"c", "d"}, false},
		{`e / f < 0.10`, []string{"e", "f"}, false},
		{`rate(x[5q])`, nil, true},
		{`sum(rate(x[5m])`, nil, true},
		{`x{a="b"`, nil, true},
	}
	for _, tc := range tests {
		got, err := promqlMetrics(tc.expr)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want error %v", tc.expr, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// opsKitMetrics checks deploy/'s files and returns every metric they name,
// with where each was found.
func opsKitMetrics(t *testing.T) map[string]string {
	t.Helper()
	deploy := filepath.Join(repoRoot, "deploy")
	names := map[string]string{}
	add := func(where, expr string) {
		ns, err := promqlMetrics(expr)
		if err != nil {
			t.Errorf("%s: %q: %v", where, expr, err)
		}
		if len(ns) == 0 && err == nil {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, n := range ns {
			names[n] = where
		}
	}

	// the alert rules
	b, err := os.ReadFile(filepath.Join(deploy, "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rules alertRules
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("alerts.yml: group %q without name or rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alerts.yml: rule %+v lacks alert or expr", r)
			}
			if r.For != "" && !promDuration.MatchString(r.For) {
				t.Errorf("alerts.yml: %s: bad for %q", r.Alert, r.For)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alerts.yml: %s lacks a severity label or a summary", r.Alert)
			}
			alerts[r.Alert] = true
			add("alert "+r.Alert, r.Expr)
		}
	}
	for _, want := range []string{"MpegFlowLiveInputFlapping", "MpegFlowTranscodeSlow", "MpegFlowWebhookBacklogGrowing", "MpegFlowWebhookEndpointDisabled",
		"MpegFlowRecordingLeaseLost", "MpegFlowDataDirNearlyFull", "MpegFlowIngestRejectsSpiking"} {
		if !alerts[want] {
			t.Errorf("alerts.yml lacks %s", want)
		}
	}

	// the dashboard
	b, err = os.ReadFile(filepath.Join(deploy, "grafana", "mpegflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Title  string `json:"title"`
		Panels []struct {
			Type, Title string
			Targets     []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("mpegflow.json: %v", err)
	}
	titles := map[string]bool{}
	for _, p := range dash.Panels {
		titles[p.Title] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			add("panel "+p.Title, tg.Expr)
		}
	}
	for _, want := range []string{"Live inputs by state", "Ingest bitrate by live input", "Publishers by protocol", "HLS requests by kind",
		"Part availability", "Blocking requests waiting", "Transcode speed", "Transcode capacity", "Recording throughput", "Webhook queue",
		"Webhook delivery latency", "SRT packet loss", "SRT round-trip time", "API latency p99 by route", "CPU", "Resident memory", "Goroutines", "Open file descriptors"} {
		if !titles[want] {
			t.Errorf("the dashboard lacks the panel %q", want)
		}
	}

	// docker-compose.yml and the files it mounts
	b, err = os.ReadFile(filepath.Join(deploy, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, s := range []string{"mpegflow", "postgres", "s3", "prometheus", "grafana"} {
		if _, ok := compose.Services[s]; !ok {
			t.Errorf("docker-compose.yml lacks the service %s", s)
		}
	}
	for name, s := range compose.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(deploy, src)); err != nil {
					t.Errorf("docker-compose.yml: %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := compose.Volumes[src]; !ok {
				t.Errorf("docker-compose.yml: %s uses the undeclared volume %s", name, src)
			}
		}
	}
	for _, f := range []string{"prometheus/prometheus.yml", "grafana/provisioning/dashboards/mpegflow.yml", "grafana/provisioning/datasources/prometheus.yml"} {
		b, err := os.ReadFile(filepath.Join(deploy, f))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil || len(v) == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	return names
}

func TestOpsKitFiles(t *testing.T) {
	t.Parallel()
	if n := len(opsKitMetrics(t)); n < 30 {
		t.Errorf("the dashboard and rules name %d metrics; expected more", n)
	}
}

// exportedNames scrapes a daemon's /metrics and returns the sample names.
func exportedNames(t *testing.T, d *daemon) map[string]bool {
	t.Helper()
	res, err := http.Get("http://" + d.Metric + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		out[promIdent.FindString(line)] = true
	}
	return out
}

// TestOpsMetricsExported runs a short broadcast over RTMP (transcoded and
// recorded) and over SRT, a refused publisher, a refused playback, a webhook
// delivery and some API calls, then checks that the daemon exports every
// metric the dashboard and the alert rules name.
func TestOpsMetricsExported(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	want := opsKitMetrics(t)
	ctx := t.Context()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer hook.Close()
	d, admin := recordingDaemonWith(ctx, t, t.TempDir(), daemonConfig{ExtraYAML: "webhooks:\n  allow_private_targets: true\n"})
	createWebhook(t, d, admin, map[string]any{"url": hook.URL + "/hook"})
	st, r := apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "ops rtmp",
		"recording": map[string]any{"mode": "automatic"}, "transcode": map[string]any{"mode": "on"}})
	if st != http.StatusCreated {
		t.Fatalf("create live input: HTTP %d %v", st, r)
	}
	rtmpIn := data(r)
	st, r = apiCall(t, d, admin, "POST", "/v1/live_inputs", map[string]any{"name": "ops srt", "require_signed_urls": true})
	if st != http.StatusCreated {
		t.Fatalf("create live input: HTTP %d %v", st, r)
	}
	srtIn := data(r)
	key := rtmpIn["rtmp"].(map[string]any)["stream_key"].(string)
	publish(ctx, t, d.RTMPURL(key), publishOpts{Seconds: 20})
	srt := srtIn["srt"].(map[string]any)
	publish(ctx, t, d.SRTURL("", srt["stream_id"].(string), srt["passphrase"].(string)), publishOpts{Seconds: 20, Format: "mpegts"})
	publish(ctx, t, d.RTMPURL("sk_wrongwrongwrongwrong"), publishOpts{Seconds: 2}) // refused: ingest_rejected_total
	media, _ := waitLive(ctx, t, d, rtmpIn["id"].(string), 20*time.Second)
	// a refused playback (the signed input without a token) and some parts
	_, _ = get(ctx, d.PlaylistURL(srtIn["id"].(string)))
	// gauges of a live input go when its stream ends: a name seen in any
	// scrape counts
	seen := map[string]bool{}
	var missing []string
	deadline := time.Now().Add(40 * time.Second)
	for {
		if pl := getPlaylist(ctx, t, media); pl != nil {
			parts := pl.allParts()
			for _, p := range parts[max(0, len(parts)-3):] {
				_, _ = get(ctx, resolve(media, p.URI))
			}
		}
		apiCall(t, d, admin, "GET", "/v1/live_inputs", nil)
		for n := range exportedNames(t, d) {
			seen[n] = true
		}
		missing = missing[:0]
		for n := range want {
			if !seen[n] {
				missing = append(missing, n+" ("+want[n]+")")
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Fatalf("named in deploy/ but not exported by the daemon:\n  %s", strings.Join(missing, "\n  "))
	}
	t.Logf("all %d metrics named by the dashboard and the rules are exported", len(want))
}
