package waflows_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	emu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/hubsig"
	"github.com/secureflow/secureflow/internal/waflows"
)

func TestPing(t *testing.T) {
	f := newFixture(t, nil)
	r := f.exchange(t, emu.FlowRequest{Action: "ping"})
	if r.Status != http.StatusOK || !r.Encrypted || string(r.Body) != `{"data":{"status":"active"}}` {
		t.Fatalf("ping = %d %s (encrypted %v)", r.Status, r.Body, r.Encrypted)
	}
}

func TestErrorNotificationAcknowledged(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "en", passwordFields())
	r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", FlowToken: tok,
		Data: map[string]any{"error": "INVALID_SCREEN", "error_message": "bad screen"}})
	if r.Status != http.StatusOK || string(r.Body) != `{"data":{"acknowledged":true}}` {
		t.Fatalf("error notification = %d %s", r.Status, r.Body)
	}
	if n, _ := f.sink.count(); n != 0 {
		t.Error("an error notification reached the sink")
	}
}

func TestInitAndBackLocalized(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "pt-BR", otpDOBFields())
	for _, action := range []string{"INIT", "BACK"} {
		r := f.exchange(t, emu.FlowRequest{Action: action, FlowToken: tok, Screen: "FORM"})
		if r.Status != http.StatusOK || r.Screen != "FORM" {
			t.Fatalf("%s = %d %s", action, r.Status, r.Body)
		}
		want := map[string]any{
			"title": "Formulário seguro", "otp_label": "Código de verificação", "otp_error": "",
			"dob_label": "Data", "dob_error": "",
		}
		for k, v := range want {
			if r.Data[k] != v {
				t.Errorf("%s: data[%s] = %v, want %v", action, k, r.Data[k], v)
			}
		}
		if _, ok := r.Data["error_message"]; ok {
			t.Errorf("%s: snackbar on a fresh form", action)
		}
	}
}

func TestCustomLabel(t *testing.T) {
	f := newFixture(t, nil)
	fl := passwordFields()
	fl[0].Label = flow.Text{Localized: map[string]*flow.Template{"en": mustTemplate(t, "Choose a new password")}}
	tok := f.issue(t, "en", fl)
	r := f.exchange(t, emu.FlowRequest{Action: "INIT", FlowToken: tok})
	if r.Data["new_password_label"] != "Choose a new password" {
		t.Errorf("label = %v", r.Data["new_password_label"])
	}
}

func mustTemplate(t *testing.T, s string) *flow.Template {
	t.Helper()
	tp, err := flow.ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestSubmitValid(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "en", otpDOBFields())
	r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", Screen: "FORM", FlowToken: tok,
		Data: map[string]any{"otp": "123456", "dob": "31/12/1990"}})
	if r.Status != http.StatusOK || r.Screen != "SUCCESS" {
		t.Fatalf("data_exchange = %d %s", r.Status, r.Body)
	}
	// whatsapp.md §3.5: the params carry the flow token and nothing else.
	want := `{"screen":"SUCCESS","data":{"extension_message_response":{"params":{"flow_token":"` + tok + `"}}}}`
	if string(r.Body) != want {
		t.Errorf("SUCCESS body = %s, want %s", r.Body, want)
	}
	if len(f.sink.subs) != 1 {
		t.Fatalf("sink got %d submissions", len(f.sink.subs))
	}
	sub := f.sink.subs[0]
	if sub.Session != "sess-1" || sub.Step != "collect" || !strings.HasPrefix(sub.LinkID, "wf") || len(sub.Values) != 2 {
		t.Errorf("submission = %+v", sub)
	}
	// Normal forms of flow.Field.Validate: dates become ISO 8601.
	if got := f.sink.revealed[0]; got["otp"] != "123456" || got["dob"] != "1990-12-31" {
		t.Errorf("values = %v", got)
	}
	if sub.Values[0].Type != flow.InputOTP || sub.Values[0].Masked == "" || strings.Contains(sub.Values[0].Masked, "123456") {
		t.Errorf("value 0 = %+v", sub.Values[0])
	}
	// Single use: a replay, an INIT or a BACK now gets 427.
	for _, action := range []string{"data_exchange", "INIT", "BACK"} {
		r := f.exchange(t, emu.FlowRequest{Action: action, Screen: "FORM", FlowToken: tok,
			Data: map[string]any{"otp": "123456", "dob": "31/12/1990"}})
		if r.Status != 427 || !r.Encrypted || r.ErrorMsg == "" {
			t.Errorf("%s after completion = %d %s", action, r.Status, r.Body)
		}
	}
	if n, _ := f.sink.count(); n != 1 {
		t.Errorf("sink got %d submissions after replays, want 1", n)
	}
}

