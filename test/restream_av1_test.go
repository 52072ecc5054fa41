package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/internal/ingest/whip/whiptest"
)

// TestRestreamAV1: an AV1 + Opus source (WHIP) on one daemon goes out to
// a second daemon over RTMP as Enhanced RTMP (av01); the target's HLS
// decodes as AV1 (the audio goes out as Opus over Enhanced RTMP; the
// target's HLS carries AAC made from it). An SRT output of the same source is
// errored as unsupported_codec with a message naming MPEG-TS.
func TestRestreamAV1(t *testing.T) {
	e2eTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	video, opus := whipVPXMedia(ctx, t, "av1", 45)

	tgIn := newInput("tg_av1")
	tg := startDaemon(t, daemonConfig{Inputs: []liveInput{tgIn}})
	admin, adminY := adminYAML()
	src := newInput("src_av1")
	sd := startDaemon(t, daemonConfig{Inputs: []liveInput{src}, ExtraYAML: adminY + restreamPrivateYAML})
	events := openEvents(ctx, t, sd, admin)

	base := "/v1/live_inputs/" + src.ID + "/outputs"
	outRTMP := apiOK(t, sd, admin, "POST", base, map[string]any{"name": "rtmp av1", "url": "rtmp://" + tg.RTMP + "/live", "stream_key": tgIn.Key}, 201)["id"].(string)
	outSRT := apiOK(t, sd, admin, "POST", base, map[string]any{"name": "srt av1", "url": tg.SRTURL("", "publish:"+tgIn.Key, "")}, 201)["id"].(string)

	dctx, dcancel := context.WithTimeout(ctx, 20*time.Second)
	sess, err := whiptest.Dial(dctx, sd.URL("/whip/"+src.ID), src.Key, whiptest.Options{Video: "av1"})
	dcancel()
	if err != nil {
		t.Fatalf("WHIP AV1 publish: %v", err)
	}
	defer sess.Close()
	streamDone := make(chan error, 1)
	go func() { streamDone <- sess.StreamFrames(ctx, video, 30, opus) }()
	defer func() { cancel(); <-streamDone }()

	live := waitOutput(ctx, t, sd, admin, src.ID, outRTMP, "broadcasting", 60*time.Second)
	st := waitOutput(ctx, t, sd, admin, src.ID, outSRT, "errored", 60*time.Second)
	le, _ := st["last_error"].(map[string]any)
	if le["code"] != "unsupported_codec" || !strings.Contains(fmt.Sprint(le["message"]), "MPEG-TS") {
		t.Fatalf("SRT output of an AV1 source: last_error %v", le)
	}

	mediaURL, multi := waitLive(ctx, t, tg, tgIn.ID, 60*time.Second)
	if !strings.Contains(multi.Raw, "av01.") {
		t.Errorf("target multivariant playlist names no av01:\n%s", multi.Raw)
	}
	file, _ := latestSegmentFile(ctx, t, mediaURL, "target")
	v, a := ffprobe(ctx, t, file, "v"), ffprobe(ctx, t, file, "a")
	if v.Codec != "av1" || v.Width != 320 || v.Height != 240 || v.Packets == 0 || (a.Codec != "aac" && a.Codec != "opus") {
		t.Fatalf("target segment: video %+v audio %+v", v, a)
	}
	if err := ffmpegDecodes(ctx, file); err != nil {
		t.Fatalf("target segment does not decode: %v", err)
	}
	t.Logf("target HLS: video %+v, audio %+v", v, a)

	// The publisher leaves: after the reconnect window the RTMP output
	// is idle, and the events said connected (at the connected_at the
	// status shows), errored (SRT) and disconnected, each naming no key.
	if err := sess.Delete(ctx); err != nil {
		t.Fatalf("WHIP DELETE: %v", err)
	}
	waitOutput(ctx, t, sd, admin, src.ID, outRTMP, "idle", 60*time.Second)
	want := map[string]string{"live_input.output.connected": outRTMP, "live_input.output.errored": outSRT, "live_input.output.disconnected": outRTMP}
	deadline := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-events.ch:
			typ, _ := ev["type"].(string)
			d, _ := ev["data"].(map[string]any)
			if id, ok := want[typ]; !ok || d["id"] != id {
				continue
			}
			if b := fmt.Sprint(ev); strings.Contains(b, tgIn.Key) {
				t.Fatalf("event %s carries the target's stream key: %s", typ, b)
			}
			if st, _ := d["status"].(map[string]any); typ == "live_input.output.connected" && st["connected_at"] != live["connected_at"] {
				t.Fatalf("connected event at %v, status connected_at %v", st["connected_at"], live["connected_at"])
			}
			delete(want, typ)
		case <-deadline:
			t.Fatalf("output events not seen: %v", want)
		}
	}
	sd.assertNoKeys(t, tgIn.Key)
}
