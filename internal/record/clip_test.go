package record

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
)

const ms = time.Millisecond

// partedSegments is a recording of n segments of segDur, made of parts of
// partDur whose first frames are key frames every gop (from 0), each part
// size bytes.
func partedSegments(n int, segDur, partDur, gop time.Duration, size int64) []*store.VideoSegment {
	var out []*store.VideoSegment
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var t time.Duration
	for i := range n {
		s := &store.VideoSegment{VideoID: "vid_src", Seq: int64(i), OwnerID: "vid_src", Duration: segDur, ProgramDateTime: t0.Add(t),
			InitKey: "videos/vid_src/init0.mp4", Key: fmt.Sprintf("videos/vid_src/seg%d.m4s", i)}
		for pt := time.Duration(0); pt < segDur; pt += partDur {
			s.Parts = append(s.Parts, store.SegmentPart{Offset: s.Size, Size: size, Duration: partDur, Independent: (t+pt)%gop == 0})
			s.Size += size
		}
		out = append(out, s)
		t += segDur
	}
	return out
}

// wholeSegments is a recording of n segments of segDur without part layout.
func wholeSegments(n int, segDur time.Duration) []*store.VideoSegment {
	var out []*store.VideoSegment
	for i := range n {
		out = append(out, &store.VideoSegment{VideoID: "vid_old", Seq: int64(i), Duration: segDur, InitKey: "i", Key: fmt.Sprintf("seg%d", i), Size: 1000})
	}
	return out
}

type wantRow struct {
	key         string
	ranged      bool
	off, size   int64
	dur         time.Duration
	parts       int
	pdtShift    time.Duration // from the source segment's date
	disc, first bool
}

func TestPlanClip(t *testing.T) {
	src := partedSegments(5, 4*time.Second, 200*ms, time.Second, 100) // 20 s, 20 parts of 100 bytes a segment
	tests := []struct {
		name             string
		segs             []*store.VideoSegment
		start, end       time.Duration
		gotStart, gotEnd time.Duration
		parts, moved     bool
		rows             []wantRow
		err              error
	}{
		{name: "issue_example", segs: src, start: 5300 * ms, end: 12700 * ms,
			// 5.2 is the nearest boundary but not a key frame: 5.0 is the
			// nearest that is; 12.6 and 12.8 are as near: the later
			gotStart: 5 * time.Second, gotEnd: 12800 * ms, parts: true, moved: true,
			rows: []wantRow{
				{key: "seg1", ranged: true, off: 500, size: 1500, dur: 3 * time.Second, parts: 15, pdtShift: time.Second},
				{key: "seg2", dur: 4 * time.Second, parts: 20},
				{key: "seg3", ranged: true, off: 0, size: 400, dur: 800 * ms, parts: 4},
			}},
		{name: "nearest_key_after", segs: src, start: 5700 * ms, end: 9 * time.Second,
			gotStart: 6 * time.Second, gotEnd: 9 * time.Second, parts: true, moved: true,
			rows: []wantRow{
				{key: "seg1", ranged: true, off: 1000, size: 1000, dur: 2 * time.Second, parts: 10, pdtShift: 2 * time.Second},
				{key: "seg2", ranged: true, off: 0, size: 500, dur: time.Second, parts: 5},
			}},
		{name: "on_a_key_frame", segs: src, start: 3 * time.Second, end: 3400 * ms,
			gotStart: 3 * time.Second, gotEnd: 3400 * ms, parts: true,
			rows: []wantRow{{key: "seg0", ranged: true, off: 1500, size: 200, dur: 400 * ms, parts: 2, pdtShift: 3 * time.Second}}},
		{name: "key_frame_past_the_end_is_not_taken", segs: src, start: 5800 * ms, end: 5900 * ms,
			// 6.0 is nearer, but at or after the end: 5.0
			gotStart: 5 * time.Second, gotEnd: 6 * time.Second, parts: true, moved: true,
			rows: []wantRow{{key: "seg1", ranged: true, off: 500, size: 500, dur: time.Second, parts: 5, pdtShift: time.Second}}},
		{name: "whole_video", segs: src, start: 0, end: 20 * time.Second,
			gotStart: 0, gotEnd: 20 * time.Second, parts: true,
			rows: []wantRow{{key: "seg0", dur: 4 * time.Second, parts: 20}, {key: "seg1", dur: 4 * time.Second, parts: 20},
				{key: "seg2", dur: 4 * time.Second, parts: 20}, {key: "seg3", dur: 4 * time.Second, parts: 20}, {key: "seg4", dur: 4 * time.Second, parts: 20}}},
		{name: "segment_aligned", segs: src, start: 4 * time.Second, end: 8 * time.Second,
			gotStart: 4 * time.Second, gotEnd: 8 * time.Second, parts: true,
			rows: []wantRow{{key: "seg1", dur: 4 * time.Second, parts: 20}}},
		{name: "old_recording_nearest_segment_boundaries", segs: wholeSegments(6, time.Second), start: 1400 * ms, end: 3600 * ms,
			gotStart: time.Second, gotEnd: 4 * time.Second,
			rows: []wantRow{{key: "seg1", dur: time.Second}, {key: "seg2", dur: time.Second}, {key: "seg3", dur: time.Second}}},
		{name: "old_recording_within_one_segment", segs: wholeSegments(6, time.Second), start: 2200 * ms, end: 2400 * ms,
			gotStart: 2 * time.Second, gotEnd: 3 * time.Second,
			rows: []wantRow{{key: "seg2", dur: time.Second}}},
		{name: "empty", segs: nil, start: 0, end: time.Second, err: ErrOutOfRange},
		{name: "reversed", segs: src, start: 3 * time.Second, end: 2 * time.Second, err: ErrOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows, cr, err := planClip(tc.segs, tc.start, tc.end)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if cr.Start != tc.gotStart || cr.End != tc.gotEnd || cr.PartBoundaries != tc.parts || cr.StartMoved != tc.moved ||
				cr.RequestedStart != tc.start || cr.RequestedEnd != tc.end {
				t.Fatalf("range %+v, want %v-%v parts %v moved %v", cr, tc.gotStart, tc.gotEnd, tc.parts, tc.moved)
			}
			checkRows(t, tc.segs, rows, tc.rows)
			var sum time.Duration
			for _, r := range rows {
				sum += r.Duration
			}
			if sum != cr.End-cr.Start {
				t.Fatalf("the rows last %v, the range %v", sum, cr.End-cr.Start)
			}
		})
	}
}

