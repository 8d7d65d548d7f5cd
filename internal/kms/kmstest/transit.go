package kmstest

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Transit is a fake Vault transit engine with one key, MOUNT/keys/NAME.
type Transit struct {
	// Server is the running fake; its URL's host goes into key URIs.
	Server *httptest.Server

	mount, name, token string

	mu       sync.Mutex
	versions []tink.AEAD // index i is key version i+1
	down     bool
	echo     bool
	requests []Request
}

// Request records what the fake received, for assertions.
type Request struct {
	Method, Path string
	// Token is the X-Vault-Token header.
	Token string
	// Body is the decoded JSON body.
	Body map[string]any
}

// NewTransit starts a fake over TLS (the default the KMS client expects)
// serving the key mount/keys/name and accepting only token. It is closed
// when the test ends.
func NewTransit(t testing.TB, mount, name, token string) *Transit {
	t.Helper()
	f := &Transit{mount: strings.Trim(mount, "/"), name: name, token: token}
	f.Rotate(t)
	f.Server = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// NewPlainTransit is NewTransit over plain HTTP.
func NewPlainTransit(t testing.TB, mount, name, token string) *Transit {
	t.Helper()
	f := &Transit{mount: strings.Trim(mount, "/"), name: name, token: token}
	f.Rotate(t)
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Server.Close)
	return f
}

// KeyURI is the Tink key URI of the fake's key:
// hcvault://HOST:PORT/MOUNT/keys/NAME.
func (f *Transit) KeyURI() string {
	return "hcvault://" + strings.TrimPrefix(strings.TrimPrefix(f.Server.URL, "https://"), "http://") +
		"/" + f.mount + "/keys/" + f.name
}

// CertPool holds the fake's TLS certificate, for kms.WithRootCAs.
func (f *Transit) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(f.Server.Certificate())
	return pool
}

// Rotate adds a key version, which becomes the one Encrypt uses (Vault's
// POST /transit/keys/:name/rotate).
func (f *Transit) Rotate(t testing.TB) {
	t.Helper()
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	a, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.versions = append(f.versions, a)
	f.mu.Unlock()
}

// SetDown makes every request fail with 503, as a sealed Vault answers.
func (f *Transit) SetDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// SetEchoErrors makes every authenticated request fail with 400 and an
// error message quoting the request body, as a misbehaving proxy might: a
// client must not pass such a message on.
func (f *Transit) SetEchoErrors(echo bool) {
	f.mu.Lock()
	f.echo = echo
	f.mu.Unlock()
}

// Requests returns a copy of the requests received so far.
func (f *Transit) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func vaultError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": []string{msg}})
}

func (f *Transit) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	raw := new(bytes.Buffer)
	_, _ = raw.ReadFrom(r.Body)
	jsonErr := json.Unmarshal(raw.Bytes(), &body)

	f.mu.Lock()
	f.requests = append(f.requests, Request{Method: r.Method, Path: r.URL.Path, Token: r.Header.Get("X-Vault-Token"), Body: body})
	down, echo := f.down, f.echo
	versions := append([]tink.AEAD(nil), f.versions...)
	f.mu.Unlock()

	if down {
		vaultError(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	// Vault's HTTP API accepts POST and PUT for writes.
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		vaultError(w, http.StatusMethodNotAllowed, "unsupported operation")
		return
	}
	if tok := r.Header.Get("X-Vault-Token"); tok == "" || tok != f.token {
		vaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	if echo {
		vaultError(w, http.StatusBadRequest, "bad request: "+raw.String())
		return
	}
	if jsonErr != nil {
		vaultError(w, http.StatusBadRequest, "failed to parse JSON input")
		return
	}
	prefix := "/v1/" + f.mount + "/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		vaultError(w, http.StatusNotFound, "no handler for route")
		return
	}
	op, name, ok := strings.Cut(rest, "/")
	if !ok || name != f.name {
		vaultError(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	ad, err := b64Field(body, "associated_data")
	if err != nil {
		vaultError(w, http.StatusBadRequest, "failed to base64-decode associated data")
		return
	}
	switch op {
	case "encrypt":
		pt, err := b64Field(body, "plaintext")
		if err != nil {
			vaultError(w, http.StatusBadRequest, "failed to base64-decode plaintext")
			return
		}
		v := len(versions)
		ct, err := versions[v-1].Encrypt(pt, ad)
		if err != nil {
			vaultError(w, http.StatusInternalServerError, "encryption failed")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"ciphertext":  fmt.Sprintf("vault:v%d:%s", v, base64.StdEncoding.EncodeToString(ct)),
			"key_version": v,
		}})
	case "decrypt":
		s, _ := body["ciphertext"].(string)
		v, ct, ok := parseCiphertext(s)
		if !ok || v > len(versions) {
			vaultError(w, http.StatusBadRequest, "invalid ciphertext: no prefix")
			return
		}
		pt, err := versions[v-1].Decrypt(ct, ad)
		if err != nil {
			vaultError(w, http.StatusBadRequest, "cipher: message authentication failed")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{
			"plaintext": base64.StdEncoding.EncodeToString(pt),
		}})
	default:
		vaultError(w, http.StatusNotFound, "no handler for route")
	}
}

func b64Field(body map[string]any, name string) ([]byte, error) {
	s, _ := body[name].(string)
	return base64.StdEncoding.DecodeString(s)
}

// parseCiphertext splits "vault:vN:BASE64".
func parseCiphertext(s string) (int, []byte, bool) {
	rest, ok := strings.CutPrefix(s, "vault:v")
	if !ok {
		return 0, nil, false
	}
	vs, b64, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, nil, false
	}
	v, err := strconv.Atoi(vs)
	if err != nil || v < 1 {
		return 0, nil, false
	}
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, nil, false
	}
	return v, ct, true
}
