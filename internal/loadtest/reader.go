package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// maxPlaylistBytes bounds a playlist body.
const maxPlaylistBytes = 8 << 20

// errStreamEnded ends a reader session when the playlist has EXT-X-ENDLIST.
var errStreamEnded = errors.New("stream ended")

// Reader follows one LL-HLS stream like a low-latency player: blocking
// playlist reloads (draft-pantos-hls-rfc8216bis §6.2.5.2) for the next part,
// a request for the EXT-X-PRELOAD-HINT part issued before the part exists
// (§4.4.5.3), and a request for every other new part the playlist lists. For
// each part it records the availability latency: the time its last byte
// arrived minus (PROGRAM-DATE-TIME of its segment + offset of the part in the
// segment + part duration). Without parts (plain HLS) it does the same per
// segment.
type Reader struct {
	Client *http.Client
	// URL is the multivariant playlist; the first variant is followed. A
	// media playlist URL works too.
	URL string
	// Timeout bounds every request, blocking ones included.
	Timeout time.Duration
	Stats   *Stats
	Log     *slog.Logger
	ID      int    // for the trace
	Stream  string // for the trace
}

// fetchError is a failed request, classified for the error report.
type fetchError struct {
	req  string // multivariant, playlist, part, hint, segment
	what string // status_404, timeout, conn, parse
	err  error
}

func (e *fetchError) Error() string { return e.req + " " + e.what + ": " + e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }
func (e *fetchError) kind() string  { return e.req + "_" + e.what }

// Run follows the stream until ctx is done, starting over from the
// multivariant playlist after a failure.
func (r *Reader) Run(ctx context.Context) {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	for ctx.Err() == nil {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return
		}
		r.Log.Debug("reader restarts", "url", r.URL, "err", err)
		sleepCtx(ctx, 500*time.Millisecond)
	}
}

// count records err unless it is due to ctx ending, and returns it.
func (r *Reader) count(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	var fe *fetchError
	if errors.As(err, &fe) {
		r.Stats.Error(fe.kind())
	} else if errors.Is(err, errStreamEnded) {
		r.Stats.Error("endlist")
	} else {
		r.Stats.Error("other")
	}
	return err
}

func (r *Reader) session(ctx context.Context) error {
	base, err := url.Parse(r.URL)
	if err != nil {
		return fmt.Errorf("reader url: %w", err)
	}
	body, _, t, err := r.fetch(ctx, "multivariant", base.String(), ByteRange{}, true)
	if err != nil {
		return r.count(ctx, err)
	}
	r.Stats.Playlist(t)
	pl, err := ParsePlaylist(body)
	if err != nil {
		return r.count(ctx, &fetchError{"multivariant", "parse", err})
	}
	if !pl.IsMultivariant() && pl.TargetDuration == 0 && len(pl.Segments) == 0 {
		// A multivariant playlist that lists no variant yet (no complete
		// segment so far): not a media playlist to follow.
		return r.count(ctx, &fetchError{"multivariant", "empty", errors.New("no variants")})
	}
	media := base
	if pl.IsMultivariant() {
		if media, err = base.Parse(pl.Variants[0].URI); err != nil {
			return r.count(ctx, &fetchError{"multivariant", "parse", err})
		}
		body, _, t, err = r.fetch(ctx, "playlist", media.String(), ByteRange{}, true)
		if err != nil {
			return r.count(ctx, err)
		}
		r.Stats.Playlist(t)
		if pl, err = ParsePlaylist(body); err != nil || pl.IsMultivariant() {
			if err == nil {
				err = errors.New("variant is a multivariant playlist")
			}
			return r.count(ctx, &fetchError{"playlist", "parse", err})
		}
	}
	if pl.PartTarget > 0 {
		return r.followParts(ctx, media, pl)
	}
	return r.followSegments(ctx, media, pl)
}

// pos is a part position: media sequence number and part index in the
// segment; part -1 is "before the first part".
type pos struct {
	msn  uint64
	part int
}

func (a pos) less(b pos) bool {
	return a.msn < b.msn || (a.msn == b.msn && a.part < b.part)
}

// followedBy reports whether b is the part right after a.
func (a pos) followedBy(b pos) bool {
	return (b.msn == a.msn && b.part == a.part+1) || (b.msn == a.msn+1 && b.part == 0)
}

