package hls

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// HTTP serving (RFC 8216bis §6.2.5, §6.2.6).

const (
	contentTypePlaylist = "application/vnd.apple.mpegurl"
	cacheImmutable      = "public, max-age=31536000, immutable"
	cachePlaylist       = "no-cache"
	// the same for a response the caller marked private (RFC 9111
	// §5.2.2.7): a browser may keep it, a shared cache may not
	cacheImmutablePrivate = "private, max-age=31536000, immutable"
	cachePlaylistPrivate  = "private, no-cache"
	// statusClientGone is reported to Hooks.OnRequest when the client left
	// while its request was blocked (nothing was written).
	statusClientGone = 499
)

// ServeHTTP serves the muxer's tree (see the package documentation). The
// caller strips its own prefix: r.URL.Path is relative, with or without a
// leading slash. GET and HEAD are served; segments and parts answer byte
// ranges; unknown names get 404. A caller that set "Cache-Control: private"
// on w before the call (a resource behind signed playback, fetched with one
// viewer's token) gets the muxer's caching headers in their private form, so
// that no CDN or proxy serves it to anyone without a token.
func (m *Muxer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	kind, status := m.serve(w, req)
	if h := m.cfg.Hooks.OnRequest; h != nil {
		h(kind, status)
	}
}

func (m *Muxer) serve(w http.ResponseWriter, req *http.Request) (RequestKind, int) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return RequestUnknown, httpError(w, http.StatusMethodNotAllowed)
	}
	p := strings.TrimPrefix(req.URL.Path, "/")
	if p == "index.m3u8" {
		return RequestMultivariant, m.serveMultivariant(w, req)
	}
	name, file, ok := strings.Cut(p, "/")
	if !ok {
		return RequestUnknown, httpError(w, http.StatusNotFound)
	}
	m.mu.Lock()
	r := m.byName[name]
	closed := m.closed
	m.mu.Unlock()
	if r == nil || closed {
		return RequestUnknown, httpError(w, http.StatusNotFound)
	}
	if file == "media.m3u8" {
		return r.serveMedia(w, req)
	}
	if n, ok := fileNumber(file, "init", ".mp4"); ok {
		return RequestInit, r.serveInit(w, req, n)
	}
	if n, ok := fileNumber(file, "seg", ".m4s"); ok {
		return RequestSegment, r.serveSegment(w, req, n)
	}
	if n, ok := fileNumber(file, "part", ".m4s"); ok {
		return RequestPart, r.servePart(w, req, n)
	}
	return RequestUnknown, httpError(w, http.StatusNotFound)
}

// fileNumber parses PREFIX<decimal>SUFFIX, without sign or leading zeros.
func fileNumber(file, prefix, suffix string) (uint64, bool) {
	s, ok := strings.CutPrefix(file, prefix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, suffix)
	if !ok || s == "" || s[0] < '0' || s[0] > '9' || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 63)
	return n, err == nil
}

func httpError(w http.ResponseWriter, status int) int {
	http.Error(w, http.StatusText(status), status)
	return status
}

// waiter holds the state of one blocked request: no goroutine and no timer
// of its own. It sleeps on the muxer's broadcast channel, which is closed on
// every part completion and by the muxer's one ticker while anyone waits.
type waiter struct {
	m        *Muxer
	deadline time.Time
	blocked  bool
}

// wait must be called with m.mu held and returns with it held. It reports
// false when the request timed out (3 x target duration, §6.2.5.2) or the
// client went away (gone).
func (wt *waiter) wait(req *http.Request) (ok, gone bool) {
	m := wt.m
	now := time.Now()
	if wt.deadline.IsZero() {
		wt.deadline = now.Add(3 * m.targetOrMaxLocked())
	} else if !now.Before(wt.deadline) {
		return false, false
	}
	ch := m.notify
	m.waiters++
	m.mu.Unlock()
	if !wt.blocked {
		wt.blocked = true
		if h := m.cfg.Hooks.OnBlocked; h != nil {
			h(1)
		}
	}
	select {
	case <-ch:
	case <-req.Context().Done():
		gone = true
	}
	m.mu.Lock()
	m.waiters--
	return !gone, gone
}

func (wt *waiter) done() {
	if wt.blocked {
		if h := wt.m.cfg.Hooks.OnBlocked; h != nil {
			h(-1)
		}
	}
}

// headerValues are header values built once per muxer and assigned
// straight into response header maps: no canonicalisation and no allocation
// per response. Their capacity equals their length, so a wrapper that appends
// to one gets a copy.
type headerValues struct {
	playlist, noCache, immutable, videoMP4, audioMP4, bytesRange []string
	gzip, varyEncoding                                           []string
	noCachePrivate, immutablePrivate                             []string
}

