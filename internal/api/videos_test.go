package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/store"
)

// fakeVideos is a VideoService over the store.
type fakeVideos struct {
	st      store.Store
	mu      sync.Mutex
	deleted []string
}

func (f *fakeVideos) Delete(ctx context.Context, id string) error {
	v, err := f.st.Videos().Get(ctx, id)
	if err != nil {
		return err
	}
	if v.Status == store.VideoLiveRecording {
		return ErrVideoRecording
	}
	f.mu.Lock()
	f.deleted = append(f.deleted, id)
	f.mu.Unlock()
	return f.st.Videos().Delete(ctx, id)
}

func (f *fakeVideos) RequestDownload(ctx context.Context, id string) (*store.Video, error) {
	v, err := f.st.Videos().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch v.Status {
	case store.VideoLiveRecording:
		return nil, ErrVideoRecording
	case store.VideoErrored:
		return nil, ErrVideoNotReady
	}
	v.DownloadStatus = store.DownloadPending
	return v, f.st.Videos().Update(ctx, v)
}

func (f *fakeVideos) Clip(ctx context.Context, id string, start, end time.Duration, name string) (*store.Video, ClipRange, error) {
	v, err := f.st.Videos().Get(ctx, id)
	if err != nil {
		return nil, ClipRange{}, err
	}
	if end > v.Duration {
		return nil, ClipRange{}, ErrVideoRange
	}
	c := *v
	c.ID = v.ID + "c"
	c.Meta = map[string]any{"name": name, "clip_of": id}
	if err := f.st.Videos().Create(ctx, &c); err != nil {
		return nil, ClipRange{}, err
	}
	return &c, ClipRange{RequestedStart: start, RequestedEnd: end, Start: start.Truncate(time.Second), End: end}, nil
}

// videoEnv is an env with videos: vid_0..vid_4 of li_a/li_b, vid_4
// recording, vid_3 errored.
func videoEnv(t *testing.T, e *env) *fakeVideos {
	t.Helper()
	fv := &fakeVideos{st: e.st}
	e.srv.videos = VideosDeps{Videos: fv}
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		c := base.Add(time.Duration(i) * time.Hour)
		v := &store.Video{ID: fmt.Sprintf("vid_%d", i), LiveInputID: []string{"li_a", "li_b"}[i%2], Status: store.VideoReady,
			CreatedAt: c, StartedAt: c, UpdatedAt: c, Meta: map[string]any{}, DownloadStatus: store.DownloadNone,
			Tracks: []store.VideoTrack{{Kind: "video", Codec: "h264", Width: 640, Height: 360}}}
		switch i {
		case 3:
			v.Status, v.ErrorCode, v.ErrorMessage = store.VideoErrored, "no_media", "nothing recorded"
		case 4:
			v.Status = store.VideoLiveRecording
		}
		if err := e.st.Videos().Create(t.Context(), v); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Videos().AddSegment(t.Context(), &store.VideoSegment{VideoID: v.ID, Duration: 2500 * time.Millisecond, InitKey: "i", Key: "k", Size: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	return fv
}

func listIDs(r resp) []string {
	out := []string{}
	for _, v := range r.list() {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	return out
}

func TestVideosList(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		videoEnv(t, e)
		li := e.create(map[string]any{"name": "x"})["id"].(string)
		tests := []struct {
			name, path string
			status     int
			want       []string
		}{
			{"all", "/v1/videos", 200, []string{"vid_0", "vid_1", "vid_2", "vid_3", "vid_4"}},
			{"by_input", "/v1/videos?live_input_id=li_b", 200, []string{"vid_1", "vid_3"}},
			{"by_status", "/v1/videos?status=live_recording", 200, []string{"vid_4"}},
			{"created_window", "/v1/videos?created_after=" + url.QueryEscape("2025-06-01T12:30:00Z") + "&created_before=" + url.QueryEscape("2025-06-01T15:00:00+00:00"), 200, []string{"vid_1", "vid_2"}},
			{"bad_status", "/v1/videos?status=done", 400, nil},
			{"bad_time", "/v1/videos?created_before=yesterday", 400, nil},
			{"bad_input_id", "/v1/videos?live_input_id=a%20b", 400, nil},
			{"bad_limit", "/v1/videos?limit=0", 400, nil},
			{"input_none", "/v1/live_inputs/" + li + "/videos", 200, []string{}},
			{"input_unknown", "/v1/live_inputs/li_nope/videos", 404, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("GET", tc.path, e.admin, nil).want(t, tc.status, "")
				if tc.want != nil && fmt.Sprint(listIDs(r)) != fmt.Sprint(tc.want) {
					t.Fatalf("ids %v, want %v", listIDs(r), tc.want)
				}
			})
		}
		// cursor pages, bound to their filters
		r := e.do("GET", "/v1/videos?limit=2", e.admin, nil).want(t, 200, "")
		cur, _ := r.JSON["next_cursor"].(string)
		if fmt.Sprint(listIDs(r)) != "[vid_0 vid_1]" || cur == "" {
			t.Fatalf("page 1: %v %q", listIDs(r), cur)
		}
		r = e.do("GET", "/v1/videos?limit=2&cursor="+cur, e.admin, nil).want(t, 200, "")
		if fmt.Sprint(listIDs(r)) != "[vid_2 vid_3]" {
			t.Fatalf("page 2: %v", listIDs(r))
		}
		e.do("GET", "/v1/videos?limit=2&status=ready&cursor="+cur, e.admin, nil).want(t, 400, CodeInvalidCursor)
	})
}

