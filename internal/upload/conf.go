package upload

import (
	"os/exec"
	"path/filepath"
	"time"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/netguard"
)

// ConfigFrom returns the Config that the uploads section of the
// configuration asks for: the limits and workers, files received under
// dataDir/uploads, ffmpeg and ffprobe found on PATH ("" when absent:
// processing is off) and the SSRF guard of copies from a URL (private
// sources only with allow_private_sources; 10 s to connect). The caller
// adds the stores, the blob store, the bus and the daemon's other parts.
func ConfigFrom(c conf.Uploads, dataDir string) Config {
	ff, _ := exec.LookPath("ffmpeg")
	fp, _ := exec.LookPath("ffprobe")
	return Config{
		Dir: filepath.Join(dataDir, "uploads"), FFmpeg: ff, FFprobe: fp, Workers: c.Workers,
		MaxSize: c.MaxSize, MaxUnfinished: c.MaxUnfinishedPerToken, PlainMaxSize: c.PlainMaxSize,
		CopyMaxSize: c.CopyMaxSize, CopyTimeout: c.CopyTimeout.D(),
		Guard: netguard.New(netguard.Config{AllowPrivate: c.AllowPrivateSources, Timeout: 10 * time.Second}),
	}
}
