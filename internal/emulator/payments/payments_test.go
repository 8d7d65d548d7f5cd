package payments

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const prefix = "/emulator/payments/"

func do(t *testing.T, h http.Handler, method, path, token, key, body string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, w.Body, err)
		}
	}
	return w.Code, out
}

func chargeBody(card string) string {
	return `{"card":{"number":"` + card + `","expiry":"12/30","cvc":"123"},"amount":"10.00","currency":"BRL","reference":"R1"}`
}

func TestCharge(t *testing.T) {
	for _, tc := range []struct {
		name, card, token string
		status            int
		want              string // status field
		reason            string
	}{
		{"approved", "4111 1111 1111 1111", "tok", 200, "approved", ""},
		{"test card declined", "4000000000000002", "tok", 200, "declined", "insufficient_funds"},
		{"luhn invalid", "4111111111111112", "tok", 402, "declined", "invalid_card"},
		{"too short", "42", "tok", 402, "declined", "invalid_card"},
		{"letters", "4111-1111-1111-111x", "tok", 402, "declined", "invalid_card"},
		{"no token", "4111111111111111", "", 401, "", ""},
		{"wrong token", "4111111111111111", "nope", 401, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{Prefix: prefix, Token: "tok"})
			code, out := do(t, e, "POST", prefix+"v1/charges", tc.token, "", chargeBody(tc.card))
			if code != tc.status {
				t.Fatalf("status = %d, want %d (%v)", code, tc.status, out)
			}
			if tc.want == "" {
				return
			}
			if out["status"] != tc.want || (tc.reason != "" && out["decline_reason"] != tc.reason) {
				t.Fatalf("response = %v", out)
			}
			if tc.want == "approved" {
				code, _ := out["authorization"].(map[string]any)["code"].(string)
				if len(code) != 6 || out["id"] != "ch_1" {
					t.Fatalf("response = %v", out)
				}
			}
		})
	}
	e := New(Config{Prefix: prefix})
	if code, _ := do(t, e, "POST", prefix+"v1/charges", "", "", `{"card":{}}`); code != 400 {
		t.Errorf("malformed charge: %d, want 400", code)
	}
}

func TestIdempotency(t *testing.T) {
	e := New(Config{Prefix: prefix})
	_, first := do(t, e, "POST", prefix+"v1/charges", "", "k1", chargeBody("4111111111111111"))
	_, again := do(t, e, "POST", prefix+"v1/charges", "", "k1", chargeBody("4111111111111111"))
	if first["id"] != again["id"] || first["authorization"].(map[string]any)["code"] != again["authorization"].(map[string]any)["code"] {
		t.Fatalf("replay %v differs from %v", again, first)
	}
	if e.ChargeCount() != 1 {
		t.Fatalf("charged %d times for one key", e.ChargeCount())
	}
	do(t, e, "POST", prefix+"v1/charges", "", "k2", chargeBody("4111111111111111"))
	do(t, e, "POST", prefix+"v1/charges", "", "", chargeBody("4111111111111111"))
	do(t, e, "POST", prefix+"v1/charges", "", "", chargeBody("4111111111111111"))
	if e.ChargeCount() != 4 {
		t.Fatalf("charges = %d, want 4", e.ChargeCount())
	}
	if len(e.Requests()) != 5 {
		t.Fatalf("requests = %d, want 5", len(e.Requests()))
	}
}

func TestNextOutcome(t *testing.T) {
	e := New(Config{Prefix: prefix})
	defer e.Close()
	set := func(o string) int {
		code, _ := do(t, e, "PUT", prefix+"next", "", "", `{"outcome":"`+o+`"}`)
		return code
	}
	if set("explode") != 400 {
		t.Fatal("an unknown outcome was accepted")
	}
	if set("decline") != 204 {
		t.Fatal("set decline")
	}
	if _, out := do(t, e, "POST", prefix+"v1/charges", "", "", chargeBody("4111111111111111")); out["decline_reason"] != "do_not_honor" {
		t.Fatalf("forced decline: %v", out)
	}
	set("approve")
	if _, out := do(t, e, "POST", prefix+"v1/charges", "", "", chargeBody("4000000000000002")); out["status"] != "approved" {
		t.Fatalf("forced approval: %v", out)
	}
	set("error")
	if code, _ := do(t, e, "POST", prefix+"v1/charges", "", "k", chargeBody("4111111111111111")); code != 500 {
		t.Fatalf("forced error: %d", code)
	}
	// The outcome applied once; the key of the failed request is free.
	if code, out := do(t, e, "POST", prefix+"v1/charges", "", "k", chargeBody("4111111111111111")); code != 200 || out["status"] != "approved" {
		t.Fatalf("after the error: %d %v", code, out)
	}

	set("timeout")
	srv := httptest.NewServer(e)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+prefix+"v1/charges", strings.NewReader(chargeBody("4111111111111111")))
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("a timed-out charge answered")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("the client's deadline did not release the request")
	}
	// Close releases a held request.
	set("timeout")
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Post(srv.URL+prefix+"v1/charges", "application/json", strings.NewReader(chargeBody("4111111111111111")))
		if err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(50 * time.Millisecond)
	e.Close()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not release the held request")
	}
	if e.ChargeCount() != 3 {
		t.Fatalf("charges = %d, want 3 (no timeout or error recorded)", e.ChargeCount())
	}
}