func newHeaderValues() headerValues {
	v := func(s string) []string { return []string{s} }
	return headerValues{
		playlist:         v(contentTypePlaylist),
		noCache:          v(cachePlaylist),
		immutable:        v(cacheImmutable),
		noCachePrivate:   v(cachePlaylistPrivate),
		immutablePrivate: v(cacheImmutablePrivate),
		videoMP4:         v("video/mp4"),
		audioMP4:         v("audio/mp4"),
		bytesRange:       v("bytes"),
		gzip:             v("gzip"),
		varyEncoding:     v("Accept-Encoding"),
	}
}

// setCache sets Cache-Control to public, or to private when the caller
// already marked the response private (see ServeHTTP).
func setCache(h http.Header, public, private []string) {
	if c := h["Cache-Control"]; len(c) > 0 && strings.HasPrefix(c[0], "private") {
		h["Cache-Control"] = private
		return
	}
	h["Cache-Control"] = public
}

// writePlaylist answers with a playlist; length is its Content-Length as a
// header value, or nil to compute it.
func (m *Muxer) writePlaylist(w http.ResponseWriter, req *http.Request, data []byte, length []string) int {
	if length == nil {
		length = []string{strconv.Itoa(len(data))}
	}
	h := w.Header()
	h["Content-Type"] = m.hdr.playlist
	setCache(h, m.hdr.noCache, m.hdr.noCachePrivate)
	h["Content-Length"] = length
	if v := h["Vary"]; len(v) == 0 {
		h["Vary"] = m.hdr.varyEncoding
	} else {
		h["Vary"] = append(v, "Accept-Encoding")
	}
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
	return http.StatusOK
}

func (m *Muxer) serveMultivariant(w http.ResponseWriter, req *http.Request) int {
	d, err := parseDirectives(req.URL.RawQuery)
	if err != nil {
		return httpError(w, http.StatusBadRequest)
	}
	wt := waiter{m: m}
	defer wt.done()
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return httpError(w, http.StatusNotFound)
		}
		ready, all := 0, len(m.renditions) > 0
		for _, r := range m.renditions {
			if r.listedLocked() {
				ready++
			} else {
				all = false
			}
		}
		if all || (m.ended && ready > 0) {
			break
		}
		if ok, gone := wt.wait(req); !ok {
			if gone {
				m.mu.Unlock()
				return statusClientGone
			}
			if ready > 0 {
				break // serve what is ready rather than nothing
			}
			m.mu.Unlock()
			return httpError(w, http.StatusServiceUnavailable)
		}
	}
	data := m.appendMultivariant(make([]byte, 0, 512), d.carry)
	m.mu.Unlock()
	return m.writePlaylist(w, req, data, nil)
}

// advancePartLimit is the Advance Part Limit of RFC 8216bis §6.2.5.2.
func (m *Muxer) advancePartLimit() int64 {
	if pt := m.partTarget; pt > 0 && pt < time.Second {
		return int64((3*time.Second + pt - 1) / pt)
	}
	return 3
}

// checkDirectivesLocked answers 400 for requests that can never be satisfied
// in time (§6.2.5.2): _HLS_msn more than 2 beyond the last segment, _HLS_part
// beyond the Advance Part Limit.
func (r *Rendition) checkDirectivesLocked(d directives) bool {
	last, lastPart := int64(-1), int64(-1)
	if msn, idx, ok := r.lastPartPos(); ok {
		last, lastPart = int64(msn), int64(idx)
	}
	if d.msn > last+2 {
		return false
	}
	limit := r.m.advancePartLimit()
	if d.part >= 0 {
		if d.msn == last && d.part > lastPart+limit {
			return false
		}
		if d.msn > last && d.part > limit {
			return false
		}
	}
	return true
}

// satisfiedLocked reports whether the playlist holds what the directives ask
// for: segment M complete, or part N of segment M (a part index past the
// segment's last part means part 0 of the next segment).
func (r *Rendition) satisfiedLocked(d directives) bool {
	cur, curParts := r.progress()
	msn := uint64(d.msn)
	if d.part < 0 {
		return msn < cur
	}
	switch {
	case msn < cur:
		s := r.segmentByMSN(msn)
		if s == nil || d.part < int64(len(s.parts)) {
			return true
		}
		return msn+1 < cur || curParts > 0
	case msn == cur:
		return int64(curParts) > d.part
	}
	return false
}

