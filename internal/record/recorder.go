// Package record turns broadcasts into video assets. For every live input
// with recording.mode automatic, each CMAF segment the live packager
// completes (an init segment once per codec configuration, then the
// segment's moof+mdat fragments, ISO/IEC 23000-19 §7) is written to blob
// storage as it is produced, with no second encode and no remux; its entry
// in the segment index goes to the store. One broadcast (stream start to
// stream end, reconnects within the window included) is one video.
//
// Crash safety: a segment's blob is written atomically before its index
// row, so the index never names a missing or partial file. A recording
// carries the id of the node recording it and a lease that node renews
// (Config.Heartbeat, Config.Lease). Recovery turns a video left
// live_recording into a ready one made of the segments already indexed,
// and publishes video.ready with recovered=true: at start for the videos of
// this node's previous incarnation and those whose lease ran out, then
// periodically for those whose lease runs out (a crashed node of several
// on one database). A recovery claims its video with one conditional
// update, so of several nodes exactly one recovers it.
//
// Playback: Playlist writes the video's HLS playlist (RFC 8216bis §4.4.3.5:
// EVENT while recording, VOD with EXT-X-ENDLIST after); thumbnails and the
// progressive MP4 are made with ffmpeg on demand (thumbnail.go, mp4.go).
package record

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/webhook"
)

// Errors of the package.
var (
	// ErrNotFound: no such video.
	ErrNotFound = errors.New("record: video not found")
	// ErrNotReady: the video is still recording (or errored): no MP4 or
	// thumbnail yet.
	ErrNotReady = errors.New("record: video is not ready")
	// ErrNoFFmpeg: ffmpeg is not installed; thumbnails and MP4 downloads
	// are unavailable.
	ErrNoFFmpeg = errors.New("record: ffmpeg not available")
	// ErrEmpty: the video has no recorded segment.
	ErrEmpty = errors.New("record: video has no segments")
	// ErrOutOfRange: a time outside the video.
	ErrOutOfRange = errors.New("record: time out of range")
)

// Publisher is where the recorder's events go once the change that caused
// them committed (events.Bus). They are in the webhook outbox already:
// each is written in the transaction of its video's change.
type Publisher interface {
	Publish(events.Event)
}

// Config configures a Recorder.
type Config struct {
	Videos     store.Videos     // required
	LiveInputs store.LiveInputs // required: recording settings are read at stream start
	Blobs      blob.Store       // required
	Bus        Publisher        // required
	Logger     *slog.Logger     // default: discard
	// Workers is the number of writer goroutines; a live input always goes
	// to the same one, so its segments are written in order. Default 4.
	Workers int
	// Queue is the number of operations that may wait per worker; a
	// segment that finds the queue full is dropped (counted, and the next
	// one is marked as a discontinuity). Default 64.
	Queue int
	// ThumbnailTimePct is where the default thumbnail is taken, as a
	// fraction of the duration (0..1). Default 0.1.
	ThumbnailTimePct float64
	// FFmpeg is the ffmpeg binary; "" = none (thumbnails and MP4 off).
	FFmpeg string
	// MaxThumbnails caps the cached on-demand thumbnails of a video (those
	// with a time or width); past it the least recently used is deleted.
	// Default DefaultMaxThumbnails.
	MaxThumbnails int
	// Capacity is the daemon's ffmpeg account: thumbnails and MP4 builds
	// are on-demand jobs on it (ffmpeg.ThumbnailUnits, ffmpeg.MP4Units).
	// nil: an account of its own, ffmpeg.UnitsPerCore per core.
	Capacity *ffmpeg.Account
	// Now is the clock; default time.Now.
	Now func() time.Time
	// NodeID names this node among those sharing the store; recordings
	// carry it. Default: a random id (fine for one node whose restarts
	// need not recover at once; the app persists one in data_dir).
	NodeID string
	// Lease is how long a recording stays this node's without a renewal;
	// another node recovers it once the lease has run out. Default 30 s.
	Lease time.Duration
	// Heartbeat is how often the leases are renewed and expired ones of
	// other nodes are looked for. Default 5 s; at most Lease/3.
	Heartbeat time.Duration
	// TargetDuration is the EXT-X-TARGETDURATION of recordings' playlists
	// (RFC 8216bis §4.4.3.1), fixed for a recording when it starts: the
	// live packager's, which no segment exceeds. 0 = the longest segment's,
	// rounded up.
	TargetDuration time.Duration
	// Rendition is the rendition recorded: the packager hands over the
	// segments of every rendition of a live input (the source and the
	// transcoded ones), and one recording holds one. Default "source";
	// StartRendition names another for one broadcast.
	Rendition string
	// Render is the data of the recording.started and video.* events,
	// given the video as the change's transaction stored it: the daemon
	// injects the API's video object (GET /v1/videos/ID), whose recovered
	// is true on the video.ready of a recording recovered after a crash.
	// Default Summary.
	Render func(v *store.Video) events.Payload
}

