// Package upload makes videos from files: a tus 1.0 upload to a one-time
// URL (direct creator uploads, tus.go), one request body (a plain upload)
// or a copy the server downloads from a URL (copy.go). A complete file
// is queued in the store (store.Uploads) and processed by a job (job.go)
// on any node sharing the store: ffprobe checks it, ffmpeg remuxes it (or
// re-encodes it to H.264+AAC) into CMAF segments, and the segments become
// the same kind of VOD asset a recording is (init and segment blobs under
// record.Prefix, indexed in store.Videos), served by the same playlists.
//
// Video statuses: pendingupload → uploading (tus) or downloading (copy)
// → queued → inprogress (pct_complete) → ready | errored, with the
// events video.upload.created, video.upload.completed, video.processing,
// video.ready and video.errored (written to the webhook outbox in the
// transaction of each change, then published on the bus).
package upload

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/transcode"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// Errors of the package.
var (
	// ErrTooLarge: the file is larger than the upload's limit.
	ErrTooLarge = errors.New("upload: file too large")
	// ErrNotFound: no such upload, or not one the capability opens.
	ErrNotFound = errors.New("upload: not found")
	// ErrExpired: the direct upload URL expired.
	ErrExpired = errors.New("upload: upload URL expired")
	// ErrNotAcceptable: a request the upload's state refuses (a second
	// creation on a one-time URL, an upload of a video already complete).
	ErrNotAcceptable = errors.New("upload: not acceptable in the upload's state")
	// ErrEmpty: a 0-byte file.
	ErrEmpty = errors.New("upload: empty file")
	// ErrForbiddenSource: the copy's URL is refused by the Guard.
	ErrForbiddenSource = errors.New("upload: source URL refused")
	// ErrTooManyUnfinished: the token has Config.MaxUnfinished uploads
	// waiting for their file already.
	ErrTooManyUnfinished = errors.New("upload: too many unfinished uploads")
	// ErrIncomplete: the body ended before the file did (a connection
	// dropped, or a Content-Length larger than what was sent).
	ErrIncomplete = errors.New("upload: the body ended early")
)

// Publisher is where events go once the change that caused them committed.
type Publisher interface {
	Publish(events.Event)
}

// Thumbnailer makes a ready video's default thumbnail (record.Recorder).
type Thumbnailer interface {
	Thumbnail(ctx context.Context, id string, at time.Duration, width int) (string, error)
}

