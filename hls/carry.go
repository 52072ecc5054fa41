package hls

import "bytes"

// CarryQuery returns playlist with the query string of a playlist request
// carried onto every URI it lists, as the live playlists of a Muxer do:
// the parameters of rawQuery other than the delivery directives (_HLS_...,
// RFC 8216bis §6.2.5.1), in order, with the bytes that could break out of
// a line or a quoted-string percent-encoded (§4.2). URIs are the lines
// that are not tags or blank (§4.1) and the URI attributes of tags
// (EXT-X-MAP, EXT-X-MEDIA, EXT-X-PART, ...). A URI that already has a
// query gets the parameters after "&". It serves playlists built elsewhere
// (recorded videos) to players that got a playback token as ?token=.
// With nothing to carry, playlist is returned as it is.
func CarryQuery(playlist []byte, rawQuery string) []byte {
	d, err := parseDirectives(rawQuery)
	if err != nil || d.carry == "" {
		// a bad directive is not ours to refuse here: carry nothing
		return playlist
	}
	q := d.carry
	out := make([]byte, 0, len(playlist)+64*(1+len(q)))
	for len(playlist) > 0 {
		line := playlist
		rest := []byte(nil)
		if i := bytes.IndexByte(playlist, '\n'); i >= 0 {
			line, rest = playlist[:i+1], playlist[i+1:]
		}
		playlist = rest
		body := bytes.TrimRight(line, "\r\n")
		eol := line[len(body):]
		switch {
		case len(bytes.TrimSpace(body)) == 0:
			out = append(out, line...)
		case body[0] == '#':
			out = appendTagCarry(out, body, q)
			out = append(out, eol...)
		default:
			out = append(out, body...)
			out = appendSep(out, body)
			out = append(out, q...)
			out = append(out, eol...)
		}
	}
	return out
}

// appendSep appends "?" to b, or "&" when uri already has a query.
func appendSep(b, uri []byte) []byte {
	if bytes.IndexByte(uri, '?') >= 0 {
		return append(b, '&')
	}
	return append(b, '?')
}

// appendTagCarry appends the tag line with q carried onto the value of
// each of its URI="..." attributes.
func appendTagCarry(b, tag []byte, q string) []byte {
	const attr = `URI="`
	for {
		i := bytes.Index(tag, []byte(attr))
		if i < 0 || (i > 0 && tag[i-1] != ':' && tag[i-1] != ',') {
			if i < 0 {
				return append(b, tag...)
			}
			// a longer attribute name ending in URI (e.g. KEYFORMATURI): skip it
			b = append(b, tag[:i+len(attr)]...)
			tag = tag[i+len(attr):]
			if j := bytes.IndexByte(tag, '"'); j >= 0 {
				b = append(b, tag[:j+1]...)
				tag = tag[j+1:]
			}
			continue
		}
		b = append(b, tag[:i+len(attr)]...)
		tag = tag[i+len(attr):]
		j := bytes.IndexByte(tag, '"')
		if j < 0 { // unterminated: leave it alone
			return append(b, tag...)
		}
		uri := tag[:j]
		b = append(b, uri...)
		if len(uri) > 0 {
			b = appendSep(b, uri)
			b = append(b, q...)
		}
		b = append(b, '"')
		tag = tag[j+1:]
	}
}
