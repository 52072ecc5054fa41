package whep

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/mpegflow/mpegflow/internal/stream"
	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// Offer errors; the handler maps errMalformedOffer to 400 and
// errNoUsableCodec to 406.
var (
	errMalformedOffer = errors.New("malformed sdp offer")
	errNoUsableCodec  = errors.New("no usable codec")
)

// MaxOfferSize bounds the SDP offer read from a request body (64 KiB);
// a larger one is refused with 413.
const MaxOfferSize = 64 << 10

// Codec mime types (RFC 6184, RFC 7798, RFC 7741, RFC 7587).
const (
	mimeH264 = "video/H264"
	mimeH265 = "video/H265"
	mimeVP8  = "video/VP8"
	mimeOpus = "audio/opus"
)

// codecChoice is the payload type of the offer the answer uses for a track.
type codecChoice = webrtcice.Codec

// offerPlan is what the answer sends: a codec for the stream's video and
// audio tracks (nil when the track is not sent) and the index of the
// stream track each comes from.
type offerPlan struct {
	Video, Audio           *codecChoice
	VideoTrack, AudioTrack int
	Offered                []string // codec names the offer listed, for the 406 message
}

type offered struct {
	pt    uint8
	name  string // lowercase encoding name
	clock uint32
	chans uint16
	fmtp  string
}

// parseOffer validates a WHEP offer (RFC 8866 SDP; draft-ietf-wish-whep §4:
// the player offers recvonly media) and picks, for each track of the
// stream, a payload type of the offer's first section of that kind that
// carries the track's codec as it is: H.264 with packetization-mode=1
// (RFC 6184 §8.1; a profile matching the SPS preferred), H.265, VP8, Opus.
// A track whose codec the offer lacks is left out; when no track can be
// sent the error is errNoUsableCodec naming what the stream has.
func parseOffer(text string, tracks []stream.Track) (offerPlan, error) {
	plan := offerPlan{VideoTrack: -1, AudioTrack: -1}
	if len(text) > MaxOfferSize {
		return plan, fmt.Errorf("%w: larger than %d bytes", errMalformedOffer, MaxOfferSize)
	}
	if !strings.HasPrefix(strings.TrimLeft(text, "\r\n\t "), "v=0") {
		return plan, fmt.Errorf("%w: does not start with v=0", errMalformedOffer)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return plan, fmt.Errorf("%w: %s", errMalformedOffer, err.Error())
	}
	if len(sd.MediaDescriptions) == 0 {
		return plan, fmt.Errorf("%w: no media sections", errMalformedOffer)
	}
	var video, audio []offered
	var seenV, seenA bool
	seen := map[string]bool{}
	for _, md := range sd.MediaDescriptions {
		list := codecsOf(md)
		for _, o := range list {
			switch o.name {
			case "rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event":
			default:
				if !seen[o.name] {
					seen[o.name] = true
					plan.Offered = append(plan.Offered, o.name)
				}
			}
		}
		if dir := direction(md); dir == "sendonly" || dir == "inactive" {
			continue // the player will not receive on it
		}
		switch md.MediaName.Media {
		case "video":
			if !seenV {
				video, seenV = list, true
			}
		case "audio":
			if !seenA {
				audio, seenA = list, true
			}
		}
	}
	for i, t := range tracks {
		switch t.Kind() {
		case stream.KindVideo:
			if c := pickVideo(video, t.Codec); c != nil && plan.Video == nil {
				plan.Video, plan.VideoTrack = c, i
			}
		case stream.KindAudio:
			if c := pickAudio(audio, t.Codec); c != nil && plan.Audio == nil {
				plan.Audio, plan.AudioTrack = c, i
			}
		}
	}
	if plan.Video == nil && plan.Audio == nil {
		return plan, fmt.Errorf("%w: this stream is sent as %s; the offer lists %s", errNoUsableCodec,
			Describe(tracks), listOrNone(plan.Offered))
	}
	return plan, nil
}