func TestVideosLiveInputNewestFirst(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	videoEnv(t, e)
	// the live input must exist for /v1/live_inputs/ID/videos
	li := &store.LiveInput{ID: "li_a", Name: "a", Meta: map[string]any{}, StreamKeyHash: []byte{9}, AllowedOrigins: []string{}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := e.st.LiveInputs().Create(t.Context(), li); err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/v1/live_inputs/li_a/videos", e.admin, nil).want(t, 200, "")
	if fmt.Sprint(listIDs(r)) != "[vid_4 vid_2 vid_0]" {
		t.Fatalf("newest first: %v", listIDs(r))
	}
	r = e.do("GET", "/v1/live_inputs/li_a/videos?limit=1", e.admin, nil).want(t, 200, "")
	r = e.do("GET", "/v1/live_inputs/li_a/videos?limit=5&cursor="+r.JSON["next_cursor"].(string), e.admin, nil).want(t, 200, "")
	if fmt.Sprint(listIDs(r)) != "[vid_2 vid_0]" {
		t.Fatalf("newest first, page 2: %v", listIDs(r))
	}
}

func TestVideosGetPatchDelete(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		fv := videoEnv(t, e)
		v := e.do("GET", "/v1/videos/vid_0", e.admin, nil).want(t, 200, "").data()
		if v["status"] != "ready" || v["duration_seconds"] != 2.5 || v["size_bytes"] != 1000.0 || v["error"] != nil {
			t.Fatalf("video: %v", v)
		}
		for _, k := range []string{"playback", "thumbnail", "download", "tracks", "meta", "allowed_origins", "scheduled_deletion", "ended_at"} {
			if _, ok := v[k]; !ok {
				t.Errorf("video lacks %s", k)
			}
		}
		if hls := v["playback"].(map[string]any)["hls"].(string); hls != e.hs.URL+"/videos/vid_0/index.m3u8" {
			t.Errorf("playback.hls %s", hls)
		}
		if e3 := e.do("GET", "/v1/videos/vid_3", e.admin, nil).want(t, 200, "").data()["error"].(map[string]any); e3["code"] != "no_media" {
			t.Errorf("errored video: %v", e3)
		}
		e.do("GET", "/v1/videos/vid_nope", e.admin, nil).want(t, 404, CodeNotFound)
		e.do("GET", "/v1/videos/a%20b", e.admin, nil).want(t, 404, CodeNotFound)

		patches := []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"meta", map[string]any{"meta": map[string]any{"title": "Keynote"}}, 200, ""},
			{"schedule", map[string]any{"scheduled_deletion": "2030-01-02T03:04:05Z", "require_signed_urls": true, "allowed_origins": []string{"https://a.example"}}, 200, ""},
			{"unknown_field", map[string]any{"status": "ready"}, 400, CodeUnknownField},
			{"bad_time", map[string]any{"scheduled_deletion": "soon"}, 400, CodeValidation},
			{"bad_origin", map[string]any{"allowed_origins": []string{"ftp://x"}}, 400, CodeValidation},
			{"bad_json", "{", 400, CodeInvalidJSON},
		}
		for _, tc := range patches {
			e.do("PATCH", "/v1/videos/vid_0", e.admin, tc.body).want(t, tc.status, tc.code)
		}
		v = e.do("GET", "/v1/videos/vid_0", e.admin, nil).want(t, 200, "").data()
		if v["meta"].(map[string]any)["title"] != "Keynote" || v["scheduled_deletion"] != "2030-01-02T03:04:05.000Z" || v["require_signed_urls"] != true {
			t.Fatalf("after PATCH: %v", v)
		}
		e.do("PATCH", "/v1/videos/vid_0", e.admin, map[string]any{"scheduled_deletion": nil}).want(t, 200, "")
		if v = e.do("GET", "/v1/videos/vid_0", e.admin, nil).data(); v["scheduled_deletion"] != nil {
			t.Fatalf("scheduled_deletion after null: %v", v["scheduled_deletion"])
		}

		// downloads
		if d := e.do("POST", "/v1/videos/vid_0/downloads", e.admin, nil).want(t, 202, "").data(); d["status"] != "pending" {
			t.Errorf("download: %v", d)
		}
		e.do("POST", "/v1/videos/vid_4/downloads", e.admin, nil).want(t, 409, CodeConflict)
		e.do("POST", "/v1/videos/vid_3/downloads", e.admin, nil).want(t, 409, CodeConflict)
		e.do("POST", "/v1/videos/vid_nope/downloads", e.admin, nil).want(t, 404, CodeNotFound)

		// clips
		c := e.do("POST", "/v1/videos/vid_0/clips", e.admin, map[string]any{"start_seconds": 0.5, "end_seconds": 2, "name": "best"}).want(t, 201, "").data()
		if cl := c["clip"].(map[string]any); c["id"] != "vid_0c" || cl["actual_start_seconds"] != 0.0 || cl["start_seconds"] != 0.5 ||
			cl["actual_end_seconds"] != 2.0 || cl["cut_at"] != "segments" || cl["note"] == "" || cl["source_video_id"] != "vid_0" {
			t.Errorf("clip: %v", c)
		}
		for _, tc := range []struct {
			body   any
			status int
		}{
			{map[string]any{"start_seconds": 0, "end_seconds": 99}, 400},
			{map[string]any{"start_seconds": 2, "end_seconds": 1}, 400},
			{map[string]any{"end_seconds": 1}, 400},
			{map[string]any{"start_seconds": -1, "end_seconds": 1}, 400},
			{map[string]any{"start_seconds": 0, "end_seconds": 1, "extra": 1}, 400},
		} {
			e.do("POST", "/v1/videos/vid_1/clips", e.admin, tc.body).want(t, tc.status, "")
		}
		e.do("POST", "/v1/videos/vid_nope/clips", e.admin, map[string]any{"start_seconds": 0, "end_seconds": 1}).want(t, 404, CodeNotFound)

		// delete
		e.do("DELETE", "/v1/videos/vid_4", e.admin, nil).want(t, 409, CodeConflict)
		e.do("DELETE", "/v1/videos/vid_0", e.admin, nil).want(t, 204, "")
		e.do("GET", "/v1/videos/vid_0", e.admin, nil).want(t, 404, CodeNotFound)
		e.do("DELETE", "/v1/videos/vid_0", e.admin, nil).want(t, 404, CodeNotFound)
		if fmt.Sprint(fv.deleted) != "[vid_0]" {
			t.Errorf("deleted %v", fv.deleted)
		}

		// without a recorder
		e.srv.videos = VideosDeps{}
		e.do("DELETE", "/v1/videos/vid_1", e.admin, nil).want(t, 501, CodeNotSupported)
	})
}