func (r *Rendition) serveMedia(w http.ResponseWriter, req *http.Request) (RequestKind, int) {
	d, err := parseDirectives(req.URL.RawQuery)
	kind := RequestPlaylist
	if d.msn >= 0 {
		kind = RequestBlockingPlaylist
	}
	if err != nil {
		return kind, httpError(w, http.StatusBadRequest)
	}
	m := r.m
	wt := waiter{m: m}
	defer wt.done()
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return kind, httpError(w, http.StatusNotFound)
		}
		if m.ended {
			// blocking directives are ignored once the stream is over
			if !r.listedLocked() {
				m.mu.Unlock()
				return kind, httpError(w, http.StatusNotFound)
			}
			break
		}
		if d.msn >= 0 && !r.checkDirectivesLocked(d) {
			m.mu.Unlock()
			return kind, httpError(w, http.StatusBadRequest)
		}
		if r.listedLocked() && (d.msn < 0 || r.satisfiedLocked(d)) {
			break
		}
		if ok, gone := wt.wait(req); !ok {
			m.mu.Unlock()
			if gone {
				return kind, statusClientGone
			}
			return kind, httpError(w, http.StatusServiceUnavailable)
		}
	}
	t := r.mediaTemplateLocked(d.skip)
	m.mu.Unlock()
	if d.carry == "" {
		if acceptsGzip(req) {
			if gz, length := t.gzipped(&m.gzipPool); gz != nil {
				w.Header()["Content-Encoding"] = m.hdr.gzip
				return kind, m.writePlaylist(w, req, gz, length)
			}
		}
		return kind, m.writePlaylist(w, req, t.data, t.length)
	}
	if acceptsGzip(req) {
		if gz, length := t.gzipCarried(m, d.carry); gz != nil {
			w.Header()["Content-Encoding"] = m.hdr.gzip
			return kind, m.writePlaylist(w, req, gz, length)
		}
	}
	// the expanded text in a pooled buffer: Write does not retain it
	bp := m.getBody()
	*bp = t.expandInto((*bp)[:0], d.carry)
	status := m.writePlaylist(w, req, *bp, nil)
	m.putBody(bp)
	return kind, status
}

func (m *Muxer) getBody() *[]byte {
	bp, _ := m.bodyPool.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	return bp
}

func (m *Muxer) putBody(bp *[]byte) {
	if cap(*bp) <= maxPooledBody {
		m.bodyPool.Put(bp)
	}
}

// fixedCodes returns the muxer's DEFLATE code tables, built at first use.
func (m *Muxer) fixedCodes() *fixedCodes {
	m.codesOnce.Do(func() { m.codes = newFixedCodes() })
	return m.codes
}

// maxPooledBody bounds the playlist buffers kept for reuse.
const maxPooledBody = 1 << 20

// acceptsGzip reports whether the request's Accept-Encoding (RFC 9110
// §12.5.3) accepts gzip: listed, and not with q=0.
func acceptsGzip(req *http.Request) bool {
	v := req.Header["Accept-Encoding"]
	for _, line := range v {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && !strings.EqualFold(coding, "x-gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !ok {
				q, ok = strings.CutPrefix(strings.TrimSpace(params), "Q=")
			}
			if ok && strings.Trim(strings.TrimSpace(q), "0.") == "" {
				return false // q=0: not acceptable
			}
			return true
		}
	}
	return false
}

func (r *Rendition) contentType() []string {
	if r.video != nil {
		return r.m.hdr.videoMP4
	}
	return r.m.hdr.audioMP4
}

// serveChunks answers with the concatenation of chunks. A plain GET or HEAD
// is written directly (parts are what every player's preload-hint request
// waits for); byte ranges and conditional requests go through
// http.ServeContent.
func (m *Muxer) serveChunks(w http.ResponseWriter, req *http.Request, ctype []string, chunks ...[]byte) int {
	h := w.Header()
	h["Content-Type"] = ctype
	setCache(h, m.hdr.immutable, m.hdr.immutablePrivate)
	if conditional(req) {
		return serveContent(w, req, newChunksReader(chunks))
	}
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	h["Accept-Ranges"] = m.hdr.bytesRange
	h["Content-Length"] = []string{strconv.Itoa(n)}
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		for _, c := range chunks {
			if _, err := w.Write(c); err != nil {
				break
			}
		}
	}
	return http.StatusOK
}