func checkRows(t *testing.T, segs, rows []*store.VideoSegment, want []wantRow) {
	t.Helper()
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		var src *store.VideoSegment
		for _, s := range segs {
			if strings.HasSuffix(s.Key, "/"+w.key+".m4s") || s.Key == w.key {
				src = s
			}
		}
		if src == nil {
			t.Fatalf("row %d: no source segment %s", i, w.key)
		}
		size := w.size
		if !w.ranged {
			size = src.Size
		}
		if r.Key != src.Key || r.InitKey != src.InitKey || r.Ranged != w.ranged || r.Offset != w.off || r.Size != size ||
			r.Duration != w.dur || len(r.Parts) != w.parts || (i == 0 && r.Discontinuity) {
			t.Fatalf("row %d = %+v, want %+v", i, r, w)
		}
		if !src.ProgramDateTime.IsZero() && !r.ProgramDateTime.Equal(src.ProgramDateTime.Add(w.pdtShift)) {
			t.Fatalf("row %d date %v, want the source's %v + %v", i, r.ProgramDateTime, src.ProgramDateTime, w.pdtShift)
		}
		if len(r.Parts) > 0 {
			if !r.Parts[0].Independent && i == 0 {
				t.Fatalf("row 0 does not start on a key frame: %+v", r.Parts[0])
			}
			if r.Parts[0].Offset != r.Offset || r.Parts[len(r.Parts)-1].Offset+r.Parts[len(r.Parts)-1].Size != r.Offset+r.Size {
				t.Fatalf("row %d: parts %+v do not span [%d, %d)", i, r.Parts, r.Offset, r.Offset+r.Size)
			}
		}
	}
}