func TestSubmitInvalidThenValid(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "es", otpDOBFields())
	const canary = "CANARY-12x"
	r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", Screen: "FORM", FlowToken: tok,
		Data: map[string]any{"otp": canary, "dob": ""}})
	if r.Status != http.StatusOK || r.Screen != "FORM" {
		t.Fatalf("invalid data_exchange = %d %s", r.Status, r.Body)
	}
	if r.Data["otp_error"] != "Ingresa el código que recibiste." || r.Data["dob_error"] != "Este campo es obligatorio." ||
		r.Data["error_message"] != "Revisa los campos marcados." {
		t.Errorf("errors = %v", r.Data)
	}
	if bytes.Contains(r.Body, []byte(canary)) {
		t.Error("the answer echoes the value")
	}
	if n, _ := f.sink.count(); n != 0 {
		t.Fatal("an invalid submission reached the sink")
	}
	r = f.exchange(t, emu.FlowRequest{Action: "data_exchange", Screen: "FORM", FlowToken: tok,
		Data: map[string]any{"otp": "654321", "dob": "1990-01-02"}})
	if r.Status != http.StatusOK || r.Screen != "SUCCESS" {
		t.Fatalf("valid data_exchange after an invalid one = %d %s", r.Status, r.Body)
	}
}

func TestTooManyAttempts(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "en", passwordFields())
	for i := 1; i <= waflows.DefaultMaxAttempts; i++ {
		r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", FlowToken: tok, Data: map[string]any{"new_password": "short"}})
		want := http.StatusOK
		if i == waflows.DefaultMaxAttempts {
			want = 427
		}
		if r.Status != want {
			t.Fatalf("attempt %d = %d %s, want %d", i, r.Status, r.Body, want)
		}
	}
	r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", FlowToken: tok, Data: map[string]any{"new_password": "long-enough-password"}})
	if r.Status != 427 {
		t.Errorf("valid submission on a spent token = %d", r.Status)
	}
	subs, fails := f.sink.count()
	if subs != 0 || fails != 1 || !strings.HasPrefix(f.sink.failures[0], "sess-1/collect/too_many_attempts/wf") {
		t.Errorf("sink: %d submissions, failures %v", subs, f.sink.failures)
	}
}

func TestTokenRejections(t *testing.T) {
	f := newFixture(t, nil)
	expired := f.issue(t, "en", passwordFields())
	f.advance(11 * time.Minute) // TokenTTL is 10 minutes
	revoked := f.issue(t, "en", passwordFields())
	if err := f.svc.Revoke(context.Background(), "sess-1"); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, token string }{
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"malformed", "not-a-token"},
		{"empty", ""},
		{"expired", expired},
		{"revoked", revoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, action := range []string{"INIT", "data_exchange"} {
				r := f.exchange(t, emu.FlowRequest{Action: action, FlowToken: tt.token, Data: map[string]any{"new_password": "long-enough-password"}})
				if r.Status != 427 || !r.Encrypted || r.ErrorMsg == "" {
					t.Errorf("%s = %d %s", action, r.Status, r.Body)
				}
			}
		})
	}
	if n, _ := f.sink.count(); n != 0 {
		t.Error("a rejected token reached the sink")
	}
}

