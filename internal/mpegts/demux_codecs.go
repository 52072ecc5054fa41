package mpegts

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/opus"

	"github.com/mpegflow/mpegflow/internal/stream"
)

// NAL unit types (ITU-T H.264 Table 7-1, ITU-T H.265 Table 7-1).
const (
	h264SPS    = 7
	h264PPS    = 8
	h264AUD    = 9
	h264Filler = 12
	h265VPS    = 32
	h265SPS    = 33
	h265PPS    = 34
	h265AUD    = 35
	h265Filler = 38
)

// videoAU turns one PES packet of H.264 or H.265 (an Annex B access unit)
// into a unit. Access unit delimiters and filler data are removed; in-band
// parameter sets stay and update the track's codec.
func (d *Demuxer) videoAU(t *esTrack, data []byte, h pesHeader, now time.Time) {
	au, err := splitAnnexB(data, nil)
	if err != nil {
		d.sink.TSError(ErrES)
		d.log.Debug("malformed video access unit dropped", "error", err)
		d.dropPES(t)
		return
	}
	nalus := au[:0]
	var key bool
	if t.streamType == streamTypeH264 {
		var sps, pps []byte
		for _, n := range au {
			if len(n) == 0 {
				continue
			}
			switch n[0] & 0x1F {
			case h264AUD, h264Filler:
				continue
			case h264SPS:
				sps = n
			case h264PPS:
				pps = n
			}
			nalus = append(nalus, n)
		}
		d.h264Params(t, sps, pps)
		key = h264.IsRandomAccess(nalus)
	} else {
		var vps, sps, pps []byte
		for _, n := range au {
			if len(n) < 2 {
				continue
			}
			switch (n[0] >> 1) & 0x3F {
			case h265AUD, h265Filler:
				continue
			case h265VPS:
				vps = n
			case h265SPS:
				sps = n
			case h265PPS:
				pps = n
			}
			nalus = append(nalus, n)
		}
		d.h265Params(t, vps, sps, pps)
		key = h265.IsRandomAccess(nalus)
	}
	if len(nalus) == 0 {
		return
	}
	if t.codec == nil {
		if key {
			d.warnOnce("video_no_params", "video key frame without parameter sets dropped")
		}
		return // before the first decodable key frame: expected at start
	}
	if t.needKey {
		if !key {
			d.sink.Dropped(t.kind)
			return
		}
		t.needKey = false
		d.log.Debug("video resumed at key frame after loss")
	}
	if t.emitted == nil && !key {
		return
	}
	out, disc := d.tl.convert(slotVideo, h.dts)
	cts := signed33(h.pts - h.dts)
	if cts < 0 || cts > d.maxJump {
		cts = 0
	}
	d.emit(t, &stream.Unit{
		DTS:           ticksToDuration(out),
		PTS:           ticksToDuration(out + cts),
		Wall:          now,
		Key:           key,
		NALUs:         nalus,
		Discontinuity: disc,
	})
}

// h264Params installs SPS/PPS found in an access unit once they parse
// (ITU-T H.264 §7.3.2.1); an SPS that does not is ignored.
func (d *Demuxer) h264Params(t *esTrack, sps, pps []byte) {
	if sps == nil && pps == nil {
		return
	}
	cur, _ := t.codec.(stream.H264)
	next := cur
	if sps != nil && !bytes.Equal(sps, cur.SPS) {
		var s h264.SPS
		if err := s.Unmarshal(sps); err != nil {
			d.sink.TSError(ErrES)
			d.warnOnce("h264_sps", "invalid h264 sps ignored", "error", err)
			return
		}
		next.SPS = bytes.Clone(sps)
	}
	if pps != nil && !bytes.Equal(pps, cur.PPS) {
		next.PPS = bytes.Clone(pps)
	}
	if next.SPS == nil || next.PPS == nil {
		return
	}
	if t.codec == nil || !t.codec.Equal(next) {
		if t.emitted != nil {
			d.log.Info("video parameters changed", "codec", next.Name())
		}
		t.codec = next
	}
}

// h265Params installs VPS/SPS/PPS found in an access unit once the SPS
// parses (ITU-T H.265 §7.3.2.2).
func (d *Demuxer) h265Params(t *esTrack, vps, sps, pps []byte) {
	if vps == nil && sps == nil && pps == nil {
		return
	}
	cur, _ := t.codec.(stream.H265)
	next := cur
	if vps != nil && !bytes.Equal(vps, cur.VPS) {
		next.VPS = bytes.Clone(vps)
	}
	if sps != nil && !bytes.Equal(sps, cur.SPS) {
		var s h265.SPS
		if err := s.Unmarshal(sps); err != nil {
			d.sink.TSError(ErrES)
			d.warnOnce("h265_sps", "invalid h265 sps ignored", "error", err)
			return
		}
		next.SPS = bytes.Clone(sps)
	}
	if pps != nil && !bytes.Equal(pps, cur.PPS) {
		next.PPS = bytes.Clone(pps)
	}
	if next.VPS == nil || next.SPS == nil || next.PPS == nil {
		return
	}
	if t.codec == nil || !t.codec.Equal(next) {
		if t.emitted != nil {
			d.log.Info("video parameters changed", "codec", next.Name())
		}
		t.codec = next
	}
}

