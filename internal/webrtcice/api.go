package webrtcice

import (
	"fmt"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"
)

// Codec is one codec a session negotiated from the offer: its payload type
// and fmtp line are the offer's, so that the answer matches them exactly.
type Codec struct {
	Mime        string
	PayloadType uint8
	ClockRate   uint32
	Channels    uint16
	Fmtp        string
}

// APIConfig describes the pion API of one session (see Mux.NewAPI).
type APIConfig struct {
	// Video and Audio are the codecs chosen from the offer; either may be
	// nil. Video gets the RTCP feedback NACK, PLI and FIR (RFC 4585 §4.2,
	// RFC 5104 §7.1).
	Video, Audio *Codec
	// NACKBuffer, when > 0, makes a sending session: a NACK responder
	// that keeps this many packets per track (a power of two), within a
	// retransmission budget (nackbudget.go), and RTCP sender reports
	// (RFC 3550 §6.4.1), as WHEP playback needs. The responder keeps the
	// video packets written (video is the kind with NACK feedback), not
	// copies: the writer must not modify their headers and payloads after
	// the write. When 0 the
	// session receives, with pion's default interceptors (NACK generator,
	// RTCP receiver reports, TWCC, stats), as WHIP ingest needs.
	NACKBuffer uint16
	// Timeouts are the session's ICE consent timers.
	Timeouts Timeouts
}

// NewAPI builds the pion API of one session on the shared ports: a media
// engine with only the codecs chosen from the offer, the interceptors of
// a sender or a receiver, and SettingEngine's settings.
func (m *Mux) NewAPI(c APIConfig) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if v := c.Video; v != nil {
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: v.Mime, ClockRate: v.ClockRate, SDPFmtpLine: v.Fmtp,
				RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}},
			},
			PayloadType: webrtc.PayloadType(v.PayloadType),
		}, webrtc.RTPCodecTypeVideo)
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", v.Mime, err)
		}
	}
	if a := c.Audio; a != nil {
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: a.Mime, ClockRate: a.ClockRate, Channels: a.Channels, SDPFmtpLine: a.Fmtp},
			PayloadType:        webrtc.PayloadType(a.PayloadType),
		}, webrtc.RTPCodecTypeAudio)
		if err != nil {
			return nil, fmt.Errorf("register %s: %w", a.Mime, err)
		}
	}
	reg := &interceptor.Registry{}
	if c.NACKBuffer > 0 {
		if err := addSenderInterceptors(reg, c.NACKBuffer); err != nil {
			return nil, err
		}
	} else if err := webrtc.RegisterDefaultInterceptors(me, reg); err != nil {
		return nil, fmt.Errorf("interceptors: %w", err)
	}
	se, err := m.SettingEngine(c.Timeouts)
	if err != nil {
		return nil, err
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

// addSenderInterceptors adds a sending session's interceptors: the
// retransmission budget, then the NACK responder keeping nackBuffer
// packets per stream (the budget first: it trims the NACKs the responder
// then reads), and RTCP sender reports.
func addSenderInterceptors(reg *interceptor.Registry, nackBuffer uint16) error {
	reg.Add(nackBudgetFactory{rate: nackRate, burst: nackBurst})
	resp, err := nack.NewResponderInterceptor(nack.ResponderSize(nackBuffer), nack.DisableCopy())
	if err != nil {
		return fmt.Errorf("nack responder: %w", err)
	}
	reg.Add(resp)
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return fmt.Errorf("rtcp reports: %w", err)
	}
	return nil
}
