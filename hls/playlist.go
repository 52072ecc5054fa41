package hls

import (
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Playlist writing, RFC 8216bis §4.4. All functions here run with m.mu held.

func appendSeconds(b []byte, d time.Duration, prec int) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', prec, 64)
}

func appendQuery(b []byte, q string) []byte {
	if q == "" {
		return b
	}
	return append(append(b, '?'), q...)
}

// mediaTemplate is a media playlist rendered once per muxer version and skip
// mode, without the carried query string: cuts are the offsets at which
// "?"+query goes (every URI it lists). Blocked requests woken by one part all
// answer from the same template, a request without a query string writes its
// bytes as they are, and one with a query (a playback token per player)
// splices it in without holding the muxer lock. A template is never modified.
//
// For clients that accept gzip, the template is also compressed, once, by the
// first request that wants it (gzipOnce): every other request woken by the
// same part reuses those bytes. A request that carries a query string and
// accepts gzip gets a body spliced from the template's DEFLATE bit stream
// for queries of its length (carryCode, built once per length) and its
// query's bytes (gzipCarry: no compressor runs per request), kept per
// query for the template's life so that players sharing a token share
// the body; one that does not accept gzip gets the expanded text, built in
// a pooled buffer.
type mediaTemplate struct {
	version uint64
	data    []byte
	cuts    []int32
	length  []string // Content-Length of data, a header value

	gzipOnce   sync.Once
	gzipData   []byte   // gzip of data, nil if it did not shrink
	gzipLength []string // Content-Length of gzipData

	lzOnce sync.Once
	lz     *lzTemplate // tokens of data for gzipCarry

	carryMu sync.Mutex
	carried map[string]*carriedBody // gzip bodies by carried query
	codes   map[int]*codeEntry      // bit streams by query length
}

// codeEntry is the bit stream of a template for one query length, and
// once it has served planAfter requests, its CRC plan.
type codeEntry struct {
	once     sync.Once
	cc       *carryCode
	uses     atomic.Int32
	planOnce sync.Once
	plan     *crcPlan
}

// planAfter is the number of requests of one template and query length
// after which a CRC plan (about 32 CRC passes over the text, once) costs
// less than the CRC pass per request it saves.
const planAfter = 64

// crcPlan returns the entry's CRC plan once it pays, else nil.
func (e *codeEntry) crcPlan(t *mediaTemplate, lq int) *crcPlan {
	if len(t.cuts) == 0 || e.uses.Add(1) < planAfter {
		return nil
	}
	e.planOnce.Do(func() { e.plan = newCRCPlan(t.data, t.cuts, lq) })
	return e.plan
}

// maxCodes bounds the query lengths a template keeps bit streams for.
const maxCodes = 16

// carriedBody is the gzip body of a template with one query carried.
type carriedBody struct {
	once   sync.Once
	data   []byte // nil: gzip does not pay, send the expanded text
	length []string
}

// maxCarried bounds the bodies a template keeps by query (a template
// lives one part, about 200 ms); past it, bodies are built uncached.
const maxCarried = 4096

// gzipCarried returns the gzip body of the template with the query q
// carried, and its Content-Length, or nil when compression does not pay.
// Requests with the same q share one body, built by the first.
func (t *mediaTemplate) gzipCarried(m *Muxer, q string) ([]byte, []string) {
	t.carryMu.Lock()
	e := t.carried[q]
	if e == nil && len(t.carried) < maxCarried {
		if t.carried == nil {
			t.carried = make(map[string]*carriedBody)
		}
		e = &carriedBody{}
		t.carried[q] = e
	}
	t.carryMu.Unlock()
	if e == nil {
		e = &carriedBody{}
	}
	e.once.Do(func() {
		ce := t.carryCode(m, 1+len(q))
		plan := ce.crcPlan(t, 1+len(q))
		bp := m.getBody()
		if cap(*bp) < 2*crcChunk+len(q) {
			*bp = make([]byte, 0, 2*crcChunk+len(q)+1024)
		}
		gz := gzipCarry(m.fixedCodes(), t.data, t.cuts, ce.cc, plan, q, *bp)
		if len(gz) < len(t.data)+len(t.cuts)*(1+len(q)) {
			e.data, e.length = gz, []string{strconv.Itoa(len(gz))}
		}
		m.putBody(bp)
	})
	return e.data, e.length
}

