package hls

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/av1"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// videoTimescale is the media timescale of video tracks (ISO/IEC 14496-12 §8.4.2).
const videoTimescale = 90000

// trackInfo is what the packager needs to know about a track's codec.
type trackInfo struct {
	codec     Codec
	video     bool
	codecs    string // RFC 6381 string
	width     int
	height    int
	timescale uint32
	// audio only
	sampleRate   int
	channels     int
	frameTicks   int64  // nominal samples per audio frame (AAC), 0 when variable (Opus)
	silence      []byte // a frame of silence (AAC-LC mono or stereo), nil when unknown
	sampleEntry  []byte
	stripParamNA bool // remove in-band VPS/SPS/PPS (H.265 hvc1)
}

func sameCodec(a, b Codec) bool {
	switch a := a.(type) {
	case H264:
		b, ok := b.(H264)
		return ok && bytes.Equal(a.SPS, b.SPS) && bytes.Equal(a.PPS, b.PPS)
	case H265:
		b, ok := b.(H265)
		return ok && bytes.Equal(a.VPS, b.VPS) && bytes.Equal(a.SPS, b.SPS) && bytes.Equal(a.PPS, b.PPS)
	case AV1:
		b, ok := b.(AV1)
		return ok && bytes.Equal(a.SequenceHeader, b.SequenceHeader)
	case AAC:
		b, ok := b.(AAC)
		return ok && bytes.Equal(a.Config, b.Config)
	case Opus:
		b, ok := b.(Opus)
		return ok && a == b
	}
	return false
}

func cloneCodec(c Codec) Codec {
	switch c := c.(type) {
	case H264:
		return H264{SPS: bytes.Clone(c.SPS), PPS: bytes.Clone(c.PPS)}
	case H265:
		return H265{VPS: bytes.Clone(c.VPS), SPS: bytes.Clone(c.SPS), PPS: bytes.Clone(c.PPS)}
	case AV1:
		return AV1{SequenceHeader: bytes.Clone(c.SequenceHeader)}
	case AAC:
		return AAC{Config: bytes.Clone(c.Config)}
	}
	return c
}

// newTrackInfo parses codec parameters into a trackInfo; wantVideo selects
// which kind of codec is acceptable.
func newTrackInfo(c Codec, wantVideo bool) (*trackInfo, error) {
	var (
		ti  *trackInfo
		err error
	)
	switch c := c.(type) {
	case H264:
		ti, err = h264Info(c)
	case *H264:
		return newTrackInfo(*c, wantVideo)
	case H265:
		ti, err = h265Info(c)
	case *H265:
		return newTrackInfo(*c, wantVideo)
	case AV1:
		ti, err = av1Info(c)
	case *AV1:
		return newTrackInfo(*c, wantVideo)
	case AAC:
		ti, err = aacInfo(c)
	case *AAC:
		return newTrackInfo(*c, wantVideo)
	case Opus:
		ti, err = opusInfo(c)
	case *Opus:
		return newTrackInfo(*c, wantVideo)
	default:
		return nil, fmt.Errorf("%w: unsupported codec %T", ErrInvalidCodec, c)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCodec, err)
	}
	if ti.video != wantVideo {
		return nil, fmt.Errorf("%w: %T is not a %s codec", ErrInvalidCodec, c, map[bool]string{true: "video", false: "audio"}[wantVideo])
	}
	ti.codec = cloneCodec(ti.codec)
	return ti, nil
}

// parseH264 checks c's parameter sets and parses its SPS.
func parseH264(c H264) (*h264.SPS, error) {
	if len(c.SPS) < 4 || len(c.PPS) < 1 {
		return nil, fmt.Errorf("h264: missing SPS or PPS")
	}
	var sps h264.SPS
	if err := sps.Unmarshal(c.SPS); err != nil {
		return nil, fmt.Errorf("h264 sps: %w", err)
	}
	return &sps, nil
}