func serveContent(w http.ResponseWriter, req *http.Request, rs io.ReadSeeker) int {
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	http.ServeContent(sw, req, "", time.Time{}, rs)
	return sw.status
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (r *Rendition) serveInit(w http.ResponseWriter, req *http.Request, id uint64) int {
	m := r.m
	m.mu.Lock()
	data := r.initData(int(id))
	ctype := r.contentType()
	m.mu.Unlock()
	if data == nil {
		return httpError(w, http.StatusNotFound)
	}
	return m.serveChunks(w, req, ctype, data)
}

func (r *Rendition) serveSegment(w http.ResponseWriter, req *http.Request, msn uint64) int {
	m := r.m
	m.mu.Lock()
	s := r.segmentByMSN(msn)
	if s == nil || !s.complete {
		m.mu.Unlock()
		return httpError(w, http.StatusNotFound)
	}
	ctype := r.contentType()
	if s.inMemory {
		chunks := s.partData()
		m.mu.Unlock()
		return m.serveChunks(w, req, ctype, chunks...)
	}
	stored := s.stored
	size := s.size
	m.mu.Unlock()
	if !stored {
		return httpError(w, http.StatusNotFound)
	}
	return r.serveStored(w, req, ctype, msn, 0, int64(size))
}

// serveStored serves bytes [off, off+n) of a segment in Storage: the whole
// segment, or one of its parts. A plain GET of a file copies it with
// sendfile; ranges and conditional requests go through http.ServeContent.
func (r *Rendition) serveStored(w http.ResponseWriter, req *http.Request, ctype []string, msn uint64, off, n int64) int {
	m := r.m
	st := m.cfg.Storage
	if st == nil {
		return httpError(w, http.StatusNotFound)
	}
	f, err := st.Open(req.Context(), segmentKey(r.name, msn))
	if err != nil {
		return httpError(w, http.StatusNotFound)
	}
	defer f.Close()
	var rs io.ReadSeeker
	if ra, ok := f.(io.ReaderAt); ok {
		rs = io.NewSectionReader(ra, off, n)
	} else {
		buf := make([]byte, n)
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			return httpError(w, http.StatusInternalServerError)
		}
		if _, err := io.ReadFull(f, buf); err != nil {
			return httpError(w, http.StatusInternalServerError)
		}
		rs = bytes.NewReader(buf)
	}
	h := w.Header()
	h["Content-Type"] = ctype
	setCache(h, m.hdr.immutable, m.hdr.immutablePrivate)
	if conditional(req) {
		return serveContent(w, req, rs)
	}
	h["Accept-Ranges"] = m.hdr.bytesRange
	h["Content-Length"] = []string{strconv.FormatInt(n, 10)}
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		if of, ok := f.(*os.File); ok {
			// *os.File in an io.LimitedReader keeps the sendfile path
			if _, err := of.Seek(off, io.SeekStart); err == nil {
				_, _ = io.Copy(w, io.LimitReader(of, n))
				return http.StatusOK
			}
		}
		_, _ = io.Copy(w, rs)
	}
	return http.StatusOK
}

// conditional reports whether a request has a Range or a precondition, which
// http.ServeContent answers.
func conditional(req *http.Request) bool {
	return req.Header.Get("Range") != "" || req.Header.Get("If-Range") != "" ||
		req.Header.Get("If-Match") != "" || req.Header.Get("If-None-Match") != "" ||
		req.Header.Get("If-Modified-Since") != "" || req.Header.Get("If-Unmodified-Since") != ""
}

// servePart serves a part; a request for the part named by the preload hint
// (or a few beyond) blocks until it is complete and then gets all of it
// (§4.4.5.3). Parts stay downloadable while their segment is held.
func (r *Rendition) servePart(w http.ResponseWriter, req *http.Request, id uint64) int {
	m := r.m
	wt := waiter{m: m}
	defer wt.done()
	m.mu.Lock()
	for {
		if m.closed {
			m.mu.Unlock()
			return httpError(w, http.StatusNotFound)
		}
		if s, p := r.partByID(id); p != nil {
			data := p.data
			ctype := r.contentType()
			stored := s.stored
			first := !p.served
			p.served = true
			m.mu.Unlock()
			if h := m.cfg.Hooks.OnPartServed; h != nil && first {
				h(time.Since(p.done))
			}
			if data != nil {
				return m.serveChunks(w, req, ctype, data)
			}
			if !stored {
				return httpError(w, http.StatusNotFound)
			}
			// a byte range of the stored segment
			return r.serveStored(w, req, ctype, s.msn, int64(p.off), int64(p.size))
		}
		if id < r.nextPartID || m.ended || id > r.nextPartID+uint64(m.advancePartLimit()) {
			m.mu.Unlock()
			return httpError(w, http.StatusNotFound)
		}
		if ok, gone := wt.wait(req); !ok {
			m.mu.Unlock()
			if gone {
				return statusClientGone
			}
			return httpError(w, http.StatusServiceUnavailable)
		}
	}
}

// blockedWaiters is the number of requests blocked right now (for tests).
func (m *Muxer) blockedWaiters() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.waiters
}
