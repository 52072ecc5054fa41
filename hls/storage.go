package hls

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Storage keeps completed segments, for DVR windows longer than memory
// should hold and for recorders. One Storage serves one Muxer; keys are
// "NAME/seg<MSN>.m4s". Implementations must be safe for concurrent use.
type Storage interface {
	// Put stores the segment made of the concatenated chunks. The chunks are
	// never modified; Put may keep them.
	Put(ctx context.Context, key string, chunks [][]byte) error
	// Open returns the stored segment. The caller closes it.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Delete removes a segment; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

func segmentKey(rendition string, msn uint64) string {
	return rendition + "/seg" + strconv.FormatUint(msn, 10) + ".m4s"
}

type storeJob struct {
	r     *Rendition
	s     *segment
	key   string
	parts [][]byte
	del   bool
}

// runStorage moves completed segments to cfg.Storage off the write path.
func (m *Muxer) runStorage() {
	defer m.wg.Done()
	ctx := m.ctx // cancelled by Close
	st := m.cfg.Storage
	for {
		select {
		case <-m.done:
			return
		case j := <-m.jobs:
			if j.del {
				_ = st.Delete(ctx, j.key)
				continue
			}
			if err := st.Put(ctx, j.key, j.parts); err != nil {
				continue // stays in memory
			}
			m.mu.Lock()
			j.s.stored = true
			m.mu.Unlock()
		}
	}
}

// MemoryStorage is a Storage in memory.
type MemoryStorage struct {
	mu   sync.Mutex
	segs map[string][]byte
}

var _ Storage = (*MemoryStorage)(nil)

// NewMemoryStorage returns an empty MemoryStorage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{segs: make(map[string][]byte)}
}

// Put implements Storage.
func (s *MemoryStorage) Put(_ context.Context, key string, chunks [][]byte) error {
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	b := make([]byte, 0, n)
	for _, c := range chunks {
		b = append(b, c...)
	}
	s.mu.Lock()
	s.segs[key] = b
	s.mu.Unlock()
	return nil
}

// Open implements Storage.
func (s *MemoryStorage) Open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	s.mu.Lock()
	b, ok := s.segs[key]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("hls: segment %q: %w", key, os.ErrNotExist)
	}
	return nopCloser{newChunksReader([][]byte{b})}, nil
}

// Delete implements Storage.
func (s *MemoryStorage) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	delete(s.segs, key)
	s.mu.Unlock()
	return nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// DiskStorage is a Storage in a directory, one file per segment.
type DiskStorage struct {
	dir string
}

var _ Storage = (*DiskStorage)(nil)

// NewDiskStorage returns a DiskStorage in dir, which is created if missing.
func NewDiskStorage(dir string) (*DiskStorage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("hls: disk storage: %w", err)
	}
	return &DiskStorage{dir: dir}, nil
}

func (s *DiskStorage) path(key string) (string, error) {
	if key == "" || strings.Contains(key, "..") || strings.HasPrefix(key, "/") {
		return "", fmt.Errorf("hls: bad storage key %q", key)
	}
	return filepath.Join(s.dir, filepath.FromSlash(key)), nil
}

// Put implements Storage: it writes a temporary file and renames it.
func (s *DiskStorage) Put(_ context.Context, key string, chunks [][]byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("hls: disk storage: %w", err)
	}
	tmp := p + ".tmp" + strconv.FormatInt(time.Now().UnixNano(), 36)
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("hls: disk storage: %w", err)
	}
	for _, c := range chunks {
		if _, err = f.Write(c); err != nil {
			break
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("hls: disk storage: %w", err)
	}
	return nil
}

// Open implements Storage.
func (s *DiskStorage) Open(_ context.Context, key string) (io.ReadSeekCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("hls: disk storage: %w", err)
	}
	return f, nil
}

// Delete implements Storage.
func (s *DiskStorage) Delete(_ context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("hls: disk storage: %w", err)
	}
	return nil
}
