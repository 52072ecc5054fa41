package api

// VideosDeps is what the recording and videos (issue 8) API needs beyond the store.
type VideosDeps struct{}

// videosRoutes registers the recording and videos (issue 8) routes.
func (s *Server) videosRoutes(handle routeFunc) {}

// videosOperations documents the recording and videos (issue 8) routes in the OpenAPI document.
func videosOperations() map[string]operation { return nil }

// videosSchemas are the recording and videos (issue 8) OpenAPI component schemas.
func videosSchemas() obj { return nil }
