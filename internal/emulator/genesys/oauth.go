package genesys

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/secureflow/secureflow/internal/emulator/internal/emulate"
)

// handleToken is the client-credentials grant of genesys.md §2:
// POST /oauth/token with Basic base64(clientId:clientSecret) and form
// grant_type=client_credentials → {access_token, token_type, expires_in}.
// Error bodies follow RFC 6749 §5.2 (Genesys's exact wording is not in the
// fact sheet).
func (e *Emulator) handleToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(e.cfg.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(e.cfg.ClientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="oauth"`)
		emulate.WriteJSON(w, http.StatusUnauthorized, map[string]string{
			"error": "invalid_client", "error_description": "client authentication failed",
		})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]string{
			"error": "invalid_request", "error_description": "body must be application/x-www-form-urlencoded",
		})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		emulate.WriteJSON(w, http.StatusBadRequest, map[string]string{
			"error": "unsupported_grant_type", "error_description": "only grant_type=client_credentials is supported",
		})
		return
	}
	var b [48]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	e.mu.Lock()
	e.tokens.Put(token, e.cfg.Now().Add(e.cfg.TokenTTL))
	e.stats.TokenGrants++
	e.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	emulate.WriteJSON(w, http.StatusOK, map[string]any{
		"access_token": token,
		"token_type":   "bearer",
		"expires_in":   int64(e.cfg.TokenTTL.Seconds()),
	})
}

// authenticate checks the Bearer token of an API call: unknown and expired
// tokens are refused alike, as Genesys answers 401 to both.
func (e *Emulator) authenticate(r *http.Request) *apiError {
	h := r.Header.Get("Authorization")
	const p = "Bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return &apiError{status: http.StatusUnauthorized, code: "authentication.required",
			message: "No authentication bearer token specified in authorization header."}
	}
	e.mu.Lock()
	exp, ok := e.tokens.Get(h[len(p):])
	e.mu.Unlock()
	if !ok || !e.cfg.Now().Before(exp) {
		return &apiError{status: http.StatusUnauthorized, code: "bad.credentials", message: "Invalid login credentials."}
	}
	return nil
}
