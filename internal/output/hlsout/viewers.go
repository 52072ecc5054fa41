package hlsout

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// viewerWindow is how long a viewer counts after its last playlist request.
// A live LL-HLS player reloads its media playlist every part (blocking) or
// every target duration at worst, so 15 s is comfortably above both.
const viewerWindow = 15 * time.Second

// maxViewersTracked bounds the memory of one stream's viewer set; past it
// the oldest are forgotten first by the next count.
const maxViewersTracked = 100000

// viewers estimates the viewers of one stream: distinct (client address,
// user agent) pairs with a playlist request within viewerWindow. HLS has no
// sessions, so this is an estimate: players behind one NAT with the same
// browser count once.
type viewers struct {
	mu   sync.Mutex
	seen map[viewerKey]time.Time
}

type viewerKey struct{ addr, ua string }

func (v *viewers) touch(r *http.Request, now time.Time) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ua := r.UserAgent()
	if len(ua) > 128 {
		ua = ua[:128]
	}
	k := viewerKey{host, ua}
	v.mu.Lock()
	if v.seen == nil {
		v.seen = map[viewerKey]time.Time{}
	}
	if _, ok := v.seen[k]; ok || len(v.seen) < maxViewersTracked {
		v.seen[k] = now
	}
	v.mu.Unlock()
}

// count forgets stale viewers and returns how many are left.
func (v *viewers) count(now time.Time) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	for k, t := range v.seen {
		if now.Sub(t) > viewerWindow {
			delete(v.seen, k)
		}
	}
	return len(v.seen)
}

// Viewers estimates the viewers of the stream of id now: distinct clients
// (address and user agent) that requested a playlist in the last 15 s.
func (s *Server) Viewers(id string) int {
	s.mu.RLock()
	e := s.entries[id]
	s.mu.RUnlock()
	if e == nil {
		return 0
	}
	return e.viewers.count(time.Now())
}
