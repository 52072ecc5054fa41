package rtmp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	gortmp "github.com/yutopp/go-rtmp"
	"github.com/yutopp/go-rtmp/message"

	"github.com/mpegflow/mpegflow/internal/auth"
)

// lookupTimeout bounds a stream key lookup in the Directory.
const lookupTimeout = 5 * time.Second

// Rejection reasons reported to Metrics.Rejected.
const (
	reasonUnknownKey  = "unknown_key"
	reasonBusy        = "busy"
	reasonUnavailable = "unavailable"
	reasonUnsupported = "unsupported"
)

// errRejected is wrapped by the errors that refuse a publish.
var errRejected = errors.New("publish rejected")

// handler receives go-rtmp's callbacks for one connection. go-rtmp calls
// them from the connection's goroutine, one at a time.
type handler struct {
	gortmp.DefaultHandler
	c        *conn
	gc       *gortmp.Conn
	app      string
	streamID uint32
}

var _ gortmp.Handler = (*handler)(nil)

// OnServe implements gortmp.Handler.
func (h *handler) OnServe(gc *gortmp.Conn) { h.gc = gc }

// OnConnect implements gortmp.Handler (RTMP spec §7.2.1.1 connect).
func (h *handler) OnConnect(_ uint32, cmd *message.NetConnectionConnect) (err error) {
	defer h.c.recoverPanic(&err)
	h.app = cmd.Command.App
	return nil
}

// streamKey extracts the stream key from the connect command's app and the
// publish command's name (RTMP spec §7.2.2.6). OBS sends app "live" and the
// key as the name; some clients put everything into the app ("live/KEY")
// and publish an empty name; a query string ("KEY?foo=bar") is dropped.
func streamKey(app, name string) string {
	name = stripQuery(name)
	if name == "" {
		app = stripQuery(app)
		if i := strings.LastIndexByte(app, '/'); i >= 0 {
			name = app[i+1:]
		}
	}
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	return name
}

func stripQuery(s string) string {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i]
	}
	return s
}

// reject counts and logs a refused publish (never naming the key) and
// returns the error that makes go-rtmp answer NetStream.Publish.Failed and
// close the connection.
func (h *handler) reject(reason string, detail error) error {
	c := h.c
	c.rejected = true
	c.s.cfg.Metrics.Rejected(c.s.protocol, reason)
	attrs := []any{"reason", reason}
	if detail != nil {
		attrs = append(attrs, "error", detail.Error())
	}
	if c.liveID != "" {
		attrs = append(attrs, "live_input", c.liveID)
	}
	c.log.Warn("rtmp publish rejected", attrs...)
	err := fmt.Errorf("%w: %s", errRejected, reason)
	c.setErr(err)
	return err
}

// OnPublish implements gortmp.Handler (RTMP spec §7.2.2.6 publish): it
// authenticates the stream key before any stream exists.
func (h *handler) OnPublish(sctx *gortmp.StreamContext, _ uint32, cmd *message.NetStreamPublish) (err error) {
	defer h.c.recoverPanic(&err)
	c := h.c
	if c.sess != nil {
		return h.reject(reasonUnsupported, errors.New("second publish on one connection"))
	}
	key := streamKey(h.app, cmd.PublishingName)
	var li auth.LiveInput
	if key != "" {
		lctx, cancel := context.WithTimeout(c.ctx, lookupTimeout)
		li, err = c.s.cfg.Directory.ByStreamKey(auth.WithPeer(lctx, c.s.protocol, c.remote), key)
		cancel()
	}
	if key == "" || errors.Is(err, auth.ErrUnknownKey) {
		// only a failed attempt waits: a valid key is never held back
		if c.s.throttle.Hold(c.ctx, c.ip, key) != nil {
			return errShuttingDown
		}
		if key == "" {
			return h.reject(reasonUnknownKey, errors.New("empty stream key"))
		}
		return h.reject(reasonUnknownKey, nil)
	}
	if err != nil {
		return h.reject(reasonUnavailable, fmt.Errorf("stream key lookup: %w", err))
	}
	if _, publishing := c.s.cfg.Hub.State(li.ID); publishing && !c.s.cfg.Takeover {
		// refused before NetStream.Publish.Start (RTMP spec §7.2.2.6): the
		// encoder learns at once that the name is taken
		h.streamID = sctx.StreamID
		c.setLiveInput(li.ID)
		h.sendStatus(message.NetStreamOnStatusCodePublishBadName, "Publish failed: live input already has a publisher")
		return h.reject(reasonBusy, errors.New("live input already has a publisher"))
	}
	h.streamID = sctx.StreamID
	c.admitted = true
	c.setLiveInput(li.ID)
	c.sess = newSession(c, h, li)
	c.log.Info("rtmp publish accepted", "live_input", li.ID)
	return nil
}

