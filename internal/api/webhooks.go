package api

// WebhooksDeps is what the webhooks (issue 7) API needs beyond the store.
type WebhooksDeps struct{}

// webhooksRoutes registers the webhooks (issue 7) routes.
func (s *Server) webhooksRoutes(handle routeFunc) {}

// webhooksOperations documents the webhooks (issue 7) routes in the OpenAPI document.
func webhooksOperations() map[string]operation { return nil }

// webhooksSchemas are the webhooks (issue 7) OpenAPI component schemas.
func webhooksSchemas() obj { return nil }
