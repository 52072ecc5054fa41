package whep

// Key frames for viewers that join or lose pictures.
//
// A viewer's decoder starts at a key frame, and after a loss its NACKs did
// not repair it asks for one with PLI (RFC 4585 §6.3.1) or FIR (RFC 5104
// §4.3.1). A WHIP publisher can be asked (rate-limited per stream:
// keyframeRequestGap). Other sources cannot: RTMP and SRT have no such
// message, and a transcoded rung comes from one ffmpeg per live input
// shared by every viewer and by LL-HLS, whose key frames follow the
// source's so that every rung's segments line up with it; a key frame on
// demand would land in every rung and cost every viewer its bits. For
// those the feed keeps the frames since the most recent key frame
// (gopCache): a new viewer starts at that key frame when it is at most
// Config.JoinMaxAge old, and sees a picture at once instead of after up to
// a GOP; a viewer that lost pictures keeps getting frames and recovers at
// the next key frame, at most one source GOP later (a rung's key frames
// are the source's, with a 10 s backstop). Every PLI/FIR is counted by
// what came of it (mpegflow_whep_pli_total{outcome}).

import (
	"time"
)

// DefaultJoinMaxAge is Config.JoinMaxAge's default: a viewer of a 1 s GOP
// always starts at once. Chromium plays the frames sent at once quickly
// and is back at the live edge within the first second (measured glass to
// glass through a rung: the same p50 with and without).
const DefaultJoinMaxAge = time.Second

// maxGOPItems bounds the frames (video and audio) a feed keeps since its
// last key frame; past it (a long GOP) joiners wait for the next one.
const maxGOPItems = 512

// keyOutcome is what came of a viewer's need for a key frame.
type keyOutcome int

const (
	// keyForwarded: a request went upstream (a WHIP publisher).
	keyForwarded keyOutcome = iota
	// keyRateLimited: one went upstream less than keyframeRequestGap ago.
	keyRateLimited
	// keyNext: nobody upstream can be asked (RTMP, SRT, a transcoded
	// rung): the next key frame comes at the source's interval.
	keyNext
)

func (o keyOutcome) String() string {
	switch o {
	case keyForwarded:
		return "forwarded"
	case keyRateLimited:
		return "rate_limited"
	}
	return "next_key_frame"
}

// gopCache is the packetized frames of a feed since its most recent video
// key frame, in order; touched only by the feed goroutine.
type gopCache struct {
	items []item
	keyAt time.Time // when the key frame reached the feed
	ok    bool      // items start at a key frame and are complete
}

// add appends it, starting over at a video key frame.
func (c *gopCache) add(it item) {
	if it.fr.video && it.fr.key {
		clear(c.items)
		c.items, c.keyAt, c.ok = c.items[:0], time.Now(), true
	}
	if !c.ok {
		return
	}
	if len(c.items) >= maxGOPItems {
		clear(c.items)
		c.items, c.ok = c.items[:0], false
		return
	}
	c.items = append(c.items, it)
}

// replayable returns the frames a viewer joining now starts with: those
// since the last key frame when it is at most maxAge old and they fit in
// half of a viewer's queue of size queue (the rest is for the live frames
// that follow); nil otherwise.
func (c *gopCache) replayable(maxAge time.Duration, queue int) []item {
	if !c.ok || len(c.items) == 0 || maxAge <= 0 || time.Since(c.keyAt) > maxAge || len(c.items) > queue/2 {
		return nil
	}
	return c.items
}

// join subscribes ss to the feed. A viewer for whom a key frame was asked
// upstream (replay false) gets the frames from now on (video from the next
// key frame); the others (replay true) are admitted by the feed goroutine
// at its next unit, starting with the cached frames since the last key
// frame when they are recent (admit). false once the feed has ended.
func (f *feed) join(ss *session, replay bool) bool {
	if !replay {
		return f.add(ss)
	}
	f.smu.Lock()
	defer f.smu.Unlock()
	select {
	case <-f.ended:
		return false
	default:
	}
	f.pending = append(f.pending, ss)
	f.hasPending.Store(true)
	return true
}

// admit moves the pending viewers to the subscribers, handing each the
// cached frames first unless the unit at hand is itself a video key frame
// (they start with it). Called by the feed goroutine before it caches and
// offers that unit, so that no frame is missed or sent twice.
func (f *feed) admit(atKey bool) {
	f.smu.Lock()
	p := f.pending
	f.pending = nil
	f.hasPending.Store(false)
	f.smu.Unlock()
	var replay []item
	if !atKey {
		replay = f.gop.replayable(f.srv.cfg.JoinMaxAge, f.srv.cfg.QueueSize)
	}
	for _, ss := range p {
		if len(replay) > 0 {
			f.srv.met.joinReplays.Inc()
		}
		for _, it := range replay {
			ss.offer(it.fr, it.track)
		}
	}
	f.smu.Lock()
	defer f.smu.Unlock()
	old := *f.subs.Load()
	next := make([]*session, 0, len(old)+len(p))
	next = append(next, old...)
	for _, ss := range p {
		// a session that ended while pending has been removed already
		// (remove follows the end of its context)
		if ss.ctx.Err() == nil {
			next = append(next, ss)
		}
	}
	f.subs.Store(&next)
}

// deliver hands a packetized frame of hub track track to the viewers,
// admitting the pending ones first and keeping it for later joiners.
// Called only by the feed goroutine.
func (f *feed) deliver(fr *frame, track int) {
	if f.hasPending.Load() {
		f.admit(fr.video && fr.key)
	}
	if f.srv.cfg.JoinMaxAge > 0 {
		f.gop.add(item{fr, track})
	}
	for _, ss := range *f.subs.Load() {
		ss.offer(fr, track)
	}
}

// pli handles a viewer's PLI or FIR and counts what came of it.
func (f *feed) pli() {
	o := f.requestKeyframe()
	f.srv.met.pli.WithLabelValues(o.String()).Inc()
}
