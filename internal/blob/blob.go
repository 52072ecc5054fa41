// Package blob is MpegFlow's object storage: recordings' init segments,
// media segments, thumbnails and MP4 downloads. Two implementations satisfy
// Store: a local directory (the default, under data_dir/blobs) and an
// S3-compatible bucket (several nodes). Only internal/app chooses which (Open).
//
// Keys are slash-separated relative paths of [A-Za-z0-9._-] elements, for
// example "videos/vid_01.../seg12.m4s". Writes are atomic: a reader sees the
// whole object or none of it, never a half-written one.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors returned by every Store (wrapped; test with errors.Is).
var (
	// ErrNotFound: no object under that key.
	ErrNotFound = errors.New("blob: not found")
	// ErrInvalidKey: the key is not a clean relative path.
	ErrInvalidKey = errors.New("blob: invalid key")
)

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Object is an open object: reads and seeks anywhere in it, so that
// http.ServeContent can answer byte ranges (RFC 9110 §14).
type Object interface {
	io.ReadSeekCloser
	io.ReaderAt
	// Info is the object's key, size and modification time.
	Info() Info
}

// Store is an object store.
type Store interface {
	// Put stores the size bytes r yields under key, replacing any object
	// there, atomically. size -1 means unknown.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Open opens the object under key; ErrNotFound when absent.
	Open(ctx context.Context, key string) (Object, error)
	// Stat returns the object's Info; ErrNotFound when absent.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the objects whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string) ([]Info, error)
}

// LocalPather is implemented by stores whose objects are files on this
// machine; ffmpeg then reads them in place instead of through a copy.
type LocalPather interface {
	// LocalPath returns the file of key (which may not exist).
	LocalPath(key string) (string, error)
}

// FilePutter is implemented by stores that can take a finished file
// whole (the local store renames it into place: no copy of a large MP4).
type FilePutter interface {
	// PutFile stores the file at path under key; the file may be moved.
	PutFile(ctx context.Context, key, path string) error
	// TempDir is a directory for files to give to PutFile (on the store's
	// file system, so that the move is a rename).
	TempDir() string
}

// RangeOpener is implemented by stores that read a byte range of an
// object by itself (S3: one GET with a Range header, RFC 9110 §14.2).
type RangeOpener interface {
	// OpenRange opens the n bytes of the object under key from offset
	// off; ErrNotFound when absent, ErrRange when they are not all in it.
	OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error)
}

// ErrRange: a byte range not within the object.
var ErrRange = errors.New("blob: range not within the object")

// OpenRange opens the n bytes of the object under key from offset off:
// through the store's RangeOpener when it has one, else through Open.
// ErrNotFound when absent, ErrRange when the range is not within it.
func OpenRange(ctx context.Context, s Store, key string, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("%w: %s %d+%d", ErrRange, key, off, n)
	}
	if ro, ok := s.(RangeOpener); ok {
		return ro.OpenRange(ctx, key, off, n)
	}
	o, err := s.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	if off+n > o.Info().Size {
		_ = o.Close()
		return nil, fmt.Errorf("%w: %s %d+%d of %d bytes", ErrRange, key, off, n, o.Info().Size)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(o, off, n), o}, nil
}

// PutBytes stores b under key.
func PutBytes(ctx context.Context, s Store, key string, b []byte) error {
	return s.Put(ctx, key, bytes.NewReader(b), int64(len(b)))
}

// DeletePrefix deletes every object whose key starts with prefix and
// returns how many it deleted.
func DeletePrefix(ctx context.Context, s Store, prefix string) (int, error) {
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range objs {
		if err := s.Delete(ctx, o.Key); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// CheckKey validates a key: non-empty, at most 1024 bytes, relative,
// slash-separated elements of [A-Za-z0-9._-] that are not "." or "..".
func CheckKey(key string) error {
	if key == "" || len(key) > 1024 {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for el := range strings.SplitSeq(key, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("%w: %q", ErrInvalidKey, key)
		}
		for i := 0; i < len(el); i++ {
			c := el[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				return fmt.Errorf("%w: %q", ErrInvalidKey, key)
			}
		}
	}
	return nil
}

// checkPrefix validates a List prefix: "" or a key prefix of valid
// characters (a trailing "/" is allowed).
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return CheckKey(strings.TrimSuffix(prefix, "/"))
}

// Open opens the blob store of kind: "local" (or "") in dir, or "s3", an
// S3-compatible bucket (created when missing), reached within 15 s.
func Open(ctx context.Context, kind, dir string, s3 S3Config) (Store, error) {
	switch kind {
	case "", "local":
		return NewLocal(dir)
	case "s3":
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		s3.CreateBucket = true
		return NewS3(ctx, s3)
	}
	return nil, fmt.Errorf("storage.kind: unknown kind %q (local or s3)", kind)
}
