package upload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/record"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/internal/transcode"
)

// rungName is what a rung's name must look like to name its directory
// of the video (conf validates transcode.profiles names the same way).
var rungName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// Rung is one rendition of an adaptive VOD: a transcode profile placed on
// the source (never above it).
type Rung struct {
	Name          string
	Width, Height int   // even
	Bitrate       int64 // target video bit/s
	FPS           int   // frame rate cap applied; 0 = the source's kept
}

// PlanLadder makes p an adaptive ladder from profiles (config
// transcode.profiles, as live ladders use them): every profile at or
// below the output height, sorted by height descending, topped by a
// "source" rung at the output size when no profile is exactly there, so
// the best rendition keeps the source's resolution (up to 1080p). Every
// rung is H.264 (a profile's hevc codec is for live ladders only).
// Fewer than two rungs leave p a single rendition.
func (p *Plan) PlanLadder(profiles []transcode.Profile) {
	var ok []transcode.Profile
	names := make([]string, 0, len(profiles))
	for _, pr := range profiles {
		if rungName.MatchString(pr.Name) && pr.Name != sourceRung {
			ok = append(ok, pr)
			names = append(names, pr.Name)
		}
	}
	if len(ok) == 0 {
		return
	}
	w, h := p.OutWidth, p.OutHeight
	if p.CopyVideo { // a remux keeps the source's size; a ladder is at most 1080p
		w, h = fitBox(p.Width, p.Height, maxOutputWidth, maxOutputHeight)
	}
	portrait := h > w
	short, long := h, w
	if portrait { // profiles name the short side (a portrait 720p is 720 wide)
		short, long = w, h
	}
	placed, err := transcode.PlanLadder(ok, names, long, short, p.FPS)
	if err != nil {
		return
	}
	rungs := make([]Rung, 0, len(placed)+1)
	for _, r := range placed {
		rw, rh := r.Width, r.Height
		if portrait {
			rw, rh = rh, rw
		}
		rungs = append(rungs, Rung{Name: r.Name, Width: rw, Height: rh, Bitrate: r.Bitrate, FPS: r.FPS})
	}
	if len(rungs) == 0 || rungs[0].Width*rungs[0].Height < w*h {
		rungs = append([]Rung{{Name: sourceRung, Width: w, Height: h, Bitrate: transcode.SourceBitrate(ok, short)}}, rungs...)
	}
	if len(rungs) < 2 {
		return
	}
	p.Rungs = rungs
	p.CopyVideo = false
	p.OutWidth, p.OutHeight = rungs[0].Width, rungs[0].Height
}

// sourceRung names the top rung made at the source's size.
const sourceRung = "source"

// ladderArgs are ffmpeg's arguments turning the file in into every rung
// of p in one run: one decode split into a scaler per rung, libx264 at
// each rung's bitrate (capped VBV), key frames forced on the same
// instants in every rung (every segment, no scene-cut key frames) so
// segments align across rungs, AAC muxed into each rung, written by the
// HLS muxer as fragmented MP4 (RFC 8216bis §3.3) in dir/NAME/ (init_I.mp4,
// segN.m4s, index.m3u8) with the multivariant playlist dir/master.m3u8.
func (p *Plan) ladderArgs(in, dir string) []string {
	var fc strings.Builder
	fmt.Fprintf(&fc, "[0:v:0]split=%d", len(p.Rungs))
	for i := range p.Rungs {
		fmt.Fprintf(&fc, "[s%d]", i)
	}
	for i, r := range p.Rungs {
		fmt.Fprintf(&fc, ";[s%d]", i)
		if r.FPS > 0 {
			fmt.Fprintf(&fc, "fps=%d,", r.FPS)
		}
		fmt.Fprintf(&fc, "scale=%d:%d,setsar=1,format=yuv420p[v%d]", r.Width, r.Height, i) // square pixels: the rung shows at its size
	}
	args := []string{"-i", in, "-filter_complex", fc.String()}
	var vsm []string
	for i, r := range p.Rungs {
		args = append(args, "-map", "[v"+strconv.Itoa(i)+"]")
		m := "v:" + strconv.Itoa(i)
		if p.AudioCodec != "" {
			args = append(args, "-map", "0:a:0")
			m += ",a:" + strconv.Itoa(i)
		}
		vsm = append(vsm, m+",name:"+r.Name)
	}
	args = append(args, "-sn", "-dn", "-map_metadata", "-1", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high")
	for i, r := range p.Rungs {
		s, b := strconv.Itoa(i), strconv.FormatInt(r.Bitrate, 10)
		args = append(args, "-b:v:"+s, b, "-maxrate:v:"+s, strconv.FormatInt(r.Bitrate*3/2, 10), "-bufsize:v:"+s, strconv.FormatInt(r.Bitrate*2, 10))
	}
	args = append(args, "-force_key_frames", "expr:gte(t,n_forced*"+strconv.Itoa(defaultSegmentSeconds)+")", "-sc_threshold", "0")
	if p.HDR {
		args = append(args, "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709")
	}
	if p.AudioCodec != "" {
		if p.CopyAudio {
			args = append(args, "-c:a", "copy")
		} else {
			args = append(args, "-c:a", "aac", "-b:a", "128k", "-ac", "2")
		}
	}
	return append(args, "-f", "hls", "-var_stream_map", strings.Join(vsm, " "), "-master_pl_name", "master.m3u8",
		"-hls_time", strconv.Itoa(defaultSegmentSeconds), "-hls_playlist_type", "vod",
		"-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4",
		"-hls_segment_filename", dir+"/%v/seg%d.m4s", "-hls_flags", "independent_segments", dir+"/%v/index.m3u8")
}

// ladderUnits is the ladder's cost on the capacity account: the sum of
// its rungs' output megapixels per second.
func (p *Plan) ladderUnits() float64 {
	var u float64
	for _, r := range p.Rungs {
		fps := p.FPS
		if r.FPS > 0 {
			fps = math.Min(fps, float64(r.FPS))
		}
		u += float64(r.Width*r.Height) * math.Min(fps, 60) / 1e6
	}
	return u
}

// parseMasterCodecs reads the multivariant playlist ffmpeg's HLS muxer
// wrote (RFC 8216bis §4.4.6.2 EXT-X-STREAM-INF) and returns the CODECS
// attribute of each variant by its URI.
func parseMasterCodecs(b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	pending, have := "", false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			pending, _ = attr(line[len("#EXT-X-STREAM-INF:"):], "CODECS")
			have = true
		case strings.HasPrefix(line, "#"):
		default:
			if !have {
				return nil, fmt.Errorf("multivariant playlist: URI %q without EXT-X-STREAM-INF", line)
			}
			if len(out) == 64 {
				return nil, errors.New("multivariant playlist: too many variants")
			}
			if strings.ContainsAny(pending, "\"\r\n") {
				pending = ""
			}
			out[line], pending, have = pending, "", false
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("multivariant playlist: %w", err)
	}
	return out, nil
}

