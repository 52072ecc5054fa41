package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mpegflow/mpegflow/internal/ids"
	"github.com/mpegflow/mpegflow/internal/jsontime"
	"github.com/mpegflow/mpegflow/internal/playback"
	"github.com/mpegflow/mpegflow/internal/store"
)

// Lifetimes of minted playback tokens.
const (
	// DefaultTokenTTL is the lifetime of a minted token without ttl_seconds.
	DefaultTokenTTL = time.Hour
	// MaxTokenTTL is the longest lifetime a minted token may have.
	MaxTokenTTL = 24 * time.Hour
)

// SigningDeps is what the signed playback API needs beyond the
// store: nothing today. Keys, the server's minting key and the admission
// secret all live in store.SigningKeys, so every node shares them, and
// verifiers re-read keys every second, so a revocation needs no signal.
type SigningDeps struct{}

// signingRoutes registers the signed playback routes. Signing
// keys need the admin scope (a key signs tokens for every live input);
// minting a token for one live input needs live_inputs:write.
func (s *Server) signingRoutes(handle routeFunc) {
	handle("GET", "/v1/signing_keys", ScopeAdmin, s.listSigningKeys)
	handle("POST", "/v1/signing_keys", ScopeAdmin, s.createSigningKey)
	handle("GET", "/v1/signing_keys/{id}", ScopeAdmin, s.getSigningKey)
	handle("DELETE", "/v1/signing_keys/{id}", ScopeAdmin, s.revokeSigningKey)
	handle("POST", "/v1/live_inputs/{id}/token", ScopeLiveInputsWrite, s.mintToken)
	handle("POST", "/v1/videos/{id}/token", ScopeVideosWrite, s.mintVideoToken)
	handle("GET", "/v1/admission_secret", ScopeAdmin, s.getAdmissionSecret)
}

// signingKeyJSON is the API's signing key: the public half; pem and jwk
// (the private key, base64) only in the response that generated it.
type signingKeyJSON struct {
	ID        string         `json:"id"`
	Algorithm string         `json:"algorithm"`
	Generated bool           `json:"generated"`
	Managed   bool           `json:"managed"`
	PublicKey string         `json:"public_key"` // PEM (PKIX)
	CreatedAt jsontime.Time  `json:"created_at"`
	RevokedAt *jsontime.Time `json:"revoked_at"`
	PEM       string         `json:"pem,omitempty"`
	JWK       string         `json:"jwk,omitempty"`
}

func signingKeyToJSON(k *store.SigningKey) signingKeyJSON {
	return signingKeyJSON{ID: k.ID, Algorithm: k.Algorithm, Generated: k.Generated,
		Managed: strings.HasPrefix(k.ID, playback.MintKeyPrefix), PublicKey: string(pemPublic(k.PublicKey)), CreatedAt: jsontime.Of(k.CreatedAt), RevokedAt: jsontime.Ptr(k.RevokedAt)}
}

func pemPublic(der []byte) []byte {
	return []byte("-----BEGIN PUBLIC KEY-----\n" + wrap64(base64.StdEncoding.EncodeToString(der)) + "-----END PUBLIC KEY-----\n")
}

func wrap64(s string) string {
	out := make([]byte, 0, len(s)+len(s)/64+1)
	for len(s) > 64 {
		out = append(out, s[:64]...)
		out = append(out, '\n')
		s = s[64:]
	}
	return string(append(append(out, s...), '\n'))
}

// signingKeyCreate is the body of POST /v1/signing_keys: empty to generate
// an RSA-2048 pair, or a public key to register.
type signingKeyCreate struct {
	// PublicKey is a PEM public key, a JWK (RFC 7517) as a string, or the
	// base64 of either.
	PublicKey string `json:"public_key"`
	// JWK is a public JWK given as an object.
	JWK json.RawMessage `json:"jwk"`
}

