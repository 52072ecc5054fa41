package record

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
)

// On-demand thumbnails are a bounded cost: a request names a time and a
// width, and each distinct pair would otherwise run ffmpeg and store a file
// for good. So the time is truncated to the whole second and the width
// rounded down to one of ThumbnailWidths (a request between 16 and 159
// gets 160), which leaves a few hundred possible files for an hour of
// video; the files of a video are capped (Config.MaxThumbnails) with the
// least recently used one deleted past the cap; and making one is an
// on-demand ffmpeg job that is refused with ErrBusy when the ffmpeg
// capacity's on-demand share is used up.
const (
	// MinThumbnailWidth and MaxThumbnailWidth bound the width query
	// parameter.
	MinThumbnailWidth = 16
	MaxThumbnailWidth = 3840
	// MaxThumbnailSeconds bounds the time query parameter (115 days).
	MaxThumbnailSeconds = 9_999_999
	// DefaultMaxThumbnails is the default cap of cached on-demand
	// thumbnails per video (Config.MaxThumbnails).
	DefaultMaxThumbnails = 16
	// BusyRetryAfter is how long a client refused with ErrBusy should wait
	// before it retries (the HTTP layer's Retry-After).
	BusyRetryAfter = 5 * time.Second
	// thumbUseEntries bounds the in-memory record of thumbnail use.
	thumbUseEntries = 4096
)

// ThumbnailWidths are the widths on-demand thumbnails are made at,
// ascending.
func ThumbnailWidths() []int { return []int{160, 320, 480, 640, 960, 1280, 1920, 3840} }

var (
	// ErrBadQuery: a thumbnail query parameter is not acceptable (the
	// HTTP layer answers 400).
	ErrBadQuery = errors.New("record: bad query")
	// ErrBusy: the ffmpeg capacity for on-demand jobs is in use; retry
	// after BusyRetryAfter (the HTTP layer answers 503 with Retry-After).
	ErrBusy = errors.New("record: busy making other thumbnails and downloads, retry later")
)

// ThumbnailQuery is a validated, quantized thumbnail request.
type ThumbnailQuery struct {
	// At is the time in the video, whole seconds; -1 when the query names
	// none (the default thumbnail's time, Config.ThumbnailTimePct).
	At time.Duration
	// Width is one of ThumbnailWidths; 0 when the query names none (the
	// video's own width).
	Width int
}

// ParseThumbnailQuery reads the time (seconds, a plain decimal number
// such as 12 or 12.5, at most MaxThumbnailSeconds) and width (an integer
// from MinThumbnailWidth to MaxThumbnailWidth) parameters of a thumbnail
// request and quantizes them (QuantizeThumbnailTime, QuantizeThumbnailWidth).
// Anything else — NaN, infinities, signs, exponents, hexadecimal, an empty
// or repeated parameter — is an ErrBadQuery. Other parameters (token) are
// left alone. A time past the video's end is found by Thumbnail
// (ErrOutOfRange).
func ParseThumbnailQuery(q url.Values) (ThumbnailQuery, error) {
	tq := ThumbnailQuery{At: -1}
	if vs, ok := q["time"]; ok {
		if len(vs) != 1 {
			return tq, fmt.Errorf("%w: time given %d times", ErrBadQuery, len(vs))
		}
		secs, ok := parseSeconds(vs[0])
		if !ok {
			return tq, fmt.Errorf("%w: time must be a number of seconds from 0 to %d, like 12 or 12.5", ErrBadQuery, MaxThumbnailSeconds)
		}
		tq.At = time.Duration(secs) * time.Second
	}
	if vs, ok := q["width"]; ok {
		if len(vs) != 1 {
			return tq, fmt.Errorf("%w: width given %d times", ErrBadQuery, len(vs))
		}
		w, ok := parseWidth(vs[0])
		if !ok {
			return tq, fmt.Errorf("%w: width must be an integer from %d to %d", ErrBadQuery, MinThumbnailWidth, MaxThumbnailWidth)
		}
		tq.Width = QuantizeThumbnailWidth(w)
	}
	return tq, nil
}