func h264Info(c H264) (*trackInfo, error) {
	sps, err := parseH264(c)
	if err != nil {
		return nil, err
	}
	ti := &trackInfo{
		codec:     c,
		video:     true,
		codecs:    fmt.Sprintf("avc1.%02x%02x%02x", c.SPS[1], c.SPS[2], c.SPS[3]),
		width:     sps.Width(),
		height:    sps.Height(),
		timescale: videoTimescale,
	}
	ti.sampleEntry = visualSampleEntry("avc1", ti.width, ti.height, box("avcC", avcConfig(c, sps)))
	return ti, nil
}

// avcConfig is the AVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §5.3.3.1) of c, whose SPS is sps, with 4-byte NAL unit lengths.
func avcConfig(c H264, sps *h264.SPS) []byte {
	var cfg boxWriter
	cfg.u8(1)
	cfg.u8(c.SPS[1])
	cfg.u8(c.SPS[2])
	cfg.u8(c.SPS[3])
	cfg.u8(0xFF) // lengthSizeMinusOne = 3
	cfg.u8(0xE1) // one SPS
	cfg.u16(uint16(len(c.SPS)))
	cfg.bytes(c.SPS)
	cfg.u8(1)
	cfg.u16(uint16(len(c.PPS)))
	cfg.bytes(c.PPS)
	switch sps.ProfileIdc {
	case 100, 110, 122, 144:
		cfg.u8(0xFC | byte(sps.ChromaFormatIdc&3))
		cfg.u8(0xF8 | byte(sps.BitDepthLumaMinus8&7))
		cfg.u8(0xF8 | byte(sps.BitDepthChromaMinus8&7))
		cfg.u8(0)
	}
	return cfg.b
}

// parseH265 checks c's parameter sets and parses its SPS; ptl is the
// general part of the SPS's profile_tier_level (ITU-T H.265 §7.3.3).
func parseH265(c H265) (sps *h265.SPS, ptl []byte, err error) {
	if len(c.VPS) < 2 || len(c.SPS) < 2 || len(c.PPS) < 2 {
		return nil, nil, fmt.Errorf("h265: missing VPS, SPS or PPS")
	}
	sps = &h265.SPS{}
	if err := sps.Unmarshal(c.SPS); err != nil {
		return nil, nil, fmt.Errorf("h265 sps: %w", err)
	}
	rbsp := h264.EmulationPreventionRemove(c.SPS)
	if len(rbsp) < 15 {
		return nil, nil, fmt.Errorf("h265 sps too short")
	}
	return sps, rbsp[3:15], nil
}

func h265Info(c H265) (*trackInfo, error) {
	sps, ptl, err := parseH265(c)
	if err != nil {
		return nil, err
	}
	p := sps.ProfileTierLevel
	ti := &trackInfo{
		codec:        c,
		video:        true,
		codecs:       hevcCodecString(p, ptl),
		width:        sps.Width(),
		height:       sps.Height(),
		timescale:    videoTimescale,
		stripParamNA: true,
	}
	ti.sampleEntry = visualSampleEntry("hvc1", ti.width, ti.height, box("hvcC", hvcConfig(c, sps, ptl)))
	return ti, nil
}