// EventData is the Data of recording.started and video.* events when
// Config.Render is not set (Summary).
type EventData struct {
	VideoID         string  `json:"video_id"`
	Status          string  `json:"status"`
	DurationSeconds float64 `json:"duration_seconds"`
	Recovered       bool    `json:"recovered,omitempty"`
	ErrorCode       string  `json:"error_code,omitempty"`
}

// Stats are the recorder's counters.
type Stats struct {
	SegmentsWritten uint64
	BytesWritten    uint64
	SegmentsDropped uint64 // queue full
	WriteErrors     uint64
	Recovered       uint64 // interrupted recordings this node finished (its own after a restart, or other nodes')
	LeasesLost      uint64 // recordings another node's recovery took from this one
	Active          int64  // recordings in progress on this node
}

type opKind int

const (
	opStart opKind = iota
	opSegment
	opEnd
)

type op struct {
	kind      opKind
	liveInput string
	tracks    []store.VideoTrack
	seg       hls.SegmentInfo
	at        time.Time
	// setting, when set, replaces the live input's recording setting
	// (a pipeline's record.vod node).
	setting *store.Recording
}

// active is the recording of one live input in progress; owned by its
// worker goroutine.
type active struct {
	video   *store.Video
	seq     int64
	initID  int
	initKey string
	gap     bool // a segment was lost: the next one is a discontinuity
	lastMSN uint64
	haveMSN bool
}

// Recorder writes recordings. Start, Segment and End are safe for
// concurrent use and never block on I/O.
type Recorder struct {
	cfg    Config
	log    *slog.Logger
	queues []chan op
	quit   chan struct{}

	wg       sync.WaitGroup // workers and background jobs
	runOnce  sync.Once
	stopOnce sync.Once

	ctx    context.Context // background jobs; cancelled by Stop
	cancel context.CancelFunc
	flight sync.Map // video id + kind -> *flight
	// thumbs is when cached thumbnails were last served (eviction order)
	thumbs thumbUse
	// live holds the ids of the videos the workers are recording, which
	// the periodic recovery leaves alone even when a stalled worker let
	// their lease run out.
	live sync.Map
	// rendition holds, per live input, the rendition recorded instead of
	// Config.Rendition (StartRendition): a stream without a passthrough
	// source records its top transcoded rung.
	rendition sync.Map

	written, bytes, dropped, werrs, recovered, lost atomic.Uint64
	active                                          atomic.Int64
}

