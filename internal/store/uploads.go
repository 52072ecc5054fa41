package store

import (
	"context"
	"time"
)

// Statuses of a video that comes from an upload (Cloudflare Stream's names
// where it has one). A broadcast's video uses VideoLiveRecording instead;
// both end VideoReady or VideoErrored. VideoInProgress is not
// VideoProcessing: that one is a recording being finalized, which the
// recorder's crash recovery owns.
const (
	// VideoPendingUpload: a direct upload URL was made; no byte yet.
	VideoPendingUpload = "pendingupload"
	// VideoUploading: bytes are arriving.
	VideoUploading = "uploading"
	// VideoDownloading: the server is copying the file from a URL.
	VideoDownloading = "downloading"
	// VideoQueued: the file is complete and waits for a processing job.
	VideoQueued = "queued"
	// VideoInProgress: a node is processing the file (Upload.PctComplete).
	VideoInProgress = "inprogress"
)

// Kinds of an upload.
const (
	UploadDirect = "direct" // tus, to a one-time URL (POST /v1/videos/direct_upload)
	UploadPlain  = "upload" // one request body (POST /v1/videos/upload)
	UploadCopy   = "copy"   // downloaded by the server (POST /v1/videos/copy)
)

// Upload is what a video made from a file needs beyond store.Video: its
// limits, where the file is, its progress, and the lease of the node
// processing it (the durable job queue is the set of VideoDownloading,
// VideoQueued and VideoInProgress videos with an upload row).
type Upload struct {
	VideoID            string     // the video; one upload per video
	Kind               string     // UploadDirect | UploadPlain | UploadCopy
	SecretHash         []byte     // SHA-256 of the direct upload URL's secret; nil otherwise
	MaxSizeBytes       int64      // 0 = the server's limit
	MaxDurationSeconds int64      // 0 = no limit
	ExpiresAt          *time.Time // when a direct upload URL stops working if unused or unfinished; nil = never
	Creator            string     //
	TokenID            string     // the API token that created it; "" = unknown
	SourceURL          string     // UploadCopy: where from
	Name               string     // the file's name (tus Upload-Metadata name, multipart file name)
	FileKey            string     // blob key of the complete file; "" until complete
	SizeBytes          int64      // the file's size; 0 = not known yet
	ReceivedBytes      int64      // uploaded or downloaded so far
	PctComplete        float64    // processing progress 0..100
	NodeID             string     // the node processing it; "" = none
	LeaseExpires       time.Time  // zero = no lease
	Attempts           int        // processing jobs started
	CreatedAt          time.Time  //
	UpdatedAt          time.Time  //
}

// UploadChange is a change of an upload's video status (Uploads.Transition).
type UploadChange struct {
	// From lists the statuses the video may be in; otherwise ErrConflict.
	From []string
	// Node, when set, must be the upload's NodeID (the job's owner);
	// otherwise ErrConflict.
	Node   string
	Status string
	// ErrorCode and ErrorMessage are written as given (cleared when "").
	ErrorCode, ErrorMessage string
	// Tracks, when non-nil, replace the video's; EndedAt, when non-nil,
	// is written; FileKey and SizeBytes, when set, are written.
	Tracks    []VideoTrack
	EndedAt   *time.Time
	FileKey   string
	SizeBytes int64
	// PctComplete is written (0 clears it).
	PctComplete float64
	// ReleaseLease clears NodeID and LeaseExpires (the job ended).
	ReleaseLease bool
	At           time.Time
}

// Uploads persists uploads and their processing queue. Each change that
// publishes events takes a VideoEventFunc, called with the video as the
// change's transaction left it (see Videos).
type Uploads interface {
	// Create inserts video v and upload u (u.VideoID = v.ID) in one
	// transaction, with the events of evf (may be nil). ErrConflict when
	// the id exists.
	Create(ctx context.Context, v *Video, u *Upload, evf VideoEventFunc) error
	// Get returns the upload of video id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Upload, error)
	// Transition changes the status of video id as c says, with the
	// events of evf (may be nil), in one transaction. ErrNotFound,
	// ErrConflict (not in c.From, or not c.Node's).
	Transition(ctx context.Context, id string, c UploadChange, evf VideoEventFunc) error
	// Progress writes the bytes received and the processing percent of
	// id. ErrNotFound.
	Progress(ctx context.Context, id string, received int64, pct float64, at time.Time) error
	// Claim leases to node, until until, the oldest upload whose video is
	// VideoQueued, VideoInProgress or VideoDownloading and whose lease has
	// run out at now or who has none (a node processing or downloading it
	// died), incrementing Attempts; nil when there is none. Of several
	// nodes claiming together, each job goes to exactly one.
	Claim(ctx context.Context, node string, now, until time.Time) (*Upload, error)
	// Renew extends node's lease on id to until; false when the job is
	// no longer node's (another node took it over, or it ended).
	Renew(ctx context.Context, id, node string, until time.Time) (bool, error)
	// ReleaseNode drops the leases node holds that run out before before
	// (its previous incarnation's, at start: a restarted node resumes its
	// jobs at once instead of waiting for their leases to run out) and
	// returns how many.
	ReleaseNode(ctx context.Context, node string, before time.Time) (int64, error)
	// ResetSegments removes the segment index of video id and zeroes its
	// duration, size and segment count (a job restarted from scratch).
	ResetSegments(ctx context.Context, id string) error
	// Unfinished counts the uploads of token whose video is still
	// VideoPendingUpload, VideoUploading or VideoDownloading.
	Unfinished(ctx context.Context, token string) (int, error)
	// Expired returns up to limit uploads whose video is still
	// VideoPendingUpload or VideoUploading and whose ExpiresAt is at or
	// before now.
	Expired(ctx context.Context, now time.Time, limit int) ([]*Upload, error)
}
