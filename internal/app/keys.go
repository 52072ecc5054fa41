package app

import (
	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/auth"
	"github.com/mpegflow/mpegflow/internal/live"
)

// KeyFile is where the generated stream key of live input id is kept.
func KeyFile(dataDir, id string) string { return live.KeyFile(dataDir, id) }

// ResolveKeys returns the static live inputs with every "auto" stream key
// replaced by the key kept in data_dir (live.ResolveKeys).
func ResolveKeys(cfg *conf.Config) ([]auth.StaticEntry, error) { return live.ResolveKeys(cfg) }