// New returns a Recorder; Run starts it.
func New(cfg Config) (*Recorder, error) {
	if cfg.Videos == nil || cfg.LiveInputs == nil || cfg.Blobs == nil || cfg.Bus == nil {
		return nil, errors.New("record: Videos, LiveInputs, Blobs and Bus are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.ThumbnailTimePct <= 0 || cfg.ThumbnailTimePct >= 1 {
		cfg.ThumbnailTimePct = 0.1
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rendition == "" {
		cfg.Rendition = "source"
	}
	if cfg.Render == nil {
		cfg.Render = func(v *store.Video) events.Payload { return Summary(v) }
	}
	if cfg.NodeID == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.NodeID = "node-" + base32.NewEncoding(crockford).WithPadding(base32.NoPadding).EncodeToString(b[:])
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 5 * time.Second
	}
	cfg.Heartbeat = min(cfg.Heartbeat, cfg.Lease/3)
	if cfg.TargetDuration > 0 {
		cfg.TargetDuration = time.Duration(math.Ceil(cfg.TargetDuration.Seconds())) * time.Second
	}
	if cfg.MaxThumbnails <= 0 {
		cfg.MaxThumbnails = DefaultMaxThumbnails
	}
	if cfg.Capacity == nil {
		var err error
		if cfg.Capacity, err = ffmpeg.NewAccount(ffmpeg.AccountConfig{Total: float64(ffmpeg.UnitsPerCore * runtime.NumCPU())}); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
	}
	r := &Recorder{cfg: cfg, log: cfg.Logger, quit: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		r.queues = append(r.queues, make(chan op, cfg.Queue))
	}
	return r, nil
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	return Stats{SegmentsWritten: r.written.Load(), BytesWritten: r.bytes.Load(), SegmentsDropped: r.dropped.Load(), WriteErrors: r.werrs.Load(),
		Recovered: r.recovered.Load(), LeasesLost: r.lost.Load(), Active: r.active.Load()}
}

func (r *Recorder) queue(liveInput string) chan op {
	h := fnv.New32a()
	_, _ = h.Write([]byte(liveInput))
	return r.queues[int(h.Sum32()%uint32(len(r.queues)))]
}

// Start tells the recorder that a broadcast of liveInput started. Whether
// it is recorded is decided by the worker from the live input's settings.
func (r *Recorder) Start(liveInput string, tracks []store.VideoTrack) {
	r.StartRendition(liveInput, tracks, "")
}

// StartRendition is Start recording the segments of rendition instead of
// Config.Rendition ("" = Config.Rendition) for this broadcast: a stream
// whose video HLS cannot carry has no source rendition, and its top
// transcoded rung stands for it. tracks then describe that rendition.
func (r *Recorder) StartRendition(liveInput string, tracks []store.VideoTrack, rendition string) {
	r.startWith(liveInput, tracks, rendition, nil)
}

func (r *Recorder) startWith(liveInput string, tracks []store.VideoTrack, rendition string, setting *store.Recording) {
	if rendition == "" || rendition == r.cfg.Rendition {
		r.rendition.Delete(liveInput)
	} else {
		r.rendition.Store(liveInput, rendition)
	}
	r.send(op{kind: opStart, liveInput: liveInput, tracks: tracks, at: r.cfg.Now(), setting: setting})
}

// End tells the recorder that the broadcast of liveInput ended (after the
// packager delivered its last segment).
func (r *Recorder) End(liveInput string) {
	r.send(op{kind: opEnd, liveInput: liveInput, at: r.cfg.Now()})
}

// send queues a control operation; it waits for room (they are rare) unless
// the recorder has stopped.
func (r *Recorder) send(o op) {
	select {
	case r.queue(o.liveInput) <- o:
	case <-r.quit:
	}
}

// Segment hands over a completed segment (hls.Hooks.OnSegmentComplete). It
// never blocks: when the queue is full the segment is dropped and counted.
func (r *Recorder) Segment(liveInput string, seg hls.SegmentInfo) {
	want := r.cfg.Rendition
	if v, ok := r.rendition.Load(liveInput); ok {
		want = v.(string)
	}
	if seg.Rendition != want {
		return
	}
	select {
	case r.queue(liveInput) <- op{kind: opSegment, liveInput: liveInput, seg: seg}:
	default:
		r.dropped.Add(1)
		// the worker marks the gap when it sees the next segment's MSN jump
	}
}

// NodeID returns the node id recordings carry.
func (r *Recorder) NodeID() string { return r.cfg.NodeID }

// Run recovers interrupted recordings, then writes recordings until Stop,
// and recovers those of other nodes whose lease runs out. It returns once
// the first recovery is done; Stop waits for the goroutines it started.
func (r *Recorder) Run(ctx context.Context) {
	r.runOnce.Do(func() {
		if err := r.Recover(ctx); err != nil {
			r.log.Error("recovering interrupted recordings", "error", err)
		}
		for _, q := range r.queues {
			r.wg.Add(1)
			go r.work(q)
		}
		r.cleaner(time.Minute)
		r.recoverer(r.cfg.Heartbeat)
	})
}

// Stop makes the workers finish what is queued (ending every recording in
// progress) and waits for them and for background jobs; idempotent.
func (r *Recorder) Stop() {
	r.stopOnce.Do(func() {
		close(r.quit)
		r.cancel()
	})
	r.runOnce.Do(func() {}) // a recorder never run starts no worker later
	r.wg.Wait()
}

// work is one writer goroutine: it owns the recordings of its live inputs.
func (r *Recorder) work(q chan op) {
	defer r.wg.Done()
	ctx := context.Background() // writes finish even during shutdown
	recs := map[string]*active{}
	beat := time.NewTicker(r.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case o := <-q:
			r.handle(ctx, recs, o)
		case <-beat.C:
			r.renew(ctx, recs)
		case <-r.quit:
			for {
				select {
				case o := <-q:
					r.handle(ctx, recs, o)
				default:
					for id, a := range recs {
						r.finish(ctx, a, r.cfg.Now(), false)
						r.drop(recs, id)
					}
					return
				}
			}
		}
	}
}