// carryCode returns the template's DEFLATE bit stream for queries of lq
// bytes, built once per length (tokens of one issuer have one length).
func (t *mediaTemplate) carryCode(m *Muxer, lq int) *codeEntry {
	t.lzOnce.Do(func() {
		lz := tokenize(t.data, t.cuts)
		lz.encode(m.fixedCodes(), t.data)
		t.lz = lz
	})
	t.carryMu.Lock()
	e := t.codes[lq]
	if e == nil && len(t.codes) < maxCodes {
		if t.codes == nil {
			t.codes = make(map[int]*codeEntry)
		}
		e = &codeEntry{}
		t.codes[lq] = e
	}
	t.carryMu.Unlock()
	if e == nil {
		e = &codeEntry{}
	}
	e.once.Do(func() { e.cc = t.lz.code(m.fixedCodes(), t.data, t.cuts, lq) })
	return e
}

// gzipped returns the template compressed with gzip (RFC 1952) and its
// Content-Length, or nil when compression does not pay.
func (t *mediaTemplate) gzipped(pool *sync.Pool) ([]byte, []string) {
	t.gzipOnce.Do(func() {
		if len(t.data) < minGzipSize {
			return
		}
		var buf bytes.Buffer
		buf.Grow(len(t.data) / 3)
		zw, _ := pool.Get().(*gzip.Writer)
		if zw == nil {
			zw, _ = gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		} else {
			zw.Reset(&buf)
		}
		_, err := zw.Write(t.data)
		if err == nil {
			err = zw.Close()
		}
		zw.Reset(io.Discard)
		pool.Put(zw)
		if err != nil || buf.Len() >= len(t.data) {
			return
		}
		t.gzipData = buf.Bytes()
		t.gzipLength = []string{strconv.Itoa(len(t.gzipData))}
	})
	return t.gzipData, t.gzipLength
}

// minGzipSize is the smallest playlist worth compressing.
const minGzipSize = 512

// mediaTemplateLocked returns the current media playlist template.
func (r *Rendition) mediaTemplateLocked(skip skipMode) *mediaTemplate {
	v := r.m.version
	if t := r.tmpl[skip]; t != nil && t.version == v {
		return t
	}
	size, ncuts := 1024, 16
	for _, t := range r.tmpl {
		if t != nil {
			size = max(size, len(t.data)+256)
			ncuts = max(ncuts, len(t.cuts)+8)
		}
	}
	t := &mediaTemplate{version: v, cuts: make([]int32, 0, ncuts)}
	t.data = r.appendMediaPlaylist(make([]byte, 0, size), skip, &t.cuts)
	t.length = []string{strconv.Itoa(len(t.data))}
	r.tmpl[skip] = t
	return t
}

// expand returns the playlist with the query q carried onto every URI.
func (t *mediaTemplate) expand(q string) []byte {
	if q == "" {
		return t.data
	}
	return t.expandInto(make([]byte, 0, len(t.data)+len(t.cuts)*(1+len(q))), q)
}

// expandInto appends the playlist with the query q carried to b.
func (t *mediaTemplate) expandInto(b []byte, q string) []byte {
	prev := 0
	for _, c := range t.cuts {
		b = append(b, t.data[prev:c]...)
		b = append(append(b, '?'), q...)
		prev = int(c)
	}
	return append(b, t.data[prev:]...)
}

// markQuery records the offset where the carried query string goes.
func markQuery(b []byte, cuts *[]int32) []byte {
	*cuts = append(*cuts, int32(len(b)))
	return b
}

