package rpc

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/mpegflow/mpegflow/proto/mpegflow/v1"
	"github.com/mpegflow/mpegflow/proto/mpegflow/v1/mpegflowv1connect"
)

// webhooks is mpegflow.v1.WebhookService over the REST routes of
// /v1/webhooks.
type webhooks struct{ s *Server }

var _ mpegflowv1connect.WebhookServiceHandler = webhooks{}

func (w webhooks) CreateWebhook(ctx context.Context, req *connect.Request[v1.CreateWebhookRequest]) (*connect.Response[v1.CreateWebhookResponse], error) {
	out := &v1.CreateWebhookResponse{Webhook: &v1.Webhook{}}
	etag, err := w.s.one(ctx, call{route: "POST /v1/webhooks", body: req.Msg}, out.Webhook)
	out.Etag = etag
	return reply(out, err)
}

func (w webhooks) GetWebhook(ctx context.Context, req *connect.Request[v1.GetWebhookRequest]) (*connect.Response[v1.GetWebhookResponse], error) {
	out := &v1.GetWebhookResponse{Webhook: &v1.Webhook{}}
	etag, err := w.s.one(ctx, call{route: "GET /v1/webhooks/{id}", path: id(req.Msg.GetId())}, out.Webhook)
	out.Etag = etag
	return reply(out, err)
}

func (w webhooks) ListWebhooks(ctx context.Context, req *connect.Request[v1.ListWebhooksRequest]) (*connect.Response[v1.ListWebhooksResponse], error) {
	out := &v1.ListWebhooksResponse{}
	err := w.s.page(ctx, call{route: "GET /v1/webhooks", query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (w webhooks) UpdateWebhook(ctx context.Context, req *connect.Request[v1.UpdateWebhookRequest]) (*connect.Response[v1.UpdateWebhookResponse], error) {
	out := &v1.UpdateWebhookResponse{Webhook: &v1.Webhook{}}
	etag, err := w.s.one(ctx, call{route: "PATCH /v1/webhooks/{id}", path: id(req.Msg.GetId()), ifMatch: req.Msg.GetEtag(), patch: patchOf(req.Msg.GetPatch())}, out.Webhook)
	out.Etag = etag
	return reply(out, err)
}

func (w webhooks) DeleteWebhook(ctx context.Context, req *connect.Request[v1.DeleteWebhookRequest]) (*connect.Response[v1.DeleteWebhookResponse], error) {
	err := w.s.none(ctx, call{route: "DELETE /v1/webhooks/{id}", path: id(req.Msg.GetId()), ifMatch: req.Msg.GetEtag()})
	return reply(&v1.DeleteWebhookResponse{}, err)
}

func (w webhooks) RotateWebhookSecret(ctx context.Context, req *connect.Request[v1.RotateWebhookSecretRequest]) (*connect.Response[v1.RotateWebhookSecretResponse], error) {
	out := &v1.RotateWebhookSecretResponse{Webhook: &v1.Webhook{}}
	_, err := w.s.one(ctx, call{route: "POST /v1/webhooks/{id}/rotate_secret", path: id(req.Msg.GetId())}, out.Webhook)
	return reply(out, err)
}

func (w webhooks) TestWebhook(ctx context.Context, req *connect.Request[v1.TestWebhookRequest]) (*connect.Response[v1.TestWebhookResponse], error) {
	out := &v1.TestWebhookResponse{}
	_, err := w.s.one(ctx, call{route: "POST /v1/webhooks/{id}/test", path: id(req.Msg.GetId())}, out)
	return reply(out, err)
}

func (w webhooks) ListDeliveries(ctx context.Context, req *connect.Request[v1.ListDeliveriesRequest]) (*connect.Response[v1.ListDeliveriesResponse], error) {
	out := &v1.ListDeliveriesResponse{}
	err := w.s.page(ctx, call{route: "GET /v1/webhooks/{id}/deliveries", path: id(req.Msg.GetId()), query: pageQuery(req.Msg.GetLimit(), req.Msg.GetCursor())}, out)
	return reply(out, err)
}

func (w webhooks) GetDelivery(ctx context.Context, req *connect.Request[v1.GetDeliveryRequest]) (*connect.Response[v1.GetDeliveryResponse], error) {
	out := &v1.GetDeliveryResponse{Delivery: &v1.WebhookDelivery{}}
	_, err := w.s.one(ctx, call{route: "GET /v1/webhooks/{id}/deliveries/{delivery_id}", path: deliveryPath(req.Msg.GetId(), req.Msg.GetDeliveryId())}, out.Delivery)
	return reply(out, err)
}

func (w webhooks) RetryDelivery(ctx context.Context, req *connect.Request[v1.RetryDeliveryRequest]) (*connect.Response[v1.RetryDeliveryResponse], error) {
	out := &v1.RetryDeliveryResponse{Delivery: &v1.WebhookDelivery{}}
	_, err := w.s.one(ctx, call{route: "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", path: deliveryPath(req.Msg.GetId(), req.Msg.GetDeliveryId())}, out.Delivery)
	return reply(out, err)
}

func deliveryPath(webhook, delivery string) map[string]string {
	return map[string]string{"id": webhook, "delivery_id": delivery}
}
