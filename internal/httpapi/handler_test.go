package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func decodeProblem(t *testing.T, body string) problem {
	t.Helper()
	var p problem
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("body is not a problem: %v: %s", err, body)
	}
	return p
}

const startTakePayment = `{"flow":"take-payment","conversation":"5511999990000",
 "genesys_conversation_id":"1734d888-3c0e-47bc-bacb-e9996a16b682",
 "inputs":{"amount":"49.90","order_id":"A-1001","currency":""},"locale":"pt-BR"}`

func TestRoutes(t *testing.T) {
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantCode   string // problem code for errors
		check      func(t *testing.T, env *testEnv, body string, hdr http.Header)
	}{
		{
			name:       "start session",
			call:       call{method: "POST", path: "/v1/secure-sessions", body: startTakePayment, header: map[string]string{"Idempotency-Key": "conv-1:take-payment"}},
			wantStatus: http.StatusCreated,
			check: func(t *testing.T, env *testEnv, body string, hdr http.Header) {
				if got := hdr.Get("Location"); got != "/v1/secure-sessions/ss_1" {
					t.Errorf("Location = %q", got)
				}
				if len(env.sessions.started) != 1 {
					t.Fatalf("Start called %d times", len(env.sessions.started))
				}
				r := env.sessions.started[0]
				if r.Flow != "take-payment" || r.Conversation != "5511999990000" || r.GenesysConversationID != "1734d888-3c0e-47bc-bacb-e9996a16b682" ||
					r.Locale != "pt-BR" || r.IdempotencyKey != "conv-1:take-payment" || r.Principal != "allscope" || r.Mode != "" {
					t.Errorf("StartRequest = %+v", r)
				}
				if _, ok := r.Inputs["currency"]; ok || r.Inputs["amount"] != "49.90" || r.Inputs["order_id"] != "A-1001" {
					t.Errorf("inputs = %v (empty strings must be dropped)", r.Inputs)
				}
				var s sessionBody
				if err := json.Unmarshal([]byte(body), &s); err != nil {
					t.Fatal(err)
				}
				if s.ID != "ss_1" || s.Status != StatusActive || s.Outputs == nil || s.EndedAt != nil {
					t.Errorf("session = %+v", s)
				}
			},
		},
		{
			name:       "start self-service with typed inputs",
			call:       call{method: "POST", path: "/v1/secure-sessions", body: `{"flow":"reset-password","mode":"self_service","conversation":"5511988887777","inputs":{"account_id":"acc-77","n":3,"vip":true,"gone":null}}`},
			wantStatus: http.StatusCreated,
			check: func(t *testing.T, env *testEnv, _ string, _ http.Header) {
				r := env.sessions.started[0]
				if r.Mode != ModeSelfService || r.Inputs["n"] != 3.0 || r.Inputs["vip"] != true || len(r.Inputs) != 3 || r.IdempotencyKey != "" {
					t.Errorf("StartRequest = %+v", r)
				}
			},
		},
		{
			name:       "start: validation errors name the fields",
			call:       call{method: "POST", path: "/v1/secure-sessions", body: `{"flow":"Take Payment","mode":"bot","conversation":"","locale":"x","inputs":{"Bad Key":"v","nested":{"a":1},"long":"` + strings.Repeat("x", 1025) + `"}}`},
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid",
			check: func(t *testing.T, env *testEnv, body string, _ http.Header) {
				p := decodeProblem(t, body)
				got := map[string]bool{}
				for _, f := range p.Errors {
					got[f.Field] = true
				}
				for _, want := range []string{"flow", "mode", "conversation", "locale", "inputs", "inputs.nested", "inputs.long"} {
					if !got[want] {
						t.Errorf("missing field error %q in %+v", want, p.Errors)
					}
				}
				if strings.Contains(body, "Bad Key") {
					t.Error("an invalid input name was echoed")
				}
				if len(env.sessions.started) != 0 {
					t.Error("Start called on an invalid request")
				}
			},
		},
		{
			name:       "start: bad Idempotency-Key",
			call:       call{method: "POST", path: "/v1/secure-sessions", body: startTakePayment, header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}},
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid",
		},
		{
			name:       "get session",
			call:       call{method: "GET", path: "/v1/secure-sessions/ss_42"},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, env *testEnv, body string, _ http.Header) {
				var s map[string]any
				if err := json.Unmarshal([]byte(body), &s); err != nil {
					t.Fatal(err)
				}
				if s["id"] != "ss_42" || s["outcome"] != "paid" || s["status"] != "ended" || s["outputs"].(map[string]any)["card_last4"] != "4242" || s["ended_at"] == nil {
					t.Errorf("session = %v", s)
				}
			},
		},
		{
			name:       "get session: impossible id is 404 without a call",
			call:       call{method: "GET", path: "/v1/secure-sessions/a%20b"},
			wantStatus: http.StatusNotFound, wantCode: "not_found",
			check: func(t *testing.T, env *testEnv, _ string, _ http.Header) {
				if len(env.sessions.gets) != 0 {
					t.Error("Get called")
				}
			},
		},
		{
			name:       "agent disconnected",
			call:       call{method: "POST", path: "/v1/conversations/1734d888-3c0e-47bc-bacb-e9996a16b682/events", body: `{"type":"agent_disconnected","participant_id":"p-1","user_id":"u-1"}`},
			wantStatus: http.StatusNoContent,
			check: func(t *testing.T, env *testEnv, _ string, _ http.Header) {
				if len(env.sessions.events) != 1 {
					t.Fatal("AgentEvent not called")
				}
				e := env.sessions.events[0]
				if env.sessions.eventConv[0] != "1734d888-3c0e-47bc-bacb-e9996a16b682" || e.Type != EventAgentDisconnected ||
					e.ParticipantID != "p-1" || e.UserID != "u-1" || !e.At.Equal(testTime) {
					t.Errorf("event = %+v", e)
				}
			},
		},
		{
			name:       "agent event with a time",
			call:       call{method: "POST", path: "/v1/conversations/c-1/events", body: `{"type":"agent_disconnected","at":"2026-05-01T12:59:00Z"}`},
			wantStatus: http.StatusNoContent,
			check: func(t *testing.T, env *testEnv, _ string, _ http.Header) {
				if got := env.sessions.events[0].At; got.Minute() != 59 {
					t.Errorf("At = %v", got)
				}
			},
		},
		{
			name:       "unknown event type",
			call:       call{method: "POST", path: "/v1/conversations/c-1/events", body: `{"type":"agent_joined"}`},
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid",
		},
		{
			name:       "invoke action with tokens",
			call:       call{method: "POST", path: "/v1/actions/payments.charge/invoke", body: `{"inputs":{"card":"tok_4242","amount":"49.90","reference":""}}`, header: map[string]string{"Idempotency-Key": "charge-A-1001"}},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, env *testEnv, body string, _ http.Header) {
				c := env.actions.calls[0]
				if c.name != "payments.charge" || c.key != "charge-A-1001" || c.principal != "allscope" || c.inputs["card"] != "tok_4242" || len(c.inputs) != 2 {
					t.Errorf("call = %+v", c)
				}
				if strings.TrimSpace(body) != `{"outputs":{"status":"approved"}}` {
					t.Errorf("body = %s", body)
				}
			},
		},
		{
			name:       "invoke: inputs must be strings",
			call:       call{method: "POST", path: "/v1/actions/payments.charge/invoke", body: `{"inputs":{"amount":49.9}}`},
			wantStatus: http.StatusUnprocessableEntity, wantCode: "invalid",
			check: func(t *testing.T, _ *testEnv, body string, _ http.Header) {
				if p := decodeProblem(t, body); len(p.Errors) != 1 || p.Errors[0].Field != "inputs" {
					t.Errorf("errors = %+v", p.Errors)
				}
			},
		},
		{
			name:       "unknown route",
			call:       call{method: "GET", path: "/v1/nothing"},
			wantStatus: http.StatusNotFound, wantCode: codeRouteNotFound,
		},
		{
			name:       "wrong method",
			call:       call{method: "DELETE", path: "/v1/secure-sessions/ss_1"},
			wantStatus: http.StatusMethodNotAllowed, wantCode: codeMethodNotAllowed,
			check: func(t *testing.T, _ *testEnv, _ string, hdr http.Header) {
				if hdr.Get("Allow") != "GET" {
					t.Errorf("Allow = %q", hdr.Get("Allow"))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			if tt.call.key == "" {
				tt.call.key = env.all
			}
			rec := env.do(t, tt.call)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantCode != "" {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
				p := decodeProblem(t, rec.Body.String())
				if p.Code != tt.wantCode || p.Status != tt.wantStatus || p.Type != problemTypeBase+tt.wantCode || p.Title == "" || p.RequestID == "" {
					t.Errorf("problem = %+v", p)
				}
			}
			if tt.check != nil {
				tt.check(t, env, rec.Body.String(), rec.Header())
			}
		})
	}
}