// appendMediaPlaylist writes the media playlist of the rendition
// (RFC 8216bis §4.4.3, §4.4.4, §4.4.5), or its delta update (§4.4.5.2,
// §6.2.5.1), recording in cuts where the carried query string goes.
func (r *Rendition) appendMediaPlaylist(b []byte, skip skipMode, cuts *[]int32) []byte {
	m := r.m
	td := m.targetDuration
	pt := m.partTarget
	segs := r.segments
	if n := len(segs); n > 0 && len(segs[n-1].parts) == 0 {
		segs = segs[:n-1] // the segment in progress has no part yet
	}
	var end time.Duration
	if n := len(segs); n > 0 {
		end = segs[n-1].end()
	}
	skipped := 0
	if skip != skipNone {
		for skipped < len(segs) && segs[skipped].complete && end-segs[skipped].end() >= 6*td {
			skipped++
		}
	}
	version := 9
	if skipped > 0 && skip == skipV2 {
		version = 10
	}

	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, "\n#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, int64(td/time.Second), 10)
	b = append(b, "\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL="...)
	b = appendSeconds(b, 6*td, 1)
	b = append(b, ",CAN-SKIP-DATERANGES=YES,HOLD-BACK="...)
	b = appendSeconds(b, 3*td, 1)
	b = append(b, ",PART-HOLD-BACK="...)
	b = appendSeconds(b, 3*pt, 3)
	b = append(b, "\n#EXT-X-PART-INF:PART-TARGET="...)
	b = appendSeconds(b, pt, 3)
	// no EXT-X-INDEPENDENT-SEGMENTS: a GOP longer than the target duration
	// allows is cut without a key frame (muxer_target.go)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	first := r.nextMSN
	if len(segs) > 0 {
		first = segs[0].msn
	}
	b = strconv.AppendUint(b, first, 10)
	b = append(b, '\n')
	if r.discSeq > 0 {
		b = append(b, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		b = strconv.AppendUint(b, r.discSeq, 10)
		b = append(b, '\n')
	}
	if skipped > 0 {
		b = append(b, "#EXT-X-SKIP:SKIPPED-SEGMENTS="...)
		b = strconv.AppendInt(b, int64(skipped), 10)
		if skip == skipV2 {
			b = append(b, `,RECENTLY-REMOVED-DATERANGES=""`...)
		}
		b = append(b, '\n')
	}
	partsFrom := end - 3*td
	prevInit := -1
	for _, s := range segs[skipped:] {
		// EXT-X-DISCONTINUITY, EXT-X-MAP and EXT-X-PROGRAM-DATE-TIME come
		// before the first EXT-X-PART of their segment.
		if s.disc {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		if s.initID != prevInit {
			b = append(b, `#EXT-X-MAP:URI="init`...)
			b = strconv.AppendInt(b, int64(s.initID), 10)
			b = append(b, ".mp4"...)
			b = markQuery(b, cuts)
			b = append(b, "\"\n"...)
			prevInit = s.initID
		}
		b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
		b = s.pdt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, '\n')
		if !s.complete || s.end() > partsFrom {
			for _, p := range s.parts {
				b = append(b, "#EXT-X-PART:DURATION="...)
				b = appendSeconds(b, p.duration, 5)
				b = append(b, `,URI="part`...)
				b = strconv.AppendUint(b, p.id, 10)
				b = append(b, ".m4s"...)
				b = markQuery(b, cuts)
				b = append(b, '"')
				if p.independent {
					b = append(b, ",INDEPENDENT=YES"...)
				}
				b = append(b, '\n')
			}
		}
		if s.complete {
			b = append(b, "#EXTINF:"...)
			b = appendSeconds(b, s.duration, 5)
			b = append(b, ",\nseg"...)
			b = strconv.AppendUint(b, s.msn, 10)
			b = append(b, ".m4s"...)
			b = markQuery(b, cuts)
			b = append(b, '\n')
		}
	}
	if !m.ended {
		b = append(b, `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part`...)
		b = strconv.AppendUint(b, r.nextPartID, 10)
		b = append(b, ".m4s"...)
		b = markQuery(b, cuts)
		b = append(b, "\"\n"...)
	}
	for _, o := range m.renditions {
		if o == r {
			continue
		}
		msn, idx, ok := o.lastPartPos()
		if !ok {
			continue
		}
		b = append(b, `#EXT-X-RENDITION-REPORT:URI="../`...)
		b = append(b, o.name...)
		b = append(b, "/media.m3u8"...)
		b = markQuery(b, cuts)
		b = append(b, `",LAST-MSN=`...)
		b = strconv.AppendUint(b, msn, 10)
		b = append(b, ",LAST-PART="...)
		b = strconv.AppendInt(b, int64(idx), 10)
		b = append(b, '\n')
	}
	if m.ended {
		b = append(b, "#EXT-X-ENDLIST\n"...)
	}
	return b
}

func (st *renditionStats) average() int64 {
	if st.duration <= 0 {
		return 0
	}
	return int64(float64(st.bytes*8) / st.duration.Seconds())
}

// appendMultivariant writes the multivariant playlist (RFC 8216bis §4.4.6)
// of the renditions that have a complete segment.
func (m *Muxer) appendMultivariant(b []byte, q string) []byte {
	var videos, audios []*Rendition
	for _, r := range m.renditions {
		if !r.listedLocked() {
			continue
		}
		if r.video != nil {
			videos = append(videos, r)
		} else {
			audios = append(audios, r)
		}
	}
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:9\n"...)
	group := len(videos) > 0 && len(audios) > 0
	var audioPeak, audioAvg int64
	audioCodecs := ""
	if group {
		for i, a := range audios {
			b = append(b, `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="`...)
			b = append(b, a.name...)
			b = append(b, `",AUTOSELECT=YES,DEFAULT=`...)
			if i == 0 {
				b = append(b, "YES"...)
			} else {
				b = append(b, "NO"...)
			}
			if a.audio.channels > 0 {
				b = append(b, `,CHANNELS="`...)
				b = strconv.AppendInt(b, int64(a.audio.channels), 10)
				b = append(b, '"')
			}
			b = append(b, `,URI="`...)
			b = append(b, a.name...)
			b = append(b, "/media.m3u8"...)
			b = appendQuery(b, q)
			b = append(b, "\"\n"...)
			audioPeak = max(audioPeak, a.stats.peakBitrate)
			audioAvg = max(audioAvg, a.stats.average())
		}
		audioCodecs = audios[0].audio.codecs
	}
	variants := videos
	if len(videos) == 0 {
		variants = audios
	}
	for _, v := range variants {
		peak, avg := v.stats.peakBitrate, v.stats.average()
		codecs := ""
		if v.video != nil {
			codecs = v.video.codecs
		}
		if v.audio != nil {
			if codecs != "" {
				codecs += ","
			}
			codecs += v.audio.codecs
		} else if group {
			codecs += "," + audioCodecs
			peak += audioPeak
			avg += audioAvg
		}
		b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
		b = strconv.AppendInt(b, max(peak, 1), 10)
		b = append(b, ",AVERAGE-BANDWIDTH="...)
		b = strconv.AppendInt(b, max(avg, 1), 10)
		b = append(b, `,CODECS="`...)
		b = append(b, codecs...)
		b = append(b, '"')
		if v.video != nil {
			if v.video.width > 0 {
				b = append(b, ",RESOLUTION="...)
				b = strconv.AppendInt(b, int64(v.video.width), 10)
				b = append(b, 'x')
				b = strconv.AppendInt(b, int64(v.video.height), 10)
			}
			if v.stats.videoDur > 0 && v.stats.videoFrames > 0 {
				b = append(b, ",FRAME-RATE="...)
				b = strconv.AppendFloat(b, float64(v.stats.videoFrames)/v.stats.videoDur.Seconds(), 'f', 3, 64)
			}
			if group && v.audio == nil {
				b = append(b, `,AUDIO="audio"`...)
			}
		}
		b = append(b, '\n')
		b = append(b, v.name...)
		b = append(b, "/media.m3u8"...)
		b = appendQuery(b, q)
		b = append(b, '\n')
	}
	return b
}