func (r *Recorder) handle(ctx context.Context, recs map[string]*active, o op) {
	switch o.kind {
	case opStart:
		if a := recs[o.liveInput]; a != nil { // the end was lost
			r.finish(ctx, a, o.at, true)
			r.drop(recs, o.liveInput)
		}
		if a := r.begin(ctx, o); a != nil {
			recs[o.liveInput] = a
			r.live.Store(a.video.ID, true)
			r.active.Add(1)
		}
	case opSegment:
		if a := recs[o.liveInput]; a != nil {
			r.write(ctx, a, o.seg)
		}
	case opEnd:
		if a := recs[o.liveInput]; a != nil {
			r.finish(ctx, a, o.at, true)
			r.drop(recs, o.liveInput)
		}
	}
}

// renew extends the leases of the worker's recordings. A recording whose
// lease another node took over (this node was cut off from the store past
// its lease and recovered) is dropped: it belongs to that node now.
func (r *Recorder) renew(ctx context.Context, recs map[string]*active) {
	if len(recs) == 0 {
		return
	}
	ids := make([]string, 0, len(recs))
	for _, a := range recs {
		ids = append(ids, a.video.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Lease)
	defer cancel()
	kept, err := r.cfg.Videos.RenewLeases(ctx, r.cfg.NodeID, ids, r.cfg.Now().Add(r.cfg.Lease))
	if err != nil {
		r.log.Warn("cannot renew the leases of recordings", "node", r.cfg.NodeID, "recordings", len(ids), "error", err)
		return
	}
	ok := make(map[string]bool, len(kept))
	for _, id := range kept {
		ok[id] = true
	}
	for li, a := range recs {
		if !ok[a.video.ID] {
			r.log.Error("recording lost: its lease was taken over by another node's recovery", "live_input", li, "video", a.video.ID, "node", r.cfg.NodeID)
			r.lost.Add(1)
			r.drop(recs, li)
		}
	}
}

// drop forgets the recording of live input li.
func (r *Recorder) drop(recs map[string]*active, li string) {
	if a := recs[li]; a != nil {
		r.live.Delete(a.video.ID)
		delete(recs, li)
		r.active.Add(-1)
	}
}

// begin creates the video of a broadcast when its live input records.
func (r *Recorder) begin(ctx context.Context, o op) *active {
	log := r.log.With("live_input", o.liveInput)
	li, err := r.cfg.LiveInputs.Get(ctx, o.liveInput)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			log.Error("cannot read recording settings", "error", err)
		}
		return nil
	}
	setting := li.Recording
	if o.setting != nil {
		setting = *o.setting
	}
	if setting.Mode != store.RecordingAutomatic {
		return nil
	}
	now := o.at.UTC().Truncate(time.Microsecond)
	tracks := o.tracks
	if tracks == nil {
		tracks = []store.VideoTrack{}
	}
	v := &store.Video{
		ID: NewVideoID(now), LiveInputID: li.ID, Status: store.VideoLiveRecording,
		CreatedAt: now, StartedAt: now, UpdatedAt: now, Tracks: tracks, Meta: map[string]any{},
		RequireSignedURLs: li.RequireSignedURLs, AllowedOrigins: append([]string{}, li.AllowedOrigins...),
		DownloadStatus: store.DownloadNone,
		NodeID:         r.cfg.NodeID, LeaseExpires: now.Add(r.cfg.Lease), TargetDuration: r.cfg.TargetDuration,
	}
	if setting.DeleteAfterDays > 0 {
		d := now.Add(time.Duration(setting.DeleteAfterDays) * 24 * time.Hour)
		v.ScheduledDeletion = &d
	}
	var ev events.Event
	if err := r.cfg.Videos.CreateEmitting(ctx, v, r.videoEvent(events.RecordingStarted, &ev)); err != nil {
		log.Error("cannot create the video of a broadcast", "error", err)
		return nil
	}
	log.Info("recording started", "video", v.ID)
	r.cfg.Bus.Publish(ev)
	return &active{video: v, initID: -1}
}

