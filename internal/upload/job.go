package upload

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
)

// jobStall: ffmpeg whose progress stops for this long is killed.
const jobStall = 60 * time.Second

// Progress is the Data of the video.processing events published on the
// bus while a job runs (at least every 2 s).
type Progress struct {
	VideoID     string  `json:"video_id"`
	Status      string  `json:"status"`
	PctComplete float64 `json:"pct_complete"`
}

// EventPayload implements events.Payload.
func (Progress) EventPayload() {}

// worker claims and processes jobs until ctx is done.
func (s *Service) worker(ctx context.Context) {
	t := time.NewTicker(s.cfg.Heartbeat)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			now := s.cfg.Now()
			u, err := s.cfg.Uploads.Claim(ctx, s.cfg.NodeID, now, now.Add(s.cfg.Lease))
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("cannot claim an upload job", "error", err)
				}
				break
			}
			if u == nil {
				break
			}
			s.process(ctx, u)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// process runs the job of upload u, which this node holds the lease of:
// the download of a copy (whose node died, or which a restart
// interrupted), or the processing of a complete file.
func (s *Service) process(ctx context.Context, u *store.Upload) {
	v, err := s.cfg.Videos.Get(ctx, u.VideoID)
	if err != nil {
		s.log.Warn("cannot read the video of an upload job", "video", u.VideoID, "error", err)
		return
	}
	if v.Status == store.VideoDownloading {
		if u.Attempts > s.cfg.MaxAttempts {
			s.fail(ctx, u.VideoID, s.cfg.NodeID, CodeDownloadFailed, fmt.Sprintf("the copy was started %d times without finishing", u.Attempts-1), store.VideoDownloading)
			return
		}
		s.leased(ctx, u, func(jctx context.Context) { s.download(ctx, jctx, u) })
		return
	}
	if u.Attempts > s.cfg.MaxAttempts {
		s.fail(ctx, u.VideoID, s.cfg.NodeID, CodeProcessingFailed, fmt.Sprintf("processing was started %d times without finishing", u.Attempts-1),
			store.VideoQueued, store.VideoInProgress)
		return
	}
	ready := false
	s.leased(ctx, u, func(jctx context.Context) { ready = s.processFile(ctx, jctx, u) })
	if ready && s.cfg.Thumbnails != nil { // the job is over: no lease to renew
		if _, err := s.cfg.Thumbnails.Thumbnail(ctx, u.VideoID, -1, 0); err != nil && ctx.Err() == nil {
			s.log.Warn("cannot make the thumbnail of an uploaded video", "video", u.VideoID, "error", err)
		}
	}
}

// leased runs f while renewing this node's lease on the job of u; jctx
// ends when the lease is lost (another node took the job over, or the
// video is gone) or ctx ends.
func (s *Service) leased(ctx context.Context, u *store.Upload, f func(jctx context.Context)) {
	jctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(s.cfg.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-jctx.Done():
				return
			case <-t.C:
			}
			ok, err := s.cfg.Uploads.Renew(jctx, u.VideoID, s.cfg.NodeID, s.cfg.Now().Add(s.cfg.Lease))
			if err == nil && !ok {
				s.log.Warn("upload job lost: another node took it over, or the video is gone", "video", u.VideoID)
				cancel()
				return
			}
		}
	}()
	defer func() { cancel(); <-renewed }()
	f(jctx)
}

