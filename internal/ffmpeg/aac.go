package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Defaults of an AACEncoder.
const (
	aacQueue        = 256
	aacStopWait     = 3 * time.Second
	aacStallTimeout = 10 * time.Second
	maxADTSFrame    = 1 << 13 // frame_length is 13 bits (ISO/IEC 13818-7 §6.2)
)

// AACFrame is one AAC access unit out of an AACEncoder, with the
// AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) of its ADTS header.
type AACFrame struct {
	Data   []byte
	Config []byte
}

// AACEncoderConfig configures StartAACEncoder.
type AACEncoderConfig struct {
	// Path is the ffmpeg program; "" = "ffmpeg" on PATH.
	Path string
	// Account, when set, is drawn on for units of capacity (Live class)
	// while the encoder runs; a full account refuses the start.
	Account *Account
	Units   float64
	// InputArgs describe the bytes written, e.g. "-f", "alaw", "-ar",
	// "8000", "-ac", "1" (they precede "-i pipe:0").
	InputArgs []string
	// FilterArgs go after the input, e.g. "-af", "aresample=async=1".
	FilterArgs []string
	// SampleRate and Channels of the AAC-LC output; Bitrate defaults to
	// 64k.
	SampleRate, Channels int
	Bitrate              string
	// ProbeSize bounds what ffmpeg reads before encoding (default 32
	// bytes: the input format is given).
	ProbeSize int
	// Logger gets ffmpeg's stderr; default discard.
	Logger *slog.Logger
	// OnFrame is called from the encoder's goroutine for every AAC frame,
	// with its index in the output (frame 0 is the encoder's priming).
	OnFrame func(index int64, f AACFrame)
}

// AACEncoder is an ffmpeg child process that encodes what is written to
// AAC-LC in ADTS, for audio HLS cannot carry. Write never blocks: a full
// queue drops and counts.
type AACEncoder struct {
	log     *slog.Logger
	p       *Process
	lease   *Lease
	in      chan []byte
	wg      sync.WaitGroup
	stop    sync.Once
	dropped atomic.Uint64
	exited  chan struct{}
}

// StartAACEncoder starts ffmpeg -i pipe:0 -c:a aac -f adts pipe:1.
func StartAACEncoder(ctx context.Context, cfg AACEncoderConfig) (*AACEncoder, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var lease *Lease
	var metrics *Metrics
	if cfg.Account != nil {
		var err error
		if lease, err = cfg.Account.Take(Live, cfg.Units); err != nil {
			return nil, err
		}
		metrics = cfg.Account.Metrics()
	}
	if cfg.ProbeSize <= 0 {
		cfg.ProbeSize = 32
	}
	if cfg.Bitrate == "" {
		cfg.Bitrate = "64k"
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning", "-fflags", "nobuffer",
		"-probesize", fmt.Sprint(cfg.ProbeSize), "-analyzeduration", "0"}
	args = append(args, cfg.InputArgs...)
	args = append(args, "-i", "pipe:0", "-vn")
	args = append(args, cfg.FilterArgs...)
	args = append(args, "-c:a", "aac", "-b:a", cfg.Bitrate,
		"-ar", fmt.Sprint(cfg.SampleRate), "-ac", fmt.Sprint(cfg.Channels), "-flush_packets", "1", "-f", "adts", "pipe:1")
	p, err := Start(ctx, Config{Path: cfg.Path, Args: args, Logger: cfg.Logger.With("step", "aac_encode"),
		Stdin: true, Stdout: true, StallTimeout: aacStallTimeout, WaitDelay: aacStopWait, Metrics: metrics})
	if err != nil {
		lease.Release()
		return nil, err
	}
	e := &AACEncoder{log: cfg.Logger, p: p, lease: lease, in: make(chan []byte, aacQueue), exited: make(chan struct{})}
	e.wg.Add(2)
	go e.writeLoop(p.Stdin())
	go e.readLoop(p.Stdout(), cfg.OnFrame)
	go func() {
		e.wg.Wait()
		if err := p.Wait(); err != nil && ctx.Err() == nil {
			cfg.Logger.Warn("ffmpeg aac encode exited", "error", err)
		}
		close(e.exited)
	}()
	return e, nil
}

// Write queues b (the caller must not reuse it).
func (e *AACEncoder) Write(b []byte) {
	select {
	case e.in <- b:
	default:
		if e.dropped.Add(1) == 1 {
			e.log.Warn("aac encode queue full, dropping input")
		}
	}
}

// Done is closed once the process exited (stopped, stalled or failed) and
// its output was read: a live job that outlives it starts a new encoder.
func (e *AACEncoder) Done() <-chan struct{} { return e.exited }

// Dropped counts the writes dropped on a full queue.
func (e *AACEncoder) Dropped() uint64 { return e.dropped.Load() }

// Close ends the input, lets ffmpeg flush for a moment and waits for the
// process. Idempotent; Write must not be called concurrently or after.
func (e *AACEncoder) Close() {
	e.stop.Do(func() {
		close(e.in)
		select {
		case <-e.exited:
		case <-time.After(aacStopWait):
			e.p.Stop()
			<-e.exited
		}
		e.p.Stop()
		e.lease.Release()
	})
}

func (e *AACEncoder) writeLoop(w io.WriteCloser) {
	defer e.wg.Done()
	defer w.Close()
	for b := range e.in {
		if _, err := w.Write(b); err != nil {
			e.log.Warn("ffmpeg aac encode input closed", "error", err)
			for range e.in { // drain until Close so Write never blocks
			}
			return
		}
	}
}

func (e *AACEncoder) readLoop(r io.Reader, onFrame func(int64, AACFrame)) {
	defer e.wg.Done()
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 16<<10)
	var index int64
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			f, used, perr := ReadADTS(buf)
			if perr != nil {
				e.log.Warn("ffmpeg aac encode: bad adts output", "error", perr)
				_, _ = io.Copy(io.Discard, r)
				return
			}
			if used == 0 {
				break
			}
			buf = buf[used:]
			if onFrame != nil {
				onFrame(index, f)
			}
			index++
		}
		if len(buf) == 0 {
			buf = buf[:0:cap(buf)]
		}
		if err != nil {
			return
		}
	}
}

// ReadADTS reads the first ADTS frame (ISO/IEC 13818-7 §6.2) of b: it
// returns the frame and the bytes it took, or used == 0 when b holds no
// whole frame yet.
func ReadADTS(b []byte) (f AACFrame, used int, err error) {
	if len(b) < 7 {
		return f, 0, nil
	}
	if b[0] != 0xff || b[1]&0xf0 != 0xf0 {
		return f, 0, errors.New("adts: no syncword")
	}
	n := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5]>>5)
	if n < 7 || n > maxADTSFrame {
		return f, 0, fmt.Errorf("adts: frame length %d", n)
	}
	if len(b) < n {
		return f, 0, nil
	}
	var ps mpeg4audio.ADTSPackets
	if err := ps.Unmarshal(b[:n]); err != nil {
		return f, 0, fmt.Errorf("adts: %w", err)
	}
	pk := ps[0]
	cfg, err := (&mpeg4audio.AudioSpecificConfig{Type: pk.Type, SampleRate: pk.SampleRate, ChannelCount: pk.ChannelCount}).Marshal()
	if err != nil {
		return f, 0, fmt.Errorf("adts: %w", err)
	}
	return AACFrame{Data: pk.AU, Config: cfg}, n, nil
}
