package action

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/emulator/payments"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
)

// canaryCard is a Luhn-valid card number found nowhere else in the tests.
const canaryCard = "4242 4242 4242 4242"

// canaryCVV stands for a card security code; letters keep it from
// matching a number in a log line by chance.
const canaryCVV = "cvv-canary-737"

func exampleCatalog(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/actions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newEmulator(t *testing.T) *payments.Emulator {
	emu := payments.New(payments.Config{Prefix: "/emulator/payments/", Token: "test-bearer-token"})
	t.Cleanup(emu.Close)
	return emu
}

// chargeCall returns a call of payments.charge with the card, expiry and
// CVV tokenized in env's vault.
func chargeCall(env *testEnv, card, key string) Call {
	return Call{
		Inputs: map[string]Arg{
			"card":      {Token: env.vault.put(card)},
			"expiry":    {Token: env.vault.put("12/30")},
			"cvv":       {Secret: secret.FromString(canaryCVV)},
			"amount":    {Public: "49.90"},
			"currency":  {Public: "BRL"},
			"reference": {Public: "A-1001"},
		},
		IdempotencyKey: key, Principal: "flow:take-payment", Purpose: "authorize", Session: "sess-1",
	}
}

func TestInvokeCharge(t *testing.T) {
	emu := newEmulator(t)
	env := newEnv(t, exampleCatalog(t), emu)
	res, err := env.ex.Invoke(context.Background(), "payments.charge", chargeCall(env, canaryCard, "key-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || res.Attempts != 1 || res.Outputs["status"].Public != "approved" ||
		len(res.Outputs["authorization_code"].Public.(string)) != 6 {
		t.Fatalf("result = %+v", res)
	}
	if _, ok := res.Outputs["decline_reason"]; ok {
		t.Error("an output absent from the response is set")
	}
	// The body carries the revealed secrets, typed, and the literals.
	reqs := emu.Requests()
	if len(reqs) != 1 {
		t.Fatalf("emulator got %d requests", len(reqs))
	}
	var body map[string]any
	if err := json.Unmarshal(reqs[0], &body); err != nil {
		t.Fatalf("body %s: %v", reqs[0], err)
	}
	card := body["card"].(map[string]any)
	if card["number"] != canaryCard || card["expiry"] != "12/30" || card["cvc"] != canaryCVV ||
		body["amount"] != "49.90" || body["currency"] != "BRL" || body["reference"] != "A-1001" ||
		body["capture"] != true || body["attempt"] != float64(1) {
		t.Fatalf("body = %s", reqs[0])
	}
	c := emu.Charges()
	if len(c) != 1 || c[0].IdempotencyKey != "key-1" || c[0].Card != "424242******4242" {
		t.Fatalf("charges = %+v", c)
	}
	// Every token was revealed for the call's principal and purpose.
	env.vault.mu.Lock()
	reveals := strings.Join(env.vault.reveals, ";")
	env.vault.mu.Unlock()
	if strings.Count(reveals, "flow:take-payment authorize") != 2 {
		t.Fatalf("reveals = %s", reveals)
	}
	assertAbsent(t, "4242424242424242", map[string]string{"logs": env.logs.String(), "metrics": env.metrics(t)})
	assertAbsent(t, canaryCard, map[string]string{"logs": env.logs.String(), "metrics": env.metrics(t)})
	if !strings.Contains(env.metrics(t), `value:"payments.charge"`) {
		t.Error("no metric for the call")
	}
}

// TestCanaryOnErrors makes an upstream echo the request body back in an
// error response: the canary must reach the upstream and appear in no
// error, log line or metric.
func TestCanaryOnErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		want   error
	}{
		{"server error", 500, ErrUpstream},
		{"client error", 422, ErrUpstream},
		{"ok but not JSON", 200, ErrBadResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Value
			env := newEnv(t, exampleCatalog(t), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				got.Store(string(b))
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte("echo: " + string(b)))
			}))
			res, err := env.ex.Invoke(context.Background(), "payments.charge", chargeCall(env, canaryCard, "k"))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if s, _ := got.Load().(string); !strings.Contains(s, canaryCard) {
				t.Fatalf("the upstream did not get the card: %q", s)
			}
			var ue *UpstreamError
			if tc.want == ErrUpstream && (!errors.As(err, &ue) || ue.Status != tc.status) {
				t.Fatalf("err = %#v, want *UpstreamError with status %d", err, tc.status)
			}
			assertAbsent(t, canaryCard, map[string]string{
				"error": err.Error(), "logs": env.logs.String(), "metrics": env.metrics(t), "result": jsonOf(res),
			})
			assertAbsent(t, canaryCVV, map[string]string{"error": err.Error(), "logs": env.logs.String()})
			assertAbsent(t, "test-bearer-token", map[string]string{"error": err.Error(), "logs": env.logs.String()})
		})
	}
}

