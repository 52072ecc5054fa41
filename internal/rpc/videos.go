package rpc

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// videos is mpegflow.v1.VideoService over the REST routes of /v1/videos.
type videos struct{ s *Server }

var _ mpegflowv1connect.VideoServiceHandler = videos{}

func (v videos) ListVideos(ctx context.Context, req *connect.Request[v1.ListVideosRequest]) (*connect.Response[v1.ListVideosResponse], error) {
	m := req.Msg
	q := pageQuery(m.GetLimit(), m.GetCursor())
	for k, val := range map[string]string{"status": m.GetStatus(), "live_input_id": m.GetLiveInputId(),
		"created_before": rfc3339(m.GetCreatedBefore()), "created_after": rfc3339(m.GetCreatedAfter())} {
		if val != "" {
			q.Set(k, val)
		}
	}
	out := &v1.ListVideosResponse{}
	err := v.s.page(ctx, call{route: "GET /v1/videos", query: q}, out)
	return reply(out, err)
}

// rfc3339 is the query form of a time; "" when unset.
func rfc3339(t *timestamppb.Timestamp) string {
	if t == nil {
		return ""
	}
	return t.AsTime().UTC().Format(time.RFC3339Nano)
}

func (v videos) GetVideo(ctx context.Context, req *connect.Request[v1.GetVideoRequest]) (*connect.Response[v1.GetVideoResponse], error) {
	out := &v1.GetVideoResponse{Video: &v1.Video{}}
	etag, err := v.s.one(ctx, call{route: "GET /v1/videos/{id}", path: id(req.Msg.GetId())}, out.Video)
	out.Etag = etag
	return reply(out, err)
}

func (v videos) UpdateVideo(ctx context.Context, req *connect.Request[v1.UpdateVideoRequest]) (*connect.Response[v1.UpdateVideoResponse], error) {
	out := &v1.UpdateVideoResponse{Video: &v1.Video{}}
	etag, err := v.s.one(ctx, call{route: "PATCH /v1/videos/{id}", path: id(req.Msg.GetId()), ifMatch: req.Msg.GetEtag(), patch: patchOf(req.Msg.GetPatch())}, out.Video)
	out.Etag = etag
	return reply(out, err)
}

func (v videos) DeleteVideo(ctx context.Context, req *connect.Request[v1.DeleteVideoRequest]) (*connect.Response[v1.DeleteVideoResponse], error) {
	err := v.s.none(ctx, call{route: "DELETE /v1/videos/{id}", path: id(req.Msg.GetId()), ifMatch: req.Msg.GetEtag()})
	return reply(&v1.DeleteVideoResponse{}, err)
}

func (v videos) CreateClip(ctx context.Context, req *connect.Request[v1.CreateClipRequest]) (*connect.Response[v1.CreateClipResponse], error) {
	out := &v1.CreateClipResponse{Video: &v1.Video{}}
	_, err := v.s.one(ctx, call{route: "POST /v1/videos/{id}/clips", path: id(req.Msg.GetId()), body: req.Msg, skip: []string{"id"}}, out.Video)
	return reply(out, err)
}

func (v videos) CreateDownload(ctx context.Context, req *connect.Request[v1.CreateDownloadRequest]) (*connect.Response[v1.CreateDownloadResponse], error) {
	out := &v1.CreateDownloadResponse{Download: &v1.VideoDownload{}}
	_, err := v.s.one(ctx, call{route: "POST /v1/videos/{id}/downloads", path: id(req.Msg.GetId())}, out.Download)
	return reply(out, err)
}

func (v videos) MintVideoToken(ctx context.Context, req *connect.Request[v1.MintVideoTokenRequest]) (*connect.Response[v1.MintVideoTokenResponse], error) {
	out := &v1.MintVideoTokenResponse{Token: &v1.MintedToken{}}
	_, err := v.s.one(ctx, call{route: "POST /v1/videos/{id}/token", path: id(req.Msg.GetId()), body: req.Msg, skip: []string{"id"}}, out.Token)
	return reply(out, err)
}

func (v videos) CreateDirectUpload(ctx context.Context, req *connect.Request[v1.CreateDirectUploadRequest]) (*connect.Response[v1.CreateDirectUploadResponse], error) {
	out := &v1.CreateDirectUploadResponse{}
	_, err := v.s.one(ctx, call{route: "POST /v1/videos/direct_upload", body: req.Msg}, out)
	return reply(out, err)
}

func (v videos) CopyVideo(ctx context.Context, req *connect.Request[v1.CopyVideoRequest]) (*connect.Response[v1.CopyVideoResponse], error) {
	out := &v1.CopyVideoResponse{Video: &v1.Video{}}
	_, err := v.s.one(ctx, call{route: "POST /v1/videos/copy", body: req.Msg}, out.Video)
	return reply(out, err)
}

func (v videos) GetUpload(ctx context.Context, req *connect.Request[v1.GetUploadRequest]) (*connect.Response[v1.GetUploadResponse], error) {
	out := &v1.GetUploadResponse{Upload: &v1.Upload{}}
	_, err := v.s.one(ctx, call{route: "GET /v1/videos/{id}/upload", path: id(req.Msg.GetId())}, out.Upload)
	return reply(out, err)
}