func TestWrongKeyIs421(t *testing.T) {
	f := newFixture(t, nil)
	other := loadKey(t, "other_key.pem")
	c := *f.client
	c.PublicKey = &other.PublicKey
	r, err := c.Exchange(context.Background(), emu.FlowRequest{Action: "ping"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != 421 || r.Encrypted {
		t.Errorf("wrong key = %d %s", r.Status, r.Body)
	}
}

func TestSignature(t *testing.T) {
	f := newFixture(t, nil)
	t.Run("wrong secret", func(t *testing.T) {
		c := *f.client
		c.AppSecret = []byte("not-the-app-secret")
		r, err := c.Exchange(context.Background(), emu.FlowRequest{Action: "ping"})
		if err != nil || r.Status != 432 {
			t.Errorf("wrong secret = %d, %v", r.Status, err)
		}
	})
	body := []byte(`{"encrypted_flow_data":"","encrypted_aes_key":"","initial_vector":""}`)
	tests := []struct{ name, header string }{
		{"missing", ""},
		{"malformed", "sha256=zz"},
		{"sha1", "sha1=" + strings.Repeat("0", 40)},
		{"other body", hubsig.Sign(hubsig.Hex, appSecret, []byte("{}"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(body))
			if tt.header != "" {
				req.Header.Set(hubsig.Header, tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 432 {
				t.Errorf("status = %d, want 432", resp.StatusCode)
			}
		})
	}
	t.Run("signed garbage is 421 or 400", func(t *testing.T) {
		for _, b := range []string{string(body), `{"encrypted_flow_data":"AAAA","encrypted_aes_key":"AAAA","initial_vector":"AAAAAAAAAAAAAAAAAAAAAA=="}`, `[]`, `nope`} {
			req, _ := http.NewRequest(http.MethodPost, f.url, strings.NewReader(b))
			req.Header.Set(hubsig.Header, hubsig.Sign(hubsig.Hex, appSecret, []byte(b)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 421 && resp.StatusCode != 400 {
				t.Errorf("%q: status = %d", b, resp.StatusCode)
			}
		}
	})
	t.Run("GET", func(t *testing.T) {
		resp, err := http.Get(f.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET = %d", resp.StatusCode)
		}
	})
	t.Run("too large", func(t *testing.T) {
		b := bytes.Repeat([]byte("a"), waflows.DefaultMaxBodyBytes+1)
		req, _ := http.NewRequest(http.MethodPost, f.url, bytes.NewReader(b))
		req.Header.Set(hubsig.Header, hubsig.Sign(hubsig.Hex, appSecret, b))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status = %d", resp.StatusCode)
		}
	})
}

func TestSinkRefusalKeepsToken(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "en", passwordFields())
	f.sink.refuseErr = errors.New("vault down")
	r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", FlowToken: tok, Data: map[string]any{"new_password": "long-enough-password"}})
	if r.Status != http.StatusOK || r.Screen != "FORM" || r.Data["error_message"] == nil {
		t.Fatalf("refused = %d %s", r.Status, r.Body)
	}
	f.sink.mu.Lock()
	f.sink.refuseErr = nil
	f.sink.mu.Unlock()
	r = f.exchange(t, emu.FlowRequest{Action: "data_exchange", FlowToken: tok, Data: map[string]any{"new_password": "long-enough-password"}})
	if r.Status != http.StatusOK || r.Screen != "SUCCESS" {
		t.Fatalf("retry = %d %s", r.Status, r.Body)
	}
}

func TestConcurrentSubmissionsConsumeOnce(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.issue(t, "en", passwordFields())
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 6 {
		wg.Go(func() {
			r, err := f.client.Exchange(context.Background(), emu.FlowRequest{Action: "data_exchange", FlowToken: tok,
				Data: map[string]any{"new_password": "long-enough-password"}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] < 1 || statuses[http.StatusOK]+statuses[427] != 6 {
		t.Errorf("statuses = %v", statuses)
	}
	// The sink may see a concurrent duplicate (it is idempotent by LinkID),
	// but every submission carries the same LinkID.
	f.sink.mu.Lock()
	defer f.sink.mu.Unlock()
	for _, s := range f.sink.subs {
		if s.LinkID != f.sink.subs[0].LinkID {
			t.Errorf("link ids differ: %s, %s", s.LinkID, f.sink.subs[0].LinkID)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name string
		req  waflows.IssueRequest
	}{
		{"no session", waflows.IssueRequest{Step: "s", Fields: passwordFields()}},
		{"no fields", waflows.IssueRequest{Session: "x", Step: "s"}},
		{"card number", waflows.IssueRequest{Session: "x", Step: "s", Fields: []*flow.Field{{Var: "card", Type: flow.InputCardNumber}}}},
		{"cpf", waflows.IssueRequest{Session: "x", Step: "s", Fields: []*flow.Field{{Var: "cpf", Type: flow.InputCPF}}}},
		{"secret type", waflows.IssueRequest{Session: "x", Step: "s", Fields: []*flow.Field{{Var: "v", Type: flow.InputSecret}}}},
		{"bad var", waflows.IssueRequest{Session: "x", Step: "s", Fields: []*flow.Field{{Var: "a.b", Type: flow.InputText}}}},
		{"duplicate", waflows.IssueRequest{Session: "x", Step: "s", Fields: []*flow.Field{{Var: "a", Type: flow.InputText}, {Var: "a", Type: flow.InputOTP}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := f.svc.Issue(context.Background(), tt.req); !errors.Is(err, waflows.ErrInvalidRequest) {
				t.Errorf("Issue = %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	key := loadKey(t, "business_key.pem")
	sink := &recordingSink{}
	tests := []struct {
		name string
		cfg  waflows.Config
	}{
		{"no key", waflows.Config{}},
		{"no app secret", waflows.Config{PrivateKey: key}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := waflows.New(tt.cfg, newFixture(t, nil).store, sink); !errors.Is(err, waflows.ErrInvalidConfig) {
				t.Errorf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
}