// SegmentKey and InitKey are the blob keys of a video's files.
func SegmentKey(videoID string, seq int64) string {
	return Prefix(videoID) + "seg" + strconv.FormatInt(seq, 10) + ".m4s"
}

// InitKey is the blob key of a video's init segment number n.
func InitKey(videoID string, n int64) string {
	return Prefix(videoID) + "init" + strconv.FormatInt(n, 10) + ".mp4"
}

// Prefix is the blob key prefix of every file of a video.
func Prefix(videoID string) string { return "videos/" + videoID + "/" }

// write stores one segment: the init segment first when it changed, then
// the segment's blob, then its index row.
func (r *Recorder) write(ctx context.Context, a *active, seg hls.SegmentInfo) {
	log := r.log.With("live_input", a.video.LiveInputID, "video", a.video.ID)
	if seg.Duration <= 0 || len(seg.Parts) == 0 {
		return
	}
	disc := seg.Discontinuity || a.gap || (a.haveMSN && seg.MSN != a.lastMSN+1) // a jump: a segment was dropped
	a.lastMSN, a.haveMSN = seg.MSN, true
	if seg.InitID != a.initID {
		key := InitKey(a.video.ID, a.seq)
		if err := blob.PutBytes(ctx, r.cfg.Blobs, key, seg.Init); err != nil {
			r.werrs.Add(1)
			a.gap = true
			log.Error("cannot store an init segment", "error", err)
			return
		}
		if a.initID >= 0 {
			disc = true
		}
		a.initID, a.initKey = seg.InitID, key
	}
	size := 0
	parts := make([]io.Reader, 0, len(seg.Parts))
	for _, p := range seg.Parts {
		size += len(p)
		parts = append(parts, bytes.NewReader(p)) // no copy: the parts are the packager's (read-only)
	}
	key := SegmentKey(a.video.ID, a.seq)
	if err := r.cfg.Blobs.Put(ctx, key, io.MultiReader(parts...), int64(size)); err != nil {
		r.werrs.Add(1)
		a.gap = true
		log.Error("cannot store a segment", "error", err)
		return
	}
	row := &store.VideoSegment{VideoID: a.video.ID, Seq: a.seq, Duration: seg.Duration, ProgramDateTime: seg.ProgramDateTime,
		Discontinuity: disc && a.seq > 0, InitKey: a.initKey, Key: key, Size: int64(size), Parts: partLayout(seg)}
	if err := r.cfg.Videos.AddSegment(ctx, row); err != nil {
		r.werrs.Add(1)
		a.gap = true
		_ = r.cfg.Blobs.Delete(ctx, key)
		log.Error("cannot index a segment", "error", err)
		return
	}
	a.seq++
	a.gap = false
	a.video.Duration += seg.Duration
	a.video.SizeBytes += int64(size)
	r.written.Add(1)
	r.bytes.Add(uint64(size))
}

