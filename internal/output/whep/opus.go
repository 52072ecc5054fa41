package whep

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/internal/ffmpeg"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// Opus output of the AAC→Opus transcode: 48 kHz stereo, 20 ms packets
// (RFC 7587 §4.2: the RTP clock is 48 kHz whatever the coded rate).
const (
	opusFrame      = 20 * time.Millisecond
	opusQueue      = 256
	opusStall      = 10 * time.Second
	opusStopWait   = 2 * time.Second
	maxOggPageBody = 255 * 255
)

// opusTranscoder makes Opus of a stream's AAC once, for every WHEP viewer
// of the stream, with one ffmpeg child process of the shared supervisor:
//
//	ffmpeg -f aac -i pipe:0 -c:a libopus -frame_duration 20 -f ogg -page_duration 20000 pipe:1
//
// AAC goes in as ADTS (ISO/IEC 14496-3 §1.A.2) built from the track's
// AudioSpecificConfig; Opus comes out in Ogg pages (RFC 7845) of one
// packet each. Packet n is stamped firstPTS + n·20 ms. The process holds
// ffmpeg.AudioUnits of the daemon's capacity while it runs.
type opusTranscoder struct {
	log      *slog.Logger
	p        *ffmpeg.Process
	lease    *ffmpeg.Lease
	in       chan []byte
	firstPTS atomic.Int64
	started  atomic.Bool
	wg       sync.WaitGroup
	exited   chan struct{}
	stop     sync.Once
}

// startOpus starts the transcode; onPacket is called from its goroutine
// with every Opus packet and its PTS.
func startOpus(ctx context.Context, path string, acct *ffmpeg.Account, log *slog.Logger, onPacket func(pkt []byte, pts time.Duration)) (*opusTranscoder, error) {
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
			"-fflags", "nobuffer", "-probesize", "32", "-analyzeduration", "0",
			"-f", "aac", "-i", "pipe:0", "-vn",
			"-c:a", "libopus", "-b:a", "96k", "-ar", "48000", "-ac", "2",
			"-frame_duration", "20", "-application", "lowdelay",
			"-flush_packets", "1", "-f", "ogg", "-page_duration", "20000", "pipe:1"},
		Logger: log.With("step", "opus_transcode"), Stdin: true, Stdout: true,
		StallTimeout: opusStall, WaitDelay: opusStopWait, Metrics: metrics,
	})
	if err != nil {
		lease.Release()
		return nil, err
	}
	t := &opusTranscoder{log: log, p: p, lease: lease, in: make(chan []byte, opusQueue), exited: make(chan struct{})}
	t.wg.Add(2)
	go t.writeLoop(p.Stdin())
	go t.readLoop(p.Stdout(), onPacket)
	go func() {
		t.wg.Wait()
		if err := p.Wait(); err != nil && ctx.Err() == nil {
			log.Warn("ffmpeg opus transcode exited", "error", err)
		}
		close(t.exited)
	}()
	return t, nil
}

// write queues one AAC frame (raw, config from the track); never blocks.
func (t *opusTranscoder) write(u *stream.Unit, cfg []byte) {
	frame, ok := adts(cfg, u.Data)
	if !ok {
		return
	}
	if !t.started.Swap(true) {
		t.firstPTS.Store(int64(u.PTS))
	}
	select {
	case t.in <- frame:
	default:
	}
}

// close ends the input and waits for the process (at most opusStopWait
// before it is stopped). Idempotent; not concurrent with write.
func (t *opusTranscoder) close() {
	t.stop.Do(func() {
		close(t.in)
		select {
		case <-t.exited:
		case <-time.After(opusStopWait):
			t.p.Stop()
			<-t.exited
		}
		t.p.Stop()
		t.lease.Release()
	})
}

func (t *opusTranscoder) writeLoop(w io.WriteCloser) {
	defer t.wg.Done()
	defer w.Close()
	for f := range t.in {
		if _, err := w.Write(f); err != nil {
			for range t.in { // keep write from blocking on a dead process
			}
			return
		}
	}
}

func (t *opusTranscoder) readLoop(r io.Reader, onPacket func([]byte, time.Duration)) {
	defer t.wg.Done()
	var n int64
	err := readOggPackets(r, func(pkt []byte) {
		n++
		if n <= 2 {
			return // OpusHead and OpusTags (RFC 7845 §5)
		}
		onPacket(pkt, time.Duration(t.firstPTS.Load())+time.Duration(n-3)*opusFrame)
	})
	if err != nil && !errors.Is(err, io.EOF) {
		t.log.Warn("ffmpeg opus transcode: bad ogg output", "error", err)
		_, _ = io.Copy(io.Discard, r)
	}
}

// adts prefixes a raw AAC frame with an ADTS header (ISO/IEC 14496-3
// §1.A.2.2, protection absent) from an AudioSpecificConfig (§1.6.2.1).
func adts(cfg, raw []byte) ([]byte, bool) {
	if len(cfg) < 2 || len(raw) == 0 || len(raw)+7 > 0x1fff {
		return nil, false
	}
	obj := cfg[0] >> 3
	freq := (cfg[0]&7)<<1 | cfg[1]>>7
	ch := (cfg[1] >> 3) & 0xf
	if obj < 1 || obj > 4 || freq > 12 {
		return nil, false
	}
	n := len(raw) + 7
	h := []byte{0xff, 0xf1, (obj-1)<<6 | freq<<2 | ch>>2, (ch&3)<<6 | byte(n>>11), byte(n >> 3), byte(n&7)<<5 | 0x1f, 0xfc}
	return append(h, raw...), true
}

// readOggPackets calls onPacket with every packet of an Ogg stream
// (RFC 3533 §6: pages of up to 255 lacing values; a value of 255
// continues the packet, also across pages).
func readOggPackets(r io.Reader, onPacket func([]byte)) error {
	var hdr [27]byte
	var seg [255]byte
	var partial []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return err
		}
		if string(hdr[:4]) != "OggS" || hdr[4] != 0 {
			return errors.New("not an ogg page")
		}
		nseg := int(hdr[26])
		if _, err := io.ReadFull(r, seg[:nseg]); err != nil {
			return err
		}
		size := 0
		for _, l := range seg[:nseg] {
			size += int(l)
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		if hdr[5]&1 == 0 {
			partial = partial[:0] // not a continuation: drop a dangling packet
		}
		off := 0
		for _, l := range seg[:nseg] {
			partial = append(partial, body[off:off+int(l)]...)
			off += int(l)
			if l < 255 {
				pkt := append([]byte(nil), partial...)
				partial = partial[:0]
				onPacket(pkt)
			}
		}
		if len(partial) > maxOggPageBody*4 {
			return errors.New("ogg packet too large")
		}
	}
}
