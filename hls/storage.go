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
	// Open returns the stored segment. The caller closes it. Parts are
	// served as byte ranges of it: an implementation that also implements
	// io.ReaderAt (an *os.File does) is read in place, others are read from
	// the part's offset into memory.
	Open(ctx context.Context, key string) (io.ReadSeekCloser, error)
	// Delete removes a segment; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

func segmentKey(rendition string, msn uint64) string {
	return rendition + "/seg" + strconv.FormatUint(msn, 10) + ".m4s"
}

// storeJob is a Storage operation: put segment s of rendition r, or delete key.
type storeJob struct {
	r     *Rendition
	s     *segment
	key   string
	parts [][]byte
	del   bool
}

// queueStoreLocked queues a Storage job for the worker; the caller's
// pendingEvents wake it once the lock is released.
func (r *Rendition) queueStoreLocked(j storeJob) {
	r.m.storeQ = append(r.m.storeQ, j)
	r.events.store = true
}

// runStorage moves completed segments to cfg.Storage off the write path, in
// order. A job is never dropped: the queue only holds segments still listed
// (a segment evicted before its turn is skipped), so it is bounded by the
// playlist window.
func (m *Muxer) runStorage() {
	defer m.wg.Done()
	ctx := m.ctx // cancelled by Close
	st := m.cfg.Storage
	var q []storeJob
	for {
		select {
		case <-m.done:
			return
		case <-m.storeWake:
		}
		for {
			m.mu.Lock()
			q, m.storeQ = m.storeQ, q[:0]
			m.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for i := range q {
				if ctx.Err() != nil {
					return
				}
				m.runStoreJob(ctx, st, &q[i])
				q[i] = storeJob{} // release the bytes
			}
		}
	}
}

func (m *Muxer) runStoreJob(ctx context.Context, st Storage, j *storeJob) {
	if j.del {
		if err := st.Delete(ctx, j.key); err != nil {
			m.storageError(j.key, err)
		}
		return
	}
	m.mu.Lock()
	skip := j.s.evicted
	m.mu.Unlock()
	if skip {
		return
	}
	if err := st.Put(ctx, j.key, j.parts); err != nil {
		if ctx.Err() == nil {
			m.storageError(j.key, err)
		}
		return // stays in memory
	}
	m.mu.Lock()
	j.s.stored = true
	evicted := j.s.evicted
	if !evicted {
		j.r.releaseStoredLocked()
	}
	m.mu.Unlock()
	if evicted {
		// left the window while being written
		if err := st.Delete(ctx, j.key); err != nil {
			m.storageError(j.key, err)
		}
	}
}

func (m *Muxer) storageError(key string, err error) {
	if h := m.cfg.Hooks.OnStorageError; h != nil {
		h(key, err)
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

// DiskStorage is a Storage in a directory, one file per segment, written
// without fsync: it is a spill area (MuxerConfig.Storage) whose files are
// read back from the page cache, not a durable archive.
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
