package store

import (
	"context"
	"time"
)

// Statuses of a video.
const (
	// VideoLiveRecording: the broadcast is live and being recorded.
	VideoLiveRecording = "live_recording"
	// VideoProcessing: the broadcast ended; the video is being finalized.
	VideoProcessing = "processing"
	// VideoReady: the video plays as HLS VOD.
	VideoReady = "ready"
	// VideoErrored: the recording failed; ErrorCode says why.
	VideoErrored = "errored"
)

// Statuses of a video's MP4 download.
const (
	DownloadNone    = "none"
	DownloadPending = "pending"
	DownloadReady   = "ready"
	DownloadErrored = "errored"
)

// VideoTrack describes one track of a video.
type VideoTrack struct {
	Kind       string `json:"kind"`                  // video | audio
	Codec      string `json:"codec"`                 // h264, h265, av1, aac, opus
	Width      int    `json:"width,omitempty"`       // video only; 0 = unknown
	Height     int    `json:"height,omitempty"`      // video only; 0 = unknown
	BitrateBPS int64  `json:"bitrate_bps,omitempty"` // average over the video; 0 = unknown
}

// Video is the recording of one broadcast (one publisher session of a live
// input, reconnects within its window included).
type Video struct {
	ID                string         // "vid_..."; sorts by creation time
	LiveInputID       string         //
	Status            string         // VideoLiveRecording | VideoProcessing | VideoReady | VideoErrored
	ErrorCode         string         // set when errored
	ErrorMessage      string         //
	Recovered         bool           // finalized after a crash of the daemon
	CreatedAt         time.Time      // UTC, microsecond precision
	StartedAt         time.Time      // the broadcast's start
	EndedAt           *time.Time     // nil while recording
	Duration          time.Duration  // sum of the recorded segments' durations
	SizeBytes         int64          // sum of the recorded segments' sizes (init segments excluded)
	Segments          int64          // number of recorded segments
	Tracks            []VideoTrack   // never nil after a read
	Meta              map[string]any // never nil after a read
	ScheduledDeletion *time.Time     // nil = keep
	RequireSignedURLs bool           //
	AllowedOrigins    []string       // never nil after a read
	ThumbnailKey      string         // blob key of the default thumbnail; "" = none yet
	DownloadStatus    string         // DownloadNone | DownloadPending | DownloadReady | DownloadErrored
	DownloadKey       string         // blob key of the MP4 when ready
	UpdatedAt         time.Time      //
	// NodeID is the node recording the video (set by Create, then only by
	// ClaimRecording); "" for videos of older versions.
	NodeID string
	// LeaseExpires is when NodeID's lease on the recording runs out unless
	// renewed (RenewLeases); zero = no lease (anyone may recover it).
	LeaseExpires time.Time
	// TargetDuration is the EXT-X-TARGETDURATION of the video's playlists,
	// fixed when the recording starts (RFC 8216bis §4.4.3.1: it must not
	// change while an EVENT playlist grows); 0 = unknown. Set by Create.
	TargetDuration time.Duration
}

// VideoSegment is one recorded CMAF segment of a video (ISO/IEC 23000-19
// §7.3.2.2): a run of moof+mdat fragments stored as one blob, played
// after the init segment InitKey names.
type VideoSegment struct {
	VideoID         string        //
	Seq             int64         // 0, 1, 2, ...: playback order within the video
	OwnerID         string        // the video whose files these are ("" = VideoID); a clip's are its source's
	Duration        time.Duration //
	ProgramDateTime time.Time     // ingest wall-clock of the first frame (zero = unknown)
	Discontinuity   bool          // follows a gap or a codec change (RFC 8216bis §4.4.4.3)
	InitKey         string        // blob key of the init segment (EXT-X-MAP)
	Key             string        // blob key of the segment
	Size            int64         // bytes
	// Ranged: the segment is the byte range [Offset, Offset+Size) of the
	// blob Key, not the whole blob (a clip cut inside a segment of its
	// source; RFC 8216bis §4.4.4.2 EXT-X-BYTERANGE).
	Ranged bool
	Offset int64
	// Parts is the segment's part layout (offsets in the blob Key), in
	// order; nil for segments recorded before it was kept.
	Parts []SegmentPart
}

// SegmentPart is one part of a recorded segment (RFC 8216bis §4.4.4.9):
// one moof+mdat (ISO/IEC 14496-12 §8.8.4), bytes [Offset, Offset+Size) of
// the segment's blob.
type SegmentPart struct {
	Offset   int64
	Size     int64
	Duration time.Duration
	// Independent: the part starts with a sync sample (a key frame), so
	// playback can start on it.
	Independent bool
}

// VideoEnd is what ending a recording writes (Videos.Finish).
type VideoEnd struct {
	Status       string // VideoReady or VideoErrored
	ErrorCode    string
	ErrorMessage string
	Recovered    bool
	EndedAt      time.Time
	Tracks       []VideoTrack // with their bitrates measured
	UpdatedAt    time.Time
}

// VideoEventFunc returns the outbox events of a change to a video, given
// the row as the change's transaction sees it: after the change (creation,
// end of the recording, MP4 download), or before it (deletion). The events
// are written in that transaction (see EventFunc).
type VideoEventFunc func(v *Video) ([]*WebhookEvent, error)

