package manifest

import (
	"fmt"
	"strings"
)

// Media compatibility is the last check of a manifest, and the only one
// that needs the source's media: it runs when the media is known, that
// is when a pipeline is applied or planned while its live input is live
// (the API answers 400), and when a bound live input goes live (the
// incompatible node is not built and is reported errored with
// CodeMediaIncompatible). The rules, for every node that reads a source
// directly and whose `when` holds for it:
//
//   - transcode.abr and thumbnail need video: an audio-only source is
//     refused;
//   - package.llhls cannot carry VP8 or VP9 video (RFC 8216bis §3 lists
//     the formats HLS carries: H.264, H.265 and AV1 in fMP4 here): such a
//     source needs a transcode.abr ladder of it among the packager's
//     inputs, whose rungs the packager serves instead;
//   - record.vod records what the packager makes: for such a source it
//     records the ladder's top rung, so the pipeline needs a transcode.abr
//     of that source.

// CodeMediaIncompatible prefixes the last_error of a node left out at
// go-live because the source's media does not fit it.
const CodeMediaIncompatible = "media_incompatible"

// HLSCarries reports whether HLS carries video of codec (a
// VideoFacts.Codec) as it is; the other codecs are transcoded only.
func HLSCarries(codec string) bool {
	switch codec {
	case "vp8", "vp9":
		return false
	}
	return true
}

// CheckMedia checks the nodes that read source node `source` (a
// source.live node of m) against its media src. Nodes whose `when` is
// false for src do not run and are not checked, and a ladder that does
// not run does not count. Each problem names its node and the JSON
// pointer of the input that does not fit.
func (m *Manifest) CheckMedia(source string, src Source) Errors {
	facts := src.Facts()
	runs := map[string]bool{}
	for _, n := range m.Spec.Nodes {
		cond, err := m.Condition(n.ID)
		if err != nil {
			continue
		}
		if ok, err := cond(facts); err == nil && ok {
			runs[n.ID] = true
		}
	}
	// ladders of the source that run
	ladders := map[string]bool{}
	for _, n := range m.Spec.Nodes {
		if n.Type == "transcode.abr" && runs[n.ID] && readsNode(n, source) {
			ladders[n.ID] = true
		}
	}
	carries := src.Video == nil || HLSCarries(src.Video.Codec)
	var errs Errors
	for i, n := range m.Spec.Nodes {
		if !runs[n.ID] {
			continue
		}
		for k, in := range n.Inputs {
			if in != source {
				continue
			}
			at := pointer(nodePath(i)+"/inputs", k)
			fail := func(format string, args ...any) {
				errs = append(errs, m.ErrorAt(at, n.ID, fmt.Sprintf(format, args...)))
			}
			switch {
			case (n.Type == "transcode.abr" || n.Type == "thumbnail") && src.Video == nil:
				fail("input %q: %s has no video (audio only); a %s node needs video", in, describe(src), n.Type)
			case n.Type == "package.llhls" && !carries && !readsAny(n, ladders):
				fail("input %q: the video of %s is %s, which HLS cannot carry; add a transcode.abr ladder of %q to this node's inputs",
					in, describe(src), src.Video.Codec, source)
			case n.Type == "record.vod" && !carries && len(ladders) == 0:
				fail("input %q: the video of %s is %s, which HLS cannot carry, and nothing transcodes it; add a transcode.abr ladder of %q (its top rung is recorded)",
					in, describe(src), src.Video.Codec, source)
			}
		}
	}
	return errs
}

func describe(src Source) string {
	if src.LiveInput != "" {
		return "live input " + src.LiveInput
	}
	return "the source"
}

// readsNode reports whether n reads node id (`id` or `id.rendition`).
func readsNode(n Node, id string) bool {
	for _, in := range n.Inputs {
		if node, _, _ := strings.Cut(in, "."); node == id {
			return true
		}
	}
	return false
}

// readsAny reports whether n reads one of the nodes in ids.
func readsAny(n Node, ids map[string]bool) bool {
	for _, in := range n.Inputs {
		if node, _, _ := strings.Cut(in, "."); ids[node] {
			return true
		}
	}
	return false
}

// Sources returns the live input each source.live node of m binds, by
// node id.
func (m *Manifest) Sources() map[string]string {
	out := map[string]string{}
	for _, n := range m.Spec.Nodes {
		if id, _ := n.Config["live_input"].(string); n.Type == "source.live" && id != "" {
			out[n.ID] = id
		}
	}
	return out
}
