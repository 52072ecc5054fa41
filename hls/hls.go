// Package hls is a Low-Latency HLS packager: it takes timestamped access units
// for one or more renditions, cuts them into fMP4/CMAF parts and segments
// (ISO/IEC 14496-12, ISO/IEC 23000-19) and serves multivariant playlists, media
// playlists, init segments, parts and segments over HTTP with blocking playlist
// reload and delta updates (draft-pantos-hls-rfc8216bis §4.4.3.7, §4.4.3.8,
// §4.4.4.9, §4.4.5.1-2, §6.2.5.2).
//
// The package knows nothing of paths, authentication, configuration files or
// metrics: a Muxer serves a relative tree through ServeHTTP and reports what a
// caller may want to count through Hooks.
//
// # URL tree
//
// Every URI a playlist lists is relative, so a prefix (for example a playback
// token placed in the path) carries over without rewriting:
//
//	index.m3u8              multivariant playlist
//	NAME/media.m3u8         media playlist of rendition NAME
//	NAME/init<I>.mp4        init segment number I (a new one per codec change)
//	NAME/seg<MSN>.m4s       segment with media sequence number MSN
//	NAME/part<ID>.m4s       part ID (IDs count up across segments, so the
//	                        preload hint always names a part that will exist)
//
// # Target duration and long GOPs
//
// EXT-X-TARGETDURATION never changes during a muxer's life (§4.4.3.1), and
// players that do not use the low-latency features stay HOLD-BACK = 3 x
// target duration behind the live edge, so the target duration is fitted
// once to the publisher's GOP before any media playlist is served: 2 s for a
// 2 s GOP (HOLD-BACK 6 s), 8 s for OBS's automatic 8.3 s GOP, at least
// ceil(MuxerConfig.SegmentDuration) and at most
// ceil(MuxerConfig.MaxSegmentDuration) (default 10 s), or fixed by
// MuxerConfig.TargetDuration. muxer_target.go describes the rule. A segment
// is closed at the first keyframe at or after SegmentDuration, or at an
// earlier keyframe when waiting for the next could make it too long. A GOP
// that runs past the target duration plus 499 ms (still rounded to the
// target) is cut there without a key frame: the next segment continues the
// GOP without a discontinuity, no frame is dropped, and its first part does
// not carry INDEPENDENT=YES; this is why live playlists do not declare
// EXT-X-INDEPENDENT-SEGMENTS. No segment's EXTINF rounds above
// EXT-X-TARGETDURATION.
//
// # Holes
//
// Video may miss frames while its timestamps continue: an encoder drops
// frames, a transcoder dies and is restarted on the same timeline (0.5-2 s
// later). A part that is not the last of its segment must last at least 85 %
// of PART-TARGET (§4.4.4.9), so a hole never closes a part early:
//
//   - a short hole (a publisher hiccup: up to 2 PART-TARGETs less a frame
//     and what the part in progress holds; 150 ms always fits with the
//     default part duration) is absorbed in the segment: the frame before
//     it lasts until the next one or, when that would overfill the part,
//     until the part is full, and the rest of the hole opens the next part
//     (its DURATION counts the hole, its media starts at the next frame).
//     Segments are cut as without the hole, and EXTINF and
//     EXT-X-PROGRAM-DATE-TIME stay continuous;
//   - a longer hole closes the part and the segment after the frame before
//     it (the segment's last part may be short), and the next segment starts
//     on the first keyframe after the hole behind EXT-X-DISCONTINUITY; frames
//     before that keyframe are dropped (a restarted encoder usually starts
//     on one, but nothing relies on it). Its date is that of its keyframe,
//     so the rendition keeps the wall clock of the others. In a muxed
//     rendition whose audio resumes later than that keyframe (a restarted
//     encoder's audio starts up to 150 ms after its video), the segment's
//     audio starts with AAC-LC silence up to the first frame, within one
//     frame of the video: hls.js maps a new timeline's first frame to the
//     segment's start, and a segment opening on video alone would leave a
//     hole in its muxed buffer that it does not always load past.
//
// The missing time is not listed as EXT-X-GAP segments or GAP=YES parts
// (§4.4.4.7, §4.4.4.9): hls.js plays across a discontinuity (it remaps the
// new timeline to the playlist's and aligns renditions by
// EXT-X-PROGRAM-DATE-TIME) better than across gap parts, and the
// discontinuity sequence of the rendition then differs from the others',
// which players that switch by date handle.
//
// # Muxed renditions
//
// In a rendition with video and audio (one fMP4 with two tracks) the video
// cuts parts and segments; each audio frame is placed, back to back from the
// first frame's PTS, into the part in progress when the video closes a part
// it starts before (before the part's video presentation end, when B-frames
// put that later), so every frame is in exactly one part and the audio of
// consecutive parts and segments is gapless and never overlaps. Audio that
// arrives ahead of its video waits for it, also for the first keyframe of a
// stream. The keyframe that cuts a segment waits, at most a part duration,
// for the audio up to the segment's video presentation end (which RTMP
// delivers after it), since a player's muxed SourceBuffer buffers only where
// both tracks have media. Audio that arrives later than that (an ingest that
// transcodes audio delivers it 100-300 ms late) opens the next part: at a
// cut, a segment's audio then ends, and the next segment's begins, before
// the video boundary (within one audio frame after it when audio is on time
// or ahead). Only audio from before
// the first keyframe of a timeline (the stream's start, a discontinuity)
// has no segment.
//
// # Memory
//
// A media playlist lists PlaylistWindow of segments: at least 6 target
// durations, so that delta updates (CAN-SKIP-UNTIL = 6 x target duration,
// §4.4.3.8) skip something, plus 4 segments; 68 s with a 10 s target duration, about 21 MB of
// a 2.5 Mb/s stream when every listed segment is held in memory (24.7 MB of
// heap measured by BenchmarkStreamMemory). With MuxerConfig.Storage (a
// DiskStorage in a spill directory), a segment is written out as soon as it
// is complete and its bytes leave memory once written: the segment is then
// served from the file, and each of its parts, being a byte range of the
// segment (a moof+mdat of it), as that range of the file. Only the segment
// in progress stays in memory, whose parts players fetch through blocking
// preload-hint requests the moment they complete: 0.6 MB of heap for the
// same stream. Old segments are read back from the page cache, which is not
// process memory. Bytes are never held twice: a part is one exact-size
// allocation (moof and mdat written in one pass), a segment is its parts,
// and Storage.Put and the recorder hook share those slices.
package hls