// VideoListOptions select and page videos. Ordered by id (creation time)
// ascending, or descending when Newest.
type VideoListOptions struct {
	Limit         int       // 1..1000; the store does not default it
	After         string    // continue after this id in the list order ("" = from the start)
	Newest        bool      // newest first
	LiveInputID   string    // "" = any
	Status        string    // "" = any
	CreatedBefore time.Time // zero = no bound; strictly before
	CreatedAfter  time.Time // zero = no bound; strictly after
}

// Videos persists videos and their segment index. The index lives here, not
// in memory, so a 12-hour broadcast costs the recorder no more memory than a
// 12-second one.
type Videos interface {
	// Create inserts v; ErrConflict when the id exists.
	Create(ctx context.Context, v *Video) error
	// Get returns the video id or ErrNotFound.
	Get(ctx context.Context, id string) (*Video, error)
	// List returns up to opts.Limit videos and whether more follow.
	List(ctx context.Context, opts VideoListOptions) ([]*Video, bool, error)
	// Update replaces the mutable fields of v.ID (every field but ID,
	// LiveInputID, CreatedAt, Duration, SizeBytes and Segments, which
	// AddSegment maintains, TargetDuration, and NodeID and LeaseExpires,
	// which RenewLeases and ClaimRecording maintain). ErrNotFound when
	// absent. It overwrites whatever was written since v was read: the
	// recorder and the API use the targeted updates below instead.
	Update(ctx context.Context, v *Video) error
	// Finish ends the recording of video id, if it is still
	// VideoLiveRecording or VideoProcessing and belongs to node, writing
	// only the fields of e (Status, ErrorCode, ErrorMessage, Recovered,
	// EndedAt, Tracks, UpdatedAt). ErrNotFound when absent, ErrConflict
	// when it is finished already or another node's.
	Finish(ctx context.Context, id, node string, e VideoEnd) error
	// SetDownload writes only DownloadStatus, DownloadKey and UpdatedAt
	// of video id. ErrNotFound when absent.
	SetDownload(ctx context.Context, id, status, key string, at time.Time) error
	// SetThumbnail writes only ThumbnailKey and UpdatedAt of video id.
	// ErrNotFound when absent.
	SetThumbnail(ctx context.Context, id, key string, at time.Time) error
	// UpdateSettings writes only what a user edits of v.ID (Meta,
	// ScheduledDeletion, RequireSignedURLs, AllowedOrigins) and
	// UpdatedAt, so that an edit made from a stale read loses nothing the
	// recorder wrote meanwhile (a recording finishing, an MP4 built).
	// ErrNotFound when absent.
	UpdateSettings(ctx context.Context, v *Video) error
	// Delete removes the video and its segment index; ErrNotFound when
	// absent.
	Delete(ctx context.Context, id string) error
	// AddSegment appends s (with its part layout and byte range) to the
	// index of s.VideoID and adds its duration and size to the video, in
	// one transaction. ErrNotFound when the video
	// is absent, ErrConflict when (VideoID, Seq) exists.
	AddSegment(ctx context.Context, s *VideoSegment) error
	// Segments returns the segments of video id with Seq >= from, in Seq
	// order, at most limit (0 = all).
	Segments(ctx context.Context, id string, from int64, limit int) ([]*VideoSegment, error)
	// FilesInUse reports whether any segment indexed (of any video) is a
	// file of video owner (OwnerID), i.e. whether owner's files must stay.
	FilesInUse(ctx context.Context, owner string) (bool, error)
	// DueForDeletion returns up to limit videos whose ScheduledDeletion is
	// at or before t.
	DueForDeletion(ctx context.Context, t time.Time, limit int) ([]*Video, error)

	// RenewLeases extends to until the leases of those of videos ids that
	// node still owns and that are still VideoLiveRecording, and returns
	// their ids (in no order): a recording missing from it was taken over
	// by another node's recovery, or finished.
	RenewLeases(ctx context.Context, node string, ids []string, until time.Time) ([]string, error)
	// Unfinished returns up to limit videos in VideoLiveRecording or
	// VideoProcessing, in id order after the id after, that a recovery
	// by node at now may take: their lease has run out at now (or they
	// have none), or, when own is set, they belong to node (its previous
	// incarnation).
	Unfinished(ctx context.Context, node string, own bool, now time.Time, after string, limit int) ([]*Video, error)
	// ClaimRecording makes node the owner of video id with a lease until
	// until, if the video is still VideoLiveRecording or VideoProcessing
	// and its lease has run out at now (or it has none), or, when own is
	// set, it already belongs to node. It is one conditional update: of
	// several nodes claiming one video together, exactly one gets true.
	ClaimRecording(ctx context.Context, id, node string, own bool, now, until time.Time) (bool, error)

	// The transactional outbox: each method below is one of the
	// methods above plus the events evf returns, written to the webhook
	// outbox (see Webhooks.Emit) in the change's transaction, so that they
	// exist if and only if the change committed; an error of evf aborts
	// the change. evf may be nil.

	// CreateEmitting is Create; evf sees the row as created.
	CreateEmitting(ctx context.Context, v *Video, evf VideoEventFunc) error
	// FinishEmitting is Finish; evf sees the row as finished, and is not
	// called when Finish would return an error (ErrConflict: finished
	// already or another node's).
	FinishEmitting(ctx context.Context, id, node string, e VideoEnd, evf VideoEventFunc) error
	// SetDownloadEmitting is SetDownload; evf sees the row after it.
	SetDownloadEmitting(ctx context.Context, id, status, key string, at time.Time, evf VideoEventFunc) error
	// DeleteEmitting is Delete; evf sees the row as it was.
	DeleteEmitting(ctx context.Context, id string, evf VideoEventFunc) error
}
