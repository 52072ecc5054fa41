package whip

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
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

// transcoder turns Opus packets into AAC frames with an ffmpeg child process:
//
//	ffmpeg -f ogg -i pipe:0 -af aresample=async=1 -c:a aac -b:a 128k -ar 48000 -ac 2 -f adts pipe:1
//
// Opus goes in as Ogg Opus (RFC 7845) pages; aresample fills gaps from the
// granule positions, so output frame i covers samples [i·1024, (i+1)·1024)
// after the encoder's priming frame. stderr goes to the log.
type transcoder struct {
	log     *slog.Logger
	cancel  context.CancelFunc
	cmd     *exec.Cmd
	in      chan []byte
	ogg     *oggOpusWriter
	wg      sync.WaitGroup
	stop    sync.Once
	dropped atomic.Uint64
	exited  chan struct{}
}

// startTranscoder starts ffmpeg at path. onFrame is called from the
// transcoder's goroutine for every AAC frame, with its index in the output.
func startTranscoder(ctx context.Context, path string, log *slog.Logger, onFrame func(index int64, f adtsFrame)) (*transcoder, error) {
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, path,
		"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-fflags", "nobuffer", "-probesize", "4096", "-analyzeduration", "0",
		"-f", "ogg", "-i", "pipe:0",
		"-vn", "-af", "aresample=async=1",
		"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
		"-flush_packets", "1", "-f", "adts", "pipe:1")
	cmd.WaitDelay = transcodeStopWait
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg stdout: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start ffmpeg: %w", err)
	}
	t := &transcoder{
		log:    log,
		cancel: cancel,
		cmd:    cmd,
		in:     make(chan []byte, transcodeQueue),
		ogg:    newOggOpusWriter(0x6d70666c),
		exited: make(chan struct{}),
	}
	headers := t.ogg.headers(2)
	t.wg.Add(3)
	go t.writeLoop(stdin, headers)
	go t.readLoop(stdout, onFrame)
	go t.logLoop(stderr)
	go func() {
		t.wg.Wait()
		err := cmd.Wait()
		if err != nil && ctx.Err() == nil {
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
			t.cancel()
			<-t.exited
		}
		t.cancel()
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

func (t *transcoder) logLoop(r io.Reader) {
	defer t.wg.Done()
	sc := bufio.NewScanner(r)
	lines := 0
	for sc.Scan() {
		if lines++; lines <= 50 {
			t.log.Warn("ffmpeg audio transcode", "stderr", sc.Text())
		}
	}
}