// Config configures a Service.
type Config struct {
	Videos  store.Videos  // required
	Uploads store.Uploads // required
	Blobs   blob.Store    // required
	Bus     Publisher     // required
	// Dir is where files are received (tus uploads, plain uploads and
	// copies in progress). Required.
	Dir    string
	Logger *slog.Logger // default: discard
	// FFmpeg and FFprobe are the programs; "" = processing is off (files
	// are received and stay queued).
	FFmpeg, FFprobe string
	// Capacity is the daemon's ffmpeg account: a job is an on-demand job
	// on it, so uploads never take what live ladders need. nil = an
	// account of its own.
	Capacity *ffmpeg.Account
	// Ladder are the profiles a file is made into an adaptive ladder of
	// (config transcode.profiles, as live ladders): every profile at or
	// below the file's height, never upscaled (Plan.PlanLadder). nil = one
	// rendition (remuxed when the file is H.264 already).
	Ladder []transcode.Profile
	// NodeID names this node in job leases. Default a random id.
	NodeID string
	// Lease is how long a job stays this node's without a renewal
	// (default 30 s); Heartbeat how often it is renewed and the queue is
	// polled (default 2 s).
	Lease, Heartbeat time.Duration
	// Workers is the number of jobs processed at once. Default 1.
	Workers int
	// MaxAttempts is how many times a job is started before its video
	// errors (a node dying while processing restarts it). Default 3.
	MaxAttempts int
	// MaxSize bounds a tus upload (and the max_size_bytes a direct upload
	// may ask for). Default 30 GiB.
	MaxSize int64
	// PlainMaxSize bounds a plain upload. Default 200 MB.
	PlainMaxSize int64
	// CopyMaxSize and CopyTimeout bound a copy from a URL. Defaults
	// 30 GiB, 1 h.
	CopyMaxSize int64
	CopyTimeout time.Duration
	// MaxUnfinished bounds the direct uploads and copies of one API token
	// still waiting for their file. Default 100.
	MaxUnfinished int
	// Guard checks the URLs of copies. Default: netguard with its
	// defaults (no private addresses).
	Guard Guard
	// Render is the data of video.* events: the API's video object.
	// Default record.Summary.
	Render func(v *store.Video) events.Payload
	// Thumbnails makes the thumbnail of a video that became ready; nil =
	// none.
	Thumbnails Thumbnailer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service receives uploads and processes them.
type Service struct {
	cfg     Config
	log     *slog.Logger
	tus     *tusServer
	wake    chan struct{}
	started time.Time // when New ran (ReleaseNode)

	ctx    context.Context // ends at Close: copies, jobs
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// bgMu orders goBackground's wg.Add before Close's wg.Wait (an Add
	// racing a Wait on a zero counter is a misuse of WaitGroup)
	bgMu   sync.Mutex
	closed bool
	run    sync.Once
	close  sync.Once
}

// New returns a Service; Run processes the queue.
func New(cfg Config) (*Service, error) {
	if cfg.Videos == nil || cfg.Uploads == nil || cfg.Blobs == nil || cfg.Bus == nil || cfg.Dir == "" {
		return nil, errors.New("upload: Videos, Uploads, Blobs, Bus and Dir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.NodeID = "node-" + base64.RawURLEncoding.EncodeToString(b[:])
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 2 * time.Second
	}
	cfg.Heartbeat = min(cfg.Heartbeat, cfg.Lease/3)
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = 30 << 30
	}
	if cfg.PlainMaxSize <= 0 {
		cfg.PlainMaxSize = 200_000_000
	}
	if cfg.CopyMaxSize <= 0 {
		cfg.CopyMaxSize = 30 << 30
	}
	if cfg.CopyTimeout <= 0 {
		cfg.CopyTimeout = time.Hour
	}
	if cfg.MaxUnfinished <= 0 {
		cfg.MaxUnfinished = 100
	}
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(netguard.Config{})
	}
	if cfg.Render == nil {
		cfg.Render = func(v *store.Video) events.Payload { return record.Summary(v) }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Capacity == nil {
		var err error
		if cfg.Capacity, err = ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: float64(ffmpeg.UnitsPerCore * runtime.NumCPU())}); err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
	}
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "tus"), filepath.Join(cfg.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("upload: %w", err)
		}
	}
	s := &Service{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1), started: cfg.Now()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
	if s.tus, err = newTusServer(s); err != nil {
		return nil, err
	}
	return s, nil
}

// NodeID returns the node id of job leases.
func (s *Service) NodeID() string { return s.cfg.NodeID }

// Run processes the queue and expires direct uploads until ctx is done
// or Close, then waits for its goroutines.
func (s *Service) Run(ctx context.Context) error {
	first := false
	s.run.Do(func() { first = true })
	if !first {
		return errors.New("upload: Run called twice")
	}
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	// this node's previous run (a SIGKILL) left leases: its jobs and
	// copies resume now, not once the leases run out. Those leases were
	// last renewed before this run started, so they run out before
	// started+Lease; this run's own (a copy created already) run out
	// after, and stay.
	if n, err := s.cfg.Uploads.ReleaseNode(s.ctx, s.cfg.NodeID, s.started.Add(s.cfg.Lease)); err != nil {
		s.log.Warn("cannot release the upload jobs of a previous run", "node", s.cfg.NodeID, "error", err)
	} else if n > 0 {
		s.log.Info("resuming upload jobs of a previous run", "node", s.cfg.NodeID, "jobs", n)
	}
	if s.cfg.FFmpeg != "" && s.cfg.FFprobe != "" {
		for range s.cfg.Workers {
			s.goBackground(s.worker)
		}
	} else {
		s.log.Warn("ffmpeg or ffprobe not found: uploaded files stay queued, unprocessed")
	}
	s.goBackground(s.expirer)
	<-s.ctx.Done()
	s.bgMu.Lock()
	s.closed = true // no Add after this Wait starts
	s.bgMu.Unlock()
	s.wg.Wait()
	return nil
}