// adtsSampleRate is the rate of a sampling_frequency_index (ISO/IEC
// 14496-3 §1.6.3.4 Table 1.18), or 0 for a reserved index.
func adtsSampleRate(i uint8) int {
	rates := [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
	if int(i) >= len(rates) {
		return 0
	}
	return rates[i]
}

// adtsFrame is one ADTS frame (ISO/IEC 14496-3 §1.A.2.2, Table 1.A.5-7).
type adtsFrame struct {
	objectType  uint8 // profile_ObjectType + 1
	rateIndex   uint8
	channelConf uint8
	au          []byte // raw_data_block
}

var (
	errADTSSync     = errors.New("adts: no syncword")
	errADTSShort    = errors.New("adts: truncated frame")
	errADTSUnusable = errors.New("adts: unsupported header")
)

// parseADTS splits a PES payload into ADTS frames. A header with CRC
// (protection_absent 0) is accepted; frames with several raw data blocks,
// a reserved sampling frequency or a channel configuration in a PCE are not.
func parseADTS(b []byte) ([]adtsFrame, error) {
	var out []adtsFrame
	for len(b) > 0 {
		if len(b) < 7 {
			return out, errADTSShort
		}
		if b[0] != 0xFF || b[1]&0xF6 != 0xF0 { // syncword, layer 00
			return out, errADTSSync
		}
		hdr := 7
		if b[1]&0x01 == 0 {
			hdr = 9
		}
		f := adtsFrame{
			objectType:  b[2]>>6 + 1,
			rateIndex:   (b[2] >> 2) & 0x0F,
			channelConf: (b[2]&0x01)<<2 | b[3]>>6,
		}
		n := int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5])>>5
		if adtsSampleRate(f.rateIndex) == 0 || f.channelConf == 0 || b[6]&0x03 != 0 {
			return out, errADTSUnusable
		}
		if n <= hdr || n > len(b) {
			return out, errADTSShort
		}
		f.au = b[hdr:n]
		out = append(out, f)
		b = b[n:]
	}
	return out, nil
}

// audioSpecificConfig builds the two-byte AudioSpecificConfig (ISO/IEC
// 14496-3 §1.6.2.1) an ADTS header describes.
func (f adtsFrame) audioSpecificConfig() []byte {
	return []byte{f.objectType<<3 | f.rateIndex>>1, (f.rateIndex&1)<<7 | f.channelConf<<3}
}

// aacPES turns one PES packet of ADTS frames into units, one per frame,
// 1024 samples apart.
func (d *Demuxer) aacPES(t *esTrack, data []byte, pts int64, now time.Time) {
	frames, err := parseADTS(data)
	if err != nil {
		d.sink.TSError(ErrES)
		d.log.Debug("malformed adts dropped", "error", err)
	}
	for i, f := range frames {
		c := stream.AAC{Config: f.audioSpecificConfig()}
		if t.codec == nil || !t.codec.Equal(c) {
			if t.emitted != nil {
				d.log.Info("audio parameters changed", "codec", c.Name())
			}
			t.codec = c
		}
		rate := int64(adtsSampleRate(f.rateIndex))
		out, disc := d.tl.convert(slotAudio, pts+int64(i)*1024*tsClock/rate)
		ts := ticksToDuration(out)
		d.emit(t, &stream.Unit{DTS: ts, PTS: ts, Wall: now, Key: true, Data: f.au, Discontinuity: disc})
	}
}

// opusPES turns one PES packet of Opus access units, each behind an
// opus_control_header (wiki.xiph.org/OpusTS §"Control header"), into units,
// one per Opus packet.
func (d *Demuxer) opusPES(t *esTrack, data []byte, pts int64, now time.Time) {
	var offset int64 // ticks after pts
	for len(data) > 0 {
		pkt, rest, err := parseOpusAU(data)
		if err != nil {
			d.sink.TSError(ErrES)
			d.log.Debug("malformed opus access unit dropped", "error", err)
			return
		}
		data = rest
		if len(pkt) == 0 {
			continue
		}
		out, disc := d.tl.convert(slotAudio, pts+offset)
		ts := ticksToDuration(out)
		d.emit(t, &stream.Unit{DTS: ts, PTS: ts, Wall: now, Key: true, Data: pkt, Discontinuity: disc})
		offset += opus.PacketDuration2(pkt) * tsClock / 48000
	}
}

// parseOpusAU reads one opus_control_header and the Opus packet behind it.
func parseOpusAU(b []byte) (pkt, rest []byte, err error) {
	if len(b) < 2 || b[0] != 0x7F || b[1]&0xE0 != 0xE0 { // control_header_prefix 0x3FF
		return nil, nil, errors.New("opus: no control header prefix")
	}
	flags := b[1]
	pos, size := 2, 0
	for {
		if pos >= len(b) {
			return nil, nil, errors.New("opus: truncated au_size")
		}
		v := int(b[pos])
		pos++
		size += v
		if v != 0xFF {
			break
		}
	}
	if flags&0x10 != 0 { // start_trim_flag
		pos += 2
	}
	if flags&0x08 != 0 { // end_trim_flag
		pos += 2
	}
	if flags&0x04 != 0 { // control_extension_flag
		if pos >= len(b) {
			return nil, nil, errors.New("opus: truncated control extension")
		}
		pos += 1 + int(b[pos])
	}
	if pos+size > len(b) {
		return nil, nil, fmt.Errorf("opus: access unit of %d bytes truncated", size)
	}
	return b[pos : pos+size], b[pos+size:], nil
}