// TestErrorMapping checks the one table from implementation errors to
// statuses, through each route.
func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantFields int
	}{
		{"not found", fmt.Errorf("session ss_9: %w", ErrNotFound), 404, "not_found", 0},
		{"conflict", fmt.Errorf("conversation busy: %w", ErrConflict), 409, "conflict", 0},
		{"invalid sentinel", fmt.Errorf("flow: %w", ErrInvalid), 422, "invalid", 0},
		{"invalid fields", fmt.Errorf("start: %w", Invalid(FieldError{"inputs.amount", "required"}, FieldError{"flow", "unknown flow"})), 422, "invalid", 2},
		{"unavailable", fmt.Errorf("store: %w", ErrUnavailable), 503, "unavailable", 0},
		{"upstream", fmt.Errorf("payments.charge: %w", ErrUpstream), 502, "upstream_failed", 0},
		{"explicit *Error", &Error{Status: 429, Code: "too_many", Message: "slow down"}, 429, "too_many", 0},
		{"wrapped *Error", fmt.Errorf("x: %w", &Error{Status: 409, Code: "session_ended", Message: "ended"}), 409, "session_ended", 0},
		{"anything else", errors.New("sql: database is locked"), 500, codeInternal, 0},
	}
	routes := []struct {
		name string
		call call
		set  func(env *testEnv, err error)
	}{
		{"start", call{method: "POST", path: "/v1/secure-sessions", body: startTakePayment}, func(env *testEnv, err error) {
			env.sessions.startFn = func(StartRequest) (Session, error) { return Session{}, err }
		}},
		{"get", call{method: "GET", path: "/v1/secure-sessions/ss_9"}, func(env *testEnv, err error) {
			env.sessions.getFn = func(string) (Session, error) { return Session{}, err }
		}},
		{"event", call{method: "POST", path: "/v1/conversations/c-1/events", body: `{"type":"agent_disconnected"}`}, func(env *testEnv, err error) {
			env.sessions.eventFn = func(string, AgentEvent) error { return err }
		}},
		{"invoke", call{method: "POST", path: "/v1/actions/payments.charge/invoke", body: `{"inputs":{}}`}, func(env *testEnv, err error) {
			env.actions.fn = func(string, map[string]string) (map[string]any, error) { return nil, err }
		}},
	}
	for _, rt := range routes {
		for _, tt := range tests {
			t.Run(rt.name+"/"+tt.name, func(t *testing.T) {
				env := newEnv(t)
				rt.set(env, tt.err)
				c := rt.call
				c.key = env.all
				rec := env.do(t, c)
				if rec.Code != tt.wantStatus {
					t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
				}
				p := decodeProblem(t, rec.Body.String())
				if p.Code != tt.wantCode || len(p.Errors) != tt.wantFields {
					t.Errorf("problem = %+v", p)
				}
				if strings.Contains(rec.Body.String(), "database is locked") {
					t.Error("internal error text reached the client")
				}
				if tt.wantStatus == 500 && !strings.Contains(env.logs.String(), "database is locked") {
					t.Error("internal error not logged")
				}
				if tt.wantStatus == 500 && !strings.Contains(env.logs.String(), `"request_id":"`+p.RequestID+`"`) {
					t.Error("internal error not logged with the request id")
				}
			})
		}
	}
}

