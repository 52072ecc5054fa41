package bind

import (
	"log/slog"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/store/sqlite"
)

// TestSetup: the types follow the components: no ladder without a
// transcoder, the packager's type with its kind, thumbnails with ffmpeg.
func TestSetup(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rt, err := Setup(SetupConfig{
		Config:     Config{Pipelines: db.Pipelines(), LiveInputs: db.LiveInputs(), Logger: slog.New(slog.DiscardHandler)},
		Components: Components{Packager: &pipeline.Kind{Name: "hls"}},
		DataDir:    t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	types := rt.cfg.Types
	if _, ok := types["package.llhls"]; !ok {
		t.Error("no package.llhls with the packager's kind")
	}
	if _, ok := types["transcode.abr"]; ok || rt.cfg.Transcoding {
		t.Error("a ladder without a transcoder")
	}
	_, ffErr := exec.LookPath("ffmpeg")
	if _, ok := types["thumbnail"]; ok != (ffErr == nil) || (rt.cfg.Thumbnails != nil) != (ffErr == nil) {
		t.Errorf("thumbnail type %v with ffmpeg %v", ok, ffErr)
	}
}