// Close stops the goroutines (copies in progress are abandoned, jobs in
// progress requeued) and waits for them; idempotent.
func (s *Service) Close() {
	s.close.Do(func() { s.cancel() })
	s.bgMu.Lock()
	s.closed = true
	s.bgMu.Unlock()
	s.run.Do(func() {}) // a service never run starts nothing later
	s.wg.Wait()
}

// goBackground runs f in a goroutine the service owns, unless closed.
func (s *Service) goBackground(f func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.closed || s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.ctx)
	}()
}

// kick wakes a worker: a job was queued here.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Options are what a new upload's video is created with.
type Options struct {
	Meta              map[string]any
	Creator           string
	RequireSignedURLs bool
	AllowedOrigins    []string
	// MaxDurationSeconds fails processing of a longer file (0 = none).
	MaxDurationSeconds int64
	// MaxSizeBytes bounds the file (0 = the server's limit).
	MaxSizeBytes int64
	// Expiry is how long a direct upload URL works (direct uploads only).
	Expiry time.Duration
	// Name is the file's name, when known.
	Name string
	// TokenID is the API token creating it (Config.MaxUnfinished).
	TokenID string
}

// checkUnfinished refuses a new direct upload or copy of a token that has
// Config.MaxUnfinished waiting already (a soft limit: two concurrent
// requests may both pass at the limit).
func (s *Service) checkUnfinished(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	n, err := s.cfg.Uploads.Unfinished(ctx, token)
	if err != nil {
		return err
	}
	if n >= s.cfg.MaxUnfinished {
		return fmt.Errorf("%w: %d waiting for their file; at most %d", ErrTooManyUnfinished, n, s.cfg.MaxUnfinished)
	}
	return nil
}

// newVideo is the video of a new upload in status.
func (s *Service) newVideo(status string, o Options) (*store.Video, time.Time) {
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	meta := o.Meta
	if meta == nil {
		meta = map[string]any{}
	}
	origins := append([]string{}, o.AllowedOrigins...)
	return &store.Video{ID: record.NewVideoID(now), Status: status, CreatedAt: now, StartedAt: now, UpdatedAt: now,
		Tracks: []store.VideoTrack{}, Meta: meta, RequireSignedURLs: o.RequireSignedURLs, AllowedOrigins: origins,
		DownloadStatus: store.DownloadNone}, now
}

// videoEvents returns the VideoEventFunc writing one event of each of
// types about the video, kept in *evs to be published once committed.
func (s *Service) videoEvents(evs *[]events.Event, types ...events.Type) store.VideoEventFunc {
	return func(v *store.Video) ([]*store.WebhookEvent, error) {
		*evs = (*evs)[:0]
		var out []*store.WebhookEvent
		for _, t := range types {
			ev := events.New(t, "", s.cfg.Render(v))
			wes, err := webhook.ToOutbox(ev)
			if err != nil {
				return nil, err
			}
			*evs = append(*evs, ev)
			out = append(out, wes...)
		}
		return out, nil
	}
}

func (s *Service) publish(evs []events.Event) {
	for _, ev := range evs {
		s.cfg.Bus.Publish(ev)
	}
}

// Direct is a new direct upload: its video, and the secret of its URL
// (shown once; only its SHA-256 is stored).
type Direct struct {
	Video  *store.Video
	Upload *store.Upload
	Secret string
}

