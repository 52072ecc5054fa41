package playback

import (
	"context"
	"fmt"

	"github.com/mpegflow/mpegflow/internal/auth"
)

// PublishDirectory decorates an auth.Directory with the publish admission
// hook: a publisher whose stream key is valid is accepted only when the
// hook allows it. The hook sees the protocol and client address ingest
// attached with auth.WithPeer, and the client's country when geo knows it.
// A refusal is auth.ErrRefused wrapped with the hook's reason.
type PublishDirectory struct {
	auth.Directory
	Hook *Hook
	Geo  *GeoIP // may be nil
}

var _ auth.Directory = (*PublishDirectory)(nil)

// ByStreamKey implements auth.Directory.
func (d *PublishDirectory) ByStreamKey(ctx context.Context, key string) (auth.LiveInput, error) {
	li, err := d.Directory.ByStreamKey(ctx, key)
	if err != nil || d.Hook == nil {
		return li, err
	}
	req := AdmissionRequest{Action: ActionPublish, LiveInputID: li.ID}
	if p, ok := auth.PeerFrom(ctx); ok {
		req.Protocol = p.Protocol
		a := peerAddr(p.Remote)
		req.ClientAddr = p.Remote
		if a.IsValid() {
			req.ClientAddr = a.String()
			req.Country, _ = d.Geo.Country(a)
		}
	}
	dec := d.Hook.Admit(ctx, req)
	if !dec.Allow {
		reason := dec.Reason
		if reason == "" {
			reason = "no reason given"
		}
		return auth.LiveInput{}, fmt.Errorf("%w: %s", auth.ErrRefused, reason)
	}
	return li, nil
}