func TestVideosScopes(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	videoEnv(t, e)
	read, write, li := e.token(ScopeVideosRead), e.token(ScopeVideosWrite), e.token(ScopeLiveInputsWrite)
	tests := []struct {
		token, method, path string
		status              int
	}{
		{read, "GET", "/v1/videos", 200},
		{read, "GET", "/v1/videos/vid_1", 200},
		{read, "DELETE", "/v1/videos/vid_1", 403},
		{read, "PATCH", "/v1/videos/vid_1", 403},
		{write, "GET", "/v1/videos/vid_1", 200}, // write implies read
		{write, "DELETE", "/v1/videos/vid_1", 204},
		{li, "GET", "/v1/videos", 403},
		{"", "GET", "/v1/videos", 401},
	}
	for _, tc := range tests {
		var body any
		if tc.method == "PATCH" {
			body = map[string]any{}
		}
		if r := e.do(tc.method, tc.path, tc.token, body); r.Status != tc.status {
			t.Errorf("%s %s: HTTP %d, want %d: %s", tc.method, tc.path, r.Status, tc.status, r.Body)
		}
	}
}

// FuzzVideoPatch: any body either patches a video into a valid one or is
// refused with an API error; never a panic.
func FuzzVideoPatch(f *testing.F) {
	for _, s := range []string{`{}`, `{"meta":{"a":{"b":[1,null]}}}`, `{"scheduled_deletion":"2030-01-02T03:04:05Z"}`,
		`{"scheduled_deletion":null,"meta":null}`, `{"allowed_origins":["https://a.example","*"]}`, `{"require_signed_urls":null}`, `{"status":"x"}`, `[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v := &store.Video{Meta: map[string]any{"k": "v"}, AllowedOrigins: []string{}}
		if err := applyVideoPatch(v, b); err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("patch error %T: %v", err, err)
			}
			return
		}
		for _, o := range v.AllowedOrigins {
			if !validOrigin(o) {
				t.Fatalf("accepted origin %q", o)
			}
		}
		if v.Meta == nil || v.AllowedOrigins == nil {
			t.Fatal("nil meta or origins after a patch")
		}
	})
}

func TestClipNote(t *testing.T) {
	for _, tc := range []struct {
		cr    ClipRange
		cutAt string
		has   []string
	}{
		{ClipRange{RequestedStart: 5300 * time.Millisecond, RequestedEnd: 12700 * time.Millisecond, Start: 5 * time.Second, End: 12800 * time.Millisecond,
			PartBoundaries: true, StartMoved: true}, "parts", []string{"part boundaries", "key frame", "5.000 s to 12.800 s for 5.300 s to 12.700 s"}},
		{ClipRange{RequestedStart: time.Second, RequestedEnd: 2 * time.Second, Start: time.Second, End: 2 * time.Second, PartBoundaries: true}, "parts", []string{"part boundaries"}},
		{ClipRange{RequestedStart: 1500 * time.Millisecond, RequestedEnd: 2 * time.Second, Start: time.Second, End: 2 * time.Second}, "segments", []string{"segment boundaries", "no part layout"}},
	} {
		cutAt, note := clipNote(tc.cr)
		if cutAt != tc.cutAt {
			t.Errorf("%+v: cut_at %q, want %q", tc.cr, cutAt, tc.cutAt)
		}
		for _, h := range tc.has {
			if !strings.Contains(note, h) {
				t.Errorf("%+v: note %q lacks %q", tc.cr, note, h)
			}
		}
		if !tc.cr.StartMoved && strings.Contains(note, "key frame") {
			t.Errorf("%+v: note %q speaks of a key frame", tc.cr, note)
		}
	}
}

// TestVideoData: the data of the recording.started and video.* events is
// the video as GET /v1/videos/ID returns it (its URLs name the configured
// HTTP address; here none is configured, so the request's host for GET
// and localhost for the event).
func TestVideoData(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		videoEnv(t, e)
		host := strings.TrimPrefix(e.hs.URL, "http://")
		for _, id := range []string{"vid_0", "vid_3", "vid_4"} {
			r := e.do("GET", "/v1/videos/"+id, e.admin, nil).want(t, 200, "")
			gb, err := json.Marshal(r.data())
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(strings.ReplaceAll(string(gb), "http://"+host+"/", "http://localhost/")), &want); err != nil {
				t.Fatal(err)
			}
			v, err := e.st.Videos().Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			db, err := json.Marshal(e.srv.VideoData(v))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(db, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: VideoData\n%s\nGET\n%s", id, db, gb)
			}
		}
	})
}
