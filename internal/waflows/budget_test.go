package waflows_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	emu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/waflows"
	"github.com/secureflow/secureflow/internal/waflows/waflowstest"
)

// slowStore blocks ByHash until the request's context ends, like a store
// that hangs.
type slowStore struct{ *waflowstest.Store }

func (s slowStore) ByHash(ctx context.Context, hash []byte) (waflows.Grant, error) {
	<-ctx.Done()
	return waflows.Grant{}, ctx.Err()
}

// TestBudget checks that a hanging store cannot hold a request past
// Config.Budget: WhatsApp's client gets an error quickly instead of
// timing out (whatsapp.md §3.8).
func TestBudget(t *testing.T) {
	key := loadKey(t, "business_key.pem")
	st := slowStore{waflowstest.NewStore()}
	svc, err := waflows.New(waflows.Config{PrivateKey: key, AppSecrets: []secret.Value{secret.New(appSecret)},
		Budget: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}, st, &recordingSink{})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := svc.Issue(context.Background(), waflows.IssueRequest{Session: "s", Step: "p", Fields: passwordFields()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	c := &emu.FlowClient{URL: srv.URL, PublicKey: &key.PublicKey, AppSecret: appSecret, HTTP: srv.Client()}
	start := time.Now()
	r, err := c.Exchange(context.Background(), emu.FlowRequest{Action: "INIT", FlowToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", r.Status)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("request took %v with a 200ms budget", d)
	}
}