// partLayout is the part layout of seg: the byte range of each part in the
// segment's blob, its duration and whether it starts on a key frame; nil
// when the packager did not describe its parts.
func partLayout(seg hls.SegmentInfo) []store.SegmentPart {
	if len(seg.PartInfo) != len(seg.Parts) {
		return nil
	}
	out := make([]store.SegmentPart, len(seg.Parts))
	off := int64(0)
	for i, p := range seg.Parts {
		out[i] = store.SegmentPart{Offset: off, Size: int64(len(p)), Duration: seg.PartInfo[i].Duration, Independent: seg.PartInfo[i].Independent}
		off += int64(len(p))
	}
	return out
}

// finish makes a recording ready (or errored when nothing was recorded).
func (r *Recorder) finish(ctx context.Context, a *active, at time.Time, thumbnail bool) {
	v, err := r.cfg.Videos.Get(ctx, a.video.ID)
	if err != nil {
		r.log.Error("cannot finish a recording", "video", a.video.ID, "error", err)
		return
	}
	if v.NodeID != r.cfg.NodeID || v.Status != store.VideoLiveRecording {
		r.log.Error("recording lost: another node's recovery finished it", "video", v.ID, "owner", v.NodeID, "status", v.Status)
		r.lost.Add(1)
		return
	}
	r.finalize(ctx, v, at, false)
	if thumbnail && v.Status == store.VideoReady && r.cfg.FFmpeg != "" {
		r.background(func(ctx context.Context) {
			if _, err := r.Thumbnail(ctx, v.ID, -1, 0); err != nil && !errors.Is(err, ErrNotFound) {
				r.log.Warn("cannot make a thumbnail", "video", v.ID, "error", err)
			}
		})
	}
}

// finalize moves v (re-read from the store) out of live_recording and
// publishes video.ready or video.errored.
func (r *Recorder) finalize(ctx context.Context, v *store.Video, at time.Time, recovered bool) {
	now := r.cfg.Now().UTC().Truncate(time.Microsecond)
	ended := at.UTC().Truncate(time.Microsecond)
	if recovered {
		ended = v.StartedAt.Add(v.Duration)
	}
	v.EndedAt, v.UpdatedAt, v.Recovered = &ended, now, recovered
	if v.Segments == 0 {
		v.Status, v.ErrorCode, v.ErrorMessage = store.VideoErrored, "no_media", "the broadcast ended before a complete segment was recorded"
	} else {
		v.Status = store.VideoReady
		if secs := v.Duration.Seconds(); secs > 0 {
			for i := range v.Tracks {
				if v.Tracks[i].Kind == "video" {
					v.Tracks[i].BitrateBPS = int64(float64(v.SizeBytes*8) / secs)
				}
			}
		}
	}
	end := store.VideoEnd{Status: v.Status, ErrorCode: v.ErrorCode, ErrorMessage: v.ErrorMessage, Recovered: recovered,
		EndedAt: ended, Tracks: v.Tracks, UpdatedAt: now}
	t := events.VideoReady
	if v.Status != store.VideoReady {
		t = events.VideoErrored
	}
	var ev events.Event
	// only these columns: a PATCH meanwhile stays, and the event shows it
	if err := r.cfg.Videos.FinishEmitting(ctx, v.ID, r.cfg.NodeID, end, r.videoEvent(t, &ev)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			r.lost.Add(1)
		}
		r.log.Error("cannot finish a recording", "video", v.ID, "error", err)
		return
	}
	r.log.Info("recording finished", "video", v.ID, "live_input", v.LiveInputID, "status", v.Status,
		"duration", v.Duration, "segments", v.Segments, "bytes", v.SizeBytes, "recovered", recovered)
	r.cfg.Bus.Publish(ev)
}

