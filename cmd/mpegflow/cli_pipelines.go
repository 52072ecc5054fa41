package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mpegflow/mpegflow/internal/pipeline/manifest"
)

// Pipelines from the command line, applied like Kubernetes objects:
// `apply -f` prints the plan (POST /v1/pipelines/NAME/plan) and then
// applies it (PUT, If-Match on the generation it planned against, so what
// is applied is what was shown); `diff -f` prints the plan only. Without
// --prune, nodes of the stored pipeline that the file does not name are
// kept (the file is merged into the stored spec); with it, the file is the
// whole spec.

// maxManifestFile bounds the file read by -f (the API refuses more than
// 1 MiB anyway).
const maxManifestFile = 4 << 20

// applyFlags are the flags of apply and diff.
type applyFlags struct {
	file  string
	prune bool
	dry   bool
}

func applyCmd(f *clientFlags) *cobra.Command {
	var af applyFlags
	c := f.apiCmd("apply -f FILE", "apply a pipeline manifest: print the plan, then apply it", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		return f.apply(cmd, cl, af, af.dry)
	})
	c.Long = `Apply a pipeline manifest (YAML or JSON; -f - reads stdin): print the plan
(one line per node: created, updated in place, restarted with what restarts
with it, replaced, deleted, unchanged), then apply it. The apply is refused
if the pipeline changed since the plan was made.

Without --prune, nodes of the stored pipeline that the file does not name
are kept; with --prune the file is the whole spec and they are deleted.`
	f.register(c)
	applyFileFlags(c, &af)
	c.Flags().BoolVar(&af.dry, "dry-run", false, "print the plan only; change nothing")
	return c
}

func diffCmd(f *clientFlags) *cobra.Command {
	var af applyFlags
	c := f.apiCmd("diff -f FILE", "print the plan of applying a pipeline manifest; change nothing", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		return f.apply(cmd, cl, af, true)
	})
	f.register(c)
	applyFileFlags(c, &af)
	return c
}

func applyFileFlags(c *cobra.Command, af *applyFlags) {
	c.Flags().StringVarP(&af.file, "filename", "f", "", "the manifest file (YAML or JSON; - = stdin)")
	c.Flags().BoolVar(&af.prune, "prune", false, "delete the stored nodes the file does not name (the file is the whole spec)")
}

// storedPipeline is the part of GET /v1/pipelines/NAME the CLI reads.
type storedPipeline struct {
	Name       string          `json:"name"`
	Generation int64           `json:"generation"`
	Manifest   json.RawMessage `json:"manifest"`
}

// apply plans the file against the stored pipeline, prints the plan, and
// unless dry applies it.
func (f *clientFlags) apply(cmd *cobra.Command, cl *apiClient, af applyFlags, dry bool) error {
	if af.file == "" {
		return usageError("-f FILE is required (a pipeline manifest in YAML or JSON; - reads stdin)")
	}
	body, err := readManifestFile(cmd.InOrStdin(), af.file)
	if err != nil {
		return usageError("-f %s: %v", af.file, err)
	}
	m, err := manifest.Decode(body)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", af.file, err))
	}
	name := m.Metadata.Name
	if !validName(name) {
		return fail(fmt.Errorf("%s: metadata.name %q is not a pipeline name (a DNS label)", af.file, name))
	}
	ctx := cmd.Context()
	path := "/v1/pipelines/" + esc(name)
	var stored *storedPipeline
	if _, _, err := cl.do(ctx, http.MethodGet, path, nil, &stored); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
			return fail(err)
		}
		stored = nil
	}
	ct := manifestContentType(body)
	if stored != nil && !af.prune {
		merged, kept, err := mergeKept(m, stored.Manifest)
		if err != nil {
			return fail(err)
		}
		if len(kept) > 0 {
			fmt.Fprintf(f.stderr, "keeping %d stored node(s) not in %s: %s (--prune deletes them)\n", len(kept), af.file, strings.Join(kept, ", "))
			body, ct = merged, "application/json"
		}
	}
	hdr := http.Header{}
	if stored != nil {
		hdr.Set("If-Match", `"`+strconv.FormatInt(stored.Generation, 10)+`"`)
	}
	planRaw, _, err := cl.send(ctx, http.MethodPost, path+"/plan", ct, body, nil, nil)
	if err != nil {
		return fail(err)
	}
	if dry {
		return fail(f.emit(planRaw, printPlan))
	}
	if f.output == "table" {
		if err := printPlan(f.stdout, planRaw); err != nil {
			return fail(err)
		}
	}
	raw, _, err := cl.send(ctx, http.MethodPut, path, ct, body, hdr, nil)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
			return fail(fmt.Errorf("pipeline %s changed since the plan was made; nothing applied, run apply again: %w", name, err))
		}
		return fail(err)
	}
	if f.output != "table" {
		return fail(f.emit(raw, nil))
	}
	var res struct {
		Changed  bool `json:"changed"`
		Pipeline struct {
			Generation int64 `json:"generation"`
		} `json:"pipeline"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fail(err)
	}
	if res.Changed {
		fmt.Fprintf(f.stdout, "pipeline %s applied: generation %d\n", name, res.Pipeline.Generation)
	} else {
		fmt.Fprintf(f.stdout, "pipeline %s unchanged: generation %d\n", name, res.Pipeline.Generation)
	}
	return nil
}

// readManifestFile reads name ("-" = in), at most maxManifestFile bytes.
func readManifestFile(in io.Reader, name string) ([]byte, error) {
	r := in
	if name != "-" {
		fh, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		r = fh
	}
	b, err := io.ReadAll(io.LimitReader(r, maxManifestFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifestFile {
		return nil, fmt.Errorf("larger than %d bytes", maxManifestFile)
	}
	return b, nil
}

// manifestContentType is JSON for a document that starts as an object,
// YAML otherwise.
func manifestContentType(b []byte) string {
	if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "{") {
		return "application/json"
	}
	return "application/yaml"
}

// mergeKept appends to m the nodes of the stored manifest that m does not
// name, and returns the merged manifest as JSON with the kept ids (nil
// when none).
func mergeKept(m *manifest.Manifest, storedJSON json.RawMessage) ([]byte, []string, error) {
	old, err := manifest.Decode(storedJSON)
	if err != nil {
		return nil, nil, fmt.Errorf("the stored manifest: %w", err)
	}
	var kept []string
	for _, n := range old.Spec.Nodes {
		if m.Node(n.ID) == nil {
			m.Spec.Nodes = append(m.Spec.Nodes, n)
			kept = append(kept, n.ID)
		}
	}
	if len(kept) == 0 {
		return nil, nil, nil
	}
	b, err := json.Marshal(m)
	return b, kept, err
}

// validName is a pipeline name (a DNS label).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// printPlan prints the plan of a plan, PUT or rollback answer for people.
func printPlan(w io.Writer, raw json.RawMessage) error {
	var res struct {
		Plan struct {
			Text string `json:"text"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return err
	}
	_, err := io.WriteString(w, res.Plan.Text)
	return err
}

