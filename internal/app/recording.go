package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/api"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/pipeline"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/web"
)

// recording is the recording feature (issue 8): the recorder, the blob
// store it writes to, and the subscription that tells it when broadcasts
// end (live_input.idle is published after the packager delivered the
// broadcast's last segment).
type recording struct {
	rec   *record.Recorder
	bus   *events.Bus
	sub   *events.Subscription
	once  sync.Once
	blobs blob.Store
}

// openBlobs opens the blob store of storage.kind: data_dir/blobs (local,
// the default) or an S3-compatible bucket.
func (a *App) openBlobs(ctx context.Context) (blob.Store, error) {
	switch a.cfg.Storage.Kind {
	case "", "local":
		return blob.NewLocal(filepath.Join(a.cfg.DataDir, "blobs"))
	case "s3":
		s3 := a.cfg.Storage.S3
		ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		return blob.NewS3(ctx, blob.S3Config{Endpoint: s3.Endpoint, Bucket: s3.Bucket, Region: s3.Region,
			AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, UseTLS: s3.UseTLS, CreateBucket: true})
	}
	return nil, fmt.Errorf("storage.kind: unknown kind %q (local or s3)", a.cfg.Storage.Kind)
}

// initRecording builds recording and the videos API (issue 8).
func (a *App) initRecording(st store.Store, bus *events.Bus) (api.VideosDeps, error) {
	blobs, err := a.openBlobs(context.Background())
	if err != nil {
		return api.VideosDeps{}, fmt.Errorf("storage: %w", err)
	}
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		a.log.Warn("ffmpeg not found: video thumbnails and MP4 downloads are off")
		ff = ""
	}
	node, err := nodeID(a.cfg.Recording.NodeID, a.cfg.DataDir)
	if err != nil {
		return api.VideosDeps{}, fmt.Errorf("recording.node_id: %w", err)
	}
	rec, err := record.New(record.Config{
		// the recorder writes its events to the webhook outbox in the
		// transactions of its video changes, then publishes them on the bus
		Videos: st.Videos(), LiveInputs: st.LiveInputs(), Blobs: blobs, Bus: bus, Render: a.videoData,
		Logger: a.log.With("component", "recorder"), ThumbnailTimePct: a.cfg.Recording.ThumbnailTimePct, FFmpeg: ff, Capacity: a.ffm,
		NodeID: node, Lease: a.cfg.Recording.Lease.D(), Heartbeat: a.cfg.Recording.Heartbeat.D(),
		// the live packager's EXT-X-TARGETDURATION, which no segment exceeds
		TargetDuration: max(a.cfg.HLS.MaxSegmentDuration.D(), a.cfg.HLS.SegmentDuration.D()),
	})
	if err != nil {
		return api.VideosDeps{}, err
	}
	a.recordingMetrics(rec)
	a.rec = &recording{rec: rec, bus: bus, blobs: blobs,
		sub: bus.Subscribe(events.SubscribeOptions{Match: events.Filter([]events.Type{events.LiveInputIdle}, ""), Queue: 4096})}
	return api.VideosDeps{Videos: videoService{rec}}, nil
}

// videoData is the data of the recorder's events: the API's video object
// (api.Server.VideoData). The API is built after the recorder, and before
// the recorder runs (Run, in startFeatures), so every event gets it.
func (a *App) videoData(v *store.Video) any {
	if a.control == nil || a.control.api == nil {
		return record.Summary(v)
	}
	return a.control.api.VideoData(v)
}