// hvcConfig is the HEVCDecoderConfigurationRecord (ISO/IEC 14496-15
// §8.3.3.1) of c, whose SPS is sps with ptl the general part of its
// profile_tier_level, with 4-byte NAL unit lengths.
func hvcConfig(c H265, sps *h265.SPS, ptl []byte) []byte {
	p := sps.ProfileTierLevel
	var cfg boxWriter
	cfg.u8(1)
	cfg.bytes(ptl[:1+4+6]) // profile space/tier/idc, compatibility flags, constraint flags
	cfg.u8(p.GeneralLevelIdc)
	cfg.u16(0xF000)
	cfg.u8(0xFC)
	cfg.u8(0xFC | byte(sps.ChromaFormatIdc&3))
	cfg.u8(0xF8 | byte(sps.BitDepthLumaMinus8&7))
	cfg.u8(0xF8 | byte(sps.BitDepthChromaMinus8&7))
	cfg.u16(0)
	nested := byte(0)
	if sps.TemporalIDNestingFlag {
		nested = 1
	}
	cfg.u8((sps.MaxSubLayersMinus1+1)<<3 | nested<<2 | 3)
	cfg.u8(3)
	for _, n := range []struct {
		typ  h265.NALUType
		nalu []byte
	}{{h265.NALUType_VPS_NUT, c.VPS}, {h265.NALUType_SPS_NUT, c.SPS}, {h265.NALUType_PPS_NUT, c.PPS}} {
		cfg.u8(0x80 | byte(n.typ))
		cfg.u16(1)
		cfg.u16(uint16(len(n.nalu)))
		cfg.bytes(n.nalu)
	}
	return cfg.b
}

// hevcCodecString builds the RFC 6381 string of ISO/IEC 14496-15 Annex E.3.
func hevcCodecString(p h265.SPS_ProfileTierLevel, ptl []byte) string {
	var sb strings.Builder
	sb.WriteString("hvc1.")
	if p.GeneralProfileSpace > 0 {
		sb.WriteByte(byte('A' + p.GeneralProfileSpace - 1))
	}
	sb.WriteString(strconv.Itoa(int(p.GeneralProfileIdc)))
	sb.WriteByte('.')
	// compatibility flags in reverse bit order
	var compat uint32
	for i := 0; i < 32; i++ {
		if p.GeneralProfileCompatibilityFlag[i] {
			compat |= 1 << i
		}
	}
	sb.WriteString(strconv.FormatUint(uint64(compat), 16))
	if p.GeneralTierFlag != 0 {
		sb.WriteString(".H")
	} else {
		sb.WriteString(".L")
	}
	sb.WriteString(strconv.Itoa(int(p.GeneralLevelIdc)))
	cons := ptl[5:11]
	last := len(cons)
	for last > 0 && cons[last-1] == 0 {
		last--
	}
	for _, b := range cons[:last] {
		sb.WriteByte('.')
		sb.WriteString(strconv.FormatUint(uint64(b), 16))
	}
	return sb.String()
}

func av1Info(c AV1) (*trackInfo, error) {
	sh, err := parseAV1(c)
	if err != nil {
		return nil, err
	}
	depth := 8
	if sh.ColorConfig.HighBitDepth {
		depth = 10
		if sh.ColorConfig.TwelveBit {
			depth = 12
		}
	}
	tier := "M"
	if sh.SeqTier[0] {
		tier = "H"
	}
	ti := &trackInfo{
		codec:     c,
		video:     true,
		codecs:    fmt.Sprintf("av01.%d.%02d%s.%02d", sh.SeqProfile, sh.SeqLevelIdx[0], tier, depth),
		width:     sh.Width(),
		height:    sh.Height(),
		timescale: videoTimescale,
	}
	cfg, err := av1Config(c, sh)
	if err != nil {
		return nil, err
	}
	ti.sampleEntry = visualSampleEntry("av01", ti.width, ti.height, box("av1C", cfg))
	return ti, nil
}

// parseAV1 parses c's sequence header OBU and checks it has an operating
// point.
func parseAV1(c AV1) (*av1.SequenceHeader, error) {
	var sh av1.SequenceHeader
	if err := sh.Unmarshal(c.SequenceHeader); err != nil {
		return nil, fmt.Errorf("av1 sequence header: %w", err)
	}
	if len(sh.SeqLevelIdx) == 0 || len(sh.SeqTier) == 0 {
		return nil, fmt.Errorf("av1: no operating point")
	}
	return &sh, nil
}