func pipelinesCmd(f *clientFlags) *cobra.Command {
	c := group("pipelines", "list, show and watch pipelines; revisions and rollback", "pipeline", "pl")
	f.register(c)
	cols := []column{{"NAME", "name"}, {"GENERATION", "generation"}, {"OBSERVED", "observed_generation"}, {"UPDATED", "updated_at"}}
	list := f.apiCmd("list", "list pipelines by name", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		return f.list(cmd, cl, "/v1/pipelines", nil, 0, cols)
	})
	get := f.apiCmd("get NAME", "show a pipeline (-o table prints its manifest as YAML)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/pipelines/"+esc(a[0]), nil, printManifest)
	})
	var watch bool
	status := f.apiCmd("status NAME", "per-node state of a pipeline; --watch follows changes until interrupted", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		if !watch {
			return f.call(cmd, cl, http.MethodGet, "/v1/pipelines/"+esc(a[0]), nil, printStatus)
		}
		return f.watchStatus(cmd, cl, a[0])
	})
	status.Flags().BoolVarP(&watch, "watch", "w", false, "print the status again at every pipeline event")
	rcols := []column{{"GENERATION", "generation"}, {"CREATED", "created_at"}}
	var rlimit int
	revisions := f.apiCmd("revisions NAME", "the stored generations of a pipeline, newest first", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.list(cmd, cl, "/v1/pipelines/"+esc(a[0])+"/revisions", nil, rlimit, rcols)
	})
	revisions.Flags().IntVar(&rlimit, "limit", 0, "at most this many (0 = all)")
	var gen int64
	var dry bool
	rollback := f.apiCmd("rollback NAME --generation N", "apply the manifest of an earlier generation as the next one", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		if gen < 1 {
			return usageError("rollback needs --generation N (a generation listed by 'mpegflow pipelines revisions %s')", a[0])
		}
		raw, _, err := cl.do(cmd.Context(), http.MethodPost, "/v1/pipelines/"+esc(a[0])+"/rollback", map[string]any{"generation": gen, "dry_run": dry}, nil)
		if err != nil {
			return fail(err)
		}
		return fail(f.emit(raw, func(w io.Writer, raw json.RawMessage) error {
			if err := printPlan(w, raw); err != nil {
				return err
			}
			var res struct {
				DryRun   bool `json:"dry_run"`
				Pipeline struct {
					Generation int64 `json:"generation"`
				} `json:"pipeline"`
			}
			_ = json.Unmarshal(raw, &res)
			if !res.DryRun {
				_, err := fmt.Fprintf(w, "pipeline %s rolled back to generation %d's manifest: generation %d\n", a[0], gen, res.Pipeline.Generation)
				return err
			}
			return nil
		}))
	})
	rollback.Flags().Int64Var(&gen, "generation", 0, "the generation whose manifest becomes the next one")
	rollback.Flags().BoolVar(&dry, "dry-run", false, "print the plan only")
	del := f.apiCmd("delete NAME", "delete a pipeline and its revisions", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.remove(cmd, cl, "/v1/pipelines/"+esc(a[0]), "deleted", a[0])
	})
	schema := &cobra.Command{Use: "schema", Short: "print the JSON Schema of manifests (for editors)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := json.MarshalIndent(manifest.Default().JSONSchema("mpegflow-pipeline.schema.json"), "", "  ")
			if err != nil {
				return fail(err)
			}
			_, err = fmt.Fprintf(f.stdout, "%s\n", b)
			return fail(err)
		}}
	c.AddCommand(list, get, status, revisions, rollback, del, schema)
	return c
}

