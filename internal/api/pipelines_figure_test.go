package api

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPipelineApplyFigure measures apply throughput through the whole
// HTTP stack (decode, validation, references, the binding constraint,
// the store): pipelines created per second, each binding its own live
// input, then applied again with a changed ladder (a new generation and
// revision each). A figure, not a check: set MPEGFLOW_FIGURES=1.
func TestPipelineApplyFigure(t *testing.T) {
	if os.Getenv("MPEGFLOW_FIGURES") == "" {
		t.Skip("a figure: MPEGFLOW_FIGURES=1")
	}
	const n = 200
	forEachStore(t, func(t *testing.T, e *env) {
		docs := make([]string, n)
		for i := range docs {
			docs[i] = strings.Replace(e.pipelineDoc(), "name: sunday", fmt.Sprintf("name: p%04d", i), 1)
		}
		start := time.Now()
		for _, d := range docs {
			e.do("PUT", "/v1/pipelines/"+name(d), e.admin, d, "Content-Type", yamlCT).want(t, 200, "")
		}
		create := time.Since(start)
		start = time.Now()
		for _, d := range docs {
			d = strings.Replace(d, "3000k", "2500k", 1)
			e.do("PUT", "/v1/pipelines/"+name(d), e.admin, d, "Content-Type", yamlCT).want(t, 200, "")
		}
		update := time.Since(start)
		t.Logf("figure: %d pipelines: created at %.0f/s, applied a second generation at %.0f/s (sequential PUTs)",
			n, n/create.Seconds(), n/update.Seconds())
	})
}

func name(doc string) string {
	_, rest, _ := strings.Cut(doc, "metadata: {name: ")
	n, _, _ := strings.Cut(rest, ",")
	return n
}
