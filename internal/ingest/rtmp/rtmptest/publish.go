// Package rtmptest holds a small Enhanced RTMP publisher for tests: it sends
// H.265 over RTMP or RTMPS the way OBS 30+ does (veovera Enhanced RTMP,
// FourCC hvc1), with go-rtmp's client.
package rtmptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/sirupsen/logrus"
	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"
)

// H.265 NAL unit types (ITU-T H.265 Table 7-1).
const (
	naluVPS       = 32
	naluSPS       = 33
	naluPPS       = 34
	naluAUD       = 35
	naluIRAPFirst = 16
	naluIRAPLast  = 23
	videoCSID     = 6
	audioCSID     = 4
)

// Enhanced RTMP ExVideoTagHeader values (E-RTMP v1).
const (
	exHeader        = 0x80
	frameKey        = 1 << 4
	frameInter      = 2 << 4
	pktSeqStart     = 0
	pktCodedFrames  = 1
	pktCodedFramesX = 3
)

// SplitAnnexB splits an Annex-B byte stream (ITU-T H.265 Annex B) into NAL
// units without start codes.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				out = append(out, trimZeros(b[start:i]))
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	var nalus [][]byte
	for _, n := range out {
		if len(n) > 0 {
			nalus = append(nalus, n)
		}
	}
	return nalus
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

func naluType(n []byte) int { return int(n[0]>>1) & 0x3f }

// HEVCAccessUnits groups H.265 NAL units into access units (ITU-T H.265
// §7.4.2.4.4): a new access unit starts at an AUD, at a parameter set or
// prefix SEI following a picture, or at a slice with
// first_slice_segment_in_pic_flag set following a picture.
func HEVCAccessUnits(nalus [][]byte) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	hasVCL := false
	for _, n := range nalus {
		if len(n) < 3 {
			continue
		}
		t := naluType(n)
		vcl := t < 32
		startsAU := false
		switch {
		case t == naluAUD:
			startsAU = len(cur) > 0
		case vcl:
			startsAU = hasVCL && n[2]&0x80 != 0
		case (t >= naluVPS && t <= naluPPS) || t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55):
			startsAU = hasVCL
		}
		if startsAU {
			aus = append(aus, cur)
			cur, hasVCL = nil, false
		}
		cur = append(cur, n)
		if vcl {
			hasVCL = true
		}
	}
	if hasVCL {
		aus = append(aus, cur)
	}
	return aus
}

// HVCC builds an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1)
// from a VPS, an SPS and a PPS, with 4-byte NAL unit lengths.
func HVCC(vps, sps, pps []byte) []byte {
	rec := make([]byte, 23)
	rec[0] = 1
	if rbsp := h264.EmulationPreventionRemove(sps); len(rbsp) >= 15 {
		rec[1] = rbsp[3]            // profile space, tier, profile idc
		copy(rec[2:6], rbsp[4:8])   // profile compatibility flags
		copy(rec[6:12], rbsp[8:14]) // constraint indicator flags
		rec[12] = rbsp[14]          // level idc
	}
	rec[13], rec[14] = 0xf0, 0x00 // min_spatial_segmentation_idc
	rec[15] = 0xfc                // parallelismType
	rec[16] = 0xfd                // chroma_format_idc 4:2:0
	rec[17] = 0xf8                // bit depth luma 8
	rec[18] = 0xf8                // bit depth chroma 8
	rec[21] = 0x0f                // 1 temporal layer, nested, lengthSizeMinusOne 3
	rec[22] = 3
	for _, ps := range []struct {
		t int
		b []byte
	}{{naluVPS, vps}, {naluSPS, sps}, {naluPPS, pps}} {
		rec = append(rec, byte(0x80|ps.t), 0, 1, byte(len(ps.b)>>8), byte(len(ps.b)))
		rec = append(rec, ps.b...)
	}
	return rec
}

// HEVCSequenceStart builds an Enhanced RTMP video tag body carrying an hvc1
// SequenceStart with the given decoder configuration record.
func HEVCSequenceStart(hvcc []byte) []byte {
	return append([]byte{exHeader | frameKey | pktSeqStart, 'h', 'v', 'c', '1'}, hvcc...)
}