func (s *Server) createSigningKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	body, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var req signingKeyCreate
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	k := &store.SigningKey{ID: ids.New("key", now), CreatedAt: now}
	var out signingKeyJSON
	switch {
	case req.PublicKey != "" && len(req.JWK) > 0:
		return fieldErr(CodeValidation, "public_key", "give public_key or jwk, not both")
	case req.PublicKey != "" || (len(req.JWK) > 0 && string(req.JWK) != "null"):
		src, field := []byte(req.PublicKey), "public_key"
		if req.PublicKey == "" {
			src, field = req.JWK, "jwk"
		}
		alg, der, err := playback.ParsePublicKey(src)
		if err != nil {
			return fieldErr(CodeValidation, field, "not an acceptable public key (PEM or JWK; RSA 2048-8192 bits for RS256, or P-256 for ES256): "+err.Error())
		}
		k.Algorithm, k.PublicKey = alg, der
		out = signingKeyToJSON(k)
	default:
		priv, err := playback.GenerateRSA()
		if err != nil {
			return err
		}
		pemB, err := playback.PrivatePEM(priv)
		if err != nil {
			return err
		}
		jwkB, err := playback.PrivateJWK(priv, k.ID)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKIXPublicKey(priv.Public())
		if err != nil {
			return err
		}
		k.Algorithm, k.PublicKey, k.Generated = store.AlgRS256, der, true
		out = signingKeyToJSON(k)
		out.PEM = base64.StdEncoding.EncodeToString(pemB)
		out.JWK = base64.StdEncoding.EncodeToString(jwkB)
	}
	if err := s.st.SigningKeys().Create(r.Context(), k); err != nil {
		return storeErr(err, "signing key")
	}
	s.log.Info("signing key created", "signing_key", k.ID, "algorithm", k.Algorithm, "generated", k.Generated, "by", p.tok.ID)
	w.Header().Set("Location", "/v1/signing_keys/"+k.ID)
	writeJSON(w, http.StatusCreated, dataResponse{Data: out})
	return nil
}

