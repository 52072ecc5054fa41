package vodhttp

import (
	"log/slog"
	"net/http"

	"github.com/mpegflow/mpegflow/internal/playback"
)

// Authorizer is Authorize over one gate for one kind of resource, as a
// value: WHEP offers (whep.Gate) go through the gate of /live/ this way,
// with the same checks (signed playback, allowed_origins, access rules,
// the play admission hook) and the same refusals as LL-HLS.
type Authorizer struct {
	Gate   *playback.Gate // nil refuses with 503
	Kind   string         // the log attribute naming the resource, e.g. "live_input"
	Logger *slog.Logger
}

// Authorize runs Authorize with the Authorizer's gate, kind and logger.
func (a Authorizer) Authorize(w http.ResponseWriter, r *http.Request, idOrToken string) (string, bool) {
	return Authorize(w, r, a.Gate, idOrToken, a.Kind, a.Logger)
}
