package live

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mpegflow/mpegflow/conf"
	"github.com/mpegflow/mpegflow/internal/auth"
)

// KeyFile is where the generated stream key of live input id is kept.
func KeyFile(dataDir, id string) string {
	return filepath.Join(dataDir, "keys", id+".key")
}

// ResolveKeys returns the static live inputs with every "auto" stream key
// replaced by the key kept in data_dir, generating and storing it (mode 0600)
// on first use.
func ResolveKeys(cfg *conf.Config) ([]auth.StaticEntry, error) {
	out := make([]auth.StaticEntry, 0, len(cfg.LiveInputs))
	for i, li := range cfg.LiveInputs {
		key := li.StreamKey
		if key == conf.AutoKey {
			k, err := LoadOrCreateKey(KeyFile(cfg.DataDir, li.ID))
			if err != nil {
				return nil, fmt.Errorf("live_inputs[%d].stream_key: %w", i, err)
			}
			key = k
		}
		out = append(out, auth.StaticEntry{ID: li.ID, Name: li.Name, StreamKey: key, SRTPassphrase: li.SRTPassphrase})
	}
	return out, nil
}

// LoadOrCreateKey returns the stream key kept at path, generating and
// storing one (mode 0600, written then renamed) when there is none.
func LoadOrCreateKey(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if len(k) < 8 {
			return "", fmt.Errorf("%s: key too short", path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	k := "sk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(k+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", err
	}
	return k, nil
}