// HEVCFrame builds an Enhanced RTMP video tag body carrying one access unit
// as hvc1 CodedFrames (with a composition time offset in ms) or, when cts is
// 0, CodedFramesX; NAL units get 4-byte lengths.
func HEVCFrame(key bool, cts int32, au [][]byte) []byte {
	ft := byte(frameInter)
	if key {
		ft = frameKey
	}
	var b []byte
	if cts == 0 {
		b = []byte{exHeader | ft | pktCodedFramesX, 'h', 'v', 'c', '1'}
	} else {
		b = []byte{exHeader | ft | pktCodedFrames, 'h', 'v', 'c', '1', byte(cts >> 16), byte(cts >> 8), byte(cts)}
	}
	for _, n := range au {
		b = append(b, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
		b = append(b, n...)
	}
	return b
}

// Client is a minimal RTMP publisher over go-rtmp's client.
type Client struct {
	cc     *gortmp.ClientConn
	st     *gortmp.Stream
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

// Dial connects to rawURL (rtmp://host[:1935]/app/key or
// rtmps://host[:443]/app/key), sends connect, createStream and publish, and
// returns a client ready to write media. tlsConfig is used for rtmps (nil:
// certificates are not verified, as fits a test helper). Cancelling ctx
// closes the connection.
func Dial(ctx context.Context, rawURL string, tlsConfig *tls.Config) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("rtmptest: url: %w", err)
	}
	path := strings.TrimPrefix(u.Path, "/")
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return nil, fmt.Errorf("rtmptest: url %q has no app/key path", rawURL)
	}
	app, key := path[:i], path[i+1:]
	if u.RawQuery != "" {
		key += "?" + u.RawQuery
	}
	host := u.Host
	logger := logrus.New()
	logger.Out = io.Discard
	cfg := &gortmp.ConnConfig{Logger: logger}
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	var cc *gortmp.ClientConn
	switch u.Scheme {
	case "rtmp":
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "1935")
		}
		cc, err = gortmp.DialWithDialer(dialer, "rtmp", host, cfg)
	case "rtmps":
		if u.Port() == "" {
			host = net.JoinHostPort(u.Hostname(), "443")
		}
		if tlsConfig == nil {
			tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test helper
		}
		cc, err = gortmp.DialWithTLSDialer(&tls.Dialer{NetDialer: dialer, Config: tlsConfig}, "rtmps", host, cfg)
	default:
		return nil, fmt.Errorf("rtmptest: scheme %q", u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("rtmptest: dial: %w", err)
	}
	c := &Client{cc: cc, stop: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-ctx.Done():
			_ = cc.Close()
		case <-c.stop:
		}
	}()
	tcURL := u.Scheme + "://" + u.Host + "/" + app
	if err := cc.Connect(&message.NetConnectionConnect{Command: message.NetConnectionConnectCommand{
		App: app, Type: "nonprivate", FlashVer: "FMLE/3.0 (compatible; mpegflow rtmptest)", TCURL: tcURL,
	}}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("rtmptest: connect: %w", err)
	}
	st, err := cc.CreateStream(nil, 0)
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("rtmptest: createStream: %w", err)
	}
	if err := st.Publish(&message.NetStreamPublish{PublishingName: key, PublishingType: "live"}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("rtmptest: publish: %w", err)
	}
	c.st = st
	return c, nil
}

// WriteVideo sends one video message (an FLV VIDEODATA tag body) with an
// RTMP timestamp in ms.
func (c *Client) WriteVideo(ts uint32, tag []byte) error {
	return c.st.Write(videoCSID, ts, &message.VideoMessage{Payload: bytes.NewReader(tag)})
}

// WriteAudio sends one audio message (an FLV AUDIODATA tag body).
func (c *Client) WriteAudio(ts uint32, tag []byte) error {
	return c.st.Write(audioCSID, ts, &message.AudioMessage{Payload: bytes.NewReader(tag)})
}

// Close closes the connection; idempotent.
func (c *Client) Close() error {
	var err error
	c.closed.Do(func() {
		close(c.stop)
		c.wg.Wait()
		err = c.cc.Close()
	})
	return err
}

// PublishHEVC publishes an H.265 Annex-B stream to rawURL over Enhanced
// RTMP (FourCC hvc1) in real time at fps frames per second: an hvc1
// SequenceStart from the stream's first VPS/SPS/PPS, then one CodedFramesX
// message per access unit (so the stream must be in presentation order: no
// B-frames). It returns after the last frame, or with ctx's error.
func PublishHEVC(ctx context.Context, rawURL string, annexB []byte, fps int) error {
	if fps <= 0 {
		return errors.New("rtmptest: fps must be positive")
	}
	aus := HEVCAccessUnits(SplitAnnexB(annexB))
	var vps, sps, pps []byte
	for _, au := range aus {
		for _, n := range au {
			switch naluType(n) {
			case naluVPS:
				vps = n
			case naluSPS:
				sps = n
			case naluPPS:
				pps = n
			}
		}
		if vps != nil && sps != nil && pps != nil {
			break
		}
	}
	if vps == nil || sps == nil || pps == nil {
		return errors.New("rtmptest: no VPS/SPS/PPS in the H.265 stream")
	}
	c, err := Dial(ctx, rawURL, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WriteVideo(0, HEVCSequenceStart(HVCC(vps, sps, pps))); err != nil {
		return fmt.Errorf("rtmptest: write: %w", err)
	}
	start := time.Now()
	for i, au := range aus {
		at := time.Duration(i) * time.Second / time.Duration(fps)
		if d := time.Until(start.Add(at)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		key := false
		var frame [][]byte
		for _, n := range au {
			t := naluType(n)
			if t >= naluIRAPFirst && t <= naluIRAPLast {
				key = true
			}
			if t != naluAUD {
				frame = append(frame, n)
			}
		}
		if err := c.WriteVideo(uint32(at.Milliseconds()), HEVCFrame(key, 0, frame)); err != nil {
			return fmt.Errorf("rtmptest: write: %w", err)
		}
	}
	if err := c.cc.LastError(); err != nil {
		return fmt.Errorf("rtmptest: %w", err)
	}
	return ctx.Err()
}