import (
	"errors"
)

// Errors returned by the package.
var (
	// ErrClosed is returned by writes after Muxer.Close.
	ErrClosed = errors.New("hls: muxer closed")
	// ErrEnded is returned by writes after Muxer.End.
	ErrEnded = errors.New("hls: stream ended")
	// ErrRemoved is returned by writes to a rendition after
	// Muxer.RemoveRendition.
	ErrRemoved = errors.New("hls: rendition removed")
	// ErrNoTrack is returned when writing a unit for a track the rendition does not have.
	ErrNoTrack = errors.New("hls: rendition has no such track")
	// ErrInvalidCodec is returned for codec parameters that cannot be parsed.
	ErrInvalidCodec = errors.New("hls: invalid codec parameters")
	// ErrInvalidName is returned by AddRendition for an unusable rendition name.
	ErrInvalidName = errors.New("hls: invalid rendition name")
)

// Codec is the codec parameters of a track: one of H264, H265, AV1, AAC, Opus.
type Codec interface {
	isCodec()
}

// H264 holds the parameter sets of an H.264 track (ITU-T H.264 §7.3.2.1, §7.3.2.2),
// raw NAL units without start codes. Written as an avc1 sample entry with an
// avcC box (ISO/IEC 14496-15 §5.3.3).
type H264 struct{ SPS, PPS []byte }

// H265 holds the parameter sets of an H.265 track (ITU-T H.265 §7.3.2), raw NAL
// units without start codes. Written as an hvc1 sample entry with an hvcC box
// (ISO/IEC 14496-15 §8.3.3); in-band parameter sets are removed from samples.
type H265 struct{ VPS, SPS, PPS []byte }

// AV1 holds the sequence header OBU of an AV1 track, written as an av01 sample
// entry with an av1C box (AV1 Codec ISO Media File Format Binding §2.3).
type AV1 struct{ SequenceHeader []byte }

// AAC holds the raw AudioSpecificConfig of an MPEG-4 audio track
// (ISO/IEC 14496-3 §1.6.2.1), written as an mp4a sample entry with an esds box
// (ISO/IEC 14496-14 §3.1.2).
type AAC struct{ Config []byte }

// Opus describes an Opus track, written as an Opus sample entry with a dOps box
// (Encapsulation of Opus in ISO Base Media File Format §4.3). ChannelCount is 1 or 2.
type Opus struct{ ChannelCount int }

func (H264) isCodec() {}
func (H265) isCodec() {}
func (AV1) isCodec()  {}
func (AAC) isCodec()  {}
func (Opus) isCodec() {}

// RequestKind classifies a request served by Muxer.ServeHTTP, for Hooks.OnRequest.
type RequestKind int

// Request kinds.
const (
	RequestUnknown RequestKind = iota
	RequestMultivariant
	RequestPlaylist
	RequestBlockingPlaylist
	RequestInit
	RequestPart
	RequestSegment
)

// String returns a short label: "multivariant", "playlist", "blocking_playlist",
// "init", "part", "segment" or "unknown".
func (k RequestKind) String() string {
	switch k {
	case RequestMultivariant:
		return "multivariant"
	case RequestPlaylist:
		return "playlist"
	case RequestBlockingPlaylist:
		return "blocking_playlist"
	case RequestInit:
		return "init"
	case RequestPart:
		return "part"
	case RequestSegment:
		return "segment"
	}
	return "unknown"
}
