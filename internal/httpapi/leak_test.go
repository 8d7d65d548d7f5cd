package httpapi

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/secret"
)

// canary is a value that must never appear outside the implementation it is
// meant for.
const canary = "CANARY-4111111111111111-s3cr3t"

// secretErr is an implementation error that carries a secret as a
// secret.Value, as implementations are told to.
type secretErr struct{ v secret.Value }

func (e secretErr) Error() string { return fmt.Sprintf("charge declined for card %v", e.v) }

// TestCanaryNeverLeaks feeds a canary in request bodies and in internal
// errors and checks it reaches the implementation and nothing else: not the
// response, not the logs.
func TestCanaryNeverLeaks(t *testing.T) {
	startBodyWithCanary := `{"flow":"take-payment","conversation":"5511999990000","inputs":{"amount":"49.90","order_id":"` + canary + `"}}`
	invokeBodyWithCanary := `{"inputs":{"card":"` + canary + `"}}`
	tests := []struct {
		name string
		call call
		set  func(env *testEnv)
		// reached reports whether the implementation got the canary.
		reached func(env *testEnv) bool
	}{
		{
			name: "start: success",
			call: call{method: "POST", path: "/v1/secure-sessions", body: startBodyWithCanary},
			reached: func(env *testEnv) bool {
				return env.sessions.started[0].Inputs["order_id"] == canary
			},
		},
		{
			name: "start: internal error quoting the input",
			call: call{method: "POST", path: "/v1/secure-sessions", body: startBodyWithCanary},
			set: func(env *testEnv) {
				env.sessions.startFn = func(r StartRequest) (Session, error) {
					return Session{}, fmt.Errorf("insert session for order %s: disk full", r.Inputs["order_id"])
				}
			},
			reached: func(env *testEnv) bool { return env.sessions.started[0].Inputs["order_id"] == canary },
		},
		{
			name: "start: upstream error quoting the input",
			call: call{method: "POST", path: "/v1/secure-sessions", body: startBodyWithCanary},
			set: func(env *testEnv) {
				env.sessions.startFn = func(r StartRequest) (Session, error) {
					return Session{}, fmt.Errorf("order %s: %w", r.Inputs["order_id"], ErrUpstream)
				}
			},
			reached: func(env *testEnv) bool { return len(env.sessions.started) == 1 },
		},
		{
			name: "invoke: success",
			call: call{method: "POST", path: "/v1/actions/payments.charge/invoke", body: invokeBodyWithCanary},
			reached: func(env *testEnv) bool {
				return env.actions.calls[0].inputs["card"] == canary
			},
		},
		{
			name: "invoke: internal error quoting the input",
			call: call{method: "POST", path: "/v1/actions/payments.charge/invoke", body: invokeBodyWithCanary},
			set: func(env *testEnv) {
				env.actions.fn = func(_ string, in map[string]string) (map[string]any, error) {
					return nil, fmt.Errorf("reveal %s: vault sealed", in["card"])
				}
			},
			reached: func(env *testEnv) bool { return env.actions.calls[0].inputs["card"] == canary },
		},
		{
			name: "get: internal error carrying a secret.Value",
			call: call{method: "GET", path: "/v1/secure-sessions/ss_1"},
			set: func(env *testEnv) {
				env.sessions.getFn = func(string) (Session, error) {
					return Session{}, fmt.Errorf("load: %w", secretErr{secret.FromString(canary)})
				}
			},
			reached: func(*testEnv) bool { return true },
		},
		{
			name:    "unknown field named like the canary",
			call:    call{method: "POST", path: "/v1/secure-sessions", body: `{"flow":"take-payment","conversation":"1","` + canary + `":"` + canary + `"}`},
			reached: func(*testEnv) bool { return true },
		},
		{
			name:    "invalid input name",
			call:    call{method: "POST", path: "/v1/secure-sessions", body: `{"flow":"take-payment","conversation":"1","inputs":{"` + canary + `":"x"}}`},
			reached: func(*testEnv) bool { return true },
		},
		{
			name:    "wrong type under an input",
			call:    call{method: "POST", path: "/v1/actions/a/invoke", body: `{"inputs":{"` + strings.ToLower(canary[:6]) + `x":{"` + canary + `":1}}}`},
			reached: func(*testEnv) bool { return true },
		},
		{
			name:    "canary in the bearer token",
			call:    call{method: "GET", path: "/v1/secure-sessions/ss_1", header: map[string]string{"Authorization": "Bearer " + canary}},
			reached: func(*testEnv) bool { return true },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			if tt.set != nil {
				tt.set(env)
			}
			if tt.call.key == "" && tt.call.header["Authorization"] == "" {
				tt.call.key = env.all
			}
			rec := env.do(t, tt.call)
			if !tt.reached(env) {
				t.Error("the value did not reach the implementation")
			}
			var hdr strings.Builder
			_ = rec.Header().Write(&hdr)
			for where, s := range map[string]string{"response body": rec.Body.String(), "response headers": hdr.String(), "logs": env.logs.String()} {
				if strings.Contains(s, canary) {
					t.Errorf("canary in %s: %s", where, s)
				}
			}
			if env.logs.String() == "" {
				t.Error("nothing logged; the test would prove nothing")
			}
		})
	}
}
