package rtsp

import (
	"context"
	"fmt"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// AudioTranscode lets sessions encode G.711 audio (ITU-T G.711, RTP payload
// types PCMU/PCMA, RFC 3551 §4.5.14), which HLS cannot carry, to AAC
// through the daemon's ffmpeg: each such session holds Units of the
// account while it runs. nil drops G.711 audio with a warning.
type AudioTranscode struct {
	Path    string          // ffmpeg; "" = on PATH
	Account *ffmpeg.Account // nil: not counted
}

// The AAC the G.711 transcode produces: AAC-LC, 48 kHz, mono, 1024
// samples per frame (ISO/IEC 14496-3 §4.5.1).
const (
	g711AACRate    = 48000
	g711AACSamples = 1024
	// maxG711Gap bounds the silence filled in for lost packets.
	maxG711Gap = time.Second
)

// startG711 starts the AAC encode of a G.711 track; on failure (no ffmpeg,
// capacity used up) it returns the reason and G.711 is dropped.
func (f *feeder) startG711(ctx context.Context, at *AudioTranscode) error {
	g, ok := f.plan.audio.format.(*format.G711)
	if !ok || at == nil {
		return fmt.Errorf("no audio transcode configured")
	}
	cfg, err := (&mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: g711AACRate, ChannelCount: 1}).Marshal()
	if err != nil {
		return err
	}
	in, silent := "alaw", byte(0xd5)
	if g.MULaw {
		in, silent = "mulaw", 0xff
	}
	ch := max(g.ChannelCount, 1)
	enc, err := ffmpeg.StartAACEncoder(ctx, ffmpeg.AACEncoderConfig{
		Path: at.Path, Account: at.Account, Units: ffmpeg.AudioUnits,
		InputArgs:  []string{"-f", in, "-ar", fmt.Sprint(g.SampleRate), "-ac", fmt.Sprint(ch)},
		SampleRate: g711AACRate, Channels: 1, Logger: f.log,
		OnFrame: f.onAAC,
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.enc, f.encConfig, f.g711Silent, f.g711Ch = enc, cfg, silent, ch
	f.mu.Unlock()
	return nil
}

// closeEncoder stops the G.711 transcode, if any; packets arriving later
// are dropped. Idempotent.
func (f *feeder) closeEncoder() {
	f.mu.Lock()
	enc := f.enc
	f.enc = nil
	f.mu.Unlock()
	if enc != nil {
		enc.Close()
	}
}

// feedG711 writes one packet's samples (ext: its extended RTP time, one
// tick per sample) to the encoder, filling lost packets with silence so
// that output frame i keeps starting (i-1)·1024 samples after the first
// one fed. Called with mu held.
func (f *feeder) feedG711(ext int64, payload []byte) {
	if len(payload) == 0 {
		return
	}
	if !f.g711Fed {
		f.g711Fed, f.g711Base, f.g711Next = true, ext, ext
	}
	switch gap := ext - f.g711Next; {
	case gap < 0:
		return // overlaps what was fed
	case gap > 0:
		if time.Duration(gap)*time.Second/time.Duration(f.audio.clock.rate) > maxG711Gap {
			gap = f.audio.clock.rate * int64(maxG711Gap/time.Second)
		}
		silence := make([]byte, int(gap)*f.g711Ch)
		for i := range silence {
			silence[i] = f.g711Silent
		}
		f.enc.Write(silence)
	}
	f.enc.Write(append([]byte(nil), payload...))
	f.g711Next = ext + int64(len(payload)/f.g711Ch)
}

// onAAC receives the encoder's frame index; frame 0 is the encoder's
// priming frame and is dropped.
func (f *feeder) onAAC(index int64, fr ffmpeg.AACFrame) {
	if index == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := &f.audio
	if f.pub == nil || f.aIdx < 0 || !f.g711Fed || !a.clock.anchored {
		return
	}
	base := a.clock.pts(f.g711Base)
	pts := base + time.Duration((index-1)*g711AACSamples)*time.Second/g711AACRate
	if a.wrote && pts <= a.lastPTS {
		return
	}
	a.lastPTS, a.wrote = pts, true
	u := &stream.Unit{Track: f.aIdx, DTS: pts, PTS: pts, Wall: f.baseWall.Add(pts - f.shift), Key: true, Data: fr.Data}
	if string(fr.Config) != string(f.encConfig) {
		f.encConfig = fr.Config
		u.Codec = stream.AAC{Config: fr.Config}
	}
	f.write(u, stream.KindAudio)
}