// CreateDirect makes a video waiting for a tus upload to its one-time URL
// (TusPath), which works until o.Expiry has passed.
func (s *Service) CreateDirect(ctx context.Context, o Options) (*Direct, error) {
	if o.MaxSizeBytes <= 0 || o.MaxSizeBytes > s.cfg.MaxSize {
		o.MaxSizeBytes = s.cfg.MaxSize
	}
	if err := s.checkUnfinished(ctx, o.TokenID); err != nil {
		return nil, err
	}
	v, now := s.newVideo(store.VideoPendingUpload, o)
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(secret))
	exp := now.Add(o.Expiry)
	u := &store.Upload{VideoID: v.ID, Kind: store.UploadDirect, SecretHash: h[:], MaxSizeBytes: o.MaxSizeBytes,
		MaxDurationSeconds: o.MaxDurationSeconds, ExpiresAt: &exp, Creator: o.Creator, TokenID: o.TokenID, CreatedAt: now, UpdatedAt: now}
	var evs []events.Event
	if err := s.cfg.Uploads.Create(ctx, v, u, s.videoEvents(&evs, events.VideoUploadCreated)); err != nil {
		return nil, err
	}
	s.publish(evs)
	s.log.Info("direct upload created", "video", v.ID, "expires", exp, "max_size_bytes", o.MaxSizeBytes)
	return &Direct{Video: v, Upload: u, Secret: secret}, nil
}

// TusPath is the path of a direct upload's one-time tus URL on the HTTP
// listener (the handler of TusHandler is mounted at "/uploads/").
func TusPath(videoID, secret string) string { return "/uploads/" + videoID + "." + secret }

// Get returns the video id and its upload; ErrNotFound when the video
// has no upload (a recording) or does not exist.
func (s *Service) Get(ctx context.Context, id string) (*store.Video, *store.Upload, error) {
	u, err := s.cfg.Uploads.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, nil, err
	}
	v, err := s.cfg.Videos.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return v, u, err
}

// sourceKey is the blob key of a video's uploaded file while it waits
// for processing.
func sourceKey(id string) string { return "uploads/" + id + "/source" }

// enqueue stores the complete file at p as the source of video id and
// moves it from one of from to queued, with video.upload.completed.
func (s *Service) enqueue(ctx context.Context, id, p string, size int64, from ...string) error {
	key := sourceKey(id)
	if err := s.putFile(ctx, key, p); err != nil {
		return fmt.Errorf("store the uploaded file: %w", err)
	}
	var evs []events.Event
	c := store.UploadChange{From: from, Status: store.VideoQueued, FileKey: key, SizeBytes: size, ReleaseLease: true, At: s.cfg.Now().UTC()}
	if err := s.cfg.Uploads.Transition(ctx, id, c, s.videoEvents(&evs, events.VideoUploadCompleted)); err != nil {
		if errors.Is(err, store.ErrNotFound) { // the video was deleted meanwhile
			_ = s.cfg.Blobs.Delete(ctx, key)
		}
		return err
	}
	s.publish(evs)
	s.log.Info("upload complete, queued", "video", id, "bytes", size)
	s.kick()
	return nil
}

// fail moves video id from one of from to errored with a reason, with
// video.errored, and deletes its source file.
func (s *Service) fail(ctx context.Context, id, node, code, msg string, from ...string) {
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	var evs []events.Event
	c := store.UploadChange{From: from, Node: node, Status: store.VideoErrored, ErrorCode: code, ErrorMessage: msg,
		EndedAt: &now, ReleaseLease: true, At: now}
	if err := s.cfg.Uploads.Transition(ctx, id, c, s.videoEvents(&evs, events.VideoErrored)); err != nil {
		s.log.Warn("cannot mark an upload errored", "video", id, "code", code, "error", err)
		return
	}
	s.publish(evs)
	_ = s.cfg.Blobs.Delete(ctx, sourceKey(id))
	s.log.Info("upload errored", "video", id, "code", code, "reason", msg)
}

// tempFile creates a file for receiving, on the blob store's file system
// when it takes files whole (then storing it is a rename).
func (s *Service) tempFile(pattern string) (*os.File, error) {
	dir := filepath.Join(s.cfg.Dir, "tmp")
	if fp, ok := s.cfg.Blobs.(blob.FilePutter); ok {
		dir = fp.TempDir()
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, err
		}
	}
	return os.CreateTemp(dir, pattern)
}

// putFile stores the file p under key, moving it when the store can, and
// removes p.
func (s *Service) putFile(ctx context.Context, key, p string) error {
	if err := blob.PutPath(ctx, s.cfg.Blobs, key, p); err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
