package rtmptest

import (
	"context"
	"time"
)

// Synthetic H.264 parameter sets and AAC config of PublishSynthetic.
var (
	TestSPS = []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x47, 0xfe, 0xc8}
	TestPPS = []byte{0x68, 0xce, 0x3c, 0x80}
	TestASC = []byte{0x11, 0x90} // AAC-LC 48 kHz stereo
)

// AVCConfigRecord builds an AVCDecoderConfigurationRecord (ISO/IEC
// 14496-15 §5.3.3.1).
func AVCConfigRecord(sps, pps []byte) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xff, 0xe1, byte(len(sps) >> 8), byte(len(sps))}
	b = append(b, sps...)
	b = append(b, 1, byte(len(pps)>>8), byte(len(pps)))
	return append(b, pps...)
}

// LegacyAVCSeqHeader is a legacy FLV AVC sequence header tag body.
func LegacyAVCSeqHeader(sps, pps []byte) []byte {
	return append([]byte{0x17, 0, 0, 0, 0}, AVCConfigRecord(sps, pps)...)
}

// LegacyAVCFrame is a legacy FLV AVC NALU tag body with 4-byte lengths.
func LegacyAVCFrame(key bool, cts int32, nalus ...[]byte) []byte {
	b := []byte{0x27, 1, byte(cts >> 16), byte(cts >> 8), byte(cts)}
	if key {
		b[0] = 0x17
	}
	for _, n := range nalus {
		b = append(b, byte(len(n)>>24), byte(len(n)>>16), byte(len(n)>>8), byte(len(n)))
		b = append(b, n...)
	}
	return b
}

// LegacyAACSeqHeader is a legacy FLV AAC sequence header tag body.
func LegacyAACSeqHeader(asc []byte) []byte { return append([]byte{0xaf, 0}, asc...) }

// LegacyAACFrame is a legacy FLV AAC raw frame tag body.
func LegacyAACFrame(data []byte) []byte { return append([]byte{0xaf, 1}, data...) }

// PublishSynthetic publishes synthetic H.264 (30 fps, a key frame every
// 15 frames) and AAC to url until ctx is done or dur passed, then closes
// the connection without unpublishing (as an encoder that dies).
func PublishSynthetic(ctx context.Context, url string, dur time.Duration) error {
	c, err := Dial(ctx, url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WriteVideo(0, LegacyAVCSeqHeader(TestSPS, TestPPS)); err != nil {
		return err
	}
	if err := c.WriteAudio(0, LegacyAACSeqHeader(TestASC)); err != nil {
		return err
	}
	start := time.Now()
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	for i := 0; time.Since(start) < dur; i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		ts := uint32(i * 33)
		nalu := []byte{0x41, 0x9a, byte(i), 1, 2, 3}
		if i%15 == 0 {
			nalu = []byte{0x65, 0x88, byte(i), 1, 2, 3}
		}
		if err := c.WriteVideo(ts, LegacyAVCFrame(i%15 == 0, 0, nalu)); err != nil {
			return err
		}
		if err := c.WriteAudio(ts, LegacyAACFrame([]byte{0x21, 0x10, byte(i), 4, 5})); err != nil {
			return err
		}
	}
	return nil
}
