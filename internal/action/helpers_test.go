package action

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
)

// *vault.Vault is what the gateway passes.
var (
	_ Revealer  = (*vault.Vault)(nil)
	_ Tokenizer = (*vault.Vault)(nil)
)

// fakeVault is an in-memory Revealer and Tokenizer.
type fakeVault struct {
	mu      sync.Mutex
	vals    map[string]secret.Value
	kinds   map[string]vault.Kind
	opts    map[string]vault.Options
	reveals []string // "token principal purpose"
	deny    bool
	n       int
}

func newFakeVault() *fakeVault {
	return &fakeVault{vals: map[string]secret.Value{}, kinds: map[string]vault.Kind{}, opts: map[string]vault.Options{}}
}

func (f *fakeVault) put(s string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	tok := fmt.Sprintf("tok_in_%d", f.n)
	f.vals[tok] = secret.FromString(s)
	return tok
}

func (f *fakeVault) Reveal(ctx context.Context, token, principal, purpose string) (secret.Value, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reveals = append(f.reveals, token+" "+principal+" "+purpose)
	if f.deny {
		return secret.Value{}, vault.ErrDenied
	}
	v, ok := f.vals[token]
	if !ok {
		return secret.Value{}, vault.ErrNotFound
	}
	return v, nil
}

func (f *fakeVault) Tokenize(ctx context.Context, kind vault.Kind, v secret.Value, o vault.Options) (vault.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	tok := fmt.Sprintf("tok_out_%d", f.n)
	f.vals[tok], f.kinds[tok], f.opts[tok] = v, kind, o
	return vault.Token{ID: tok, Kind: kind, Retention: o.Retention, Session: o.Session}, nil
}

func (f *fakeVault) value(tok string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return string(f.vals[tok].Reveal())
}

func (f *fakeVault) revealCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reveals)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testEnv struct {
	ex    *Executor
	vault *fakeVault
	logs  *syncBuffer
	reg   *prometheus.Registry
	srv   *httptest.Server
}

var testRefs = map[string]string{
	"env:PAYMENTS_TOKEN":    "test-bearer-token",
	"env:LOYALTY_PASSWORD":  "loyalty-pw",
	"env:HMAC_SECRET":       "hmac-key-0123456789",
	"file:/nonexistent/key": "",
}

func testResolve(ref string) (secret.Value, error) {
	if v, ok := testRefs[ref]; ok && v != "" {
		return secret.FromString(v), nil
	}
	return secret.Value{}, fmt.Errorf("%s is not set", ref)
}

var testHosts = []string{"payments.emulator.test", "up.test", "*.example.com"}

func mustLoad(t testing.TB, src []byte) *Catalog {
	t.Helper()
	cat, err := LoadCatalog("actions.yaml", src, LoadOptions{AllowedHosts: testHosts, Resolve: testResolve})
	if err != nil {
		t.Fatalf("LoadCatalog: %v", err)
	}
	return cat
}

// newEnv serves h and returns an executor whose client sends every
// request, whatever its host, to h.
func newEnv(t *testing.T, src []byte, h http.Handler) *testEnv {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	env := &testEnv{vault: newFakeVault(), logs: &syncBuffer{}, reg: prometheus.NewRegistry(), srv: srv}
	ex, err := New(ExecutorConfig{
		Catalog: mustLoad(t, src), Revealer: env.vault, Tokenizer: env.vault,
		HTTPClient: &http.Client{Transport: tr},
		Logger:     slog.New(slog.NewJSONHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:    env.reg, Backoff: retry.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	env.ex = ex
	return env
}

// metrics renders every gathered metric, labels included.
func (e *testEnv) metrics(t *testing.T) string {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		b.WriteString(mf.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// assertAbsent fails if canary occurs in any of the named texts.
func assertAbsent(t *testing.T, canary string, texts map[string]string) {
	t.Helper()
	for where, s := range texts {
		if strings.Contains(s, canary) {
			t.Errorf("the canary secret leaked into %s:\n%s", where, s)
		}
	}
}

type bytesBuffer struct{ bytes.Buffer }
