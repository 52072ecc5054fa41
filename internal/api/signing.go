package api

// SigningDeps is what the signed playback (issue 6) API needs beyond the store.
type SigningDeps struct{}

// signingRoutes registers the signed playback (issue 6) routes.
func (s *Server) signingRoutes(handle routeFunc) {}

// signingOperations documents the signed playback (issue 6) routes in the OpenAPI document.
func signingOperations() map[string]operation { return nil }

// signingSchemas are the signed playback (issue 6) OpenAPI component schemas.
func signingSchemas() obj { return nil }