func TestUnconfiguredImplementationsAre503(t *testing.T) {
	env := newEnv(t)
	env.h = New(Config{Keys: env.h.keys})
	for _, c := range []call{
		{method: "POST", path: "/v1/secure-sessions", body: startTakePayment},
		{method: "GET", path: "/v1/secure-sessions/x"},
		{method: "POST", path: "/v1/conversations/c/events", body: `{"type":"agent_disconnected"}`},
		{method: "POST", path: "/v1/actions/a/invoke", body: `{}`},
	} {
		c.key = env.all
		if rec := env.do(t, c); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s %s = %d", c.method, c.path, rec.Code)
		}
	}
}

func TestBodies(t *testing.T) {
	big := `{"flow":"take-payment","conversation":"1","inputs":{"a":"` + strings.Repeat("x", MaxBodyBytes) + `"}}`
	tests := []struct {
		name        string
		body        string
		contentType string
		wantStatus  int
		wantCode    string
	}{
		{"over 64 KiB", big, "", 413, codeTooLarge},
		{"unknown field", `{"flow":"take-payment","conversation":"1","card":"4111111111111111"}`, "", 400, codeMalformed},
		{"trailing data", `{"flow":"take-payment","conversation":"1"} {}`, "", 400, codeMalformed},
		{"two objects over the limit", `{"flow":"take-payment","conversation":"1"}` + big, "", 413, codeTooLarge},
		{"not json", `flow=take-payment`, "", 400, codeMalformed},
		{"array", `[]`, "", 400, codeMalformed},
		{"wrong type", `{"flow":7,"conversation":"1"}`, "", 422, "invalid"},
		{"text/plain", `{"flow":"take-payment","conversation":"1"}`, "text/plain", 415, codeMediaType},
		{"json with charset", `{"flow":"take-payment","conversation":"1"}`, "application/json; charset=utf-8", 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			rec := env.do(t, call{method: "POST", path: "/v1/secure-sessions", body: tt.body, contentType: tt.contentType, key: env.all})
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantCode != "" {
				if p := decodeProblem(t, rec.Body.String()); p.Code != tt.wantCode {
					t.Errorf("code = %q", p.Code)
				}
				if len(env.sessions.started) != 0 {
					t.Error("Start called")
				}
			}
			if strings.Contains(rec.Body.String(), "4111111111111111") {
				t.Error("body value echoed")
			}
		})
	}
	t.Run("empty body", func(t *testing.T) {
		env := newEnv(t)
		req := call{method: "POST", path: "/v1/conversations/c/events", key: env.all, header: map[string]string{"Content-Type": "application/json"}}
		if rec := env.do(t, req); rec.Code != 400 {
			t.Errorf("status = %d", rec.Code)
		}
	})
}

