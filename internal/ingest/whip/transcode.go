package whip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
)

// AAC output of the Opus→AAC transcode: AAC-LC, 48 kHz, stereo, 1024
// samples per frame (ISO/IEC 14496-3 §4.5.1).
const (
	aacSampleRate     = 48000
	aacFrameSamples   = 1024
	transcodeQueue    = 256
	transcodeStopWait = 3 * time.Second
)

// aacConfig is the AudioSpecificConfig of the transcode's output: object
// type 2 (AAC LC), sampling frequency index 3 (48 kHz), channel configuration
// 2 (ISO/IEC 14496-3 §1.6.2.1).
var aacConfig = [2]byte{0x11, 0x90}

// transcodeStall: an audio transcode fed Opus that gives no AAC for this
// long is stuck; the watchdog kills it and the session goes on without
// audio (a restart would start a new AAC timeline mid-session).
const transcodeStall = 10 * time.Second

// transcoder turns Opus packets into AAC frames with an ffmpeg child process:
//
//	ffmpeg -f ogg -i pipe:0 -af aresample=async=1 -c:a aac -b:a 128k -ar 48000 -ac 2 -f adts pipe:1
//
// Opus goes in as Ogg Opus (RFC 7845) pages; aresample fills gaps from the
// granule positions, so output frame i covers samples [i·1024, (i+1)·1024)
// after the encoder's priming frame. The process is internal/ffmpeg's: its
// stderr goes to the session's log, it holds ffmpeg.AudioUnits of the
// daemon's ffmpeg capacity while it runs.
type transcoder struct {
	log     *slog.Logger
	p       *ffmpeg.Process
	lease   *ffmpeg.Lease
	in      chan []byte
	ogg     *oggOpusWriter
	wg      sync.WaitGroup
	stop    sync.Once
	dropped atomic.Uint64
	exited  chan struct{}
}

// startTranscoder starts ffmpeg at path, drawing on acct (nil: not
// counted). onFrame is called from the transcoder's goroutine for every
// AAC frame, with its index in the output.
func startTranscoder(ctx context.Context, path string, acct *ffmpeg.Account, log *slog.Logger, onFrame func(index int64, f adtsFrame)) (*transcoder, error) {
	var lease *ffmpeg.Lease
	var metrics *ffmpeg.Metrics
	if acct != nil {
		var err error
		if lease, err = acct.Take(ffmpeg.Live, ffmpeg.AudioUnits); err != nil {
			return nil, err
		}
		metrics = acct.Metrics()
	}
	p, err := ffmpeg.Start(ctx, ffmpeg.Config{
		Path: path,
		Args: []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
			"-fflags", "nobuffer", "-probesize", "4096", "-analyzeduration", "0",
			"-f", "ogg", "-i", "pipe:0",
			"-vn", "-af", "aresample=async=1",
			"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
			"-flush_packets", "1", "-f", "adts", "pipe:1"},
		Logger: log.With("step", "audio_transcode"), Stdin: true, Stdout: true,
		StallTimeout: transcodeStall, WaitDelay: transcodeStopWait, Metrics: metrics,
	})
	if err != nil {
		lease.Release()
		return nil, err
	}
	t := &transcoder{
		log:    log,
		p:      p,
		lease:  lease,
		in:     make(chan []byte, transcodeQueue),
		ogg:    newOggOpusWriter(0x6d70666c),
		exited: make(chan struct{}),
	}
	headers := t.ogg.headers(2)
	t.wg.Add(2)
	go t.writeLoop(p.Stdin(), headers)
	go t.readLoop(p.Stdout(), onFrame)
	go func() {
		t.wg.Wait()
		if err := p.Wait(); err != nil && ctx.Err() == nil {
			log.Warn("ffmpeg audio transcode exited", "error", err)
		}
		close(t.exited)
	}()
	return t, nil
}

// write queues one Opus packet whose last sample is at granule (48 kHz
// samples since the first packet). It never blocks; a full queue drops.
func (t *transcoder) write(packet []byte, granule uint64) {
	page, err := t.ogg.page(packet, granule, 0)
	if err != nil {
		return
	}
	select {
	case t.in <- page:
	default:
		if t.dropped.Add(1) == 1 {
			t.log.Warn("audio transcode queue full, dropping opus packets")
		}
	}
}

// close ends the input, lets ffmpeg flush for up to transcodeStopWait and
// waits for the process and its goroutines. Idempotent; the caller must not
// call write concurrently with or after close.
func (t *transcoder) close() {
	t.stop.Do(func() {
		close(t.in)
		select {
		case <-t.exited:
		case <-time.After(transcodeStopWait):
			t.p.Stop()
			<-t.exited
		}
		t.p.Stop()
		t.lease.Release()
	})
}

func (t *transcoder) writeLoop(w io.WriteCloser, headers []byte) {
	defer t.wg.Done()
	defer w.Close()
	if _, err := w.Write(headers); err != nil {
		t.drain()
		return
	}
	for page := range t.in {
		if _, err := w.Write(page); err != nil {
			t.log.Warn("ffmpeg audio transcode input closed", "error", err)
			t.drain()
			return
		}
	}
}

// drain consumes the queue until close so write never blocks on a dead
// process.
func (t *transcoder) drain() {
	for range t.in {
	}
}

func (t *transcoder) readLoop(r io.Reader, onFrame func(int64, adtsFrame)) {
	defer t.wg.Done()
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 16<<10)
	var index int64
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			f, used, perr := parseADTS(buf)
			if perr != nil {
				t.log.Warn("ffmpeg audio transcode: bad adts output", "error", perr)
				_, _ = io.Copy(io.Discard, r)
				return
			}
			if used == 0 {
				break
			}
			buf = buf[used:]
			onFrame(index, f)
			index++
		}
		if len(buf) == 0 {
			buf = buf[:0:cap(buf)]
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.log.Debug("ffmpeg audio transcode output", "error", err)
			}
			return
		}
	}
}
