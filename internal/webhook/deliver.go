package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mpegflow/mpegflow/internal/events"
	"github.com/mpegflow/mpegflow/internal/store"
	"github.com/mpegflow/mpegflow/webhook/verify"
)

// Intervals of Run's housekeeping.
const (
	statsEvery = 5 * time.Second
	purgeEvery = time.Hour
	dueBatch   = 256
	// expediteEvery bounds how often one endpoint's retries are made due
	// early (see expedite): a delivery its receiver answers with 503 every
	// time while the others succeed is then retried at most this often.
	expediteEvery = 30 * time.Second
)

// done reports a finished attempt to the dispatcher.
type done struct{ id, endpoint string }

// Run sends due deliveries until ctx is done, then waits for the attempts
// in flight (they are cancelled; a cancelled attempt is not recorded) and
// releases this node's leases, so that another node, or this one after its
// restart, sends them again at once. Deliveries pending in the outbox when
// Run starts are resumed.
//
// Deliveries are claimed (store.Webhooks.Claim, leased to NodeID for
// Lease) as workers free up, at most one round (Workers) ahead of them:
// several nodes on one database share the outbox, each delivery attempted
// by one node at a time, and a delivery of a crashed node is claimed again
// when its lease expires.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emitTimeout)
		defer cancel()
		if _, err := s.st.ReleaseLeases(rctx, s.cfg.NodeID); err != nil {
			s.log.Warn("webhook outbox: cannot release this node's leases; they expire", "lease", s.cfg.Lease, "error", err)
		}
	}()
	inflight := map[string]bool{}
	perEndpoint := map[string]int{}
	finished := make(chan done, s.cfg.Workers)
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	stats := time.NewTicker(statsEvery)
	defer stats.Stop()
	purge := time.NewTicker(purgeEvery)
	defer purge.Stop()
	s.updateStats(ctx)
	s.purge(ctx)

	// buf holds deliveries claimed but not started yet (every worker
	// busy, or their endpoint has MaxPerEndpoint attempts in flight).
	// Only this loop starts attempts, so none is sent twice at once by
	// this node; the leases keep other nodes off them.
	var buf []*store.WebhookDelivery
	dispatch := func(refresh bool) {
		// Claim when fewer than Workers deliveries are in flight or
		// waiting, up to one more round than the free workers: one
		// claim transaction then feeds about Workers attempts.
		free := s.cfg.Workers - len(inflight) - len(buf)
		if (refresh || len(buf) == 0) && free > 0 {
			claimed, err := s.st.Claim(ctx, s.cfg.NodeID, s.now(), s.cfg.Lease, min(free+s.cfg.Workers, dueBatch))
			if err != nil {
				if ctx.Err() == nil {
					s.log.Error("webhook outbox: cannot claim due deliveries", "error", err)
				}
			}
			buf = append(buf, claimed...)
		}
		now := s.now()
		// an attempt must end within its lease: one whose lease ends
		// sooner than an attempt can last is claimed again later
		margin := s.cfg.Timeout + time.Second
		kept := buf[:0]
		for _, d := range buf {
			switch {
			case d.LeaseUntil != nil && d.LeaseUntil.Sub(now) < margin:
				continue // claimed again once its lease is over
			case inflight[d.ID] || len(inflight) >= s.cfg.Workers || perEndpoint[d.EndpointID] >= s.cfg.MaxPerEndpoint:
				// inflight: claimed again after its attempt was recorded,
				// before that attempt's goroutine ended (a retry made due
				// now by expedite); sent when it has ended
				kept = append(kept, d)
				continue
			}
			inflight[d.ID] = true
			perEndpoint[d.EndpointID]++
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.deliver(ctx, d)
				finished <- done{d.ID, d.EndpointID}
			}()
		}
		clear(buf[len(kept):])
		buf = kept
	}
	dispatch(true)
	for {
		select {
		case <-ctx.Done():
			// finished has room for every attempt in flight (at most
			// Workers): they end without blocking, and are waited for.
			return nil
		case f := <-finished:
			delete(inflight, f.id)
			if perEndpoint[f.endpoint]--; perEndpoint[f.endpoint] <= 0 {
				delete(perEndpoint, f.endpoint)
			}
			dispatch(true) // the next delivery of its queue is due now
		case <-s.wake:
			dispatch(true)
		case <-poll.C:
			dispatch(true)
		case <-stats.C:
			s.updateStats(ctx)
		case <-purge.C:
			s.purge(ctx)
		}
	}
}

func (s *Service) updateStats(ctx context.Context) {
	n, oldest, err := s.st.OutboxStats(ctx)
	if err != nil {
		return
	}
	s.m.depth.Set(float64(n))
	age := 0.0
	if oldest != nil {
		age = max(0, s.now().Sub(*oldest).Seconds())
	}
	s.m.oldest.Set(age)
}