// nextMSN is the sequence number of the first segment not complete in pl.
func nextMSN(pl *Playlist) uint64 {
	n := pl.MediaSequence + pl.SkippedSegments
	for _, s := range pl.Segments {
		if s.Complete {
			n = s.MSN + 1
		}
	}
	return n
}

// nextPart is the position of the first part not yet listed in pl.
func nextPart(pl *Playlist) pos {
	if len(pl.Segments) > 0 {
		if last := pl.Segments[len(pl.Segments)-1]; !last.Complete {
			return pos{last.MSN, len(last.Parts)}
		}
	}
	return pos{nextMSN(pl), 0}
}

// lastListed is the position of the last part listed in pl, or "before
// the next part" when none is.
func lastListed(pl *Playlist) pos {
	n := nextPart(pl)
	if n.part > 0 {
		return pos{n.msn, n.part - 1}
	}
	for i := len(pl.Segments) - 1; i >= 0; i-- {
		if s := pl.Segments[i]; len(s.Parts) > 0 {
			return pos{s.MSN, len(s.Parts) - 1}
		}
	}
	return pos{n.msn, -1}
}

// preload is an outstanding request for the hinted part.
type preload struct {
	url     string
	cancel  context.CancelFunc
	done    chan struct{}
	n       int64
	arrival time.Time
	err     error
}

func (r *Reader) startPreload(ctx context.Context, u string) *preload {
	pctx, cancel := context.WithCancel(ctx)
	p := &preload{url: u, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_, p.n, p.arrival, p.err = r.fetch(pctx, "hint", u, ByteRange{}, false)
	}()
	return p
}

func (p *preload) abandon() {
	p.cancel()
	<-p.done
}

func (r *Reader) followParts(ctx context.Context, media *url.URL, pl *Playlist) error {
	cursor := lastListed(pl) // parts listed at start are history, not measured
	var pre *preload
	defer func() {
		if pre != nil {
			pre.abandon()
		}
	}()
	for {
		if pl.EndList {
			return r.count(ctx, errStreamEnded)
		}
		if h := pl.PreloadHint; h != nil && h.Type == "PART" && h.ByteRange.Start == 0 && h.ByteRange.Length == 0 {
			if hu, err := media.Parse(h.URI); err == nil && (pre == nil || pre.url != hu.String()) {
				if pre != nil {
					pre.abandon()
				}
				pre = r.startPreload(ctx, hu.String())
			}
		}
		next := nextPart(pl)
		body, _, t, err := r.fetch(ctx, "playlist", blockingURL(media, next), ByteRange{}, true)
		if err != nil {
			return r.count(ctx, err)
		}
		r.Stats.Playlist(t)
		npl, err := ParsePlaylist(body)
		if err != nil {
			return r.count(ctx, &fetchError{"playlist", "parse", err})
		}
		if npl.IsMultivariant() || npl.PartTarget == 0 {
			return r.count(ctx, &fetchError{"playlist", "parse", errors.New("parts disappeared")})
		}
		first := true
		for _, s := range npl.Segments {
			if len(s.Parts) == 0 {
				if s.MSN > cursor.msn {
					// A whole segment went by unseen: the reader fell behind.
					r.count(ctx, &fetchError{"part", "missed", errors.New("segment without parts")})
					cursor, first = pos{s.MSN, 1 << 30}, false
				}
				continue
			}
			offset := 0.0
			for i, p := range s.Parts {
				ps := pos{s.MSN, i}
				if !cursor.less(ps) {
					offset += p.Duration
					continue
				}
				if first && !cursor.followedBy(ps) {
					r.count(ctx, &fetchError{"part", "missed", fmt.Errorf("after %v came %v", cursor, ps)})
				}
				first = false
				pu, err := media.Parse(p.URI)
				if err != nil {
					return r.count(ctx, &fetchError{"playlist", "parse", err})
				}
				var (
					n       int64
					arrival time.Time
					viaHint bool
				)
				if pre != nil && pre.url == pu.String() {
					<-pre.done
					if pre.err == nil {
						n, arrival, viaHint = pre.n, pre.arrival, true
					} else {
						r.count(ctx, pre.err)
					}
					pre.cancel()
					pre = nil
				}
				if !viaHint {
					r.Log.Debug("part fetched directly", "msn", s.MSN, "part", i, "uri", p.URI, "hint_pending", pre != nil)
					_, n, arrival, err = r.fetch(ctx, "part", pu.String(), p.ByteRange, false)
					if err != nil {
						if ctx.Err() != nil {
							return err
						}
						r.count(ctx, err)
					}
				}
				if err == nil {
					lat, known := availability(s, offset, p.Duration, arrival)
					r.Stats.Part(PartEvent{Reader: r.ID, Stream: r.Stream, MSN: s.MSN, Part: i, ViaHint: viaHint,
						Arrival: arrival, Bytes: n, Latency: lat, Known: known})
				}
				cursor = ps
				offset += p.Duration
			}
		}
		pl = npl
	}
}

