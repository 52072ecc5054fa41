// Package webrtctest is the base of the WHIP and WHEP test clients
// (whiptest, wheptest): a pion PeerConnection for loopback tests and the
// HTTP offer/answer exchange both protocols share (RFC 9725 §4.2,
// draft-ietf-wish-whep §4.2): POST the offer with gathering complete, 201
// with the answer and the session's Location.
package webrtctest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// StatusError is a request answered with an unexpected HTTP status.
type StatusError struct {
	// Protocol names the endpoint in the message ("whip", "whep").
	Protocol string
	Code     int
	Body     string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Protocol, e.Code, strings.TrimSpace(e.Body))
}

// Codec is one codec a client offers.
type Codec struct {
	Kind   webrtc.RTPCodecType
	Params webrtc.RTPCodecParameters
}

// NewPeerConnection returns a client PeerConnection for loopback tests:
// codecs registered, pion's default interceptors (NACK, RTCP reports,
// TWCC), host candidates with loopback included and mDNS off, over UDP4,
// or ICE-TCP (RFC 6544) only when tcp.
func NewPeerConnection(codecs []Codec, tcp bool) (*webrtc.PeerConnection, error) {
	m := &webrtc.MediaEngine{}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.Params, c.Kind); err != nil {
			return nil, err
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	if tcp {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)).
		NewPeerConnection(webrtc.Configuration{})
}

// Answer is a 201 answer to an offer.
type Answer struct {
	// URL is the absolute session URL (the Location, resolved against
	// the endpoint).
	URL string
	// ETag is the answer's ETag header.
	ETag string
	// SDP is the answer; Offer the offer sent.
	SDP, Offer string
}

// Offer creates pc's offer, waits for ICE gathering to complete (no
// trickle) and POSTs it to endpoint with bearer as "Authorization:
// Bearer" when set. It does not apply the answer. A non-201 answer is a
// *StatusError of protocol.
func Offer(ctx context.Context, pc *webrtc.PeerConnection, protocol, endpoint, bearer string) (Answer, error) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return Answer{}, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return Answer{}, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return Answer{}, ctx.Err()
	}
	a := Answer{Offer: pc.LocalDescription().SDP}
	resp, body, err := Do(ctx, http.MethodPost, endpoint, bearer, "application/sdp", a.Offer)
	if err != nil {
		return Answer{}, err
	}
	if resp.StatusCode != http.StatusCreated {
		return Answer{}, &StatusError{Protocol: protocol, Code: resp.StatusCode, Body: body}
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return Answer{}, fmt.Errorf("%s: bad Location %q", protocol, resp.Header.Get("Location"))
	}
	base, _ := url.Parse(endpoint)
	a.URL, a.ETag, a.SDP = base.ResolveReference(loc).String(), resp.Header.Get("ETag"), body
	return a, nil
}

// Do sends one request with an optional bearer token, content type and
// body; the response body (up to 1 MiB) is read and closed.
func Do(ctx context.Context, method, u, bearer, contentType, body string) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = io.Copy(&b, io.LimitReader(resp.Body, 1<<20))
	return resp, b.String(), err
}
