package whip

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/mpegflow/mpegflow/internal/webrtcice"
)

// Offer errors. The handler maps errMalformedOffer to 400 and
// errNoAcceptableCodec to 406 (RFC 9725 §4.2 leaves the refusal code open).
var (
	errMalformedOffer    = errors.New("malformed sdp offer")
	errNoAcceptableCodec = errors.New("no acceptable codec")
)

// maxOfferSize bounds the SDP offer read from a request body.
const maxOfferSize = 64 << 10

// Codec mime types (RFC 6184, RFC 7798, the AV1 RTP payload format, RFC 7587).
const (
	mimeH264 = "video/H264"
	mimeH265 = "video/H265"
	mimeAV1  = "video/AV1"
	mimeVP8  = "video/VP8"
	mimeVP9  = "video/VP9"
	mimeOpus = "audio/opus"
)

// codecChoice is one payload type of the offer that the answer accepts.
type codecChoice = webrtcice.Codec

// offerPlan is what an SDP offer allows: the video and audio codec chosen
// (either may be nil, not both) and every codec name the offer listed.
type offerPlan struct {
	Video   *codecChoice
	Audio   *codecChoice
	Offered []string // lowercase codec names, deduplicated, without rtx/red/fec
}

type rtpmapEntry struct {
	pt      uint8
	name    string // lowercase encoding name
	clock   uint32
	chans   uint16
	fmtp    string
	fmtpMap map[string]string
}

// parseOffer validates an SDP offer (RFC 8866) and selects the codecs of the
// answer (RFC 9725 §4.2, RFC 8829 §5.3): in the first video section H.264
// with packetization-mode=1 (RFC 6184 §8.1; constrained baseline preferred),
// else H.265 (RFC 7798), else AV1, else VP8 (RFC 7741), else VP9 (RFC 9628)
// when allowVPX (the live input is transcoded: HLS cannot carry VP8/VP9, so
// only its transcoded rungs are served); in the first audio section Opus
// (RFC 7587). VP8 goes before VP9: both become the same transcoded rungs,
// and VP8 costs the publisher (browser software encoders) and ffmpeg's
// decoder less and has no spatial layers. An offer without any acceptable
// codec returns
// errNoAcceptableCodec naming the codecs it listed, and for VP8/VP9 offers
// what to change.
func parseOffer(text string, allowVPX bool) (offerPlan, error) {
	var plan offerPlan
	if len(text) > maxOfferSize {
		return plan, fmt.Errorf("%w: larger than %d bytes", errMalformedOffer, maxOfferSize)
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
	var videoSeen, audioSeen, videoSection bool
	for _, md := range sd.MediaDescriptions {
		if md == nil {
			continue
		}
		entries, err := rtpmaps(md)
		if err != nil {
			return plan, err
		}
		for _, e := range entries {
			switch e.name {
			case "rtx", "red", "ulpfec", "flexfec-03", "telephone-event", "cn":
				continue
			}
			if !slices.Contains(plan.Offered, e.name) {
				plan.Offered = append(plan.Offered, e.name)
			}
		}
		switch md.MediaName.Media {
		case "video":
			videoSection = true
			if videoSeen {
				continue
			}
			videoSeen = true
			plan.Video = chooseVideo(entries, allowVPX)
		case "audio":
			if audioSeen {
				continue
			}
			audioSeen = true
			plan.Audio = chooseAudio(entries)
		}
	}
	if plan.Video == nil && (videoSection || plan.Audio == nil) {
		offered := "none"
		if len(plan.Offered) > 0 {
			offered = strings.Join(plan.Offered, ", ")
		}
		accepted := "h264 (packetization-mode=1), h265, av1"
		if allowVPX {
			accepted += ", vp8, vp9"
		}
		hint := ""
		if slices.Contains(plan.Offered, "vp8") || slices.Contains(plan.Offered, "vp9") {
			if !allowVPX {
				hint = "; vp8/vp9 video is accepted only when transcoding is on for this live input (and the transcoder has capacity): enable transcoding or send h264"
			}
		}
		return plan, fmt.Errorf("%w: offered %s; accepted are %s for video and opus for audio%s",
			errNoAcceptableCodec, offered, accepted, hint)
	}
	return plan, nil
}

// rtpmaps reads the a=rtpmap and a=fmtp lines of a media section
// (RFC 8866 §6.6, §6.15), in the order of the m= line's formats.
func rtpmaps(md *sdp.MediaDescription) ([]rtpmapEntry, error) {
	byPT := map[uint8]*rtpmapEntry{}
	var order []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if err != nil {
			if md.MediaName.Media == "application" {
				return nil, nil
			}
			return nil, fmt.Errorf("%w: payload type %q", errMalformedOffer, f)
		}
		if _, dup := byPT[uint8(pt)]; !dup {
			byPT[uint8(pt)] = &rtpmapEntry{pt: uint8(pt)}
			order = append(order, uint8(pt))
		}
	}
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			ptStr, rest, ok := strings.Cut(a.Value, " ")
			if !ok {
				return nil, fmt.Errorf("%w: rtpmap %q", errMalformedOffer, a.Value)
			}
			pt, err := strconv.ParseUint(ptStr, 10, 7)
			if err != nil {
				return nil, fmt.Errorf("%w: rtpmap payload type %q", errMalformedOffer, ptStr)
			}
			e := byPT[uint8(pt)]
			if e == nil {
				continue // rtpmap for a format not on the m= line
			}
			parts := strings.Split(strings.TrimSpace(rest), "/")
			e.name = strings.ToLower(parts[0])
			if len(parts) > 1 {
				c, err := strconv.ParseUint(parts[1], 10, 32)
				if err != nil || c == 0 {
					return nil, fmt.Errorf("%w: rtpmap clock rate %q", errMalformedOffer, a.Value)
				}
				e.clock = uint32(c)
			}
			if len(parts) > 2 {
				c, err := strconv.ParseUint(parts[2], 10, 8)
				if err != nil {
					return nil, fmt.Errorf("%w: rtpmap channels %q", errMalformedOffer, a.Value)
				}
				e.chans = uint16(c)
			}
		case "fmtp":
			ptStr, rest, _ := strings.Cut(a.Value, " ")
			pt, err := strconv.ParseUint(ptStr, 10, 7)
			if err != nil {
				continue
			}
			if e := byPT[uint8(pt)]; e != nil {
				e.fmtp = strings.TrimSpace(rest)
				e.fmtpMap = parseFmtp(e.fmtp)
			}
		}
	}
	out := make([]rtpmapEntry, 0, len(order))
	for _, pt := range order {
		e := byPT[pt]
		if e.name == "" {
			e.name = staticPayloadName(pt)
			if e.name == "" {
				continue
			}
		}
		out = append(out, *e)
	}
	return out, nil
}