// Describe names what WHEP can send of tracks, e.g. "H.264 (packetization-mode=1) video and Opus audio".
func Describe(tracks []stream.Track) string {
	var parts []string
	for _, t := range tracks {
		switch c := t.Codec.(type) {
		case stream.H264:
			parts = append(parts, "H.264 (packetization-mode=1) video")
		case stream.H265:
			parts = append(parts, "H.265 video")
		case stream.VP8:
			parts = append(parts, "VP8 video")
		case stream.Opus:
			parts = append(parts, "Opus audio")
		case stream.AAC:
			parts = append(parts, "AAC audio (not carried: no Opus transcode)")
		default:
			_ = c
		}
	}
	if len(parts) == 0 {
		return "nothing WebRTC can carry"
	}
	return strings.Join(parts, " and ")
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "no codec"
	}
	return strings.Join(l, ", ")
}

func direction(md *sdp.MediaDescription) string {
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return "sendrecv"
}

// codecsOf lists the payload types of a media section in offer order with
// their rtpmap (RFC 8866 §6.6) and fmtp (§6.15) lines.
func codecsOf(md *sdp.MediaDescription) []offered {
	byPT := map[uint8]*offered{}
	var order []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			continue
		}
		if byPT[uint8(pt)] == nil {
			byPT[uint8(pt)] = &offered{pt: uint8(pt)}
			order = append(order, uint8(pt))
		}
	}
	for _, a := range md.Attributes {
		key := a.Key
		if key != "rtpmap" && key != "fmtp" {
			continue
		}
		ptS, rest, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptS, 10, 7)
		if err != nil || byPT[uint8(pt)] == nil {
			continue
		}
		o := byPT[uint8(pt)]
		if key == "fmtp" {
			o.fmtp = strings.TrimSpace(rest)
			continue
		}
		parts := strings.Split(strings.TrimSpace(rest), "/")
		o.name = strings.ToLower(parts[0])
		if len(parts) > 1 {
			if c, err := strconv.ParseUint(parts[1], 10, 32); err == nil {
				o.clock = uint32(c)
			}
		}
		if len(parts) > 2 {
			if c, err := strconv.ParseUint(parts[2], 10, 16); err == nil {
				o.chans = uint16(c)
			}
		}
	}
	out := make([]offered, 0, len(order))
	for _, pt := range order {
		if o := byPT[pt]; o.name != "" {
			out = append(out, *o)
		}
	}
	return out
}

func fmtpParam(fmtp, key string) (string, bool) {
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// pickVideo returns the offered payload type that carries c unchanged.
func pickVideo(list []offered, c stream.Codec) *codecChoice {
	switch c := c.(type) {
	case stream.H264:
		// profile_idc of the SPS (ITU-T H.264 §7.3.2.1.1) against the
		// first byte of profile-level-id (RFC 6184 §8.1)
		want := ""
		if len(c.SPS) > 1 {
			want = fmt.Sprintf("%02x", c.SPS[1])
		}
		var fallback *offered
		for i := range list {
			o := &list[i]
			if o.name != "h264" || o.clock != 90000 {
				continue
			}
			if pm, _ := fmtpParam(o.fmtp, "packetization-mode"); pm != "1" {
				continue
			}
			pli, _ := fmtpParam(o.fmtp, "profile-level-id")
			if want != "" && len(pli) == 6 && strings.EqualFold(pli[:2], want) {
				return choice(mimeH264, o)
			}
			if fallback == nil {
				fallback = o
			}
		}
		if fallback != nil {
			return choice(mimeH264, fallback)
		}
	case stream.H265:
		for i := range list {
			if list[i].name == "h265" && list[i].clock == 90000 {
				return choice(mimeH265, &list[i])
			}
		}
	case stream.VP8:
		for i := range list {
			if list[i].name == "vp8" && list[i].clock == 90000 {
				return choice(mimeVP8, &list[i])
			}
		}
	}
	return nil
}

// pickAudio returns the offered Opus payload type (RFC 7587 §7: opus/48000/2).
func pickAudio(list []offered, c stream.Codec) *codecChoice {
	if _, ok := c.(stream.Opus); !ok {
		return nil
	}
	for i := range list {
		if list[i].name == "opus" && list[i].clock == 48000 {
			ch := choice(mimeOpus, &list[i])
			ch.Channels = 2
			return ch
		}
	}
	return nil
}

func choice(mime string, o *offered) *codecChoice {
	return &codecChoice{Mime: mime, PayloadType: o.pt, ClockRate: o.clock, Channels: o.chans, Fmtp: o.fmtp}
}
