package whip

import (
	"context"
	"log/slog"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
)

// AAC output of the Opus→AAC transcode: AAC-LC, 48 kHz, stereo, 1024
// samples per frame (ISO/IEC 14496-3 §4.5.1).
const (
	aacSampleRate   = 48000
	aacFrameSamples = 1024
)

// aacConfig is the AudioSpecificConfig of the transcode's output: object
// type 2 (AAC LC), sampling frequency index 3 (48 kHz), channel configuration
// 2 (ISO/IEC 14496-3 §1.6.2.1).
var aacConfig = [2]byte{0x11, 0x90}

// transcoder turns Opus packets into AAC frames with the daemon's shared
// AAC encoder (internal/ffmpeg):
//
//	ffmpeg -f ogg -i pipe:0 -af aresample=async=1 -c:a aac -b:a 128k -ar 48000 -ac 2 -f adts pipe:1
//
// Opus goes in as Ogg Opus (RFC 7845) pages; aresample fills gaps from the
// granule positions, so output frame i covers samples [i·1024, (i+1)·1024)
// after the encoder's priming frame. The process holds ffmpeg.AudioUnits
// of the daemon's ffmpeg capacity while it runs; its stderr goes to the
// session's log.
type transcoder struct {
	enc *ffmpeg.AACEncoder
	ogg *oggOpusWriter
}

// startTranscoder starts ffmpeg at path, drawing on acct (nil: not
// counted). onFrame is called from the encoder's goroutine for every AAC
// frame, with its index in the output.
func startTranscoder(ctx context.Context, path string, acct *ffmpeg.Account, log *slog.Logger, onFrame func(index int64, f ffmpeg.AACFrame)) (*transcoder, error) {
	enc, err := ffmpeg.StartAACEncoder(ctx, ffmpeg.AACEncoderConfig{
		Path: path, Account: acct, Units: ffmpeg.AudioUnits,
		InputArgs: []string{"-f", "ogg"}, ProbeSize: 4096,
		FilterArgs: []string{"-af", "aresample=async=1"},
		SampleRate: aacSampleRate, Channels: 2, Bitrate: "128k",
		Logger: log, OnFrame: onFrame,
	})
	if err != nil {
		return nil, err
	}
	t := &transcoder{enc: enc, ogg: newOggOpusWriter(0x6d70666c)}
	enc.Write(t.ogg.headers(2))
	return t, nil
}

// write queues one Opus packet whose last sample is at granule (48 kHz
// samples since the first packet). It never blocks; a full queue drops.
func (t *transcoder) write(packet []byte, granule uint64) {
	page, err := t.ogg.page(packet, granule, 0)
	if err != nil {
		return
	}
	t.enc.Write(page)
}

// close ends the input, lets ffmpeg flush and waits for the process.
// Idempotent; the caller must not call write concurrently with or after
// close.
func (t *transcoder) close() { t.enc.Close() }