// OnPlay implements gortmp.Handler: playback over RTMP is not offered.
func (h *handler) OnPlay(*gortmp.StreamContext, uint32, *message.NetStreamPlay) (err error) {
	defer h.c.recoverPanic(&err)
	return h.reject(reasonUnsupported, errors.New("play is not supported"))
}

// OnSetDataFrame implements gortmp.Handler: "@setDataFrame" "onMetaData"
// announces the publish's codecs (FLV spec §E.5).
func (h *handler) OnSetDataFrame(_ uint32, data *message.NetStreamSetDataFrame) (err error) {
	defer h.c.recoverPanic(&err)
	if s := h.c.sess; s != nil {
		s.onMetadata(parseMetadata(data.Payload, true))
	}
	return nil
}

// OnUnknownDataMessage implements gortmp.Handler: some encoders send
// onMetaData without "@setDataFrame".
func (h *handler) OnUnknownDataMessage(_ uint32, data *message.DataMessage) (err error) {
	defer h.c.recoverPanic(&err)
	if s := h.c.sess; s != nil && data.Name == "onMetaData" {
		b, err := io.ReadAll(io.LimitReader(data.Body, int64(h.c.s.cfg.MaxMessageSize)))
		if err != nil {
			return err
		}
		s.onMetadata(parseMetadata(b, false))
	}
	return nil
}

// OnAudio implements gortmp.Handler (RTMP spec §7.1.4 audio message).
func (h *handler) OnAudio(ts uint32, payload io.Reader) (err error) {
	defer h.c.recoverPanic(&err)
	wall := time.Now()
	b, err := io.ReadAll(payload)
	if err != nil {
		return err
	}
	if s := h.c.sess; s != nil {
		return s.onAudio(ts, b, wall)
	}
	return nil
}

// OnVideo implements gortmp.Handler (RTMP spec §7.1.5 video message).
func (h *handler) OnVideo(ts uint32, payload io.Reader) (err error) {
	defer h.c.recoverPanic(&err)
	wall := time.Now()
	b, err := io.ReadAll(payload)
	if err != nil {
		return err
	}
	if s := h.c.sess; s != nil {
		return s.onVideo(ts, b, wall)
	}
	return nil
}

// OnClose implements gortmp.Handler: the publisher leaves and the stream
// enters the hub's reconnect window.
func (h *handler) OnClose() {
	defer h.c.recoverPanic(nil)
	if s := h.c.sess; s != nil {
		s.close()
	}
}

// sendStatus sends a NetStream onStatus error (RTMP spec §7.2.2) on the
// publishing stream, for refusals after "NetStream.Publish.Start".
func (h *handler) sendStatus(code message.NetStreamOnStatusCode, description string) {
	if h.gc == nil {
		return
	}
	var buf bytes.Buffer
	enc := message.NewAMFEncoder(&buf, message.EncodingTypeAMF0)
	if err := message.EncodeBodyAnyValues(enc, &message.NetStreamOnStatus{
		InfoObject: message.NetStreamOnStatusInfoObject{
			Level:       message.NetStreamOnStatusLevelError,
			Code:        code,
			Description: description,
		},
	}); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.c.ctx, time.Second)
	defer cancel()
	_ = h.gc.Write(ctx, 5, 0, &gortmp.ChunkMessage{
		StreamID: h.streamID,
		Message: &message.CommandMessage{
			CommandName: "onStatus",
			Encoding:    message.EncodingTypeAMF0,
			Body:        &buf,
		},
	})
}
