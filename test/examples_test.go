package e2e

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// example is one runnable example of examples/: its flow and, when it has
// one, its webhook receiver.
type example struct {
	name     string
	tools    []string // the runtime; missing = skipped
	flow     []string // command and arguments, from the repository root
	receiver []string // nil: the flow is checked with another example's receiver
}

func examples(goBin string) []example {
	ex := filepath.Join(repoRoot, "examples")
	return []example{
		{name: "curl", tools: []string{"sh", "curl", "jq"}, flow: []string{"sh", filepath.Join(ex, "curl", "flow.sh")}},
		{name: "go", tools: []string{"go"}, flow: []string{goBin}},
		{name: "python", tools: []string{"python3"}, flow: []string{"python3", filepath.Join(ex, "python", "flow.py")},
			receiver: []string{"python3", filepath.Join(ex, "python", "receiver.py")}},
		{name: "node", tools: []string{"node"}, flow: []string{"node", filepath.Join(ex, "node", "flow.mjs")},
			receiver: []string{"node", filepath.Join(ex, "node", "receiver.mjs")}},
	}
}

var jwtRe = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)

// TestExamples runs every example of examples/ against a real daemon: the
// flow registers a webhook, creates a signed live input, mints a playback
// token and lists videos; the token's URL plays where the bare one is
// refused; and a receiver started with the printed secret verifies the
// signed deliveries (webhook.test and the live input's creation, retried
// until the receiver is up). An example whose runtime is missing is
// skipped, saying which.
func TestExamples(t *testing.T) {
	e2eTest(t)
	t.Parallel()
	admin, yaml := adminYAML()
	d := startDaemon(t, daemonConfig{ExtraYAML: yaml, Env: []string{
		"MPEGFLOWTEST_WEBHOOKS_ALLOW_PRIVATE_TARGETS=1",
		"MPEGFLOWTEST_WEBHOOKS_RETRY_SCHEDULE=1s,2s,4s,8s",
	}})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	goBin := ""
	if _, err := exec.LookPath("go"); err == nil {
		goBin = filepath.Join(t.TempDir(), "flow")
		c := exec.CommandContext(ctx, "go", "build", "-o", goBin, "./examples/go")
		c.Dir = repoRoot
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("examples/go does not build: %v\n%s", err, out)
		}
	}
	all := examples(goBin)
	// the receiver of a flow without its own: the first one that can run
	var fallback []string
	for _, ex := range all {
		if ex.receiver != nil && haveTools(ex.tools) == "" {
			fallback = ex.receiver
			break
		}
	}
	for _, ex := range all {
		t.Run(ex.name, func(t *testing.T) {
			if missing := haveTools(ex.tools); missing != "" {
				t.Skipf("examples/%s: %s is not installed", ex.name, missing)
			}
			recvAddr := freePort(t)
			c := exec.CommandContext(ctx, ex.flow[0], ex.flow[1:]...)
			c.Dir = repoRoot
			c.Env = append(os.Environ(), "MPEGFLOW_URL="+d.URL(""), "MPEGFLOW_TOKEN="+admin, "WEBHOOK_URL=http://"+recvAddr+"/hooks")
			out, err := c.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("examples/%s: %v\n%s%s", ex.name, err, out, stderr)
			}
			got := map[string][]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				f := strings.Fields(line)
				if len(f) > 0 {
					got[f[0]] = f[1:]
				}
			}
			field := func(k string, i int) string {
				if len(got[k]) <= i {
					t.Fatalf("examples/%s printed no %q (field %d):\n%s", ex.name, k, i, out)
				}
				return got[k][i]
			}
			whID, secret, liID := field("webhook", 0), field("webhook", 1), field("live_input", 0)
			tok, hls := field("token", 0), field("hls", 0)
			if !strings.HasPrefix(whID, "whk_") || !strings.HasPrefix(secret, "whsec_") || !strings.HasPrefix(liID, "li_") ||
				!jwtRe.MatchString(tok) || !strings.HasPrefix(hls, d.URL("/")) || !strings.Contains(hls, tok) ||
				!strings.HasPrefix(field("rtmp", 0), "rtmp://") || field("rtmp", 1) == "" || field("videos", 0) == "" {
				t.Fatalf("examples/%s printed:\n%s", ex.name, out)
			}
			// the input is signed: the bare URL is refused, the token's is not
			bare, err := get(ctx, d.PlaylistURL(liID))
			if err != nil || (bare.Status != http.StatusUnauthorized && bare.Status != http.StatusForbidden) {
				t.Fatalf("bare playlist of a signed input: %v %+v", err, bare.Status)
			}
			signed, err := get(ctx, hls)
			if err != nil || signed.Status == http.StatusUnauthorized || signed.Status == http.StatusForbidden {
				t.Fatalf("the printed hls URL is refused: %v HTTP %d %s", err, signed.Status, signed.Body)
			}

			recv := ex.receiver
			if recv == nil {
				recv = fallback
			}
			if recv == nil {
				t.Logf("examples/%s: no receiver runtime (python3 or node) to verify its webhook", ex.name)
				return
			}
			_, port, _ := net.SplitHostPort(recvAddr)
			lines := startReceiver(ctx, t, recv, secret, port, recvAddr)
			st, r := apiCall(t, d, admin, "POST", "/v1/webhooks/"+whID+"/test", nil)
			if st != http.StatusOK || data(r)["success"] != true {
				t.Fatalf("test delivery to the example receiver: HTTP %d %v", st, r)
			}
			for _, want := range []string{"verified webhook.test", "verified live_input.created " + liID} {
				waitFor(ctx, t, 30*time.Second, "the receiver to print "+want, func() bool { return lines.has(want) })
			}
			if lines.has("refused") {
				t.Fatalf("the receiver refused a delivery:\n%s", lines.String())
			}
		})
	}
}

// haveTools returns the first of names not on PATH, or "".
func haveTools(names []string) string {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return n
		}
	}
	return ""
}

// startReceiver runs a webhook receiver example on port and waits until
// it accepts connections; its output is collected.
func startReceiver(ctx context.Context, t *testing.T, cmd []string, secret, port, addr string) *syncBuffer {
	t.Helper()
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Dir = repoRoot
	c.Env = append(os.Environ(), "WEBHOOK_SECRET="+secret, "PORT="+port)
	buf := &syncBuffer{}
	c.Stdout, c.Stderr = buf, buf
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	t.Cleanup(func() { _ = c.Process.Kill(); <-done })
	waitFor(ctx, t, 20*time.Second, "the receiver to listen", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	return buf
}

// has reports whether a line of the output starts with prefix.
func (s *syncBuffer) has(prefix string) bool {
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return true
		}
	}
	return false
}