// availability returns arrival - (PDT + offset + duration).
func availability(s Segment, offset, dur float64, arrival time.Time) (time.Duration, bool) {
	if s.ProgramDateTime.IsZero() {
		return 0, false
	}
	avail := s.ProgramDateTime.Add(secondsToDuration(offset + dur))
	return arrival.Sub(avail), true
}

func (r *Reader) followSegments(ctx context.Context, media *url.URL, pl *Playlist) error {
	next := nextMSN(pl) // segments listed at start are history
	for {
		if pl.EndList {
			return r.count(ctx, errStreamEnded)
		}
		u := media.String()
		if pl.CanBlockReload {
			u = blockingURL(media, pos{next, -1})
		} else {
			wait := time.Duration(pl.TargetDuration * float64(time.Second) / 2)
			sleepCtx(ctx, max(wait, 100*time.Millisecond))
		}
		body, _, t, err := r.fetch(ctx, "playlist", u, ByteRange{}, true)
		if err != nil {
			return r.count(ctx, err)
		}
		r.Stats.Playlist(t)
		if pl, err = ParsePlaylist(body); err != nil {
			return r.count(ctx, &fetchError{"playlist", "parse", err})
		}
		for _, s := range pl.Segments {
			if !s.Complete || s.MSN < next {
				continue
			}
			su, err := media.Parse(s.URI)
			if err != nil {
				return r.count(ctx, &fetchError{"playlist", "parse", err})
			}
			_, n, arrival, err := r.fetch(ctx, "segment", su.String(), ByteRange{}, false)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				r.count(ctx, err)
			} else {
				lat, known := availability(s, 0, s.Duration, arrival)
				r.Stats.Part(PartEvent{Reader: r.ID, Stream: r.Stream, MSN: s.MSN, Part: -1,
					Arrival: arrival, Bytes: n, Latency: lat, Known: known})
			}
			next = s.MSN + 1
		}
	}
}

// blockingURL adds the blocking reload directives (§6.2.5.2) to media;
// p.part < 0 omits _HLS_part.
func blockingURL(media *url.URL, p pos) string {
	u := *media
	q := u.Query()
	q.Set("_HLS_msn", strconv.FormatUint(p.msn, 10))
	if p.part >= 0 {
		q.Set("_HLS_part", strconv.Itoa(p.part))
	} else {
		q.Del("_HLS_part")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// fetch GETs u. With keep it returns the body, otherwise it discards it
// and returns its length. arrival is when the last byte came.
func (r *Reader) fetch(ctx context.Context, kind, u string, br ByteRange, keep bool) (body []byte, n int64, arrival time.Time, err error) {
	rctx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, time.Time{}, &fetchError{kind, "request", err}
	}
	if br.Length > 0 && br.Start >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", br.Start, br.Start+br.Length-1))
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return nil, 0, time.Time{}, &fetchError{kind, classify(err), err}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, 0, time.Time{}, &fetchError{kind, "status_" + strconv.Itoa(resp.StatusCode), errors.New(resp.Status)}
	}
	if keep {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxPlaylistBytes))
		n = int64(len(body))
	} else {
		n, err = io.Copy(io.Discard, resp.Body)
	}
	arrival = time.Now()
	if err != nil {
		return nil, n, arrival, &fetchError{kind, classify(err), err}
	}
	return body, n, arrival, nil
}

func classify(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return "timeout"
	}
	return "conn"
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