// storeLadder stores the renditions ffmpeg wrote in dir (ladderArgs) as
// the files of video id: each rung's init segment, segments and media
// playlist under record.RenditionKey, the multivariant playlist as the
// video's record.PlaylistName, and the best rung's segments in the
// video's index (what its thumbnails, MP4 download and clips are made
// of). It returns the video's tracks: one video track per rung with its
// measured bitrate, and the audio track.
func (s *Service) storeLadder(ctx context.Context, id string, plan *Plan, dir string, maxDur time.Duration) ([]store.VideoTrack, error) {
	mb, err := os.ReadFile(filepath.Join(dir, "master.m3u8"))
	if err != nil {
		return nil, err
	}
	codecs, err := parseMasterCodecs(mb)
	if err != nil {
		return nil, err
	}
	tracks := make([]store.VideoTrack, 0, len(plan.Rungs)+1)
	variants := make([]hls.VODVariant, 0, len(plan.Rungs))
	for i, r := range plan.Rungs {
		rdir := filepath.Join(dir, r.Name)
		pl, err := os.ReadFile(filepath.Join(rdir, record.PlaylistName))
		if err != nil {
			return nil, err
		}
		initFile, segs, err := parseOutput(pl)
		if err != nil {
			return nil, fmt.Errorf("rung %s: %w", r.Name, err)
		}
		if i == 0 {
			if err := checkDuration(segs, maxDur); err != nil {
				return nil, err
			}
		}
		initKey := record.RenditionKey(id, r.Name, "init0.mp4")
		if err := s.putFile(ctx, initKey, filepath.Join(rdir, initFile)); err != nil {
			return nil, err
		}
		vsegs := make([]hls.VODSegment, 0, len(segs))
		var total, peak int64
		var dur time.Duration
		for j, sg := range segs {
			p := filepath.Join(rdir, sg.File)
			st, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			name := "seg" + strconv.Itoa(j) + ".m4s"
			key := record.RenditionKey(id, r.Name, name)
			if err := s.putFile(ctx, key, p); err != nil {
				return nil, err
			}
			if i == 0 {
				if err := s.cfg.Videos.AddSegment(ctx, &store.VideoSegment{VideoID: id, Seq: int64(j), Duration: sg.Duration,
					InitKey: initKey, Key: key, Size: st.Size()}); err != nil {
					return nil, err
				}
			}
			vsegs = append(vsegs, hls.VODSegment{URI: name, InitURI: "init0.mp4", Duration: sg.Duration})
			total, dur = total+st.Size(), dur+sg.Duration
			if sg.Duration >= time.Second/2 { // a short last segment's rate says little
				peak = max(peak, int64(float64(st.Size()*8)/sg.Duration.Seconds()))
			}
		}
		b, err := hls.VODPlaylist(vsegs)
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Blobs.Put(ctx, record.RenditionKey(id, r.Name, record.PlaylistName), bytes.NewReader(b), int64(len(b))); err != nil {
			return nil, err
		}
		avg := int64(0)
		if dur > 0 {
			avg = int64(float64(total*8) / dur.Seconds())
		}
		fps := plan.FPS
		if r.FPS > 0 {
			fps = math.Min(fps, float64(r.FPS))
		}
		variants = append(variants, hls.VODVariant{URI: r.Name + "/" + record.PlaylistName, Bandwidth: max(peak, avg),
			AverageBandwidth: avg, Codecs: codecs[r.Name+"/"+record.PlaylistName], Width: r.Width, Height: r.Height, FrameRate: fps})
		tracks = append(tracks, store.VideoTrack{Kind: "video", Codec: "h264", Width: r.Width, Height: r.Height, BitrateBPS: avg})
	}
	b, err := hls.VODMultivariant(variants)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Blobs.Put(ctx, record.Prefix(id)+record.PlaylistName, bytes.NewReader(b), int64(len(b))); err != nil {
		return nil, err
	}
	if plan.AudioCodec != "" {
		tracks = append(tracks, store.VideoTrack{Kind: "audio", Codec: "aac"})
	}
	return tracks, nil
}
