package hlsout

import (
	"errors"
	"fmt"
	"sync"

	"github.com/mpegflow/mpegflow/hls"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// ErrNotLive is returned by AddRendition when the live input has no muxer.
var ErrNotLive = errors.New("stream not live")

// Rendition feeds access units into one extra rendition (for example a
// transcoded ladder rung) of a live input's muxer. Its timestamps must be on
// the source stream's timeline: renditions of a muxer share one timeline
// (RFC 8216bis §6.2.4), so their segments line up.
type Rendition struct {
	srv    *Server
	id     string
	mux    *hls.Muxer
	rend   *hls.Rendition
	tracks []stream.Track

	mu        sync.Mutex
	writeErrs int
}

// AddRendition adds rendition name, with tracks (codec parameters of at most
// one video and one audio track, indexed as in the units written), to the
// muxer of the live input's current stream. It may be called while the
// source rendition is being written; the multivariant playlist lists the
// new rendition (BANDWIDTH, CODECS, RESOLUTION) once it has a segment.
// ErrNotLive when the input has no muxer.
func (s *Server) AddRendition(liveInput, name string, tracks []stream.Track) (*Rendition, error) {
	s.mu.RLock()
	e := s.entries[liveInput]
	s.mu.RUnlock()
	if e == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotLive, liveInput)
	}
	return s.addRendition(e, name, tracks)
}

// addRendition adds rendition name to the muxer of e.
func (s *Server) addRendition(e *entry, name string, tracks []stream.Track) (*Rendition, error) {
	rc := hls.RenditionConfig{Name: name}
	for _, t := range tracks {
		c, err := toCodec(t.Codec)
		if err != nil {
			return nil, err
		}
		if t.Kind() == stream.KindVideo {
			rc.Video = c
		} else {
			rc.Audio = c
		}
	}
	rend, err := e.mux.AddRendition(rc)
	if err != nil {
		return nil, fmt.Errorf("add rendition %s: %w", name, err)
	}
	return &Rendition{srv: s, id: e.id, mux: e.mux, rend: rend, tracks: append([]stream.Track(nil), tracks...)}, nil
}

// Remove takes the rendition out of the live input's muxer while the
// stream goes on (hls.Muxer.RemoveRendition): new players do not see it,
// players on it get a client error on their next playlist request and
// move to another variant. Later writes fail. Idempotent.
func (r *Rendition) Remove() {
	if r.mux.RemoveRendition(r.rend.Name()) {
		r.srv.log.Info("hls rendition removed", "live_input", r.id, "rendition", r.Name())
	}
}

// Name is the rendition's name.
func (r *Rendition) Name() string { return r.rend.Name() }

// Write adds one access unit; u.Codec, when set, changes the track's codec
// parameters (a new init segment behind EXT-X-DISCONTINUITY), and
// u.Discontinuity announces that the timeline restarts with u (the
// source's publisher reconnected; RFC 8216bis §4.4.4.3). Write errors are
// counted and logged (rate-limited) as well as returned.
func (r *Rendition) Write(u *stream.Unit) error {
	if u.Track >= len(r.tracks) {
		return nil
	}
	kind := r.tracks[u.Track].Kind()
	var err error
	if u.Discontinuity {
		r.rend.Discontinuity()
	}
	if u.Codec != nil {
		c, cerr := toCodec(u.Codec)
		if cerr != nil {
			return cerr
		}
		if kind == stream.KindVideo {
			err = r.rend.SetVideoCodec(c)
		} else {
			err = r.rend.SetAudioCodec(c)
		}
		if err != nil {
			r.srv.log.Warn("codec change refused", "live_input", r.id, "rendition", r.Name(), "error", err)
		}
	}
	if kind == stream.KindVideo {
		err = r.rend.WriteVideo(hls.VideoUnit{DTS: u.DTS, PTS: u.PTS, Wall: u.Wall, Key: u.Key, NALUs: u.NALUs})
	} else {
		err = r.rend.WriteAudio(hls.AudioUnit{PTS: u.PTS, Wall: u.Wall, Frame: u.Data})
	}
	if err != nil {
		r.mu.Lock()
		r.writeErrs++
		n := r.writeErrs
		r.mu.Unlock()
		if n == 1 || n%1000 == 0 {
			r.srv.log.Warn("hls write failed", "live_input", r.id, "rendition", r.Name(), "error", err, "count", n)
		}
	}
	return err
}