func jsonOf(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// TestRetryChargesOnce loses the response of a charge the emulator made:
// the retry carries the same idempotency key and the emulator replays the
// first answer without charging again.
func TestRetryChargesOnce(t *testing.T) {
	emu := newEmulator(t)
	var calls atomic.Int32
	var keys sync.Map
	env := newEnv(t, exampleCatalog(t), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys.Store(r.Header.Get("Idempotency-Key"), true)
		if calls.Add(1) == 1 {
			rec := &discard{header: http.Header{}}
			emu.ServeHTTP(rec, r) // charged, but the answer is lost
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		emu.ServeHTTP(w, r)
	}))
	call := chargeCall(env, canaryCard, "")
	call.IdempotencyKey = "" // the executor makes one, the same for both attempts
	res, err := env.ex.Invoke(context.Background(), "payments.charge", call)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	keys.Range(func(k, _ any) bool { n++; return k.(string) != "" })
	if res.Attempts != 2 || calls.Load() != 2 || n != 1 {
		t.Fatalf("attempts = %d, requests = %d, distinct keys = %d; want 2, 2, 1", res.Attempts, calls.Load(), n)
	}
	if emu.ChargeCount() != 1 || res.Outputs["status"].Public != "approved" {
		t.Fatalf("charges = %d, result %+v", emu.ChargeCount(), res)
	}
}

