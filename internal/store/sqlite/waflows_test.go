package sqlite_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	emu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/securelink"
	"github.com/secureflow/secureflow/internal/store/sqlite"
	"github.com/secureflow/secureflow/internal/waflows"
	"github.com/secureflow/secureflow/internal/waflows/waflowstest"
)

func TestWAFlowStoreConformance(t *testing.T) {
	waflowstest.Run(t, func(t *testing.T) waflows.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "waflows.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db.WAFlows()
	})
}

func TestWAFlowStoreDeleteExpired(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "waflows.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := db.WAFlows()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name string, expires time.Time) waflows.Grant {
		h := sha256.Sum256([]byte(name))
		return waflows.Grant{Hash: h[:], Session: "s", Step: "pw", Locale: "en",
			Fields: []securelink.FieldSpec{{Var: "pw", Type: flow.InputPassword}}, CreatedAt: t0, ExpiresAt: expires}
	}
	old, live, used := mk("old", t0.Add(time.Minute)), mk("live", t0.Add(time.Hour)), mk("used", t0.Add(time.Hour))
	for _, g := range []waflows.Grant{old, live, used} {
		if err := st.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Consume(ctx, used.Hash, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, err := st.DeleteExpiredFlowTokens(ctx, t0.Add(10*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredFlowTokens = %d, %v; want 2", n, err)
	}
	if _, err := st.ByHash(ctx, live.Hash); err != nil {
		t.Errorf("live token: %v", err)
	}
	if _, err := st.ByHash(ctx, old.Hash); !errors.Is(err, waflows.ErrNotFound) {
		t.Errorf("old token: %v", err)
	}
}

// flowSink takes submissions the way the session engine's adapter would,
// keeping nothing but a count.
type flowSink struct {
	mu sync.Mutex
	n  int
}

func (s *flowSink) Submitted(context.Context, waflows.Submission) error {
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	return nil
}

func (s *flowSink) Failed(context.Context, string, string, string) error { return nil }

// TestWAFlowsCanariesNotInFile runs the Flows endpoint on the SQLite store
// with canary values (invalid and valid submissions) and checks that
// neither the values nor the flow token are in the database, WAL or
// shared-memory file, while the token's hash is (the positive control).
func TestWAFlowsCanariesNotInFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "waflows.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pemBytes, err := os.ReadFile("../../waflows/testdata/business_key.pem")
	if err != nil {
		t.Fatal(err)
	}
	key, err := waflows.LoadPrivateKey(ctx, pemBytes, nil)
	if err != nil {
		t.Fatal(err)
	}
	appSecret := []byte("sqlite-test-app-secret")
	sink := &flowSink{}
	svc, err := waflows.New(waflows.Config{PrivateKey: key, AppSecrets: []secret.Value{secret.New(appSecret)}}, db.WAFlows(), sink)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	c := &emu.FlowClient{URL: srv.URL, PublicKey: &key.PublicKey, AppSecret: appSecret, HTTP: srv.Client()}
	tok, _, err := svc.Issue(ctx, waflows.IssueRequest{Session: "sess", Step: "pw", Locale: "en",
		Fields: []*flow.Field{{Var: "new_password", Type: flow.InputPassword}, {Var: "otp", Type: flow.InputOTP}}})
	if err != nil {
		t.Fatal(err)
	}
	const pw, badPw, otp = "SqliteCanary-Pw-41d8", "SqC-41d8", "284619"
	for _, data := range []map[string]any{
		{"new_password": badPw, "otp": "28x619"},
		{"new_password": pw, "otp": otp},
	} {
		if _, err := c.Exchange(ctx, emu.FlowRequest{Action: "data_exchange", Screen: "FORM", FlowToken: tok, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if sink.n != 1 {
		t.Fatalf("sink got %d submissions, want 1", sink.n)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	hash := sha256.Sum256(raw)
	files := map[string][]byte{}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if b, err := os.ReadFile(p); err == nil {
			files[filepath.Base(p)] = b
		}
	}
	in := func(needle []byte) string {
		for name, b := range files {
			if bytes.Contains(b, needle) {
				return name
			}
		}
		return ""
	}
	if in(hash[:]) == "" {
		t.Fatal("the token hash is not in the files: the search would prove nothing")
	}
	for _, c := range []string{pw, badPw, otp, tok, string(raw)} {
		if f := in([]byte(c)); f != "" {
			t.Errorf("canary %q found in %s", c, f)
		}
	}
}