// A clip of a clip cuts inside the first clip's byte ranges: offsets stay
// those of the source's files.
func TestPlanClipOfAClip(t *testing.T) {
	src := partedSegments(5, 4*time.Second, 200*ms, time.Second, 100)
	first, _, err := planClip(src, 5300*ms, 12700*ms) // 5.0-12.8
	if err != nil {
		t.Fatal(err)
	}
	// in the first clip's time: 0.5 is a tie between the key frames at 0
	// and 1 (the earlier); 3.1 s is seg2's 0.1 s, between its parts at 3.0
	// and 3.2 (the later)
	rows, cr, err := planClip(first, 500*ms, 3100*ms)
	if err != nil {
		t.Fatal(err)
	}
	if cr.Start != 0 || cr.End != 3200*ms || !cr.PartBoundaries {
		t.Fatalf("range %+v", cr)
	}
	checkRows(t, src, rows, []wantRow{
		{key: "seg1", ranged: true, off: 500, size: 1500, dur: 3 * time.Second, parts: 15, pdtShift: time.Second},
		{key: "seg2", ranged: true, off: 0, size: 100, dur: 200 * ms, parts: 1},
	})
	// all of a cut segment: its range is kept as it is
	rows, _, err = planClip(first, 0, 3*time.Second)
	if err != nil || len(rows) != 1 || !rows[0].Ranged || rows[0].Offset != 500 || rows[0].Size != 1500 {
		t.Fatalf("whole first segment of a clip: %+v, %v", rows, err)
	}
}

// partSeg is a segment of the packager with a part layout: parts of 5
// bytes and 250 ms, the first and third starting on key frames.
func partSeg(msn uint64) hls.SegmentInfo {
	s := seg(msn, 0)
	s.Parts = nil
	for i := range 4 {
		s.Parts = append(s.Parts, []byte(fmt.Sprintf("p%d.%02d", i, msn)))
		s.PartInfo = append(s.PartInfo, hls.PartInfo{Duration: 250 * ms, Independent: i%2 == 0})
	}
	return s
}

// TestRecorderClipByteRanges: the recorder indexes the part layout; a
// clip cut inside segments plays byte ranges of the source's files.
func TestRecorderClipByteRanges(t *testing.T) {
	f := newFixture(t, store.RecordingAutomatic)
	r := f.recorder(t)
	r.Run(t.Context())
	r.Start("li_1", nil)
	for i := range uint64(4) {
		r.Segment("li_1", partSeg(i))
	}
	r.End("li_1")
	f.bus.wait(t, events.VideoReady)
	src := onlyVideo(t, f.st)
	segs, err := f.st.Videos().Segments(t.Context(), src.ID, 0, 0)
	if err != nil || len(segs) != 4 || len(segs[1].Parts) != 4 || segs[1].Parts[2] != (store.SegmentPart{Offset: 10, Size: 5, Duration: 250 * ms, Independent: true}) {
		t.Fatalf("indexed part layout: %+v, %v", segs, err)
	}
	// 1.3 s: the nearest boundary 1.25 is not a key frame: 1.5; 2.3: 2.25
	c, cr, err := r.Clip(t.Context(), src.ID, 1300*ms, 2300*ms, "parts")
	if err != nil {
		t.Fatal(err)
	}
	if cr.Start != 1500*ms || cr.End != 2250*ms || !cr.StartMoved || !cr.PartBoundaries || c.Duration != 750*ms {
		t.Fatalf("clip %+v, duration %v", cr, c.Duration)
	}
	pl, _, err := r.Playlist(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := "#EXTINF:0.50000,\n#EXT-X-BYTERANGE:10@10\nseg0.m4s\n"
	want2 := "#EXTINF:0.25000,\n#EXT-X-BYTERANGE:5@0\nseg1.m4s\n"
	if !bytes.Contains(pl, []byte(want)) || !bytes.Contains(pl, []byte(want2)) {
		t.Fatalf("clip playlist:\n%s", pl)
	}
	// the player's ranges of the clip's files are the source's parts
	o, err := r.Open(t.Context(), c.ID, "seg0.m4s")
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 10)
	if _, err := o.ReadAt(b, 10); err != nil || string(b) != "p2.01p3.01" {
		t.Fatalf("range of seg0.m4s: %q, %v", b, err)
	}
	_ = o.Close()
	var buf bytes.Buffer
	cs, _ := f.st.Videos().Segments(t.Context(), c.ID, 0, 0)
	for _, s := range cs {
		if err := r.copySegment(t.Context(), s, &buf); err != nil {
			t.Fatal(err)
		}
	}
	if buf.String() != "p2.01p3.01p0.02" {
		t.Fatalf("the clip's media (what the MP4 and thumbnails read): %q", buf.String())
	}
}