type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func TestRetryGivesUp(t *testing.T) {
	var calls atomic.Int32
	env := newEnv(t, exampleCatalog(t), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	res, err := env.ex.Invoke(context.Background(), "payments.charge", chargeCall(env, canaryCard, "k"))
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != 429 || !errors.Is(err, ErrUpstream) {
		t.Fatalf("err = %v, want UpstreamError 429", err)
	}
	if calls.Load() != 3 || res.Attempts != 3 {
		t.Fatalf("requests = %d, attempts = %d; want 1 + 2 retries", calls.Load(), res.Attempts)
	}
}

func TestNonIdempotentNeverRetried(t *testing.T) {
	var calls atomic.Int32
	env := newEnv(t, exampleCatalog(t), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	call := Call{Principal: "flow:kyc", Inputs: map[string]Arg{
		"cpf": {Token: env.vault.put("52998224725")}, "birth_date": {Token: env.vault.put("1990-01-31")},
	}}
	res, err := env.ex.Invoke(context.Background(), "identity.verify_cpf", call)
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != 503 {
		t.Fatalf("err = %v", err)
	}
	if calls.Load() != 1 || res.Attempts != 1 {
		t.Fatalf("a non-idempotent action was sent %d times", calls.Load())
	}
}

const upCatalog = `actions:
  up.charge:
    inputs:
      card: {type: string, secret: true, required: true}
      n: {type: int}
      x: {type: double}
      flag: {type: bool}
      pin: {type: int, secret: true}
      note: {type: string}
    outputs:
      status: {type: string}
      count: {type: int}
      pan: {type: string, secret: true, kind: card_number}
      code: {type: string, secret: true, kind: otp}
      other: {type: string, secret: true}
    http:
      url: http://up.test/v1/charge?note=${note}
      headers: {X-Count: "${n}", X-Key: "k=${idempotency_key}"}
      auth: {type: hmac, header: X-Signature, secret: env:HMAC_SECRET}
      body:
        card: "${card}"
        n: ${n}
        x: ${x}
        flag: ${flag}
        pin: ${pin}
        list: ["${n}", "${note}", literal, 2.5, null]
        note: "note: ${note}"
        key: ${idempotency_key}
      response: {status: status, count: result.count, pan: card.pan, code: codes.0, other: other}
      timeout: 300ms
      allow_insecure_http: true
      circuit: {failures: 3, open_for: 1h}
`

func TestBodyTypedAndSigned(t *testing.T) {
	var gotBody []byte
	var gotHeader http.Header
	var gotURL string
	env := newEnv(t, []byte(upCatalog), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		gotHeader, gotURL = r.Header.Clone(), r.URL.String()
		_, _ = w.Write([]byte(`{"status":"ok","result":{"count":7},"card":{"pan":"5555555555554444"},"codes":["123456"],"other":17}`))
	}))
	card := "canary\"card\\</>" // JSON-special characters
	res, err := env.ex.Invoke(context.Background(), "up.charge", Call{
		Principal: "flow:t", Session: "sess-9", IdempotencyKey: "idem-1",
		Inputs: map[string]Arg{
			"card": {Secret: secret.FromString(card)}, "n": {Public: 42}, "x": {Public: "1.5"},
			"flag": {Public: true}, "pin": {Token: env.vault.put("0042")}, "note": {Public: "a b&c/d"},
		},
	})
	if !errors.Is(err, ErrInvalidCall) {
		t.Fatalf("a secret int that is not a JSON number: err = %v, want ErrInvalidCall", err)
	}
	res, err = env.ex.Invoke(context.Background(), "up.charge", Call{
		Principal: "flow:t", Session: "sess-9", IdempotencyKey: "idem-1",
		Inputs: map[string]Arg{
			"card": {Secret: secret.FromString(card)}, "n": {Public: 42}, "x": {Public: "1.5"},
			"flag": {Public: true}, "pin": {Token: env.vault.put("42")}, "note": {Public: "a b&c/d"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(gotBody)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %s: %v", gotBody, err)
	}
	want := `{"card":"canary\"card\\</>","flag":true,"key":"idem-1","list":[42,"a b&c/d","literal",2.5,null],"n":42,"note":"note: a b&c/d","pin":42,"x":1.5}`
	if got := jsonOf(body); got != want {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
	mac := hmac.New(sha256.New, []byte("hmac-key-0123456789"))
	mac.Write(gotBody)
	if gotHeader.Get("X-Signature") != hex.EncodeToString(mac.Sum(nil)) {
		t.Error("X-Signature is not hex HMAC-SHA256 of the body")
	}
	if gotHeader.Get("X-Count") != "42" || gotHeader.Get("X-Key") != "k=idem-1" || gotHeader.Get("Idempotency-Key") != "idem-1" ||
		gotHeader.Get("Content-Type") != "application/json" || gotHeader.Get("Authorization") != "" {
		t.Errorf("headers = %v", gotHeader)
	}
	if gotURL != "/v1/charge?note=a+b%26c%2Fd" {
		t.Errorf("url = %s", gotURL)
	}
	// Secret outputs are tokenized at once, with their kinds, in the
	// session; public ones typed.
	if res.Outputs["status"].Public != "ok" || res.Outputs["count"].Public != int64(7) {
		t.Fatalf("outputs = %+v", res.Outputs)
	}
	for out, want := range map[string]struct {
		kind  vault.Kind
		value string
	}{"pan": {vault.KindCard, "5555555555554444"}, "code": {vault.KindPIN, "123456"}, "other": {"secret", "17"}} {
		o := res.Outputs[out]
		if o.Token == "" || o.Public != nil {
			t.Errorf("secret output %s = %+v, want a token only", out, o)
			continue
		}
		env.vault.mu.Lock()
		kind, opts := env.vault.kinds[o.Token], env.vault.opts[o.Token]
		env.vault.mu.Unlock()
		if kind != want.kind || env.vault.value(o.Token) != want.value || opts.Retention != vault.RetainSession ||
			opts.Session != "sess-9" || opts.Principal != "flow:t" {
			t.Errorf("output %s tokenized as kind %s, %+v", out, kind, opts)
		}
	}
	assertAbsent(t, "5555555555554444", map[string]string{"result": jsonOf(res), "logs": env.logs.String()})
	assertAbsent(t, "canary", map[string]string{"logs": env.logs.String(), "metrics": env.metrics(t)})
}

func TestTimeout(t *testing.T) {
	emu := newEmulator(t)
	src := strings.ReplaceAll(string(exampleCatalog(t)), "timeout: 2s\n      idempotent: true\n      retries: 2\n", "timeout: 200ms\n")
	env := newEnv(t, []byte(src), emu)
	emu.SetNext(payments.OutcomeTimeout)
	start := time.Now()
	res, err := env.ex.Invoke(context.Background(), "payments.charge", chargeCall(env, canaryCard, "k"))
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 3*time.Second || res.Attempts != 1 {
		t.Fatalf("took %s and %d attempts", d, res.Attempts)
	}
	if emu.ChargeCount() != 0 {
		t.Fatal("a timed-out charge was recorded")
	}
	assertAbsent(t, canaryCard, map[string]string{"error": err.Error(), "logs": env.logs.String()})
}

func TestCallerCanceled(t *testing.T) {
	emu := newEmulator(t)
	env := newEnv(t, exampleCatalog(t), emu)
	emu.SetNext(payments.OutcomeTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := env.ex.Invoke(ctx, "payments.charge", chargeCall(env, canaryCard, "k"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestCircuitOpens(t *testing.T) {
	var calls atomic.Int32
	env := newEnv(t, []byte(upCatalog), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	call := func() error {
		_, err := env.ex.Invoke(context.Background(), "up.charge", Call{Principal: "flow:t", Inputs: map[string]Arg{
			"card": {Token: env.vault.put(canaryCard)},
		}})
		return err
	}
	for i := range 3 {
		if err := call(); !errors.Is(err, ErrUpstream) {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	reveals := env.vault.revealCount()
	err := call()
	if !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("after 3 failures: %v, want ErrCircuitOpen", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("upstream called %d times, want 3", calls.Load())
	}
	if env.vault.revealCount() != reveals {
		t.Fatal("a token was revealed for a call the open circuit refused")
	}
	if m := env.metrics(t); !strings.Contains(m, `value:"circuit_open"`) {
		t.Errorf("no circuit_open outcome in the metrics:\n%s", m)
	}
}

// TestCircuitHalfOpens uses a short open period: after it, one call goes
// through and, succeeding, closes the circuit.
func TestCircuitHalfOpens(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	src := strings.Replace(upCatalog, "open_for: 1h", "open_for: 100ms", 1)
	env := newEnv(t, []byte(src), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	}))
	call := func() error {
		_, err := env.ex.Invoke(context.Background(), "up.charge", Call{Principal: "flow:t", Inputs: map[string]Arg{
			"card": {Secret: secret.FromString(canaryCard)},
		}})
		return err
	}
	for range 3 {
		_ = call()
	}
	if err := call(); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("err = %v, want ErrCircuitOpen", err)
	}
	fail.Store(false)
	time.Sleep(150 * time.Millisecond)
	if err := call(); err != nil {
		t.Fatalf("half-open call: %v", err)
	}
	if err := call(); err != nil {
		t.Fatalf("closed again: %v", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var followed atomic.Bool
	env := newEnv(t, []byte(upCatalog), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			followed.Store(true)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	_, err := env.ex.Invoke(context.Background(), "up.charge", Call{Principal: "flow:t", Inputs: map[string]Arg{
		"card": {Secret: secret.FromString(canaryCard)},
	}})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Status != http.StatusTemporaryRedirect || followed.Load() {
		t.Fatalf("err = %v, followed = %v: a redirect must not carry the body elsewhere", err, followed.Load())
	}
}

func TestInvalidCalls(t *testing.T) {
	env := newEnv(t, []byte(upCatalog), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("an invalid call reached the upstream")
	}))
	card := Arg{Secret: secret.FromString(canaryCard)}
	for _, tc := range []struct {
		name   string
		action string
		call   Call
		want   error
		msg    string
	}{
		{"unknown action", "nope", Call{Principal: "p"}, ErrUnknownAction, `action "nope": action: unknown action`},
		{"no principal", "up.charge", Call{Inputs: map[string]Arg{"card": card}}, ErrInvalidCall, "action up.charge: no principal: action: invalid call"},
		{"missing input", "up.charge", Call{Principal: "p"}, ErrInvalidCall, "action up.charge: missing required input card: action: invalid call"},
		{"unknown input", "up.charge", Call{Principal: "p", Inputs: map[string]Arg{"card": card, "zzz": {Public: "v"}}}, ErrInvalidCall, "action up.charge: unknown input zzz: action: invalid call"},
		{"secret as public", "up.charge", Call{Principal: "p", Inputs: map[string]Arg{"card": {Public: canaryCard}}}, ErrInvalidCall, "action up.charge: secret input card passed as a public value: action: invalid call"},
		{"public as secret", "up.charge", Call{Principal: "p", Inputs: map[string]Arg{"card": card, "note": {Secret: secret.FromString("x")}}}, ErrInvalidCall, "action up.charge: public input note passed as a secret: action: invalid call"},
		{"two values", "up.charge", Call{Principal: "p", Inputs: map[string]Arg{"card": {Token: "tok", Secret: secret.FromString(canaryCard)}}}, ErrInvalidCall, "action up.charge: input card: set exactly one of Public, Token and Secret: action: invalid call"},
		{"wrong type", "up.charge", Call{Principal: "p", Inputs: map[string]Arg{"card": card, "n": {Public: "4242 4242"}}}, ErrInvalidCall, "action up.charge: input n: not a int: action: invalid call"},
		{"unknown token", "up.charge", Call{Principal: "p", Inputs: map[string]Arg{"card": {Token: canaryCard}}}, vault.ErrNotFound, "action up.charge: input card: reveal: vault: token not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.ex.Invoke(context.Background(), tc.action, tc.call)
			if !errors.Is(err, tc.want) || err.Error() != tc.msg {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
			assertAbsent(t, canaryCard, map[string]string{"error": err.Error(), "logs": env.logs.String()})
		})
	}
}

func TestRevealDenied(t *testing.T) {
	env := newEnv(t, []byte(upCatalog), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a denied call reached the upstream")
	}))
	env.vault.deny = true
	_, err := env.ex.Invoke(context.Background(), "up.charge", Call{Principal: "flow:x", Inputs: map[string]Arg{"card": {Token: env.vault.put(canaryCard)}}})
	if !errors.Is(err, ErrNotAllowed) || !errors.Is(err, vault.ErrDenied) {
		t.Fatalf("err = %v, want ErrNotAllowed wrapping vault.ErrDenied", err)
	}
}

func TestInvokeWithTokens(t *testing.T) {
	emu := newEmulator(t)
	env := newEnv(t, exampleCatalog(t), emu)
	const canaryPassword = "canary-Pa55word!"
	for _, tc := range []struct {
		password string
		want     string
	}{
		{canaryPassword, `{"changed":true}`},
		{"short", `{"changed":false,"rejection_reason":"too_short"}`},
	} {
		out, err := env.ex.InvokeWithTokens(context.Background(), "accounts.set_password",
			map[string]string{"account_id": "acc/42", "password": env.vault.put(tc.password)}, "", "genesys:data-action")
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonOf(out); got != tc.want {
			t.Errorf("InvokeWithTokens = %s, want %s", got, tc.want)
		}
	}
	// The secret reached the emulator, in the body, and nothing else.
	reqs := emu.Requests()
	if len(reqs) != 2 || !strings.Contains(string(reqs[0]), canaryPassword) {
		t.Fatalf("emulator requests = %q", reqs)
	}
	assertAbsent(t, canaryPassword, map[string]string{"logs": env.logs.String(), "metrics": env.metrics(t)})
	env.vault.mu.Lock()
	if !strings.HasSuffix(env.vault.reveals[0], " genesys:data-action accounts.set_password") {
		t.Errorf("reveal = %q, want the principal and the action as purpose", env.vault.reveals[0])
	}
	env.vault.mu.Unlock()

	// CPF: a secret output comes back as a token.
	out, err := env.ex.InvokeWithTokens(context.Background(), "identity.verify_cpf",
		map[string]string{"cpf": env.vault.put("529.982.247-25"), "birth_date": env.vault.put("1990-01-31")}, "", "genesys:data-action")
	if err != nil || out["verified"] != true || !strings.HasPrefix(out["customer_id"].(string), "C-") {
		t.Fatalf("verify_cpf = %v, %v", out, err)
	}
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		want   error
	}{
		{"unknown action", nil, ErrUnknownAction},
		{"unknown input", map[string]string{"account_id": "a", "password": "tok", "x": "y"}, ErrInvalidCall},
		{"empty token", map[string]string{"account_id": "a", "password": ""}, ErrInvalidCall},
		{"not a token", map[string]string{"account_id": "a", "password": canaryPassword}, vault.ErrNotFound},
	} {
		name := "accounts.set_password"
		if tc.inputs == nil {
			name = "accounts.nope"
		}
		_, err := env.ex.InvokeWithTokens(context.Background(), name, tc.inputs, "", "genesys:data-action")
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		} else {
			assertAbsent(t, canaryPassword, map[string]string{tc.name + " error": err.Error()})
		}
	}
	assertAbsent(t, canaryPassword, map[string]string{"logs": env.logs.String()})
}

func TestWriteJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\"back\\slash", "ctl\x00\x01\x1f\n\r\t", "<>&", "é✓😀", "\u2028\u2029", "bad\xff\xfeutf8"} {
		var b strings.Builder
		var buf = new(bytesBuffer)
		writeJSONString(&buf.Buffer, []byte(s))
		b.Write(buf.Bytes())
		want, _ := json.Marshal(s)
		if b.String() != string(want) {
			t.Errorf("writeJSONString(%q) = %s, want %s", s, b.String(), want)
		}
	}
}

func TestSealedBodyClear(t *testing.T) {
	raw := []byte(`{"card":"` + canaryCard + `"}`)
	s := &sealedBody{b: raw}
	r := s.reader()
	head := make([]byte, 4)
	if n, err := r.Read(head); n != 4 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	s.clear()
	for i, c := range raw {
		if c != 0 {
			t.Fatalf("byte %d not cleared", i)
		}
	}
	if _, err := r.Read(head); !errors.Is(err, errBodyCleared) {
		t.Fatalf("Read after clear = %v, want errBodyCleared", err)
	}
}

func TestCallLogged(t *testing.T) {
	emu := newEmulator(t)
	env := newEnv(t, exampleCatalog(t), emu)
	if _, err := env.ex.Invoke(context.Background(), "payments.charge", chargeCall(env, "4000 0000 0000 0002", "k")); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(env.logs.String()), &line); err != nil {
		t.Fatalf("log %q: %v", env.logs.String(), err)
	}
	if line["action"] != "payments.charge" || line["outcome"] != "ok" || line["status"] != float64(200) ||
		line["attempts"] != float64(1) || line["principal"] != "flow:take-payment" {
		t.Fatalf("log line = %v", line)
	}
	assertAbsent(t, "4000 0000 0000 0002", map[string]string{"logs": env.logs.String()})
	assertAbsent(t, "4000000000000002", map[string]string{"logs": env.logs.String()})
}
