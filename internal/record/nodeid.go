package record

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// nodeIDFile is where data_dir keeps the node id.
const nodeIDFile = "node_id"

// NodeID returns recording.node_id, or the id kept in data_dir/node_id,
// made the first time from the host name and 32 random bits (so that two
// containers cloned from one image with the same host name still differ).
// Recordings carry it: a restarted node takes its own interrupted
// recordings back at once, other nodes only once their lease runs out.
func NodeID(configured, dataDir string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	p := filepath.Join(dataDir, nodeIDFile)
	b, err := os.ReadFile(p)
	if err == nil {
		if id := strings.TrimSpace(string(b)); id != "" && len(id) <= 64 {
			return id, nil
		}
		return "", fmt.Errorf("%s: not a node id; delete it to make a new one", p)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return -1
	}, host)
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" {
		host = "node"
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id := host + "-" + hex.EncodeToString(rnd[:])
	// temp file then link: of two processes starting on one data_dir, the
	// first one's id wins and the other reads it
	tmp, err := os.CreateTemp(dataDir, ".node_id-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(id + "\n"); err != nil {
		_ = tmp.Close()
		return "", err
	}
	if err := errors.Join(tmp.Sync(), tmp.Close()); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return NodeID("", dataDir)
		}
		return "", err
	}
	return id, nil
}
