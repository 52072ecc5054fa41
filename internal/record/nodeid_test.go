package record

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestNodeIDIsKeptInDataDir(t *testing.T) {
	dir := t.TempDir()
	if id, err := NodeID("edge-1", dir); err != nil || id != "edge-1" {
		t.Fatalf("configured: %q, %v", id, err)
	}
	// processes starting together on one data_dir agree on one id
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := NodeID("", dir)
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("ids %v", ids)
		}
	}
	again, err := NodeID("", dir)
	if err != nil || again != ids[0] {
		t.Fatalf("after a restart: %q, %v; want %q", again, err, ids[0])
	}
	other, err := NodeID("", t.TempDir())
	if err != nil || other == ids[0] {
		t.Fatalf("another data_dir: %q, %v", other, err)
	}
	if err := os.WriteFile(filepath.Join(dir, nodeIDFile), []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NodeID("", dir); err == nil {
		t.Fatal("an empty node_id file was accepted")
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".node_id-*")); len(leftovers) != 0 {
		t.Fatalf("temp files left: %v", leftovers)
	}
}
