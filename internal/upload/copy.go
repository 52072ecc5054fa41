package upload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// maxRedirects bounds the redirects a copy follows.
const maxRedirects = 5

// CreateCopy makes a video the server downloads from raw (http or https,
// checked by the Guard before the request, at every redirect hop and at
// every dial), at most Config.CopyMaxSize bytes (or o.MaxSizeBytes) within
// Config.CopyTimeout. The video is downloading until the file is complete,
// then queued; a failed download makes it errored (download_failed,
// too_large). ErrForbiddenSource when the URL is refused.
func (s *Service) CreateCopy(ctx context.Context, raw string, o Options) (*store.Video, error) {
	if err := checkSourceURL(raw); err != nil {
		return nil, err
	}
	if err := s.cfg.Guard.CheckURL(ctx, raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrForbiddenSource, err)
	}
	if err := s.checkUnfinished(ctx, o.TokenID); err != nil {
		return nil, err
	}
	limit := s.cfg.CopyMaxSize
	if o.MaxSizeBytes > 0 && o.MaxSizeBytes < limit {
		limit = o.MaxSizeBytes
	}
	v, now := s.newVideo(store.VideoDownloading, o)
	// the download is this node's job, leased as processing jobs are: if
	// the node dies, another (or its next run) claims it and starts over
	u := &store.Upload{VideoID: v.ID, Kind: store.UploadCopy, SourceURL: raw, MaxSizeBytes: limit,
		MaxDurationSeconds: o.MaxDurationSeconds, Creator: o.Creator, TokenID: o.TokenID, Name: o.Name, CreatedAt: now, UpdatedAt: now,
		NodeID: s.cfg.NodeID, LeaseExpires: now.Add(s.cfg.Lease)}
	var evs []events.Event
	if err := s.cfg.Uploads.Create(ctx, v, u, s.videoEvents(&evs, events.VideoUploadCreated)); err != nil {
		return nil, err
	}
	s.publish(evs)
	s.goBackground(func(ctx context.Context) {
		s.leased(ctx, u, func(jctx context.Context) { s.download(ctx, jctx, u) })
	})
	return v, nil
}

// download copies the file of upload u from its source URL, then queues
// it (ctx: the service's; jctx: the job's, which ends when its lease is
// lost).
func (s *Service) download(ctx, jctx context.Context, u *store.Upload) {
	pu, _ := url.Parse(u.SourceURL)
	log := s.log.With("video", u.VideoID, "source_host", pu.Host) // the rest of the URL may hold a signature
	dctx, cancel := context.WithTimeout(jctx, s.cfg.CopyTimeout)
	defer cancel()
	start := time.Now()
	p, n, err := s.fetch(dctx, u.VideoID, u.SourceURL, u.MaxSizeBytes)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		// shutting down: the lease goes, so that the next run (or another
		// node) starts the copy again at once
		c := store.UploadChange{From: []string{store.VideoDownloading}, Node: s.cfg.NodeID, Status: store.VideoDownloading,
			ReleaseLease: true, At: s.cfg.Now().UTC()}
		if err := s.cfg.Uploads.Transition(context.WithoutCancel(ctx), u.VideoID, c, nil); err != nil {
			log.Warn("cannot release an interrupted copy", "error", err)
		}
		return
	case jctx.Err() != nil:
		return // the lease was lost
	default:
		code := CodeDownloadFailed
		if errors.Is(err, ErrTooLarge) {
			code = CodeTooLarge
		}
		log.Info("copy from a URL failed", "error", err)
		s.fail(context.WithoutCancel(ctx), u.VideoID, s.cfg.NodeID, code, err.Error(), store.VideoDownloading)
		return
	}
	log.Info("copy from a URL done", "bytes", n, "took", time.Since(start).Round(time.Millisecond))
	if err := s.enqueue(context.WithoutCancel(ctx), u.VideoID, p, n, store.VideoDownloading); err != nil {
		_ = os.Remove(p)
		log.Warn("cannot queue a copied file", "error", err)
	}
}

// fetch downloads raw into a new file and returns its path and size.
func (s *Service) fetch(ctx context.Context, id, raw string, limit int64) (string, int64, error) {
	tr := &http.Transport{DialContext: s.cfg.Guard.DialContext, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second, MaxIdleConns: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("more than %d redirects", maxRedirects)
		}
		if err := checkSourceURL(r.URL.String()); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if err := s.cfg.Guard.CheckURL(r.Context(), r.URL.String()); err != nil {
			return fmt.Errorf("%w: redirect: %w", ErrForbiddenSource, err)
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("User-Agent", "MpegFlow")
	resp, err := c.Do(req)
	if err != nil {
		return "", 0, redactURLError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("the source answered %s", resp.Status)
	}
	if resp.ContentLength > limit {
		return "", 0, fmt.Errorf("%w: the source announces %d bytes; at most %d are accepted", ErrTooLarge, resp.ContentLength, limit)
	}
	f, err := s.tempFile("copy-")
	if err != nil {
		return "", 0, err
	}
	p := f.Name()
	pw := &progressWriter{w: f, every: time.Second, report: func(n int64) {
		_ = s.cfg.Uploads.Progress(ctx, id, n, 0, s.cfg.Now().UTC())
	}}
	n, err := io.Copy(pw, io.LimitReader(resp.Body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		err = redactURLError(err)
	case n > limit:
		err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	case n == 0:
		err = ErrEmpty
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		err = fmt.Errorf("the source sent %d bytes of the %d it announced", n, resp.ContentLength)
	}
	if err != nil {
		_ = os.Remove(p)
		return "", 0, err
	}
	return p, n, nil
}

// redactURLError drops the URL from a client error (it may hold a
// signature), keeping the cause.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// progressWriter reports the bytes written at most every every.
type progressWriter struct {
	w      io.Writer
	n      int64
	last   time.Time
	every  time.Duration
	report func(n int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		p.report(p.n)
	}
	return n, err
}
