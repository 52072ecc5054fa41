package auth

import (
	"context"
	"errors"
)

// ErrRefused means an admission hook refused a publisher whose stream key
// is valid. It is not ErrUnknownKey: ingest rejects the publisher and logs
// the reason, without counting a bad-key attempt.
var ErrRefused = errors.New("publisher refused by the admission hook")

type peerKey struct{}

// Peer is the connection a credential is presented on.
type Peer struct {
	Protocol string // rtmp, rtmps, srt, whip
	Remote   string // host:port (or host) of the client
}

// WithPeer returns ctx carrying the protocol and remote address of the
// connection presenting a stream key, for Directory decorators (admission
// hooks) to see.
func WithPeer(ctx context.Context, protocol, remote string) context.Context {
	return context.WithValue(ctx, peerKey{}, Peer{Protocol: protocol, Remote: remote})
}

// PeerFrom returns the Peer of WithPeer, if any.
func PeerFrom(ctx context.Context) (Peer, bool) {
	p, ok := ctx.Value(peerKey{}).(Peer)
	return p, ok
}