// processFile makes the VOD of the complete file of u (ctx: the service's;
// jctx: the job's, which ends when its lease is lost).
func (s *Service) processFile(ctx, jctx context.Context, u *store.Upload) (ready bool) {
	log := s.log.With("video", u.VideoID, "attempt", u.Attempts)
	from := []string{store.VideoQueued, store.VideoInProgress}
	if err := s.cfg.Uploads.ResetSegments(jctx, u.VideoID); err != nil { // an earlier attempt's
		log.Warn("cannot reset an upload's segments", "error", err)
		return
	}
	var evs []events.Event
	c := store.UploadChange{From: from, Node: s.cfg.NodeID, Status: store.VideoInProgress, At: s.cfg.Now().UTC()}
	if err := s.cfg.Uploads.Transition(jctx, u.VideoID, c, s.videoEvents(&evs, events.VideoProcessing)); err != nil {
		log.Warn("cannot start an upload job", "error", err)
		return
	}
	s.publish(evs)
	start := time.Now()
	tracks, err := s.runJob(jctx, log, u)
	var ref *Refusal
	switch {
	case err == nil:
	case errors.As(err, &ref):
		s.fail(context.WithoutCancel(ctx), u.VideoID, s.cfg.NodeID, ref.Code, ref.Message, store.VideoInProgress)
		return
	case ctx.Err() != nil:
		// shutting down: requeued, so that this node's next run (or
		// another node) starts it again without waiting for the lease
		c := store.UploadChange{From: []string{store.VideoInProgress}, Node: s.cfg.NodeID, Status: store.VideoQueued,
			ReleaseLease: true, At: s.cfg.Now().UTC()}
		if err := s.cfg.Uploads.Transition(context.WithoutCancel(ctx), u.VideoID, c, nil); err != nil {
			log.Warn("cannot requeue an interrupted upload job", "error", err)
		}
		return
	case jctx.Err() != nil:
		return // the lease was lost
	default:
		log.Error("processing an upload failed", "error", err)
		s.fail(context.WithoutCancel(ctx), u.VideoID, s.cfg.NodeID, CodeProcessingFailed, "processing failed: "+lastLine(err.Error()), store.VideoInProgress)
		return
	}
	now := s.cfg.Now().UTC().Truncate(time.Microsecond)
	c = store.UploadChange{From: []string{store.VideoInProgress}, Node: s.cfg.NodeID, Status: store.VideoReady, Tracks: tracks,
		EndedAt: &now, PctComplete: 100, ReleaseLease: true, At: now}
	if err := s.cfg.Uploads.Transition(jctx, u.VideoID, c, s.videoEvents(&evs, events.VideoReady)); err != nil {
		log.Warn("cannot finish an upload job", "error", err)
		return
	}
	s.publish(evs)
	_ = s.cfg.Blobs.Delete(ctx, u.FileKey)
	log.Info("upload processed: video ready", "took", time.Since(start).Round(time.Millisecond))
	return true
}

// runJob probes the file of u, makes the HLS VOD of it and stores its
// segments; a *Refusal when the file cannot become a video.
func (s *Service) runJob(ctx context.Context, log *slog.Logger, u *store.Upload) ([]store.VideoTrack, error) {
	work, err := os.MkdirTemp(filepath.Join(s.cfg.Dir, "tmp"), "job-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	in, err := blob.LocalFile(ctx, s.cfg.Blobs, u.FileKey, work)
	if err != nil {
		return nil, err
	}
	maxDur := time.Duration(u.MaxDurationSeconds) * time.Second
	plan, err := s.probe(ctx, in, maxDur)
	if err != nil {
		return nil, err
	}
	plan.PlanLadder(s.cfg.Ladder)
	log.Info("processing an upload", "width", plan.Width, "height", plan.Height, "video_codec", plan.VideoCodec,
		"audio_codec", plan.AudioCodec, "duration", plan.Duration, "copy_video", plan.CopyVideo, "out_height", plan.OutHeight, "rungs", len(plan.Rungs))
	units := min(plan.Units(), s.cfg.Capacity.Total()*ffmpeg.DefaultOnDemandShare)
	lease, err := s.cfg.Capacity.Wait(ctx, ffmpeg.OnDemand, units)
	if err != nil {
		return nil, err
	}
	out := filepath.Join(work, "out")
	if err := os.Mkdir(out, 0o750); err != nil {
		lease.Release()
		return nil, err
	}
	err = s.transcode(ctx, u.VideoID, plan, in, out)
	lease.Release()
	if err != nil {
		return nil, err
	}
	if len(plan.Rungs) > 0 {
		return s.storeLadder(ctx, u.VideoID, plan, out, maxDur)
	}
	pl, err := os.ReadFile(filepath.Join(out, "index.m3u8"))
	if err != nil {
		return nil, err
	}
	initFile, segs, err := parseOutput(pl)
	if err != nil {
		return nil, err
	}
	if err := checkDuration(segs, maxDur); err != nil {
		return nil, err
	}
	if err := s.storeSegments(ctx, u.VideoID, out, initFile, segs); err != nil {
		return nil, err
	}
	return plan.Tracks(), nil
}

// checkDuration refuses segments lasting longer than maxDur (0 = no
// limit): the container's duration ffprobe read may be missing or lie.
func checkDuration(segs []outSegment, maxDur time.Duration) error {
	var total time.Duration
	for _, sg := range segs {
		total += sg.Duration
	}
	if maxDur > 0 && total > maxDur+time.Second {
		return &Refusal{CodeDurationExceeded, fmt.Sprintf("the video lasts %.1f s; at most %.0f s are allowed", total.Seconds(), maxDur.Seconds())}
	}
	return nil
}

// probe runs ffprobe on the file and plans its processing.
func (s *Service) probe(ctx context.Context, in string, maxDur time.Duration) (*Plan, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.cfg.FFprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "-i", in)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ffprobe: %w", err)
	}
	b, rerr := io.ReadAll(io.LimitReader(stdout, maxProbeOutput))
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if rerr != nil || werr != nil || len(b) == 0 {
		return nil, &Refusal{CodeNotAVideo, "ffprobe cannot read the file as media"}
	}
	return ParseProbe(b, maxDur, 0)
}