func TestRequestIDAndAccessLog(t *testing.T) {
	env := newEnv(t)
	rec := env.do(t, call{method: "GET", path: "/v1/secure-sessions/ss_1?token=QUERYSECRET", key: env.all, header: map[string]string{"X-Request-Id": "req-abc.1"}})
	if rec.Code != 200 || rec.Header().Get("X-Request-Id") != "req-abc.1" {
		t.Fatalf("status %d, request id %q", rec.Code, rec.Header().Get("X-Request-Id"))
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(env.logs.String())), &line); err != nil {
		t.Fatalf("one JSON log line expected: %v: %s", err, env.logs)
	}
	want := map[string]any{"msg": "http request", "request_id": "req-abc.1", "method": "GET", "route": "GET /v1/secure-sessions/{id}", "status": 200.0, "key_id": "allscope"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration"]; !ok {
		t.Error("no duration")
	}
	_, secretPart, _ := splitKey(env.all)
	if logs := env.logs.String(); strings.Contains(logs, "QUERYSECRET") || strings.Contains(logs, secretPart) || strings.Contains(logs, "ss_1") {
		t.Errorf("access log has the query string, the key secret or the path: %s", logs)
	}

	for _, bad := range []string{"", "has space", strings.Repeat("a", 129), "new\nline"} {
		env := newEnv(t)
		rec := env.do(t, call{method: "GET", path: "/v1/nothing", header: map[string]string{"X-Request-Id": bad}})
		got := rec.Header().Get("X-Request-Id")
		if got == bad || !requestIDRE.MatchString(got) {
			t.Errorf("request id for %q = %q, want a generated one", bad, got)
		}
		if !strings.Contains(env.logs.String(), `"route":"unmatched"`) {
			t.Errorf("unmatched route not logged as such: %s", env.logs)
		}
	}
}

type panicSessions struct{ fakeSessions }

func (p *panicSessions) Get(context.Context, string) (Session, error) {
	panic(fmt.Sprintf("boom with %s", "PANICCANARY"))
}

func TestPanicIsA500WithoutItsValue(t *testing.T) {
	env := newEnv(t)
	env.h.sessions = &panicSessions{}
	rec := env.do(t, call{method: "GET", path: "/v1/secure-sessions/ss_1", key: env.all})
	if rec.Code != 500 {
		t.Fatalf("status = %d", rec.Code)
	}
	if p := decodeProblem(t, rec.Body.String()); p.Code != codeInternal {
		t.Errorf("code = %q", p.Code)
	}
	if strings.Contains(rec.Body.String()+env.logs.String(), "PANICCANARY") {
		t.Error("panic value leaked")
	}
	if !strings.Contains(env.logs.String(), `"status":500`) || !strings.Contains(env.logs.String(), "httpapi: panic") {
		t.Errorf("panic not logged: %s", env.logs)
	}
}

func TestErrorAliases(t *testing.T) {
	engineNotFound := errors.New("engine: not found")
	vaultRefused := errors.New("vault: not allowed")
	engineConflict := errors.New("engine: busy")
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
	}{
		{fmt.Errorf("get: %w", engineNotFound), 404, "not_found"},
		{fmt.Errorf("reveal: %w", vaultRefused), 403, "not_allowed"},
		{engineConflict, 409, "conflict"},
		{errors.New("other"), 500, codeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			env := newEnv(t)
			env.h.aliases = []ErrorAlias{
				{From: engineNotFound, To: ErrNotFound},
				{From: vaultRefused, To: &Error{Status: 403, Code: "not_allowed", Message: "The vault refused."}},
				{From: engineConflict, To: ErrConflict},
			}
			env.sessions.getFn = func(string) (Session, error) { return Session{}, tt.err }
			rec := env.do(t, call{method: "GET", path: "/v1/secure-sessions/x", key: env.all})
			if p := decodeProblem(t, rec.Body.String()); rec.Code != tt.wantStatus || p.Code != tt.wantCode {
				t.Errorf("status %d code %q, want %d %q", rec.Code, p.Code, tt.wantStatus, tt.wantCode)
			}
		})
	}
}