func (s *Service) purge(ctx context.Context) {
	n, err := s.st.PurgeDeliveries(ctx, s.now().Add(-s.cfg.Retention))
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook delivery log: purge failed", "error", err)
		}
		return
	}
	if n > 0 {
		s.log.Debug("webhook delivery log purged", "deliveries", n)
	}
}

// result is the outcome of one HTTP attempt.
type result struct {
	status  int
	latency time.Duration
	prefix  string
	err     error
}

// retryable reports whether the attempt may succeed later: no response
// (timeout, connection error), 408, 429 or 5xx. Other statuses outside
// 2xx are final (redirects are not followed).
func (r result) retryable() bool {
	return r.err != nil || r.status == http.StatusRequestTimeout || r.status == http.StatusTooManyRequests || r.status >= 500
}

func (r result) ok() bool { return r.err == nil && r.status >= 200 && r.status < 300 }

// deliver makes one attempt of d and records it.
func (s *Service) deliver(ctx context.Context, d *store.WebhookDelivery) {
	ep, err := s.st.GetEndpoint(ctx, d.EndpointID)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("webhook delivery: cannot read endpoint", "webhook", d.EndpointID, "error", err)
		}
		return
	}
	if !ep.Enabled {
		return
	}
	r := s.send(ctx, ep, d.EventID, d.Payload)
	if ctx.Err() != nil {
		return // shutting down: not an attempt; sent again after the start
	}
	s.m.attempts.WithLabelValues(ep.ID).Inc()
	now := s.now().UTC()
	d.Attempts++
	d.LastStatus, d.LastLatency, d.ResponsePrefix, d.UpdatedAt = r.status, r.latency.Truncate(time.Microsecond), r.prefix, now
	d.LastError = ""
	if r.err != nil {
		d.LastError = r.err.Error()
	}
	outcome := ""
	switch {
	case r.ok():
		d.State, d.NextAttemptAt, outcome = store.DeliverySucceeded, nil, "success"
		s.m.latency.Observe(now.Sub(d.CreatedAt).Seconds())
	case r.retryable():
		next := now.Add(retryDelay(s.cfg.Schedule, d.Attempts))
		if next.Sub(d.CreatedAt) > s.cfg.MaxAge {
			d.State, d.NextAttemptAt, outcome = store.DeliveryFailed, nil, "exhausted"
		} else {
			d.State, d.NextAttemptAt, outcome = store.DeliveryPending, &next, "retry"
		}
	default:
		d.State, d.NextAttemptAt, outcome = store.DeliveryFailed, nil, "failed"
	}
	s.m.deliveries.WithLabelValues(ep.ID, outcome).Inc()
	// recorded even when ctx ends now: the attempt happened
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emitTimeout)
	defer cancel()
	switch err := s.st.CompleteDelivery(wctx, s.cfg.NodeID, d); {
	case errors.Is(err, store.ErrPrecondition):
		s.log.Warn("webhook delivery: the lease expired during the attempt and another node took the delivery over; it may be sent twice",
			"webhook", ep.ID, "delivery", d.ID, "lease", s.cfg.Lease)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.log.Error("webhook delivery: cannot record the attempt", "webhook", ep.ID, "delivery", d.ID, "error", err)
	}
	log := s.log.With("webhook", ep.ID, "delivery", d.ID, "event", d.EventID, "type", d.EventType, "attempt", d.Attempts,
		"status", r.status, "latency", r.latency.Round(time.Millisecond))
	if r.ok() {
		log.Debug("webhook delivered")
	} else {
		log.Info("webhook delivery failed", "outcome", outcome, "error", d.LastError)
	}
	s.expedite(wctx, ep, r.ok(), now)
	s.health(wctx, ep, r.ok(), now)
}

// recoveryState is an endpoint's run of failures, for expedite.
type recoveryState struct {
	failures  int       // failed attempts since the last success
	expedited time.Time // the last expedite
}