// parseSeconds reads "D" or "D.F" (D up to 7 digits, F up to 9) and
// returns the whole seconds D.
func parseSeconds(s string) (int64, bool) {
	whole, frac, dot := strings.Cut(s, ".")
	if len(whole) == 0 || len(whole) > 7 || !digits(whole) || (dot && (len(frac) == 0 || len(frac) > 9 || !digits(frac))) {
		return 0, false
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	return n, err == nil && n <= MaxThumbnailSeconds
}

// parseWidth reads an integer of 2 to 4 digits within the width bounds.
func parseWidth(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 || !digits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= MinThumbnailWidth && n <= MaxThumbnailWidth
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// QuantizeThumbnailTime truncates d to the whole second (a negative d, the
// default time, stays).
func QuantizeThumbnailTime(d time.Duration) time.Duration {
	if d < 0 {
		return d
	}
	return d.Truncate(time.Second)
}

// QuantizeThumbnailWidth rounds w down to the nearest of ThumbnailWidths
// (up to the smallest below it); 0, the video's width, stays.
func QuantizeThumbnailWidth(w int) int {
	if w <= 0 {
		return 0
	}
	ws := ThumbnailWidths()
	out := ws[0]
	for _, c := range ws {
		if c <= w {
			out = c
		}
	}
	return out
}

// thumbUse remembers when cached thumbnails were last served, for the
// least-recently-used eviction; bounded (the oldest entries go first), and
// a thumbnail it does not know counts as used when its file was written.
type thumbUse struct {
	mu    sync.Mutex
	order *list.List // of *thumbUsed, most recent at the front
	byKey map[string]*list.Element
}

type thumbUsed struct {
	key string
	at  time.Time
}

func (u *thumbUse) touch(key string, at time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.order == nil {
		u.order, u.byKey = list.New(), map[string]*list.Element{}
	}
	if e, ok := u.byKey[key]; ok {
		e.Value.(*thumbUsed).at = at
		u.order.MoveToFront(e)
		return
	}
	u.byKey[key] = u.order.PushFront(&thumbUsed{key: key, at: at})
	if u.order.Len() > thumbUseEntries {
		old := u.order.Remove(u.order.Back()).(*thumbUsed)
		delete(u.byKey, old.key)
	}
}

func (u *thumbUse) last(key string) (time.Time, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e, ok := u.byKey[key]; ok {
		return e.Value.(*thumbUsed).at, true
	}
	return time.Time{}, false
}

func (u *thumbUse) forget(key string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e, ok := u.byKey[key]; ok {
		u.order.Remove(e)
		delete(u.byKey, key)
	}
}

// thumbPrefix is the key prefix of a video's on-demand thumbnails.
func thumbPrefix(id string) string { return Prefix(id) + "thumb-" }

// thumbKey is the blob key of the thumbnail of video id at (whole
// seconds) and width.
func thumbKey(id string, at time.Duration, width int) string {
	return thumbPrefix(id) + strconv.FormatInt(int64(at/time.Second), 10) + "-" + strconv.Itoa(width) + ".jpg"
}

// evictThumbnails deletes the least recently used on-demand thumbnails of
// video id past Config.MaxThumbnails; keep (the one just made) stays.
func (r *Recorder) evictThumbnails(ctx context.Context, id, keep string) {
	objs, err := r.cfg.Blobs.List(ctx, thumbPrefix(id))
	if err != nil {
		r.log.Warn("listing thumbnails", "video", id, "error", err)
		return
	}
	excess := len(objs) - r.cfg.MaxThumbnails
	if excess <= 0 {
		return
	}
	type cand struct {
		key  string
		used time.Time
	}
	cands := make([]cand, 0, len(objs))
	for _, o := range objs {
		if o.Key == keep {
			continue
		}
		used := o.ModTime
		if t, ok := r.thumbs.last(o.Key); ok && t.After(used) {
			used = t
		}
		cands = append(cands, cand{o.Key, used})
	}
	slices.SortFunc(cands, func(a, b cand) int { return a.used.Compare(b.used) })
	for _, c := range cands[:min(excess, len(cands))] {
		if err := r.cfg.Blobs.Delete(ctx, c.key); err != nil {
			r.log.Warn("evicting a thumbnail", "video", id, "key", c.key, "error", err)
			continue
		}
		r.thumbs.forget(c.key)
	}
}

// onDemandLease takes the ffmpeg capacity of an on-demand job: at once or
// ErrBusy when wait is false, else waiting for room until ctx is done.
func (r *Recorder) onDemandLease(ctx context.Context, units float64, wait bool) (*ffmpeg.Lease, error) {
	if r.cfg.FFmpeg == "" {
		return nil, ErrNoFFmpeg
	}
	var l *ffmpeg.Lease
	var err error
	if wait {
		l, err = r.cfg.Capacity.Wait(ctx, ffmpeg.OnDemand, units)
	} else {
		l, err = r.cfg.Capacity.Take(ffmpeg.OnDemand, units)
	}
	if errors.Is(err, ffmpeg.ErrCapacity) {
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return l, err
}
