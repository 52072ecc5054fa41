package record

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/blob"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/store"
)

// ErrRecording: the video is still being recorded.
var ErrRecording = errors.New("record: video is still recording")

// fileRe matches the names a video's directory serves.
// A video made with a ladder keeps each rendition's files in a directory
// of its own (RenditionKey), its media playlist included.
var fileRe = regexp.MustCompile(`^(init[0-9]{1,19}\.mp4|seg[0-9]{1,19}\.m4s|thumbnail\.jpg|download\.mp4|` +
	`[A-Za-z0-9_-]{1,32}/(init[0-9]{1,19}\.mp4|seg[0-9]{1,19}\.m4s|index\.m3u8))$`)

// PlaylistName is the name of a video's playlist, and of each rendition's
// media playlist in the rendition's directory.
const PlaylistName = "index.m3u8"

// maxStoredPlaylist bounds a stored playlist read back (a week of 4 s
// segments is about 6 MB).
const maxStoredPlaylist = 16 << 20

// RenditionKey is the blob key of file name (initN.mp4, segN.m4s,
// PlaylistName) of rendition of a video made with a ladder: its files sit
// in a directory named after the rendition, next to the video's files;
// the video's own PlaylistName there is the multivariant playlist
// listing rendition/PlaylistName (RFC 8216bis §4.4.6).
func RenditionKey(videoID, rendition, name string) string {
	return Prefix(videoID) + rendition + "/" + name
}

// Video returns the video id, or ErrNotFound.
func (r *Recorder) Video(ctx context.Context, id string) (*store.Video, error) {
	v, err := r.cfg.Videos.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return v, err
}

// Playlist returns the playlist of video id and whether it is final: the
// multivariant playlist of a video made from a file with a ladder (stored
// when it was made), else the media playlist of its index.
// A ready video gets a VOD playlist (RFC 8216bis §4.4.3.5
// EXT-X-PLAYLIST-TYPE:VOD, §4.4.3.4 EXT-X-ENDLIST); a video still recording
// an EVENT playlist without ENDLIST (§4.4.3.5: segments are only appended),
// so a viewer can seek back to the start of a live broadcast (DVR). URIs are
// relative: segN.m4s and initN.mp4 in the same directory.
func (r *Recorder) Playlist(ctx context.Context, id string) ([]byte, bool, error) {
	v, err := r.Video(ctx, id)
	if err != nil {
		return nil, false, err
	}
	if v.LiveInputID == "" && v.Status == store.VideoReady { // from a file: perhaps a ladder
		b, err := r.storedPlaylist(ctx, Prefix(id)+PlaylistName)
		if err == nil {
			return b, true, nil
		}
		if !errors.Is(err, blob.ErrNotFound) {
			return nil, false, err
		}
	}
	segs, err := r.cfg.Videos.Segments(ctx, id, 0, 0)
	if err != nil {
		return nil, false, err
	}
	if len(segs) == 0 {
		return nil, false, ErrEmpty
	}
	b, err := hls.VODPlaylist(playlistSegments(segs))
	if err != nil {
		return nil, false, err
	}
	b = fixTargetDuration(b, v.TargetDuration)
	if v.Status == store.VideoLiveRecording || v.Status == store.VideoProcessing {
		b = bytes.Replace(b, []byte("#EXT-X-PLAYLIST-TYPE:VOD\n"), []byte("#EXT-X-PLAYLIST-TYPE:EVENT\n"), 1)
		b = bytes.TrimSuffix(b, []byte("#EXT-X-ENDLIST\n"))
		return b, false, nil
	}
	return b, true, nil
}

// RenditionPlaylist returns the media playlist of one rendition of a
// video made with a ladder (rendition/PlaylistName); ErrNotFound when
// there is none.
func (r *Recorder) RenditionPlaylist(ctx context.Context, id, rendition string) ([]byte, error) {
	name := rendition + "/" + PlaylistName
	if !fileRe.MatchString(name) || blob.CheckKey(Prefix(id)+name) != nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, id, name)
	}
	if _, err := r.Video(ctx, id); err != nil {
		return nil, err
	}
	b, err := r.storedPlaylist(ctx, Prefix(id)+name)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, id, name)
	}
	return b, err
}