// expedite records the outcome of an attempt to ep. When an attempt
// succeeds after failures (counted here, or ep.FailingSince set, which
// survives a restart), the endpoint is back: its pending retries that
// found it unreachable are made due now (store.ExpediteDeliveries) and the
// dispatcher is woken, so the backlog of an outage does not wait for the
// retry schedule (Due still sends only the head of each queue, so the
// order per live input holds). An endpoint that stays down never succeeds
// and keeps its schedule. At most one expedite per endpoint every
// expediteEvery: failures then stay counted for the next success.
func (s *Service) expedite(ctx context.Context, ep *store.WebhookEndpoint, ok bool, now time.Time) {
	s.recMu.Lock()
	st := s.recovery[ep.ID]
	if !ok {
		if st == nil {
			st = &recoveryState{}
			s.recovery[ep.ID] = st
		}
		st.failures++
		s.recMu.Unlock()
		return
	}
	if st == nil && ep.FailingSince == nil {
		s.recMu.Unlock()
		return // the common case: no failure since the last success
	}
	if st == nil {
		st = &recoveryState{}
		s.recovery[ep.ID] = st
	}
	if !st.expedited.IsZero() && now.Sub(st.expedited) < expediteEvery {
		s.recMu.Unlock()
		return
	}
	if st.failures == 0 && ep.FailingSince == nil {
		delete(s.recovery, ep.ID) // nothing failed since the last expedite
		s.recMu.Unlock()
		return
	}
	st.failures, st.expedited = 0, now
	s.recMu.Unlock()
	n, err := s.st.ExpediteDeliveries(ctx, ep.ID, now)
	if err != nil {
		s.log.Warn("webhook: cannot expedite retries after a success", "webhook", ep.ID, "error", err)
		s.recMu.Lock()
		if st := s.recovery[ep.ID]; st != nil {
			st.failures, st.expedited = st.failures+1, time.Time{} // the next success tries again
		}
		s.recMu.Unlock()
		return
	}
	if n > 0 {
		s.log.Info("webhook endpoint answering again: retries made due now", "webhook", ep.ID, "deliveries", n)
		s.Changed()
	}
}

// health records the attempt's outcome on the endpoint
// (store.Webhooks.RecordHealth: one atomic UPDATE, so that concurrent
// attempts, on this node or others, neither lose a change nor disable it
// twice). An endpoint failing for DisableAfter is disabled, and
// webhook.disabled, written in the same transaction, goes to the others.
// ep is the endpoint as read before the attempt: when its state cannot
// change (a success of a healthy endpoint, a failure of one failing for
// less than DisableAfter), the store is not written.
func (s *Service) health(ctx context.Context, ep *store.WebhookEndpoint, ok bool, now time.Time) {
	switch {
	case ok && ep.FailingSince == nil, !ok && ep.FailingSince != nil && now.Sub(*ep.FailingSince) < s.cfg.DisableAfter:
		return
	}
	var ev events.Event
	off, err := s.st.RecordHealth(ctx, ep.ID, ok, now.UTC(), s.cfg.DisableAfter, func(e *store.WebhookEndpoint) ([]*store.WebhookEvent, error) {
		ev = events.New(TypeDisabled, "", Endpoint(e))
		return ToOutbox(ev)
	})
	if err != nil {
		s.log.Warn("webhook: cannot record endpoint health", "webhook", ep.ID, "error", err)
		return
	}
	if off != nil {
		s.log.Warn("webhook endpoint disabled after failing for too long", "webhook", off.ID, "failing_since", off.FailingSince)
		s.m.disabled.Inc()
		s.bus.Publish(ev)
	}
}

// Signatures returns the webhook-signature header value of a delivery:
// "v1,BASE64" with the current secret, and with the previous one while it
// is valid (after a rotation), separated by a space (Standard Webhooks,
// "Signature scheme").
func Signatures(ep *store.WebhookEndpoint, id string, ts, now time.Time, body []byte) (string, error) {
	sig, err := verify.Sign(ep.Secret, id, ts, body)
	if err != nil {
		return "", err
	}
	if ep.PreviousSecret != "" && ep.PreviousSecretExpiresAt != nil && now.Before(*ep.PreviousSecretExpiresAt) {
		old, err := verify.Sign(ep.PreviousSecret, id, ts, body)
		if err == nil {
			sig += " " + old
		}
	}
	return sig, nil
}

// send POSTs body to the endpoint, signed, and reads the start of the
// response.
func (s *Service) send(ctx context.Context, ep *store.WebhookEndpoint, id string, body []byte) result {
	now := s.now()
	sig, err := Signatures(ep, id, now, now, body)
	if err != nil {
		return result{err: fmt.Errorf("sign: %w", err)}
	}
	if _, err := ParseURL(ep.URL); err != nil {
		return result{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		return result{err: fmt.Errorf("%w: %w", ErrInvalidURL, err)}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.cfg.UserAgent)
	h.Set(verify.HeaderID, id)
	h.Set(verify.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(verify.HeaderSignature, sig)
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		return result{latency: time.Since(start), err: cleanErr(err)}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, MaxResponsePrefix))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // keep the connection reusable
	return result{status: res.StatusCode, latency: time.Since(start), prefix: printablePrefix(b)}
}

// cleanErr shortens transport errors for the delivery log (the URL, which
// may hold a token in its query, is left out).
func cleanErr(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			if errors.Is(err, context.DeadlineExceeded) || strings.Contains(inner.Error(), "Client.Timeout") {
				return errors.New("timeout")
			}
			return inner
		}
	}
	return err
}

// printablePrefix returns b as valid UTF-8 without control characters.
func printablePrefix(b []byte) string {
	b = bytes.ToValidUTF8(b, []byte("?"))
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			r = '?'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