// recordingMetrics exports the recorder's counters on the metrics registry.
func (a *App) recordingMetrics(rec *record.Recorder) {
	if a.metrics == nil {
		return
	}
	counter := func(name, help string, v func(record.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(rec.Stats())) })
	}
	for _, c := range []prometheus.Collector{
		counter("mpegflow_recording_segments_total", "CMAF segments recorded to blob storage and indexed.",
			func(s record.Stats) uint64 { return s.SegmentsWritten }),
		counter("mpegflow_recording_bytes_total", "Bytes of segments recorded.",
			func(s record.Stats) uint64 { return s.BytesWritten }),
		counter("mpegflow_recording_segments_dropped_total", "Segments not recorded because the recorder's queue was full (storage too slow).",
			func(s record.Stats) uint64 { return s.SegmentsDropped }),
		counter("mpegflow_recording_write_errors_total", "Segments or init segments that could not be stored or indexed.",
			func(s record.Stats) uint64 { return s.WriteErrors }),
		counter("mpegflow_recording_recovered_total", "Interrupted recordings this node recovered (its own after a restart, or those of a node whose lease ran out).",
			func(s record.Stats) uint64 { return s.Recovered }),
		counter("mpegflow_recording_leases_lost_total", "Recordings another node's recovery took from this node (it was cut off from the database past its lease).",
			func(s record.Stats) uint64 { return s.LeasesLost }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mpegflow_recordings_active", Help: "Recordings in progress on this node."},
			func() float64 { return float64(rec.Stats().Active) }),
	} {
		if err := a.metrics.Registry.Register(c); err != nil {
			a.log.Warn("cannot export a recording metric", "error", err)
		}
	}
}

// videoService adapts the recorder to api.VideoService: the recorder's
// errors become the ones the API maps to HTTP statuses.
type videoService struct{ rec *record.Recorder }

var _ api.VideoService = videoService{}

func (v videoService) Delete(ctx context.Context, id string) error {
	return apiVideoErr(v.rec.Delete(ctx, id))
}

func (v videoService) RequestDownload(ctx context.Context, id string) (*store.Video, error) {
	vid, err := v.rec.RequestDownload(ctx, id)
	return vid, apiVideoErr(err)
}

func (v videoService) Clip(ctx context.Context, id string, start, end time.Duration, name string) (*store.Video, api.ClipRange, error) {
	c, cr, err := v.rec.Clip(ctx, id, start, end, name)
	return c, api.ClipRange{RequestedStart: cr.RequestedStart, RequestedEnd: cr.RequestedEnd, Start: cr.Start, End: cr.End,
		PartBoundaries: cr.PartBoundaries, StartMoved: cr.StartMoved}, apiVideoErr(err)
}

func apiVideoErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, record.ErrNotFound):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case errors.Is(err, record.ErrRecording):
		return fmt.Errorf("%w: %w", api.ErrVideoRecording, err)
	case errors.Is(err, record.ErrNotReady):
		return fmt.Errorf("%w: %w", api.ErrVideoNotReady, err)
	case errors.Is(err, record.ErrOutOfRange):
		return fmt.Errorf("%w: %w", api.ErrVideoRange, err)
	case errors.Is(err, record.ErrNoFFmpeg):
		return fmt.Errorf("%w: %w", api.ErrVideoUnavailable, err)
	}
	return err
}

// onSegment receives every completed HLS segment of every live stream
// (hls.Hooks.OnSegmentComplete); it never blocks: the recorder's bounded
// queue takes it or drops it.
func (a *App) onSegment(liveInput string, seg hls.SegmentInfo) {
	if a.rec != nil {
		a.rec.rec.Segment(liveInput, seg)
	}
}

// recordingSinks tells the recorder a broadcast started; the recorder takes
// its segments from the packager (onSegment), so it adds no sink. A stream
// without a passthrough source rendition (VP8/VP9 video, only transcoded)
// records its top transcoded rung instead, described as that rung.
func (a *App) recordingSinks(s *stream.Stream) []pipeline.Sink {
	if a.rec == nil {
		return nil
	}
	tracks := videoTracks(s.Tracks())
	name, vt, ok := a.topRendition(s)
	if !ok {
		a.rec.rec.Start(s.ID(), tracks)
		return nil
	}
	for i := range tracks {
		if tracks[i].Kind == "video" {
			tracks[i] = vt
		} else {
			tracks[i].Codec = "aac" // the rungs' audio: AAC copied or from Opus
		}
	}
	a.rec.rec.StartRendition(s.ID(), tracks, name)
	return nil
}

