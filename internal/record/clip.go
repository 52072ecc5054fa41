package record

import (
	"context"
	"fmt"
	"time"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

// ClipRange is the range a clip covers: the requested one, and the one
// actually cut. A clip shares its source's CMAF segments (ISO/IEC
// 23000-19 §7.3.2.2), so it is cut at the part boundaries (RFC 8216bis
// §4.4.4.9) nearest the requested times, playing byte ranges of the first
// and last segments (§4.4.4.2), and it starts on a part that begins with a
// key frame; for recordings without a part layout, at segment boundaries.
type ClipRange struct {
	RequestedStart, RequestedEnd time.Duration
	Start, End                   time.Duration
	// PartBoundaries: cut at part boundaries; false when the source has
	// no part layout around a cut, which falls on a segment boundary.
	PartBoundaries bool
	// StartMoved: the part boundary nearest RequestedStart does not start
	// with a key frame; Start is the nearest one that does.
	StartMoved bool
}

// clipUnit is one part of a video's timeline, or a whole segment when
// the segment has no part layout.
type clipUnit struct {
	seg        int // index in the segments
	part       store.SegmentPart
	start, end time.Duration // in the video
	segStart   time.Duration
	whole      bool // the unit is its segment (no part layout)
}

// clipUnits lays the parts of segs out on the video's timeline. A segment
// without a part layout is one unit, independent (a segment starts with a
// key frame); the last part of a segment ends where the segment does, so
// that rounding in the stored durations never shifts later segments.
func clipUnits(segs []*store.VideoSegment) []clipUnit {
	var out []clipUnit
	var t time.Duration
	for i, s := range segs {
		segEnd := t + s.Duration
		if len(s.Parts) == 0 {
			out = append(out, clipUnit{seg: i, start: t, end: segEnd, segStart: t, whole: true,
				part: store.SegmentPart{Offset: s.Offset, Size: s.Size, Duration: s.Duration, Independent: true}})
			t = segEnd
			continue
		}
		pt := t
		for j, p := range s.Parts {
			e := min(pt+p.Duration, segEnd)
			if j == len(s.Parts)-1 {
				e = segEnd
			}
			out = append(out, clipUnit{seg: i, part: p, start: pt, end: e, segStart: t})
			pt = e
		}
		t = segEnd
	}
	return out
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// planClip picks what a clip of [start, end) of a video made of segs
// indexes: it starts at the boundary of an independent part nearest start
// (of those before end, when there are any) and ends at the part boundary
// after it nearest end (ties: the later one, so that the clip covers
// more). The returned rows are copies of segs cut to byte ranges where a
// segment is taken in part; VideoID, Seq and OwnerID are the caller's.
func planClip(segs []*store.VideoSegment, start, end time.Duration) ([]*store.VideoSegment, ClipRange, error) {
	cr := ClipRange{RequestedStart: start, RequestedEnd: end}
	us := clipUnits(segs)
	if len(us) == 0 || end <= start {
		return nil, cr, ErrOutOfRange
	}
	total := us[len(us)-1].end
	boundary := func(k int) time.Duration {
		if k == len(us) {
			return total
		}
		return us[k].start
	}
	k0, nearest := -1, 0
	for _, beforeEnd := range []bool{true, false} {
		for k, u := range us {
			if absDur(u.start-start) < absDur(us[nearest].start-start) {
				nearest = k
			}
			if !u.part.Independent || u.end <= u.start || (beforeEnd && u.start >= end) {
				continue
			}
			if k0 < 0 || absDur(u.start-start) < absDur(us[k0].start-start) {
				k0 = k
			}
		}
		if k0 >= 0 {
			break
		}
	}
	if k0 < 0 {
		return nil, cr, fmt.Errorf("%w: no key frame to start on", ErrOutOfRange)
	}
	k1 := k0 + 1
	for k := k0 + 1; k <= len(us); k++ {
		if boundary(k) <= boundary(k0) {
			continue
		}
		if absDur(boundary(k)-end) <= absDur(boundary(k1)-end) || boundary(k1) <= boundary(k0) {
			k1 = k
		}
	}
	cr.Start, cr.End = boundary(k0), boundary(k1)
	cr.StartMoved = us[nearest].start != us[k0].start && !us[nearest].part.Independent
	cr.PartBoundaries = !us[k0].whole || !us[k1-1].whole

	var rows []*store.VideoSegment
	for a := k0; a < k1; {
		b := a
		for b+1 < k1 && us[b+1].seg == us[a].seg {
			b++
		}
		s := segs[us[a].seg]
		row := *s
		row.Discontinuity = len(rows) > 0 && s.Discontinuity
		if b-a+1 < max(len(s.Parts), 1) { // part of the segment: a byte range of its blob
			first, last := us[a], us[b]
			row.Ranged, row.Offset = true, first.part.Offset
			row.Size = last.part.Offset + last.part.Size - first.part.Offset
			row.Duration = last.end - first.start
			row.Parts = make([]store.SegmentPart, 0, b-a+1)
			for _, u := range us[a : b+1] {
				row.Parts = append(row.Parts, u.part)
			}
			if !s.ProgramDateTime.IsZero() {
				row.ProgramDateTime = s.ProgramDateTime.Add(first.start - first.segStart)
			}
		}
		rows = append(rows, &row)
		a = b + 1
	}
	return rows, cr, nil
}

// Clip creates a ready video playing the range [start, end) of video id,
// cut at the nearest part boundaries (see ClipRange), instantly: it
// indexes byte ranges of the same segment files, it copies none. The
// clip's meta holds name and clip_of. ErrRecording while id records,
// ErrOutOfRange for a range outside it.
func (r *Recorder) Clip(ctx context.Context, id string, start, end time.Duration, name string) (*store.Video, ClipRange, error) {
	cr := ClipRange{RequestedStart: start, RequestedEnd: end}
	v, err := r.Video(ctx, id)
	if err != nil {
		return nil, cr, err
	}
	switch v.Status {
	case store.VideoReady:
	case store.VideoLiveRecording, store.VideoProcessing:
		return nil, cr, ErrRecording
	default:
		return nil, cr, ErrNotReady
	}
	if start < 0 || end <= start || end > v.Duration {
		return nil, cr, fmt.Errorf("%w: the video is %.3f s long", ErrOutOfRange, v.Duration.Seconds())
	}
	segs, err := r.cfg.Videos.Segments(ctx, id, 0, 0)
	if err != nil {
		return nil, cr, err
	}
	picked, cr, err := planClip(segs, start, end)
	if err != nil {
		return nil, cr, err
	}
	now := r.cfg.Now().UTC().Truncate(time.Microsecond)
	meta := map[string]any{"clip_of": id}
	if name != "" {
		meta["name"] = name
	}
	started := v.StartedAt.Add(cr.Start)
	ended := v.StartedAt.Add(cr.End)
	c := &store.Video{ID: NewVideoID(now), LiveInputID: v.LiveInputID, Status: store.VideoLiveRecording,
		CreatedAt: now, StartedAt: started, UpdatedAt: now, Tracks: v.Tracks, Meta: meta,
		RequireSignedURLs: v.RequireSignedURLs, AllowedOrigins: v.AllowedOrigins, DownloadStatus: store.DownloadNone,
		NodeID: r.cfg.NodeID, LeaseExpires: now.Add(r.cfg.Lease), TargetDuration: v.TargetDuration} // leased: no recovery takes it while it is built
	if err := r.cfg.Videos.Create(ctx, c); err != nil {
		return nil, cr, err
	}
	for i, row := range picked {
		if row.OwnerID == "" {
			row.OwnerID = id
		}
		row.VideoID, row.Seq = c.ID, int64(i)
		if err := r.cfg.Videos.AddSegment(ctx, row); err != nil {
			_ = r.cfg.Videos.Delete(ctx, c.ID)
			return nil, cr, err
		}
	}
	var ev events.Event
	fin := store.VideoEnd{Status: store.VideoReady, EndedAt: ended, Tracks: c.Tracks, UpdatedAt: now}
	if err := r.cfg.Videos.FinishEmitting(ctx, c.ID, r.cfg.NodeID, fin, r.videoEvent(events.VideoReady, &ev)); err != nil {
		_ = r.cfg.Videos.Delete(ctx, c.ID)
		return nil, cr, err
	}
	c, err = r.cfg.Videos.Get(ctx, c.ID)
	if err != nil {
		return nil, cr, err
	}
	r.log.Info("clip created", "video", c.ID, "clip_of", id, "start", cr.Start, "end", cr.End, "part_boundaries", cr.PartBoundaries)
	r.cfg.Bus.Publish(ev)
	return c, cr, nil
}
