package restream

import "time"

// State is the state of an output (as the API reports it).
type State string

// Output states.
const (
	// StateIdle: the live input is not live; nothing is pushed.
	StateIdle State = "idle"
	// StateConnecting: dialing the target, handshaking, publishing.
	StateConnecting State = "connecting"
	// StateBroadcasting: the target accepted the publish and media flows.
	StateBroadcasting State = "broadcasting"
	// StateRetrying: the last attempt failed; the next one is at
	// NextRetryAt.
	StateRetrying State = "retrying"
	// StateErrored: the target refused in a way retrying will not change
	// (bad key, unsupported codec); the output waits for an edit or the
	// next broadcast.
	StateErrored State = "errored"
	// StateDisabled: enabled=false.
	StateDisabled State = "disabled"
)

// Error codes of Status.LastError.
const (
	CodeConnectFailed      = "connect_failed"        // dial, TLS or handshake failed
	CodeRefused            = "refused"               // the target answered with an error status
	CodeDisconnected       = "disconnected"          // the target closed the connection
	CodeStalled            = "stalled"               // no write progress within the stall timeout
	CodeWriteFailed        = "write_failed"          // a write to the target failed
	CodeUnsupportedCodec   = "unsupported_codec"     // the protocol cannot carry a track
	CodeRenditionMissing   = "rendition_unavailable" // the rendition named is not produced
	CodeInvalidTargetURL   = "invalid_url"           // the URL cannot be used
	CodeForbiddenTarget    = "forbidden_target"      // the target's address is refused (restream.allow_private_targets)
	maxErrorMessageRunes   = 300
	defaultStatusRateEvery = time.Second
)

// LastError is the most recent failure of an output.
type LastError struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Status is a snapshot of an output.
type Status struct {
	State       State      `json:"state"`
	ConnectedAt *time.Time `json:"connected_at"`
	LastError   *LastError `json:"last_error"`
	// Attempts counts connection attempts since the output last started
	// broadcasting (or since it started).
	Attempts    int        `json:"attempts"`
	NextRetryAt *time.Time `json:"next_retry_at"`
	BytesSent   uint64     `json:"bytes_sent"`
	// BitrateBPS is the sending rate over the last second or so.
	BitrateBPS int64 `json:"bitrate"`
	// DroppedFrames counts units lost because the target was slower than
	// the stream (the output then resumed at the next key frame).
	DroppedFrames uint64 `json:"dropped_frames"`
}