// videoTracks describes a stream's tracks for its video; the resolution is
// read from the H.264/H.265 SPS (ITU-T H.264 §7.3.2.1.1, H.265 §7.3.2.2).
func videoTracks(ts []stream.Track) []store.VideoTrack {
	out := make([]store.VideoTrack, 0, len(ts))
	for _, t := range ts {
		vt := store.VideoTrack{Kind: "audio", Codec: t.Codec.Name()}
		if t.Kind() == stream.KindVideo {
			vt.Kind = "video"
		}
		switch c := t.Codec.(type) {
		case stream.H264:
			var sps h264.SPS
			if sps.Unmarshal(c.SPS) == nil {
				vt.Width, vt.Height = sps.Width(), sps.Height()
			}
		case stream.H265:
			var sps h265.SPS
			if sps.Unmarshal(c.SPS) == nil {
				vt.Width, vt.Height = sps.Width(), sps.Height()
			}
		case stream.VP8:
			vt.Width, vt.Height = c.Width, c.Height
		case stream.VP9:
			vt.Width, vt.Height = c.Width, c.Height
		}
		out = append(out, vt)
	}
	return out
}

// startRecording recovers the recordings a crash interrupted, then runs the
// recorder and feeds it the ends of broadcasts until the bus closes (after
// every stream ended at shutdown); then the recorder finishes what is queued.
func (a *App) startRecording(ctx context.Context, wg *sync.WaitGroup) {
	if a.rec == nil {
		return
	}
	rc := a.rec
	rc.rec.Run(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer rc.rec.Stop()
		sub := rc.sub
		for {
			select {
			case e := <-sub.C():
				rc.rec.End(e.LiveInputID)
			case <-sub.Done():
				for drained := false; !drained; {
					select {
					case e := <-sub.C():
						rc.rec.End(e.LiveInputID)
					default:
						drained = true
					}
				}
				if !errors.Is(sub.Err(), events.ErrSlow) {
					return // the bus closed: shutdown
				}
				a.log.Warn("recorder fell behind the event bus; resubscribing")
				sub = rc.bus.Subscribe(events.SubscribeOptions{Match: events.Filter([]events.Type{events.LiveInputIdle}, ""), Queue: 4096})
				rc.sub = sub
			}
		}
	}()
}

// drainRecording finishes every recording: the broadcast ends already
// published (every stream has ended when Run calls it, after hub.Close)
// reach the recorder, which then writes what is queued and makes the
// recordings ready, before the store closes. Idempotent.
func (a *App) drainRecording() {
	if a.rec == nil {
		return
	}
	a.rec.once.Do(func() {
		sub := a.rec.sub
		sub.Close()
		for drained := false; !drained; {
			select {
			case e := <-sub.C():
				a.rec.rec.End(e.LiveInputID)
			default:
				drained = true
			}
		}
		a.rec.rec.Stop()
	})
}

func (a *App) closeRecording() { a.drainRecording() }

// recordingRoutes registers the playback of recordings on the HTTP
// listener:
//
//	GET /videos/{id}/                 the player page
//	GET /videos/{id}/index.m3u8       HLS playlist: VOD when ready, EVENT while recording (DVR)
//	GET /videos/{id}/initN.mp4        init segments (ISO/IEC 14496-12 ftyp+moov)
//	GET /videos/{id}/segN.m4s         media segments (moof+mdat)
//	GET /videos/{id}/thumbnail.jpg    JPEG; ?time=SECONDS&width=PIXELS (cached)
//	GET /videos/{id}/download.mp4     progressive MP4 (built on first request), byte ranges
//
// {id} may be a playback token in place of the id, and any request may
// carry one as ?token= (checkVideo: required when the video has
// require_signed_urls); the playlist carries ?token= onto its URIs.
func (a *App) recordingRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /videos/{id}", func(w http.ResponseWriter, r *http.Request) {
		u := "/videos/" + r.PathValue("id") + "/"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery // a playback token stays on
		}
		http.Redirect(w, r, u, http.StatusMovedPermanently)
	})
	mux.Handle("/videos/{id}/{rest...}", a.cors(http.HandlerFunc(a.serveVideo)))
}