// printManifest prints a pipeline's manifest as YAML under a comment
// naming its generation.
func printManifest(w io.Writer, raw json.RawMessage) error {
	var p storedPipeline
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	fmt.Fprintf(w, "# pipeline %s, generation %d\n", p.Name, p.Generation)
	return printYAML(w, p.Manifest)
}

// nodeStatus is one node's row of the status table.
type nodeStatus struct {
	id, typ, state, restarts, lastError string
}

// statusRows reads the per-node state of a pipeline answer: the nodes of
// its manifest, with state, restarts and last_error from a list or an
// object of node states under status.nodes or nodes (absent: "-").
func statusRows(raw json.RawMessage) (gen, observed string, rows []nodeStatus, err error) {
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", "", nil, err
	}
	gen, observed = cell(p["generation"]), cell(p["observed_generation"])
	states := map[string]map[string]any{}
	add := func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if o, ok := e.(map[string]any); ok {
					id, _ := o["id"].(string)
					if id == "" {
						id, _ = o["node"].(string)
					}
					states[id] = o
				}
			}
		case map[string]any:
			for id, e := range x {
				if o, ok := e.(map[string]any); ok {
					states[id] = o
				}
			}
		}
	}
	if st, ok := p["status"].(map[string]any); ok {
		add(st["nodes"])
		if observed == "-" {
			observed = cell(st["observed_generation"])
		}
	}
	add(p["nodes"])
	var man struct {
		Spec struct {
			Nodes []struct{ ID, Type string } `json:"nodes"`
		} `json:"spec"`
	}
	if b, ok := p["manifest"]; ok {
		j, _ := json.Marshal(b)
		_ = json.Unmarshal(j, &man)
	}
	seen := map[string]bool{}
	row := func(id, typ string) {
		seen[id] = true
		s := states[id]
		if typ == "" {
			typ, _ = s["type"].(string)
		}
		rows = append(rows, nodeStatus{id: id, typ: typ, state: cell(s["state"]), restarts: cell(s["restarts"]), lastError: cell(s["last_error"])})
	}
	for _, n := range man.Spec.Nodes {
		row(n.ID, n.Type)
	}
	var extra []string
	for id := range states {
		if !seen[id] && id != "" {
			extra = append(extra, id)
		}
	}
	sort.Strings(extra)
	for _, id := range extra {
		row(id, "")
	}
	return gen, observed, rows, nil
}

// printStatus prints the status table of a pipeline answer.
func printStatus(w io.Writer, raw json.RawMessage) error {
	gen, observed, rows, err := statusRows(raw)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "generation %s, observed %s\n", gen, observed)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tTYPE\tSTATE\tRESTARTS\tLAST ERROR")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.id, r.typ, r.state, r.restarts, r.lastError)
	}
	return tw.Flush()
}

// watchStatus prints the status, then again at every pipeline event (a
// type starting with "pipeline.") about this pipeline, until interrupted.
// The event stream is opened first, so that no change between the first
// print and the subscription is missed.
func (f *clientFlags) watchStatus(cmd *cobra.Command, cl *apiClient, name string) error {
	show := func(ctx context.Context) error {
		raw, _, err := cl.do(ctx, http.MethodGet, "/v1/pipelines/"+esc(name), nil, nil)
		if err != nil {
			return err
		}
		if f.output == "table" {
			fmt.Fprintln(f.stdout)
		}
		return f.emit(raw, printStatus)
	}
	return f.followEvents(cmd, cl, nil, show, func(ctx context.Context, b []byte) error {
		if !pipelineEventOf(b, name) {
			return nil
		}
		return show(ctx)
	})
}

// pipelineEventOf reports whether an event is a pipeline event about
// name (or names no pipeline, then it may concern any).
func pipelineEventOf(b []byte, name string) bool {
	var ev struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if json.Unmarshal(b, &ev) != nil || !strings.HasPrefix(ev.Type, "pipeline.") {
		return false
	}
	for _, k := range []string{"pipeline", "name", "pipeline_name"} {
		if v, ok := ev.Data[k].(string); ok {
			return v == name
		}
	}
	return true
}