// staticPayloadName names the static audio/video payload types of RFC 3551
// §6 that WebRTC offers may list without an rtpmap.
func staticPayloadName(pt uint8) string {
	switch pt {
	case 0:
		return "pcmu"
	case 8:
		return "pcma"
	case 9:
		return "g722"
	}
	return ""
}

func parseFmtp(s string) map[string]string {
	m := map[string]string{}
	for kv := range strings.SplitSeq(s, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k != "" {
			m[strings.ToLower(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// chooseVideo picks H.264 packetization-mode=1 (constrained baseline 42e0xx
// first, then baseline 42xxxx, then any profile), else H.265, else AV1,
// else VP8, else VP9 (profile 0 first) when allowVPX.
func chooseVideo(entries []rtpmapEntry, allowVPX bool) *codecChoice {
	best, bestRank := -1, 1000
	for i, e := range entries {
		rank := 1000
		switch e.name {
		case "h264":
			if e.fmtpMap["packetization-mode"] != "1" || e.clock != 90000 {
				continue
			}
			plid := strings.ToLower(e.fmtpMap["profile-level-id"])
			switch {
			case strings.HasPrefix(plid, "42e0"):
				rank = 0
			case strings.HasPrefix(plid, "42"):
				rank = 1
			case strings.HasPrefix(plid, "4d"):
				rank = 2
			default:
				rank = 3
			}
		case "h265":
			if e.clock != 90000 {
				continue
			}
			rank = 10
		case "av1":
			if e.clock != 90000 {
				continue
			}
			rank = 20
		case "vp8":
			if !allowVPX || e.clock != 90000 {
				continue
			}
			rank = 30
		case "vp9":
			if !allowVPX || e.clock != 90000 {
				continue
			}
			rank = 40
			if p := e.fmtpMap["profile-id"]; p != "" && p != "0" {
				rank = 41
			}
		default:
			continue
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return nil
	}
	e := entries[best]
	mime := map[string]string{"h264": mimeH264, "h265": mimeH265, "av1": mimeAV1, "vp8": mimeVP8, "vp9": mimeVP9}[e.name]
	return &codecChoice{Mime: mime, PayloadType: e.pt, ClockRate: 90000, Fmtp: e.fmtp}
}

// chooseAudio picks Opus at 48 kHz (RFC 7587 §7: always opus/48000/2).
func chooseAudio(entries []rtpmapEntry) *codecChoice {
	for _, e := range entries {
		if e.name == "opus" && e.clock == 48000 {
			return &codecChoice{Mime: mimeOpus, PayloadType: e.pt, ClockRate: 48000, Channels: 2, Fmtp: e.fmtp}
		}
	}
	return nil
}
