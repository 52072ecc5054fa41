package api

import (
	"net/http"
	"slices"
)

// whoamiJSON is the body of GET /v1/whoami: the caller's token (metadata
// only) and the scopes it holds once implications are applied, so that a
// client such as the web console can hide what the token may not do.
type whoamiJSON struct {
	Token           tokenJSON `json:"token"`
	EffectiveScopes []string  `json:"effective_scopes"`
}

// whoami answers GET /v1/whoami for any valid token.
func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, p *principal) error {
	eff := make([]string, 0, len(p.scopes))
	for _, sc := range Scopes() {
		if p.scopes[sc] {
			eff = append(eff, sc)
		}
	}
	slices.Sort(eff)
	writeJSON(w, http.StatusOK, dataResponse{Data: whoamiJSON{Token: tokenToJSON(p.tok), EffectiveScopes: eff}})
	return nil
}

// whoamiOperations documents GET /v1/whoami in the OpenAPI document.
func whoamiOperations() map[string]operation {
	return map[string]operation{
		"GET /v1/whoami": {id: "whoami", summary: "The calling token's metadata and its effective scopes (granted scopes plus the ones they imply).",
			anyToken: true, ok: 200, okSchema: dataOf(ref("Whoami"))},
	}
}

// whoamiSchemas is the OpenAPI component schema of GET /v1/whoami.
func whoamiSchemas() obj {
	return obj{
		"Whoami": object(obj{
			"token":            ref("Token"),
			"effective_scopes": arrayOf(obj{"type": "string", "enum": Scopes()}),
		}, "token", "effective_scopes"),
	}
}
