package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config configures an S3-compatible bucket.
type S3Config struct {
	Endpoint  string // host:port, e.g. "s3.amazonaws.com" or "127.0.0.1:7070"
	Bucket    string
	Region    string // default us-east-1
	AccessKey string
	SecretKey string
	UseTLS    bool
	// Prefix is prepended to every key (e.g. "mpegflow/"); default none.
	Prefix string
	// CreateBucket creates the bucket when it does not exist.
	CreateBucket bool
}

// S3 is a Store over an S3-compatible bucket (Amazon S3 API, through
// github.com/minio/minio-go/v7). A PutObject is atomic by the S3 API's
// contract: an object becomes visible whole when the upload completes.
// Path-style addressing is used, which every S3-compatible server accepts.
type S3 struct {
	c      *minio.Client
	bucket string
	prefix string
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket and checks that it exists (creating it when
// cfg.CreateBucket).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Endpoint == "" || cfg.Bucket == "" {
		return nil, errors.New("blob: s3 needs an endpoint and a bucket")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       cfg.UseTLS,
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("blob: s3 client: %w", err)
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("blob: s3 bucket %s: %w", cfg.Bucket, err)
	}
	if !ok {
		if !cfg.CreateBucket {
			return nil, fmt.Errorf("blob: s3 bucket %s does not exist", cfg.Bucket)
		}
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("blob: s3 create bucket %s: %w", cfg.Bucket, err)
		}
	}
	return &S3{c: c, bucket: cfg.Bucket, prefix: cfg.Prefix}, nil
}

func (s *S3) mapErr(op, key string, err error) error {
	if err == nil {
		return nil
	}
	r := minio.ToErrorResponse(err)
	if r.Code == "NoSuchKey" || r.StatusCode == http.StatusNotFound {
		return fmt.Errorf("blob: %s %s: %w", op, key, ErrNotFound)
	}
	return fmt.Errorf("blob: %s %s: %w", op, key, err)
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	_, err := s.c.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{ContentType: contentType(key)})
	return s.mapErr("put", key, err)
}

// s3Object is an open object; minio.Object reads lazily with ranges.
type s3Object struct {
	*minio.Object
	info Info
}

func (o s3Object) Info() Info { return o.info }

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string) (Object, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	o, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.mapErr("open", key, err)
	}
	st, err := o.Stat()
	if err != nil {
		_ = o.Close()
		return nil, s.mapErr("open", key, err)
	}
	return s3Object{Object: o, info: Info{Key: key, Size: st.Size, ModTime: st.LastModified.UTC()}}, nil
}

var _ RangeOpener = (*S3)(nil)

// OpenRange implements RangeOpener with one ranged GET.
func (s *S3) OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	st, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if off < 0 || n < 0 || off+n > st.Size {
		return nil, fmt.Errorf("%w: %s %d+%d of %d bytes", ErrRange, key, off, n, st.Size)
	}
	if n == 0 {
		return io.NopCloser(eofReader{}), nil
	}
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(off, off+n-1); err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	o, err := s.c.GetObject(ctx, s.bucket, s.prefix+key, opts) // read sequentially: one GET of that range
	if err != nil {
		return nil, s.mapErr("open", key, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(o, n), o}, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	st, err := s.c.StatObject(ctx, s.bucket, s.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.mapErr("stat", key, err)
	}
	return Info{Key: key, Size: st.Size, ModTime: st.LastModified.UTC()}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.c.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
	if err = s.mapErr("delete", key, err); errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio's listing goroutine on an early return
	var out []Info
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, s.mapErr("list", prefix, o.Err)
		}
		out = append(out, Info{Key: o.Key[len(s.prefix):], Size: o.Size, ModTime: o.LastModified.UTC()})
	}
	return out, nil
}

// contentType is the Content-Type stored with an object.
func contentType(key string) string {
	switch {
	case hasSuffix(key, ".m4s"):
		return "video/iso.segment"
	case hasSuffix(key, ".mp4"):
		return "video/mp4"
	case hasSuffix(key, ".jpg"):
		return "image/jpeg"
	case hasSuffix(key, ".m3u8"):
		return "application/vnd.apple.mpegurl"
	}
	return "application/octet-stream"
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }
