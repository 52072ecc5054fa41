package restream

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpegflow/mpegflow/internal/amf0"
	"github.com/mpegflow/mpegflow/internal/netguard"
	"github.com/mpegflow/mpegflow/internal/stream"
)

// RefusedError is a target's refusal that trying again will not change: an
// error answer to connect, createStream or publish (RTMP spec §7.2.1.1,
// §7.2.2.6), or an SRT handshake rejection. Code is the target's code
// (e.g. NetStream.Publish.BadName, REJ_BADSECRET).
type RefusedError struct {
	Code        string
	Description string
}

func (e *RefusedError) Error() string {
	if e.Description != "" {
		return "target refused: " + e.Code + ": " + e.Description
	}
	return "target refused: " + e.Code
}

// handshakeSize is the size of C1/S1/C2/S2 (RTMP spec §5.2.3).
const handshakeSize = 1536

// rtmpDial is how a session dials: the handshake and command deadlines,
// the TLS roots (nil: the system's).
type rtmpDial struct {
	timeout time.Duration
	roots   *x509.CertPool
	skip    bool
	guard   *netguard.Guard // nil: dial unchecked
}

// rtmpSession is one publishing RTMP(S) connection (RTMP spec §7.2):
// connect, createStream, publish, then audio and video messages. All writes
// happen on the pump's goroutine; the read loop only reads, and hands the
// control answers it owes (acknowledgements, pings) to the pump.
type rtmpSession struct {
	nc       net.Conn
	bw       *bufio.Writer
	cw       chunkWriter
	cr       *chunkReader
	streamID uint32
	mux      *flvMuxer
	tags     []flvTag
	ctl      chan []controlMsg
	counter  *countingWriter
	stall    time.Duration

	done    chan struct{}
	errOnce sync.Once
	err     error
	wg      sync.WaitGroup
}

type controlMsg struct {
	typ  uint8
	body []byte
}

// countingWriter counts the bytes that reached the connection.
type countingWriter struct {
	w io.Writer
	n atomic.Uint64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(uint64(n))
	return n, err
}

func dialRTMP(ctx context.Context, t dialTarget, tracks []stream.Track, o rtmpDial, stall time.Duration) (_ *rtmpSession, err error) {
	mux, err := newFLVMuxer(tracks)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var nc net.Conn
	if o.guard != nil {
		nc, err = o.guard.DialContext(dctx, "tcp", t.addr)
	} else {
		var d net.Dialer
		nc, err = d.DialContext(dctx, "tcp", t.addr)
	}
	if err != nil {
		return nil, err
	}
	if t.scheme == "rtmps" {
		tc := tls.Client(nc, &tls.Config{ServerName: t.host, RootCAs: o.roots, InsecureSkipVerify: o.skip, MinVersion: tls.VersionTLS12}) //nolint:gosec // skip only when the output asks
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	defer func() {
		if err != nil {
			_ = nc.Close()
		}
	}()
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()
	s := &rtmpSession{nc: nc, mux: mux, stall: stall, ctl: make(chan []controlMsg, 1), done: make(chan struct{})}
	s.counter = &countingWriter{w: nc}
	s.bw = bufio.NewWriterSize(s.counter, 64<<10)
	s.cw = chunkWriter{w: s.bw, size: 128}
	s.cr = newChunkReader(nc)
	if err := s.handshake(); err != nil {
		return nil, fmt.Errorf("rtmp handshake: %w", err)
	}
	if err := s.publish(t, mux); err != nil {
		return nil, err
	}
	if !stop() {
		return nil, dctx.Err()
	}
	_ = nc.SetDeadline(time.Time{})
	s.wg.Add(1)
	go s.readLoop()
	return s, nil
}

// handshake is the simple handshake of RTMP spec §5.2: C0+C1, S0+S1+S2, C2
// (an echo of S1).
func (s *rtmpSession) handshake() error {
	c := make([]byte, 1+handshakeSize)
	c[0] = 3
	_, _ = rand.Read(c[9:])
	binary.BigEndian.PutUint32(c[1:5], 0)
	if _, err := s.nc.Write(c); err != nil {
		return err
	}
	sr := make([]byte, 1+2*handshakeSize)
	if _, err := io.ReadFull(s.cr.r, sr); err != nil {
		return err
	}
	if sr[0] != 3 {
		return fmt.Errorf("%w: server version %d", errChunk, sr[0])
	}
	_, err := s.nc.Write(sr[1 : 1+handshakeSize])
	return err
}

func (s *rtmpSession) command(csid int, streamID uint32, vals ...any) error {
	var b []byte
	for _, v := range vals {
		b = amf0.Append(b, v)
	}
	return s.cw.write(csid, msgCommandAMF0, streamID, 0, b)
}

// publish runs connect, releaseStream, FCPublish, createStream and publish,
// waiting for each answer that matters.
func (s *rtmpSession) publish(t dialTarget, mux *flvMuxer) error {
	sz := binary.BigEndian.AppendUint32(nil, outChunkSize)
	if err := s.cw.write(csidControl, msgSetChunkSize, 0, 0, sz); err != nil {
		return err
	}
	s.cw.size = outChunkSize
	if err := s.command(csidCommand, 0, "connect", 1, amf0.Obj{
		kv("app", t.app), kv("type", "nonprivate"), kv("flashVer", "FMLE/3.0 (compatible; MpegFlow)"),
		kv("tcUrl", t.tcURL),
	}); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	if _, err := s.await(1); err != nil {
		return fmt.Errorf("rtmp connect: %w", err)
	}
	if err := s.command(csidCommand, 0, "releaseStream", 2, nil, t.name); err != nil {
		return err
	}
	if err := s.command(csidCommand, 0, "FCPublish", 3, nil, t.name); err != nil {
		return err
	}
	if err := s.command(csidCommand, 0, "createStream", 4, nil); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	res, err := s.await(4)
	if err != nil {
		return fmt.Errorf("rtmp createStream: %w", err)
	}
	id, ok := res.(float64)
	if !ok || id < 0 || id > 1<<31 {
		return fmt.Errorf("%w: createStream answered no stream id", errChunk)
	}
	s.streamID = uint32(id)
	if err := s.command(csidData, s.streamID, "publish", 0, nil, t.name, "live"); err != nil {
		return err
	}
	if err := s.bw.Flush(); err != nil {
		return err
	}
	// the target has accepted only with NetStream.Publish.Start: until
	// then the output is connecting (and the dial timeout runs)
	if _, err := s.await(0); err != nil {
		return fmt.Errorf("rtmp publish not accepted (no NetStream.Publish.Start): %w", err)
	}
	if err := s.cw.write(csidData, msgDataAMF0, s.streamID, 0, mux.metadata()); err != nil {
		return err
	}
	return s.bw.Flush()
}

// await reads messages until the answer to transaction txn: _result (its
// fourth value is returned), _error (a RefusedError), or for txn 0 the
// publish's onStatus.
func (s *rtmpSession) await(txn float64) (any, error) {
	for {
		m, err := s.cr.next()
		if err != nil {
			return nil, err
		}
		if m.typ != msgCommandAMF0 {
			if err := s.control(m, true); err != nil {
				return nil, err
			}
			continue
		}
		r, err := parseCommand(m.body)
		if err != nil {
			return nil, err
		}
		switch {
		case r.name == "_result" && r.txn == txn && txn != 0:
			return r.arg, nil
		case r.name == "_error" && r.txn == txn:
			return nil, r.refusal("NetConnection.Call.Failed")
		case r.name == "onStatus" && txn == 0:
			if r.level == "error" {
				return nil, r.refusal("NetStream.Publish.Failed")
			}
			if r.code == "NetStream.Publish.Start" {
				return nil, nil
			}
		}
	}
}

// command is what the client reads of an AMF0 command message (RTMP spec
// §7.1.1): name, transaction id, the first argument after the command
// object, and for status answers the info object's level, code and
// description.
type command struct {
	name        string
	txn         float64
	arg         any
	level, code string
	description string
}

func (c command) refusal(fallback string) *RefusedError {
	code := c.code
	if code == "" {
		code = fallback
	}
	return &RefusedError{Code: code, Description: c.description}
}

// parseCommand decodes a command message a target sent.
func parseCommand(b []byte) (command, error) {
	vals, err := amf0.Decode(b, 0)
	if err != nil {
		return command{}, err
	}
	var c command
	if len(vals) == 0 {
		return c, fmt.Errorf("%w: empty command", amf0.ErrDecode)
	}
	var ok bool
	if c.name, ok = vals[0].(string); !ok {
		return c, fmt.Errorf("%w: command name is not a string", amf0.ErrDecode)
	}
	if len(vals) > 1 {
		c.txn, _ = vals[1].(float64)
	}
	if len(vals) > 3 {
		c.arg = vals[3]
	}
	// the info object: the argument (onStatus, _error) or, for _result of
	// connect, also the argument
	for _, v := range vals[min(2, len(vals)):] {
		if info, ok := v.(map[string]any); ok {
			if l, ok := info["level"].(string); ok {
				c.level = l
				c.code, _ = info["code"].(string)
				c.description, _ = info["description"].(string)
			}
		}
	}
	return c, nil
}

// control handles a protocol control or user control message (RTMP spec
// §5.4, §7.1.7). During the handshake (direct) the answer is written at
// once; later it goes to the pump, which owns the connection's writes.
func (s *rtmpSession) control(m *message, direct bool) error {
	var out []controlMsg
	switch m.typ {
	case msgUserControl:
		if len(m.body) >= 6 && binary.BigEndian.Uint16(m.body) == 6 { // PingRequest → PingResponse
			out = append(out, controlMsg{msgUserControl, append([]byte{0, 7}, m.body[2:6]...)})
		}
	case msgWindowAckSize, msgSetPeerBandwidth, msgAck, msgSetChunkSize, msgAbort, msgDataAMF0, msgAudio, msgVideo:
	}
	if len(out) == 0 {
		return nil
	}
	if direct {
		for _, c := range out {
			if err := s.cw.write(csidControl, c.typ, 0, 0, c.body); err != nil {
				return err
			}
		}
		return s.bw.Flush()
	}
	select {
	case s.ctl <- out:
	default: // the pump has not taken the previous answers: a ping may go unanswered
	}
	return nil
}

// readLoop reads what the target sends while publishing: an error status
// (the target stopped the publish) or the connection's end ends the
// session.
func (s *rtmpSession) readLoop() {
	defer s.wg.Done()
	for {
		m, err := s.cr.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = errTargetClosed
			}
			s.fail(err)
			return
		}
		if m.typ == msgCommandAMF0 {
			c, err := parseCommand(m.body)
			if err != nil {
				s.fail(err)
				return
			}
			if c.name == "onStatus" && c.level == "error" {
				s.fail(c.refusal("NetStream.Publish.Failed"))
				return
			}
			continue
		}
		if err := s.control(m, false); err != nil {
			s.fail(err)
			return
		}
	}
}

// errTargetClosed means the target closed the connection.
var errTargetClosed = errors.New("target closed the connection")

func (s *rtmpSession) fail(err error) {
	s.errOnce.Do(func() {
		s.err = err
		close(s.done)
		_ = s.nc.Close()
	})
}

func (s *rtmpSession) Done() <-chan struct{} { return s.done }

func (s *rtmpSession) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

func (s *rtmpSession) BytesSent() uint64 { return s.counter.n.Load() }

// WriteUnit sends the FLV messages of u, with the stall timeout as the
// write deadline.
func (s *rtmpSession) WriteUnit(u *stream.Unit) error {
	select {
	case out := <-s.ctl:
		for _, c := range out {
			if err := s.cw.write(csidControl, c.typ, 0, 0, c.body); err != nil {
				return s.writeErr(err)
			}
		}
	default:
	}
	s.tags = s.mux.tags(s.tags[:0], u)
	if len(s.tags) == 0 {
		return nil
	}
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.stall))
	for _, t := range s.tags {
		csid := csidVideo
		if t.typ == msgAudio {
			csid = csidAudio
		}
		if err := s.cw.write(csid, t.typ, s.streamID, t.ts, t.body); err != nil {
			return s.writeErr(err)
		}
	}
	return s.writeErr(s.bw.Flush())
}

func (s *rtmpSession) writeErr(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = fmt.Errorf("%w: %w", ErrStalled, err)
	}
	s.fail(err)
	return s.Err()
}

// Close ends the publish (deleteStream, best effort) and the connection,
// and waits for the read loop.
func (s *rtmpSession) Close() {
	select {
	case <-s.done:
	default:
		_ = s.nc.SetWriteDeadline(time.Now().Add(time.Second))
		if s.command(csidCommand, 0, "FCUnpublish", 5, nil, "") == nil &&
			s.command(csidCommand, 0, "deleteStream", 6, nil, float64(s.streamID)) == nil {
			_ = s.bw.Flush()
		}
	}
	s.fail(errors.New("closed"))
	s.wg.Wait()
}

// isRefusal reports whether err is a refusal by the target (not a network
// failure), and its reason.
func isRefusal(err error) (*RefusedError, bool) {
	var r *RefusedError
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}