func TestChargesListMasked(t *testing.T) {
	e := New(Config{Prefix: prefix})
	const card = "4242424242424242"
	do(t, e, "POST", prefix+"v1/charges", "", "", chargeBody(card))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest("GET", prefix+"charges", nil))
	body, _ := io.ReadAll(w.Body)
	if strings.Contains(string(body), card) || !strings.Contains(string(body), `"card":"424242******4242"`) || strings.Contains(string(body), `"123"`) {
		t.Fatalf("GET charges = %s", body)
	}
	if !strings.Contains(string(e.Requests()[0]), card) {
		t.Fatal("Requests() lost the raw body")
	}
	if code, _ := do(t, e, "POST", prefix+"reset", "", "", ""); code != 204 || e.ChargeCount() != 0 || len(e.Requests()) != 0 {
		t.Fatal("reset did not forget")
	}
}

func TestVerifyCPF(t *testing.T) {
	e := New(Config{Prefix: "emulator/payments"}) // prefix normalized
	for _, tc := range []struct {
		body string
		want string
	}{
		{`{"cpf":"529.982.247-25","birth_date":"1990-01-31"}`, `{"customer_id":"C-0001","verified":true}`},
		{`{"cpf":"52998224725","birth_date":"1990-01-31"}`, `{"customer_id":"C-0001","verified":true}`},
		{`{"cpf":"111.444.777-35","birth_date":"1980-12-01"}`, `{"customer_id":"C-0002","verified":true}`},
		{`{"cpf":"529.982.247-24","birth_date":"1990-01-31"}`, `{"verified":false}`},
		{`{"cpf":"111.111.111-11","birth_date":"1990-01-31"}`, `{"verified":false}`},
		{`{"cpf":"529.982.247-25","birth_date":"31/01/1990"}`, `{"verified":false}`},
	} {
		code, out := do(t, e, "POST", prefix+"v1/cpf/verify", "", "", tc.body)
		b, _ := json.Marshal(out)
		if code != 200 || string(b) != tc.want {
			t.Errorf("verify %s = %d %s, want %s", tc.body, code, b, tc.want)
		}
	}
}

func TestSetPassword(t *testing.T) {
	e := New(Config{Prefix: prefix, Token: "tok"})
	for _, tc := range []struct {
		password, want string
	}{
		{"long-enough", `{"changed":true}`},
		{"12345678", `{"changed":true}`},
		{"1234567", `{"changed":false,"rejection_reason":"too_short"}`},
	} {
		code, out := do(t, e, "POST", prefix+"v1/accounts/acc-1/password", "tok", "", `{"password":"`+tc.password+`"}`)
		b, _ := json.Marshal(out)
		if code != 200 || string(b) != tc.want {
			t.Errorf("password %q: %d %s, want %s", tc.password, code, b, tc.want)
		}
	}
}

func TestLuhnAndMask(t *testing.T) {
	for _, tc := range []struct {
		digits string
		valid  bool
	}{
		{"4111111111111111", true}, {"4242424242424242", true}, {"5555555555554444", true},
		{"4111111111111112", false}, {"0", false}, {"79927398713", true},
	} {
		if luhn(tc.digits) != tc.valid {
			t.Errorf("luhn(%s) = %v", tc.digits, !tc.valid)
		}
	}
	if m := mask("4111111111111111"); m != "411111******1111" {
		t.Errorf("mask = %s", m)
	}
	if m := mask("123"); m != "***" {
		t.Errorf("mask short = %s", m)
	}
}

func TestOTPRoundTrip(t *testing.T) {
	e := New(Config{})
	post := func(path, body string) map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, strings.NewReader(body)))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := post("/v1/accounts/AC-1/otp", "{}"); got["destination_hint"] == "" {
		t.Fatalf("no destination hint: %v", got)
	}
	code := e.OTP("AC-1")
	if len(code) != 6 {
		t.Fatalf("OTP = %q", code)
	}
	if got := post("/v1/accounts/AC-1/otp/verify", `{"code":"000000x"}`); got["valid"] != false {
		t.Fatalf("a wrong code was accepted: %v", got)
	}
	if got := post("/v1/accounts/AC-1/otp/verify", `{"code":"`+code+`"}`); got["valid"] != true {
		t.Fatalf("the right code was refused: %v", got)
	}
	if got := post("/v1/accounts/AC-1/otp/verify", `{"code":"`+code+`"}`); got["valid"] != false {
		t.Fatalf("a code was accepted twice: %v", got)
	}
}
