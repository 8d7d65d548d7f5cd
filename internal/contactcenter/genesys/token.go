package genesys

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/secureflow/secureflow/internal/secret"
)

// TokenSource obtains OAuth client-credentials tokens and caches them until
// shortly before they expire. Concurrent callers share one refresh. It is
// safe for concurrent use.
type TokenSource struct {
	tokenURL string
	basic    string
	hc       *http.Client
	now      func() time.Time

	mu      sync.Mutex
	token   string
	expires time.Time
	grants  int
}

// NewTokenSource returns a TokenSource for loginURL (https://login.<region>,
// genesys.md §2).
func NewTokenSource(loginURL, clientID string, clientSecret secret.Value, hc *http.Client, now func() time.Time) *TokenSource {
	if now == nil {
		now = time.Now
	}
	creds := url.QueryEscape(clientID) + ":" + url.QueryEscape(string(clientSecret.Reveal()))
	return &TokenSource{
		tokenURL: strings.TrimRight(loginURL, "/") + "/oauth/token",
		// genesys.md §2: Authorization: Basic base64(clientId:clientSecret).
		basic: "Basic " + base64Std(creds),
		hc:    hc,
		now:   now,
	}
}

// refreshMargin renews a token this long before it expires (or after 90% of
// its life for very short tokens) so that no request carries a token about
// to lapse.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(5*time.Minute, lifetime/10)
}

// Token returns a valid access token.
func (ts *TokenSource) Token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.now().Before(ts.expires) {
		return ts.token, nil
	}
	// Holding the lock during the request makes concurrent callers wait for
	// this one refresh instead of each asking for a token.
	tok, life, err := ts.fetch(ctx)
	if err != nil {
		return "", err
	}
	ts.grants++
	ts.token = tok
	ts.expires = ts.now().Add(life - refreshMargin(life))
	return tok, nil
}

// Invalidate drops the cached token if it is tok (the API rejected it).
func (ts *TokenSource) Invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == tok {
		ts.token = ""
	}
}

func (ts *TokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("genesys: token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", ts.basic)
	resp, err := ts.hc.Do(req)
	if err != nil {
		return "", 0, &APIError{Op: "token", Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", 0, newAPIError("token", resp)
	}
	// genesys.md §2: {access_token, token_type, expires_in}.
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, &APIError{Op: "token", Status: resp.StatusCode, Detail: "response without access_token"}
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	return tr.AccessToken, life, nil
}
