package waflows_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	emu "github.com/secureflow/secureflow/internal/emulator/whatsapp"
	"github.com/secureflow/secureflow/internal/flow"
)

// TestCanaries feeds canary values through every path (invalid, refused
// by the sink, valid, replayed) and checks that they reach the sink and
// nothing else: not the logs, not an answer, not the store.
func TestCanaries(t *testing.T) {
	f := newFixture(t, nil)
	const (
		pw      = "Canary-Passw0rd-7f3a9c" // valid password (10..128)
		shortPw = "Cn-7f3a9"               // invalid: too short
		otp     = "739146"
		badOTP  = "7391x6"
	)
	fields := []*flow.Field{{Var: "new_password", Type: flow.InputPassword, MinLength: 10}, {Var: "otp", Type: flow.InputOTP, Length: 6}}
	tok := f.issue(t, "en", fields)
	var answers []string
	do := func(data map[string]any) emu.FlowResponse {
		r := f.exchange(t, emu.FlowRequest{Action: "data_exchange", Screen: "FORM", FlowToken: tok, Data: data})
		answers = append(answers, string(r.Body))
		return r
	}
	if r := do(map[string]any{"new_password": shortPw, "otp": badOTP}); r.Screen != "FORM" {
		t.Fatalf("invalid = %d %s", r.Status, r.Body)
	}
	f.sink.mu.Lock()
	f.sink.refuseErr = errRefused
	f.sink.mu.Unlock()
	if r := do(map[string]any{"new_password": pw, "otp": otp}); r.Screen != "FORM" {
		t.Fatalf("refused = %d %s", r.Status, r.Body)
	}
	f.sink.mu.Lock()
	f.sink.refuseErr = nil
	f.sink.mu.Unlock()
	if r := do(map[string]any{"new_password": pw, "otp": otp}); r.Screen != "SUCCESS" {
		t.Fatalf("valid = %d %s", r.Status, r.Body)
	}
	if r := do(map[string]any{"new_password": pw, "otp": otp}); r.Status != http.StatusOK && r.Status != 427 {
		t.Fatalf("replay = %d", r.Status)
	}
	// The one place the values must reach.
	if got := f.sink.revealed; len(got) != 1 || got[0]["new_password"] != pw || got[0]["otp"] != otp {
		t.Fatalf("sink got %v", got)
	}
	g, err := f.store.ByHash(context.Background(), hashOf(t, tok))
	if err != nil {
		t.Fatal(err)
	}
	stored := fmtGrant(g)
	logs := f.logs.String()
	if !strings.Contains(logs, "waflows: request") {
		t.Fatal("no request was logged: the log check would prove nothing")
	}
	for _, c := range []string{pw, shortPw, otp, badOTP, tok} {
		if strings.Contains(logs, c) {
			t.Errorf("canary %q in logs", c)
		}
		if strings.Contains(stored, c) {
			t.Errorf("canary %q in the store", c)
		}
		for _, a := range answers {
			if strings.Contains(a, c) && c != tok {
				t.Errorf("canary %q in an answer: %s", c, a)
			}
		}
		for _, s := range f.sink.subs {
			if strings.Contains(fmtSubmission(s), c) {
				t.Errorf("canary %q in the formatted submission", c)
			}
		}
	}
}
