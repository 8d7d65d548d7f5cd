package waflows_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	emu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/waflows"
	"github.com/secureflow/secureflow/internal/waflows/waflowstest"
)

// appSecret is the Meta app secret of the tests.
var appSecret = []byte("test-app-secret-0123456789abcdef")

// loadKey reads a test key from testdata (test-only keys, never used
// anywhere else).
func loadKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	k, err := waflows.LoadPrivateKey(context.Background(), b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
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

// recordingSink records what the service hands over. Values are revealed
// only here, to check that they arrive intact.
type recordingSink struct {
	mu        sync.Mutex
	subs      []waflows.Submission
	revealed  []map[string]string
	failures  []string // session/step/reason/linkID
	refuseErr error
}

func (r *recordingSink) Submitted(ctx context.Context, s waflows.Submission) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuseErr != nil {
		return r.refuseErr
	}
	if waflows.LinkIDFrom(ctx) != s.LinkID {
		return errors.New("context carries another link id")
	}
	m := map[string]string{}
	for _, v := range s.Values {
		m[v.Var] = string(v.Secret.Reveal())
	}
	r.subs = append(r.subs, s)
	r.revealed = append(r.revealed, m)
	return nil
}

func (r *recordingSink) Failed(ctx context.Context, session, step, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, session+"/"+step+"/"+reason+"/"+waflows.LinkIDFrom(ctx))
	return nil
}

func (r *recordingSink) count() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs), len(r.failures)
}

// fixture is a running endpoint with its store, sink, log and clock, and a
// client playing WhatsApp's side (the emulator's FlowClient, written from
// the spec).
type fixture struct {
	svc    *waflows.Service
	store  *waflowstest.Store
	sink   *recordingSink
	logs   *syncBuffer
	client *emu.FlowClient
	url    string
	mu     sync.Mutex
	now    time.Time
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t testing.TB, st waflows.Store) *fixture {
	t.Helper()
	if st == nil {
		st = waflowstest.NewStore()
	}
	f := &fixture{sink: &recordingSink{}, logs: &syncBuffer{}, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	f.store, _ = st.(*waflowstest.Store)
	key := loadKey(t, "business_key.pem")
	svc, err := waflows.New(waflows.Config{
		PrivateKey: key,
		AppSecrets: []secret.Value{secret.New([]byte("old-secret-being-rotated-out")), secret.New(appSecret)},
		TokenTTL:   10 * time.Minute,
		Now:        f.clock,
		Logger:     slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, st, f.sink)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.client = &emu.FlowClient{URL: srv.URL, PublicKey: &key.PublicKey, AppSecret: appSecret, HTTP: srv.Client()}
	return f
}

// passwordFields are the fields of the password-reset Flow.
func passwordFields() []*flow.Field {
	return []*flow.Field{{Var: "new_password", Type: flow.InputPassword, MinLength: 10}}
}

// otpDOBFields are the fields of the otp-dob Flow.
func otpDOBFields() []*flow.Field {
	return []*flow.Field{{Var: "otp", Type: flow.InputOTP, Length: 6}, {Var: "dob", Type: flow.InputDate}}
}

func (f *fixture) issue(t testing.TB, locale string, fields []*flow.Field) string {
	t.Helper()
	tok, _, err := f.svc.Issue(context.Background(), waflows.IssueRequest{Session: "sess-1", Step: "collect", Locale: locale, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) exchange(t testing.TB, req emu.FlowRequest) emu.FlowResponse {
	t.Helper()
	r, err := f.client.Exchange(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", req.Action, err)
	}
	return r
}