// Recover finalizes the videos left live_recording or processing by a
// daemon that stopped without ending them (SIGKILL, power loss): those of
// this node's previous incarnation, and those of any node whose lease has
// run out. Each becomes ready with the segments already indexed (each was
// stored whole before it was indexed), and video.ready says recovered. Run
// calls it before any new recording starts.
func (r *Recorder) Recover(ctx context.Context) error {
	return r.recoverUnfinished(ctx, true)
}

// recoverUnfinished recovers the unfinished videos this node may take
// (own: also its own, whatever their lease), claiming each first.
func (r *Recorder) recoverUnfinished(ctx context.Context, own bool) error {
	after := ""
	for {
		now := r.cfg.Now()
		vs, err := r.cfg.Videos.Unfinished(ctx, r.cfg.NodeID, own, now, after, 100)
		if err != nil {
			return fmt.Errorf("list unfinished videos: %w", err)
		}
		for _, v := range vs {
			if _, recording := r.live.Load(v.ID); recording {
				continue // a worker of ours records it (and renews its lease)
			}
			ok, err := r.cfg.Videos.ClaimRecording(ctx, v.ID, r.cfg.NodeID, own, now, now.Add(r.cfg.Lease))
			if err != nil {
				return fmt.Errorf("claim video %s: %w", v.ID, err)
			}
			if !ok {
				continue // another node recovers it, or its owner renewed the lease
			}
			r.log.Info("recovering an interrupted recording", "video", v.ID, "live_input", v.LiveInputID,
				"owner", v.NodeID, "lease_expired", v.LeaseExpires)
			cur, err := r.cfg.Videos.Get(ctx, v.ID)
			if err != nil {
				return fmt.Errorf("recover video %s: %w", v.ID, err)
			}
			r.finalize(ctx, cur, time.Time{}, true)
			r.recovered.Add(1)
		}
		if len(vs) < 100 {
			return nil
		}
		after = vs[len(vs)-1].ID
	}
}

// recoverer recovers, every interval until Stop, the recordings of other
// nodes whose lease ran out (a node of several crashed).
func (r *Recorder) recoverer(interval time.Duration) {
	r.background(func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := r.recoverUnfinished(ctx, false); err != nil && ctx.Err() == nil {
				r.log.Warn("recovering recordings of other nodes", "error", err)
			}
		}
	})
}

// videoEvent returns the VideoEventFunc of a video change: an event of
// type t about the video's live input (so that it is delivered in order
// with the live input's events), whose data is Config.Render of the row
// as the change's transaction sees it, kept in *ev to be published once
// the change committed.
func (r *Recorder) videoEvent(t events.Type, ev *events.Event) store.VideoEventFunc {
	return func(v *store.Video) ([]*store.WebhookEvent, error) {
		*ev = events.New(t, v.LiveInputID, r.cfg.Render(v))
		return webhook.ToOutbox(*ev)
	}
}

// Summary is the data of the recorder's events without Config.Render.
func Summary(v *store.Video) EventData {
	return EventData{VideoID: v.ID, Status: v.Status, DurationSeconds: v.Duration.Seconds(), Recovered: v.Recovered, ErrorCode: v.ErrorCode}
}

// background runs f in a goroutine the recorder owns; f's context ends at
// Stop.
func (r *Recorder) background(f func(ctx context.Context)) {
	select {
	case <-r.quit:
		return
	default:
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f(r.ctx)
	}()
}

// crockford is Crockford's base32 alphabet in lower case.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewVideoID returns "vid_" + 26 characters (the rule of package ids:
// milliseconds then random bits, so ids sort by creation time).
func NewVideoID(now time.Time) string { return ids.New("vid", now) }

// EventPayload implements events.Payload.
func (EventData) EventPayload() {}