func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request, _ *principal) error {
	limit, err := parseLimit(r)
	if err != nil {
		return err
	}
	const scope = "signing_keys"
	after, err := s.cursors.decode(scope, r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	rows, more, err := s.st.SigningKeys().List(r.Context(), store.ListOptions{Limit: limit, After: after})
	if err != nil {
		return storeErr(err, "signing keys")
	}
	out := make([]signingKeyJSON, 0, len(rows))
	for _, k := range rows {
		out = append(out, signingKeyToJSON(k))
	}
	resp := listResponse{Data: out}
	if more && len(rows) > 0 {
		resp.NextCursor = s.cursors.encode(scope, rows[len(rows)-1].ID)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getSigningKey(w http.ResponseWriter, r *http.Request, _ *principal) error {
	id := r.PathValue("id")
	if !validID(id) {
		return notFound("signing key")
	}
	k, err := s.st.SigningKeys().Get(r.Context(), id)
	if err != nil {
		return storeErr(err, "signing key")
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: signingKeyToJSON(k)})
	return nil
}

func (s *Server) revokeSigningKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	if !validID(id) {
		return notFound("signing key")
	}
	if err := s.st.SigningKeys().Revoke(r.Context(), id, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return storeErr(err, "signing key")
	}
	s.log.Info("signing key revoked", "signing_key", id, "by", p.tok.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tokenMint is the body of POST /v1/live_inputs/{id}/token. Its rules are
// access_rules only: Cloudflare's camelCase accessRules, once accepted
// here, is refused with a message naming the new field (tokens signed
// elsewhere may still carry accessRules in their claims).
type tokenMint struct {
	TTLSeconds  *int64          `json:"ttl_seconds"` // default 3600, 1..86400
	Nbf         *int64          `json:"nbf"`         // Unix seconds
	AccessRules json.RawMessage `json:"access_rules"`
}

// renamedMintField returns the new name of a former mint body field, or "".
func renamedMintField(f string) string {
	if f == "accessRules" {
		return "access_rules"
	}
	return ""
}

func (s *Server) mintToken(w http.ResponseWriter, r *http.Request, _ *principal) error {
	li, err := s.getInput(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.mintFor(w, r, li.ID, "/live/")
}

// mintVideoToken is POST /v1/videos/{id}/token: a token whose sub is the
// video id, for /videos/TOKEN/... or /videos/ID/...?token=.
func (s *Server) mintVideoToken(w http.ResponseWriter, r *http.Request, _ *principal) error {
	v, err := s.getVideoRow(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.mintFor(w, r, v.ID, "/videos/")
}

// mintFor answers a mint request (body tokenMint) with a token for sub and
// the playback URLs under prefix ("/live/" or "/videos/") that carry it.
func (s *Server) mintFor(w http.ResponseWriter, r *http.Request, sub, prefix string) error {
	body, err := readBody(w, r, true)
	if err != nil {
		return err
	}
	var req tokenMint
	if err := decodeJSON(body, &req); err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Code == CodeUnknownField {
			if f, _ := ae.Details["field"].(string); renamedMintField(f) != "" {
				return fieldErr(CodeUnknownField, f, f+" was renamed "+renamedMintField(f)+"; send "+renamedMintField(f))
			}
		}
		return err
	}
	ttl := DefaultTokenTTL
	if req.TTLSeconds != nil {
		if *req.TTLSeconds < 1 || *req.TTLSeconds > int64(MaxTokenTTL/time.Second) {
			return fieldErr(CodeValidation, "ttl_seconds", "ttl_seconds must be 1-86400")
		}
		ttl = time.Duration(*req.TTLSeconds) * time.Second
	}
	now := s.now().UTC()
	claims := playback.TokenClaims{Sub: sub, Iat: now.Unix(), Exp: now.Add(ttl).Unix()}
	if req.Nbf != nil {
		if *req.Nbf < 0 || *req.Nbf >= claims.Exp {
			return fieldErr(CodeValidation, "nbf", "nbf must be a Unix time before the expiry")
		}
		claims.Nbf = *req.Nbf
	}
	if rules := req.AccessRules; len(rules) > 0 && string(rules) != "null" {
		if claims.AccessRules, err = playback.ParseRules(rules); err != nil {
			return fieldErr(CodeValidation, "access_rules", err.Error())
		}
	}
	tok, err := s.signToken(r.Context(), claims)
	if err != nil {
		return err
	}
	out := mintedJSON{Token: tok, ExpiresAt: jsontime.Of(time.Unix(claims.Exp, 0)), Playback: s.playbackURLs(r, prefix, tok)}
	if prefix == "/live/" {
		out.WHEP = s.whepURL(r, sub, tok)
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: out})
	return nil
}

// signPlayback replaces pb with URLs that play live input id with a token
// of DefaultTokenTTL: what a single-object answer about a signed live input
// gives a caller allowed to mint. Lists and events keep the plain URLs. When
// no token can be signed, pb is kept and the failure logged.
func (s *Server) signPlayback(r *http.Request, id string, pb *playbackJSON, whep *webrtcJSON) {
	now := s.now().UTC()
	claims := playback.TokenClaims{Sub: id, Iat: now.Unix(), Exp: now.Add(DefaultTokenTTL).Unix()}
	tok, err := s.signToken(r.Context(), claims)
	if err != nil {
		s.log.Warn("cannot sign the playback URLs of a live input", "live_input", id, "error", err)
		return
	}
	*pb = s.playbackURLs(r, "/live/", tok)
	exp := jsontime.Of(time.Unix(claims.Exp, 0))
	pb.TokenExpiresAt = &exp
	if whep != nil {
		whep.URL = s.whepURL(r, id, tok)
	}
}

// whepURL is the WHEP endpoint of live input id with playback token tok.
func (s *Server) whepURL(r *http.Request, id, tok string) string {
	return s.httpBase(r) + "/whep/" + url.PathEscape(id) + "?" + url.Values{"token": {tok}}.Encode()
}

// mintCache remembers the server's current minting key, so that a mint
// costs one key read (is it revoked?) rather than the walk of MintKey.
type mintCache struct {
	mu  sync.Mutex
	key *ecdsa.PrivateKey
	kid string
}

// signToken signs claims with the server's current minting key: the cached
// one while its row is not revoked (revoked on any node: the next key of
// the chain, created now if needed).
func (s *Server) signToken(ctx context.Context, claims playback.TokenClaims) (string, error) {
	keys := s.st.SigningKeys()
	s.mint.mu.Lock()
	key, kid := s.mint.key, s.mint.kid
	s.mint.mu.Unlock()
	if key != nil {
		k, err := keys.Get(ctx, kid)
		switch {
		case errors.Is(err, store.ErrNotFound):
			key = nil
		case err != nil:
			return "", err
		case k.RevokedAt != nil:
			key = nil
		}
	}
	if key == nil {
		var err error
		if key, kid, err = playback.MintKey(ctx, keys); err != nil {
			return "", err
		}
		s.mint.mu.Lock()
		s.mint.key, s.mint.kid = key, kid
		s.mint.mu.Unlock()
	}
	return playback.Sign(key, kid, claims)
}

// mintedJSON is a minted playback token with the URLs that play with it
// (the token in place of the id: relative URIs carry it).
type mintedJSON struct {
	Token     string        `json:"token"`
	ExpiresAt jsontime.Time `json:"expires_at"`
	Playback  playbackJSON  `json:"playback"`
	// WHEP is the WHEP endpoint with the token (live inputs only).
	WHEP string `json:"whep,omitempty"`
}

func (s *Server) getAdmissionSecret(w http.ResponseWriter, r *http.Request, _ *principal) error {
	key, err := playback.AdmissionKey(r.Context(), s.st.SigningKeys())
	if err != nil {
		return err
	}
	if len(key) == 0 {
		return errors.New("empty admission secret")
	}
	writeJSON(w, http.StatusOK, dataResponse{Data: map[string]string{"secret": playback.SecretString(key)}})
	return nil
}

// signingOperations documents the signed playback routes in the OpenAPI document.
func signingOperations() map[string]operation {
	idP := param("id", "path", "The resource id.", obj{"type": "string"}, true)
	limit := param("limit", "query", "Page size, 1-1000; default 50.", obj{"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}, false)
	cursor := param("cursor", "query", "The next_cursor of the previous page.", obj{"type": "string"}, false)
	idem := param("Idempotency-Key", "header", "A retry with the same key and body returns the first response (kept 24 h); with another body, 422.", obj{"type": "string", "maxLength": 255}, false)
	return map[string]operation{
		"GET /v1/signing_keys": {id: "listSigningKeys", summary: "List playback signing keys (public halves; revoked ones too).", scope: ScopeAdmin,
			params: []obj{limit, cursor}, ok: 200, okSchema: listOf(ref("SigningKey")), errs: []int{400}},
		"POST /v1/signing_keys": {id: "createSigningKey", summary: "Generate an RSA-2048 key pair (the private key is in this response only, as base64 PEM and JWK), or register a public key (PEM or JWK; RS256 or ES256).", scope: ScopeAdmin,
			params: []obj{idem}, body: ref("SigningKeyCreate"), ok: 201, okSchema: dataOf(ref("SigningKey")), errs: []int{400, 413, 415, 422}},
		"GET /v1/signing_keys/{id}": {id: "getSigningKey", summary: "Get a signing key (its public half).", scope: ScopeAdmin,
			params: []obj{idP}, ok: 200, okSchema: dataOf(ref("SigningKey")), errs: []int{404}},
		"DELETE /v1/signing_keys/{id}": {id: "revokeSigningKey", summary: "Revoke a signing key: every token it signed is refused within a second (idempotent).", scope: ScopeAdmin,
			params: []obj{idP}, ok: 204, errs: []int{404}},
		"POST /v1/live_inputs/{id}/token": {id: "mintPlaybackToken", summary: "Sign a playback token (RFC 7519 JWT) for a live input with the server's key. Use it in place of the id in /live/ID/... or as ?token=.", scope: ScopeLiveInputsWrite,
			params: []obj{idP, idem}, body: ref("TokenMint"), ok: 200, okSchema: dataOf(ref("MintedToken")), errs: []int{400, 404, 413, 415, 422}},
		"POST /v1/videos/{id}/token": {id: "mintVideoPlaybackToken", summary: "Sign a playback token (RFC 7519 JWT, sub = the video id) for a video with the server's key. Use it in place of the id in /videos/ID/... or as ?token=.", scope: ScopeVideosWrite,
			params: []obj{idP, idem}, body: ref("TokenMint"), ok: 200, okSchema: dataOf(ref("MintedToken")), errs: []int{400, 404, 413, 415, 422}},
		"GET /v1/admission_secret": {id: "getAdmissionSecret", summary: "The secret admission hook requests are signed with (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature v1).", scope: ScopeAdmin,
			ok: 200, okSchema: dataOf(object(obj{"secret": str("whsec_ + base64 of the HMAC-SHA256 key.")}, "secret"))},
	}
}

// signingSchemas are the signed playback OpenAPI component schemas.
func signingSchemas() obj {
	rule := object(obj{
		"type":    obj{"type": "string", "enum": []string{playback.RuleAny, playback.RuleIPSrc, playback.RuleCountry}},
		"action":  obj{"type": "string", "enum": []string{playback.ActionAllow, playback.ActionBlock}},
		"ip":      arrayOf(str("CIDR or address (ip.src).")),
		"country": arrayOf(str("ISO 3166-1 alpha-2 (ip.geoip.country).")),
	}, "type", "action")
	rules := obj{"type": []string{"array", "null"}, "items": rule, "maxItems": playback.MaxRules,
		"description": "First match wins; no match allows."}
	return obj{
		"SigningKey": object(obj{
			"id":         obj{"type": "string", "description": "The JWS kid (RFC 7515 §4.1.4): " + idRule("key") + " The server's own minting key is `mint_` + 16 hex digits, a fingerprint of its public key that every node derives alike."},
			"algorithm":  obj{"type": "string", "enum": []string{store.AlgRS256, store.AlgES256}},
			"generated":  boolean("Generated by the server (its private key was returned once, or, for a managed key, never)."),
			"managed":    boolean("The server's own minting key (kid mint_...), which signs the tokens of POST /v1/live_inputs/{id}/token and /v1/videos/{id}/token; its private key is never returned. Revoking it invalidates every server-minted token it signed; the next mint creates a new one."),
			"public_key": str("PEM (PKIX) public key."),
			"created_at": dateTime(""),
			"revoked_at": nullDateTime(""),
			"pem":        str("base64 of the PKCS #8 PEM private key; only when generated, in the creating response."),
			"jwk":        str("base64 of the private JWK (RFC 7517); only when generated, in the creating response."),
		}, "id", "algorithm", "generated", "managed", "public_key", "created_at", "revoked_at"),
		"SigningKeyCreate": object(obj{
			"public_key": str("A public key to register: PEM, JWK as a string, or base64 of either. Empty: generate."),
			"jwk":        obj{"type": []string{"object", "null"}, "description": "A public JWK (RFC 7517) to register."},
		}),
		"TokenMint": object(obj{
			"ttl_seconds":  obj{"type": "integer", "minimum": 1, "maximum": 86400, "default": 3600},
			"nbf":          integer("Not before, Unix seconds (RFC 7519 §4.1.5)."),
			"access_rules": rules,
		}),
		"MintedToken": object(obj{"token": str("The JWT."), "expires_at": dateTime(""),
			"playback": object(obj{"hls": str("Multivariant playlist with the token in place of the id."), "player": str("Player page with the token.")}, "hls", "player"),
			"whep":     str("WHEP endpoint (draft-ietf-wish-whep) with the token in ?token= (live inputs only)."),
		}, "token", "expires_at", "playback"),
	}
}