// storedPlaylist reads the playlist stored under key.
func (r *Recorder) storedPlaylist(ctx context.Context, key string) ([]byte, error) {
	o, err := r.cfg.Blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	b, err := io.ReadAll(io.LimitReader(o, maxStoredPlaylist+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxStoredPlaylist {
		return nil, fmt.Errorf("record: playlist %s larger than %d bytes", key, maxStoredPlaylist)
	}
	return b, nil
}

// targetDurationTag is the EXT-X-TARGETDURATION line hls.VODPlaylist writes.
var targetDurationTag = regexp.MustCompile(`(?m)^#EXT-X-TARGETDURATION:([0-9]+)$`)

// fixTargetDuration sets the EXT-X-TARGETDURATION of playlist b to the
// video's, fixed when its recording started, unless a segment is longer
// (which the live packager does not produce): hls.VODPlaylist derives it
// from the longest segment so far, which grows with an EVENT playlist,
// and RFC 8216bis §4.4.3.1 and §6.2.1 forbid changing it in a playlist
// that is being appended to. The VOD playlist of a finished recording
// keeps the value too: it is the same playlist plus EXT-X-ENDLIST.
func fixTargetDuration(b []byte, td time.Duration) []byte {
	secs := int64(math.Ceil(td.Seconds()))
	if secs <= 0 {
		return b
	}
	m := targetDurationTag.FindSubmatchIndex(b)
	if m == nil {
		return b
	}
	cur, err := strconv.ParseInt(string(b[m[2]:m[3]]), 10, 64)
	if err != nil || cur >= secs {
		return b
	}
	out := make([]byte, 0, len(b)+4)
	out = append(out, b[:m[2]]...)
	out = strconv.AppendInt(out, secs, 10)
	return append(out, b[m[3]:]...)
}

// playlistSegments names the segments as the video's directory serves
// them: segN.m4s by index position, and initN.mp4 by the position of the
// first segment needing it, so that a clip's shared files are reached
// under its own path too (Open resolves them through the index).
func playlistSegments(segs []*store.VideoSegment) []hls.VODSegment {
	out := make([]hls.VODSegment, 0, len(segs))
	initURI, prevInit := "", ""
	for _, s := range segs {
		if s.InitKey != prevInit {
			initURI, prevInit = "init"+strconv.FormatInt(s.Seq, 10)+".mp4", s.InitKey
		}
		vs := hls.VODSegment{URI: "seg" + strconv.FormatInt(s.Seq, 10) + ".m4s", InitURI: initURI, Duration: s.Duration,
			Discontinuity: s.Discontinuity, ProgramDateTime: s.ProgramDateTime, Dependent: dependent(s)}
		if s.Ranged { // a clip cut inside the segment: a byte range of its source's file
			vs.ByteRangeLength, vs.ByteRangeOffset = s.Size, s.Offset
		}
		out = append(out, vs)
	}
	return out
}

// dependent reports whether a recorded segment does not start with a key
// frame: the live packager cuts a GOP longer than its target duration
// allows without one (its part layout says so).
func dependent(s *store.VideoSegment) bool {
	return len(s.Parts) > 0 && !s.Parts[0].Independent
}

// copySegment writes the bytes of segment s to w: its blob, or the byte
// range of it the segment is (a clip's cut segment).
func (r *Recorder) copySegment(ctx context.Context, s *store.VideoSegment, w io.Writer) error {
	var rc io.ReadCloser
	var err error
	if s.Ranged {
		rc, err = blob.OpenRange(ctx, r.cfg.Blobs, s.Key, s.Offset, s.Size)
	} else {
		rc, err = r.cfg.Blobs.Open(ctx, s.Key)
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// writeSegmentFile writes segment s to the file p.
func (r *Recorder) writeSegmentFile(ctx context.Context, s *store.VideoSegment, p string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := r.copySegment(ctx, s, f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// Open opens file name (initN.mp4, segN.m4s, thumbnail.jpg, download.mp4)
// of video id; ErrNotFound when there is no such file. The media files of
// a clip are its source's: they are found through the clip's index.
func (r *Recorder) Open(ctx context.Context, id, name string) (blob.Object, error) {
	if !fileRe.MatchString(name) || blob.CheckKey(Prefix(id)+name) != nil {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, id, name)
	}
	o, err := r.cfg.Blobs.Open(ctx, Prefix(id)+name)
	if errors.Is(err, blob.ErrNotFound) {
		if key := r.sharedKey(ctx, id, name); key != "" {
			o, err = r.cfg.Blobs.Open(ctx, key)
		}
	}
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotFound, id, name)
	}
	return o, err
}

// sharedKey resolves segN.m4s or initN.mp4 of video id through its index
// to a file of another video (a clip's source); "" when there is none.
func (r *Recorder) sharedKey(ctx context.Context, id, name string) string {
	var num string
	isInit := false
	switch {
	case strings.HasPrefix(name, "seg"):
		num = strings.TrimSuffix(strings.TrimPrefix(name, "seg"), ".m4s")
	case strings.HasPrefix(name, "init"):
		num, isInit = strings.TrimSuffix(strings.TrimPrefix(name, "init"), ".mp4"), true
	default:
		return ""
	}
	seq, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return ""
	}
	segs, err := r.cfg.Videos.Segments(ctx, id, seq, 1)
	if err != nil || len(segs) == 0 || segs[0].Seq != seq || segs[0].OwnerID == id {
		return ""
	}
	if isInit {
		return segs[0].InitKey
	}
	return segs[0].Key
}

// Delete deletes video id, its index and its files, and publishes
// video.deleted. ErrRecording while it is being recorded. The segment
// files of a video that clips still play stay until the last clip goes.
func (r *Recorder) Delete(ctx context.Context, id string) error {
	v, err := r.Video(ctx, id)
	if err != nil {
		return err
	}
	if v.Status == store.VideoLiveRecording {
		return ErrRecording
	}
	segs, err := r.cfg.Videos.Segments(ctx, id, 0, 0)
	if err != nil {
		return err
	}
	owners := map[string]bool{id: true}
	for _, s := range segs {
		if s.OwnerID != "" {
			owners[s.OwnerID] = true
		}
	}
	var ev events.Event
	if err := r.cfg.Videos.DeleteEmitting(ctx, id, r.videoEvent(events.VideoDeleted, &ev)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return err
	}
	for owner := range owners {
		if err := r.collect(ctx, owner); err != nil {
			r.log.Warn("deleting the files of a video", "video", owner, "error", err)
		}
	}
	r.log.Info("video deleted", "video", id, "live_input", v.LiveInputID)
	r.cfg.Bus.Publish(ev)
	return nil
}

// segmentFileRe matches the media files of a video (what clips share).
var segmentFileRe = regexp.MustCompile(`/(init|seg)[0-9]+\.(mp4|m4s)$`)

// collect deletes the files of video owner once the video is gone: all of
// them when no clip plays its segments, else only its own derived files
// (thumbnails, MP4).
func (r *Recorder) collect(ctx context.Context, owner string) error {
	if _, err := r.cfg.Videos.Get(ctx, owner); err == nil {
		return nil // still there: its files stay
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	inUse, err := r.cfg.Videos.FilesInUse(ctx, owner)
	if err != nil {
		return err
	}
	if !inUse {
		_, err := blob.DeletePrefix(ctx, r.cfg.Blobs, Prefix(owner))
		return err
	}
	objs, err := r.cfg.Blobs.List(ctx, Prefix(owner))
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !segmentFileRe.MatchString(o.Key) {
			if err := r.cfg.Blobs.Delete(ctx, o.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// clean deletes the videos whose scheduled deletion has come (retention).
func (r *Recorder) clean(ctx context.Context) {
	vs, err := r.cfg.Videos.DueForDeletion(ctx, r.cfg.Now(), 100)
	if err != nil {
		r.log.Warn("listing videos due for deletion", "error", err)
		return
	}
	for _, v := range vs {
		if err := r.Delete(ctx, v.ID); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrRecording) {
			r.log.Warn("retention: cannot delete a video", "video", v.ID, "error", err)
		}
	}
}

// cleaner runs clean every interval until Stop.
func (r *Recorder) cleaner(interval time.Duration) {
	r.background(func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			r.clean(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
}

// flight deduplicates concurrent builds of one file.
type flight struct {
	done chan struct{}
	key  string
	err  error
}

func (r *Recorder) once(ctx context.Context, name string, build func(ctx context.Context) (string, error)) (string, error) {
	f := &flight{done: make(chan struct{})}
	if old, loaded := r.flight.LoadOrStore(name, f); loaded {
		f = old.(*flight)
		select {
		case <-f.done:
			return f.key, f.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	defer func() {
		r.flight.Delete(name)
		close(f.done)
	}()
	f.key, f.err = build(ctx)
	return f.key, f.err
}

// jobStall: an on-demand ffmpeg job whose -progress reports stop moving
// for this long is stuck; the watchdog kills it.
const jobStall = 30 * time.Second

// ffmpeg runs ffmpeg with args to its end under the stall watchdog; its
// stderr goes to log, its last lines into the error. The caller holds the
// job's lease.
func (r *Recorder) ffmpeg(ctx context.Context, log *slog.Logger, args ...string) error {
	if r.cfg.FFmpeg == "" {
		return ErrNoFFmpeg
	}
	return ffmpeg.Run(ctx, ffmpeg.Config{
		Path: r.cfg.FFmpeg, Args: append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, args...),
		Logger: log, Progress: true, StallTimeout: jobStall, Metrics: r.cfg.Capacity.Metrics(),
	})
}

// fetch makes the blob key readable by ffmpeg as a local file: the file
// itself for a local store, else a copy in dir.
func (r *Recorder) fetch(ctx context.Context, key, dir string) (string, error) {
	return blob.LocalFile(ctx, r.cfg.Blobs, key, dir)
}

// tempDir makes a work directory, on the store's file system when it can
// take files whole (blob.FilePutter).
func (r *Recorder) tempDir(pattern string) (string, error) {
	base := ""
	if fp, ok := r.cfg.Blobs.(blob.FilePutter); ok {
		base = fp.TempDir()
		if err := os.MkdirAll(base, 0o750); err != nil {
			return "", err
		}
	}
	return os.MkdirTemp(base, pattern)
}

// putFile stores the file p under key (moving it when the store can).
func (r *Recorder) putFile(ctx context.Context, key, p string) error {
	return blob.PutPath(ctx, r.cfg.Blobs, key, p)
}

// Thumbnail returns the blob key of a JPEG of video id taken at time at
// (negative: the configured fraction of the duration), width pixels wide
// (0: the video's width), making it with ffmpeg the first time. The
// default thumbnail of a ready video is kept as thumbnail.jpg; the others
// are quantized (the time truncated to the second, the width rounded down
// to ThumbnailWidths) and cached up to Config.MaxThumbnails per video,
// least recently used out first. Making one with a time or width is an
// on-demand ffmpeg job refused with ErrBusy when the capacity for them is
// in use; the default one waits for room.
func (r *Recorder) Thumbnail(ctx context.Context, id string, at time.Duration, width int) (string, error) {
	v, err := r.Video(ctx, id)
	if err != nil {
		return "", err
	}
	if v.Segments == 0 {
		return "", ErrEmpty
	}
	def := at < 0 && width == 0 && v.Status == store.VideoReady // while recording the duration still grows
	wait := at < 0 && width == 0                                // the video's own thumbnail, not a request's choice
	if at < 0 {
		at = time.Duration(float64(v.Duration) * r.cfg.ThumbnailTimePct)
	}
	if at > v.Duration {
		return "", ErrOutOfRange
	}
	at, width = QuantizeThumbnailTime(at), QuantizeThumbnailWidth(width)
	key := Prefix(id) + "thumbnail.jpg"
	if !def {
		key = thumbKey(id, at, width)
	}
	if def && v.ThumbnailKey != "" {
		return v.ThumbnailKey, nil
	}
	if _, err := r.cfg.Blobs.Stat(ctx, key); err == nil {
		if !def {
			r.thumbs.touch(key, time.Now())
		}
		return key, nil
	}
	return r.once(ctx, key, func(ctx context.Context) (string, error) {
		lease, err := r.onDemandLease(ctx, ffmpeg.ThumbnailUnits, wait)
		if err != nil {
			return "", err
		}
		defer lease.Release()
		segs, err := r.cfg.Videos.Segments(ctx, id, 0, 0)
		if err != nil {
			return "", err
		}
		var start time.Duration
		seg := segs[len(segs)-1]
		for _, s := range segs {
			if at < start+s.Duration {
				seg = s
				break
			}
			start += s.Duration
		}
		if at >= start+seg.Duration { // past the end: the last segment's start
			start = v.Duration - seg.Duration
		}
		dir, err := r.tempDir("thumb-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		// init + segment concatenated are a playable fragmented MP4
		// (ISO/IEC 14496-12 §8.8)
		in := filepath.Join(dir, "in.mp4")
		f, err := os.Create(in)
		if err != nil {
			return "", err
		}
		o, err := r.cfg.Blobs.Open(ctx, seg.InitKey)
		if err != nil {
			_ = f.Close()
			return "", err
		}
		_, err = io.Copy(f, o)
		_ = o.Close()
		if err == nil {
			err = r.copySegment(ctx, seg, f) // a clip's cut segment: only its range
		}
		if err != nil {
			_ = f.Close()
			return "", err
		}
		if err := f.Close(); err != nil {
			return "", err
		}
		out := filepath.Join(dir, "out.jpg")
		tail := []string{"-frames:v", "1", "-q:v", "3"}
		if width > 0 {
			tail = append(tail, "-vf", "scale="+strconv.Itoa(width)+":-2")
		}
		tail = append(tail, "-f", "image2", out)
		off := strconv.FormatFloat(max(0, (at-start).Seconds()), 'f', 3, 64)
		log := r.log.With("video", id, "job", "thumbnail")
		if err := r.ffmpeg(ctx, log, append([]string{"-ss", off, "-i", in}, tail...)...); err != nil {
			return "", err
		}
		if st, err := os.Stat(out); err != nil || st.Size() == 0 {
			// -ss past the segment's last frame: take its first frame
			if err := r.ffmpeg(ctx, log, append([]string{"-i", in}, tail...)...); err != nil {
				return "", err
			}
		}
		if err := r.putFile(ctx, key, out); err != nil {
			return "", err
		}
		if !def {
			r.thumbs.touch(key, time.Now())
			r.evictThumbnails(ctx, id, key)
		}
		if def && v.Status == store.VideoReady {
			if err := r.cfg.Videos.SetThumbnail(ctx, id, key, r.cfg.Now().UTC()); err != nil && !errors.Is(err, store.ErrNotFound) {
				r.log.Warn("cannot save the thumbnail", "video", id, "error", err)
			}
		}
		return key, nil
	})
}

// RequestDownload starts building the MP4 of video id in the background
// (status pending, then ready and video.download.ready) and returns the
// video. ErrRecording while it records, ErrNotReady when errored.
func (r *Recorder) RequestDownload(ctx context.Context, id string) (*store.Video, error) {
	v, err := r.Video(ctx, id)
	if err != nil {
		return nil, err
	}
	switch v.Status {
	case store.VideoLiveRecording, store.VideoProcessing:
		return nil, ErrRecording
	case store.VideoReady:
	default:
		return nil, ErrNotReady
	}
	if r.cfg.FFmpeg == "" {
		return nil, ErrNoFFmpeg
	}
	if v.DownloadStatus == store.DownloadReady || v.DownloadStatus == store.DownloadPending {
		return v, nil
	}
	v.DownloadStatus, v.DownloadKey, v.UpdatedAt = store.DownloadPending, "", r.cfg.Now().UTC()
	if err := r.cfg.Videos.SetDownload(ctx, id, v.DownloadStatus, v.DownloadKey, v.UpdatedAt); err != nil {
		return nil, err
	}
	r.background(func(ctx context.Context) {
		if _, err := r.MP4(ctx, id); err != nil {
			r.log.Warn("cannot build an MP4 download", "video", id, "error", err)
		}
	})
	return v, nil
}

// MP4 returns the blob key of the progressive MP4 of video id, building it
// the first time: ffmpeg remuxes the recorded fragments without
// re-encoding (-c copy) and moves the moov box to the front (faststart);
// ffmpeg's mp4 muxer switches to 64-bit chunk offsets (co64, ISO/IEC
// 14496-12 §8.7.5) past 4 GB.
func (r *Recorder) MP4(ctx context.Context, id string) (string, error) {
	v, err := r.Video(ctx, id)
	if err != nil {
		return "", err
	}
	switch v.Status {
	case store.VideoLiveRecording, store.VideoProcessing:
		return "", ErrRecording
	case store.VideoReady:
	default:
		return "", ErrNotReady
	}
	key := Prefix(id) + "download.mp4"
	if v.DownloadStatus == store.DownloadReady && v.DownloadKey != "" {
		return v.DownloadKey, nil
	}
	return r.once(ctx, key, func(ctx context.Context) (string, error) {
		start := time.Now()
		err := r.buildMP4(ctx, id, key)
		at := r.cfg.Now().UTC()
		if err != nil {
			if uerr := r.cfg.Videos.SetDownload(ctx, id, store.DownloadErrored, "", at); uerr != nil {
				return "", errors.Join(err, uerr)
			}
			return "", err
		}
		var ev events.Event
		if err := r.cfg.Videos.SetDownloadEmitting(ctx, id, store.DownloadReady, key, at, r.videoEvent(events.VideoDownloadReady, &ev)); err != nil {
			return "", err
		}
		r.log.Info("mp4 download built", "video", id, "took", time.Since(start).Round(time.Millisecond))
		r.cfg.Bus.Publish(ev)
		return key, nil
	})
}

func (r *Recorder) buildMP4(ctx context.Context, id, key string) error {
	lease, err := r.onDemandLease(ctx, ffmpeg.MP4Units, true)
	if err != nil {
		return err
	}
	defer lease.Release()
	segs, err := r.cfg.Videos.Segments(ctx, id, 0, 0)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		return ErrEmpty
	}
	dir, err := r.tempDir("mp4-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// the files ffmpeg reads: the blobs themselves on a local store, else
	// copies; a clip's cut segments (byte ranges) always as copies of
	// their range
	paths := map[string]string{}
	local := func(k string) (string, error) {
		if p, ok := paths[k]; ok {
			return p, nil
		}
		p, err := r.fetch(ctx, k, dir)
		paths[k] = p
		return p, err
	}
	vs := make([]hls.VODSegment, 0, len(segs))
	for _, s := range segs {
		initPath, err := local(s.InitKey)
		if err != nil {
			return err
		}
		var segPath string
		if s.Ranged {
			segPath = filepath.Join(dir, "range"+strconv.FormatInt(s.Seq, 10)+".m4s")
			err = r.writeSegmentFile(ctx, s, segPath)
		} else {
			segPath, err = local(s.Key)
		}
		if err != nil {
			return err
		}
		vs = append(vs, hls.VODSegment{URI: segPath, InitURI: initPath, Duration: s.Duration,
			Discontinuity: s.Discontinuity, ProgramDateTime: s.ProgramDateTime, Dependent: dependent(s)})
	}
	pl, err := hls.VODPlaylist(vs)
	if err != nil {
		return err
	}
	in := filepath.Join(dir, "index.m3u8")
	if err := os.WriteFile(in, pl, 0o600); err != nil {
		return err
	}
	out := filepath.Join(dir, "out.mp4")
	if err := r.ffmpeg(ctx, r.log.With("video", id, "job", "mp4"), "-i", in, "-map", "0", "-c", "copy", "-movflags", "+faststart", "-f", "mp4", out); err != nil {
		return err
	}
	return r.putFile(ctx, key, out)
}
