package blob

import (
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
)

// LocalFile makes the object key readable as a file on this machine (for
// ffmpeg): the object's own file when s is a LocalPather, else a copy in
// dir named after the key's last element.
func LocalFile(ctx context.Context, s Store, key, dir string) (string, error) {
	if lp, ok := s.(LocalPather); ok {
		return lp.LocalPath(key)
	}
	o, err := s.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer o.Close()
	p := filepath.Join(dir, path.Base(key))
	f, err := os.Create(p)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, o); err != nil {
		_ = f.Close()
		return "", err
	}
	return p, f.Close()
}

// PutPath stores the file at p under key: moved when s is a FilePutter
// (the local store renames it), else copied with Put (p stays).
func PutPath(ctx context.Context, s Store, key, p string) error {
	if fp, ok := s.(FilePutter); ok {
		return fp.PutFile(ctx, key, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return s.Put(ctx, key, f, st.Size())
}