// transcode runs ffmpeg to make the HLS VOD in out, reporting progress.
func (s *Service) transcode(ctx context.Context, id string, plan *Plan, in, out string) error {
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1", "-y"}, plan.FFmpegArgs(in, out)...)
	p, err := ffmpeg.Start(ctx, ffmpeg.Config{Path: s.cfg.FFmpeg, Args: args, Logger: s.log.With("video", id, "job", "upload"),
		Stdout: true, StallTimeout: jobStall, Metrics: s.cfg.Capacity.Metrics()})
	if err != nil {
		return err
	}
	defer p.Stop()
	last := time.Time{}
	sc := bufio.NewScanner(p.Stdout())
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || k != "out_time_us" || plan.Duration <= 0 {
			continue
		}
		us, err := strconv.ParseInt(v, 10, 64)
		if err != nil || us < 0 {
			continue
		}
		if now := time.Now(); now.Sub(last) >= time.Second {
			last = now
			pct := min(99, 100*float64(us)/float64(plan.Duration.Microseconds()))
			s.reportProgress(ctx, id, pct)
		}
	}
	_, _ = io.Copy(io.Discard, p.Stdout())
	if err := p.Wait(); err != nil {
		return fmt.Errorf("ffmpeg: %w", err)
	}
	return nil
}

// reportProgress stores the job's percent and publishes it on the bus
// (not to webhooks: a progress event every second is the event stream's).
func (s *Service) reportProgress(ctx context.Context, id string, pct float64) {
	pct = float64(int(pct*10)) / 10
	if err := s.cfg.Uploads.Progress(ctx, id, 0, pct, s.cfg.Now().UTC()); err != nil && ctx.Err() == nil {
		s.log.Debug("cannot store upload progress", "video", id, "error", err)
	}
	s.cfg.Bus.Publish(events.New(events.VideoProcessing, "", Progress{VideoID: id, Status: store.VideoInProgress, PctComplete: pct}))
}

// storeSegments writes the init segment and segments in dir as the files
// of video id (record.InitKey, record.SegmentKey) and indexes them.
func (s *Service) storeSegments(ctx context.Context, id, dir, initFile string, segs []outSegment) error {
	initKey := record.InitKey(id, 0)
	if err := s.putFile(ctx, initKey, filepath.Join(dir, initFile)); err != nil {
		return err
	}
	for i, sg := range segs {
		p := filepath.Join(dir, sg.File)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		key := record.SegmentKey(id, int64(i))
		if err := s.putFile(ctx, key, p); err != nil {
			return err
		}
		if err := s.cfg.Videos.AddSegment(ctx, &store.VideoSegment{VideoID: id, Seq: int64(i), Duration: sg.Duration,
			InitKey: initKey, Key: key, Size: st.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// lastLine is the last line of s (ffmpeg's errors end with its stderr).
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