func (a *App) serveVideo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if a.rec == nil {
		http.NotFound(w, r)
		return
	}
	id, ok := a.checkVideo(w, r, r.PathValue("id"))
	if !ok {
		return
	}
	if blob.CheckKey(record.Prefix(id)+"x") != nil {
		http.NotFound(w, r)
		return
	}
	rec := a.rec.rec
	ctx := r.Context()
	h := w.Header()
	switch rest := r.PathValue("rest"); rest {
	case "":
		if _, err := rec.Video(ctx, id); err != nil {
			a.videoError(w, r, err)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(web.PlayerPage(a.cfg.HTTP.HLSJSURL))
	case "index.m3u8":
		b, final, err := rec.Playlist(ctx, id)
		if err != nil {
			a.videoError(w, r, err)
			return
		}
		// ?token= (and any other parameter) goes onto every URI, as live
		b = hls.CarryQuery(b, r.URL.RawQuery)
		h.Set("Content-Type", "application/vnd.apple.mpegurl")
		if final {
			h.Set("Cache-Control", playback.CacheControl(h, "max-age=60"))
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		_, _ = w.Write(b)
	case "thumbnail.jpg":
		tq, err := record.ParseThumbnailQuery(r.URL.Query())
		if err != nil {
			a.videoError(w, r, err)
			return
		}
		key, err := rec.Thumbnail(ctx, id, tq.At, tq.Width)
		if err != nil {
			a.videoError(w, r, err)
			return
		}
		a.serveBlob(w, r, id, path.Base(key), "image/jpeg", "max-age=3600")
	case "download.mp4":
		if _, err := rec.MP4(ctx, id); err != nil {
			a.videoError(w, r, err)
			return
		}
		h.Set("Content-Disposition", `attachment; filename="`+id+`.mp4"`)
		a.serveBlob(w, r, id, rest, "video/mp4", "max-age=3600")
	default:
		ct := "video/mp4"
		if path.Ext(rest) == ".m4s" {
			ct = "video/iso.segment"
		}
		a.serveBlob(w, r, id, rest, ct, "public, max-age=31536000, immutable")
	}
}

// serveBlob serves a file of a video with byte ranges (RFC 9110 §14).
func (a *App) serveBlob(w http.ResponseWriter, r *http.Request, id, name, contentType, cache string) {
	var o blob.Object
	var err error
	if path.Base(name) != name || len(name) > 64 {
		err = record.ErrNotFound
	} else if o, err = a.rec.rec.Open(r.Context(), id, name); err == nil {
		defer o.Close()
	}
	if err != nil {
		// thumbnails with a time or width are not among the names Open serves
		if o2, err2 := a.openThumb(r, id, name); err2 == nil {
			o, err = o2, nil
			defer o.Close()
		}
	}
	if err != nil {
		a.videoError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", playback.CacheControl(h, cache))
	http.ServeContent(w, r, "", o.Info().ModTime, o)
}

func (a *App) openThumb(r *http.Request, id, name string) (blob.Object, error) {
	if path.Ext(name) != ".jpg" {
		return nil, record.ErrNotFound
	}
	return a.rec.blobs.Open(r.Context(), record.Prefix(id)+name)
}

// videoError answers a recorder error with its HTTP status.
func (a *App) videoError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, record.ErrNotFound), errors.Is(err, record.ErrEmpty):
		http.NotFound(w, r)
	case errors.Is(err, record.ErrRecording), errors.Is(err, record.ErrNotReady):
		http.Error(w, "the video is not ready: "+err.Error(), http.StatusConflict)
	case errors.Is(err, record.ErrOutOfRange):
		http.Error(w, "time is past the end of the video", http.StatusBadRequest)
	case errors.Is(err, record.ErrBadQuery):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case errors.Is(err, record.ErrBusy):
		w.Header().Set("Retry-After", strconv.Itoa(int(record.BusyRetryAfter/time.Second)))
		http.Error(w, "the server is busy making other thumbnails, retry later", http.StatusServiceUnavailable)
	case errors.Is(err, record.ErrNoFFmpeg):
		http.Error(w, "ffmpeg is not installed on the server", http.StatusServiceUnavailable)
	case errors.Is(err, context.Canceled):
	default:
		a.log.Error("serving a video", "path", r.URL.Path, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}