// av1Config is the AV1CodecConfigurationRecord (AV1-ISOBMFF §2.3.3): the
// fields of the sequence header, then the sequence header OBU with its
// size field.
func av1Config(c AV1, sh *av1.SequenceHeader) ([]byte, error) {
	b2u := func(b bool) byte {
		if b {
			return 1
		}
		return 0
	}
	cc := sh.ColorConfig
	var cfg boxWriter
	cfg.u8(0x81) // marker, version 1
	cfg.u8(sh.SeqProfile<<5 | sh.SeqLevelIdx[0]&0x1F)
	cfg.u8(b2u(sh.SeqTier[0])<<7 | b2u(cc.HighBitDepth)<<6 | b2u(cc.TwelveBit)<<5 | b2u(cc.MonoChrome)<<4 |
		b2u(cc.SubsamplingX)<<3 | b2u(cc.SubsamplingY)<<2 | byte(cc.ChromaSamplePosition)&3)
	cfg.u8(0) // no initial_presentation_delay
	obu, err := av1.Bitstream([][]byte{c.SequenceHeader}).Marshal()
	if err != nil {
		return nil, err
	}
	cfg.bytes(obu)
	return cfg.b, nil
}

func aacInfo(c AAC) (*trackInfo, error) {
	var conf mpeg4audio.AudioSpecificConfig
	if err := conf.Unmarshal(c.Config); err != nil {
		return nil, fmt.Errorf("aac config: %w", err)
	}
	if conf.SampleRate <= 0 || conf.SampleRate > 0xFFFF || len(c.Config) > 100 {
		return nil, fmt.Errorf("aac: unsupported sample rate %d", conf.SampleRate)
	}
	frame := int64(1024)
	if conf.FrameLengthFlag {
		frame = 960
	}
	ti := &trackInfo{
		codec:      c,
		codecs:     "mp4a.40." + strconv.Itoa(int(conf.Type)),
		timescale:  uint32(conf.SampleRate),
		sampleRate: conf.SampleRate,
		channels:   conf.ChannelCount,
		frameTicks: frame,
	}
	if conf.Type == mpeg4audio.ObjectTypeAACLC && conf.ExtensionType == 0 {
		ti.silence = aacSilentFrame(conf.ChannelCount)
	}
	// esds, ISO/IEC 14496-1 §7.2.6.5.
	var dsi boxWriter
	dsi.descriptor(0x05, c.Config)
	var dcd boxWriter
	dcd.u8(0x40) // Audio ISO/IEC 14496-3
	dcd.u8(0x15) // AudioStream, upStream=0, reserved=1
	dcd.u24(0)
	dcd.u32(0)
	dcd.u32(0)
	dcd.bytes(dsi.b)
	var es boxWriter
	es.u16(0) // ES_ID
	es.u8(0)
	es.descriptor(0x04, dcd.b)
	es.descriptor(0x06, []byte{0x02})
	var esds boxWriter
	esds.u32(0) // version, flags
	esds.descriptor(0x03, es.b)
	ch := conf.ChannelCount
	if ch == 0 {
		ch = 2
	}
	ti.sampleEntry = audioSampleEntry("mp4a", ch, conf.SampleRate, box("esds", esds.b))
	return ti, nil
}

func opusInfo(c Opus) (*trackInfo, error) {
	if c.ChannelCount < 1 || c.ChannelCount > 2 {
		return nil, fmt.Errorf("opus: unsupported channel count %d", c.ChannelCount)
	}
	ti := &trackInfo{
		codec:      c,
		codecs:     "opus",
		timescale:  48000,
		sampleRate: 48000,
		channels:   c.ChannelCount,
	}
	// dOps, Opus in ISOBMFF §4.3.2.
	var d boxWriter
	d.u8(0)
	d.u8(byte(c.ChannelCount))
	d.u16(312)
	d.u32(48000)
	d.u16(0)
	d.u8(0)
	ti.sampleEntry = audioSampleEntry("Opus", c.ChannelCount, 48000, box("dOps", d.b))
	return ti, nil
}
