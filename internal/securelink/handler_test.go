package securelink_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/securelink"
)

func TestIssueStoresOnlyHash(t *testing.T) {
	e := newEnv(t, nil, nil)
	u, exp, err := e.svc.Issue(context.Background(), securelink.IssueRequest{
		Session: testSession, Step: testStep, Locale: "pt", Fields: cardFields(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, ok := strings.CutPrefix(u, testBaseURL+"/s/")
	if !ok {
		t.Fatalf("url %q", u)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(raw) != 32 || strings.ContainsAny(tok, "=+/") {
		t.Fatalf("token %q: %d bytes, %v; want 32 bytes base64url without padding", tok, len(raw), err)
	}
	if !exp.Equal(t0.Add(5 * time.Minute)) {
		t.Errorf("expires %v, want issue + 5m", exp)
	}
	h := sha256.Sum256(raw)
	l, err := e.store.LinkByHash(context.Background(), h[:])
	if err != nil {
		t.Fatalf("link not stored under SHA-256 of the token: %v", err)
	}
	if l.Session != testSession || l.Step != testStep || l.Locale != "pt-BR" || len(l.Fields) != 3 {
		t.Errorf("stored link %+v", l)
	}
	if strings.Contains(e.logs.String(), tok) {
		t.Error("token logged")
	}
	// Two links never share a token.
	u2, _, err := e.svc.Issue(context.Background(), securelink.IssueRequest{Session: testSession, Step: testStep, Fields: cardFields()})
	if err != nil || u2 == u {
		t.Errorf("second link %q, %v", u2, err)
	}
}

func TestIssueRejects(t *testing.T) {
	e := newEnv(t, nil, nil)
	for name, req := range map[string]securelink.IssueRequest{
		"no session":    {Step: "s", Fields: cardFields()},
		"no step":       {Session: "s", Fields: cardFields()},
		"no fields":     {Session: "s", Step: "s"},
		"secret type":   {Session: "s", Step: "s", Fields: []*flow.Field{{Var: "x", Type: flow.InputSecret}}},
		"unknown type":  {Session: "s", Step: "s", Fields: []*flow.Field{{Var: "x", Type: "bogus"}}},
		"duplicate var": {Session: "s", Step: "s", Fields: []*flow.Field{{Var: "x", Type: flow.InputCVV}, {Var: "x", Type: flow.InputCPF}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := e.svc.Issue(context.Background(), req); !errors.Is(err, securelink.ErrInvalidRequest) {
				t.Errorf("Issue: %v, want ErrInvalidRequest", err)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	ok := securelink.Config{BaseURL: testBaseURL, CSRFKey: []byte(csrfKeyBytes)}
	for name, mod := range map[string]func(*securelink.Config){
		"relative base": func(c *securelink.Config) { c.BaseURL = "/pay" },
		"ftp base":      func(c *securelink.Config) { c.BaseURL = "ftp://x" },
		"short key":     func(c *securelink.Config) { c.CSRFKey = []byte("short") },
		"negative ttl":  func(c *securelink.Config) { c.OpenedTTL = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			c := ok
			mod(&c)
			if _, err := securelink.New(c, &nopStore{}, &sink{}); !errors.Is(err, securelink.ErrInvalidConfig) {
				t.Errorf("New: %v, want ErrInvalidConfig", err)
			}
		})
	}
}

type nopStore struct{ securelink.Store }

var nonceRE = regexp.MustCompile(`<(style|script) nonce="([^"]+)">`)

func TestHeadersAndPage(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	bad := "/s/" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	nonces := map[string]bool{}
	for _, tc := range []struct {
		name string
		path string
		code int
	}{
		{"form", p, http.StatusOK},
		{"form again", p, http.StatusOK},
		{"not found", bad, http.StatusNotFound},
		{"malformed", "/s/abc", http.StatusNotFound},
		{"other path", "/x", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(tc.path)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d", r.code, tc.code)
			}
			m := nonceRE.FindAllStringSubmatch(r.body, -1)
			if len(m) == 0 {
				t.Fatal("no nonce-carrying style or script")
			}
			nonce := m[0][2]
			for _, x := range m {
				if x[2] != nonce {
					t.Errorf("%s nonce %q differs from %q", x[1], x[2], nonce)
				}
			}
			if nonces[nonce] {
				t.Errorf("nonce %q reused across responses", nonce)
			}
			nonces[nonce] = true
			want := map[string]string{
				"Content-Security-Policy": "default-src 'none'; style-src 'nonce-" + nonce + "'; script-src 'nonce-" + nonce +
					"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
				"Referrer-Policy":        "no-referrer",
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Content-Type":           "text/html; charset=utf-8",
			}
			for k, v := range want {
				if got := r.hdr.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			// No external resource, no URL at all.
			for _, s := range []string{"http://", "https://", "//", "src=", "href=", "<iframe", "<link", "@import", "url("} {
				if strings.Contains(r.body, s) {
					t.Errorf("page contains %q", s)
				}
			}
			// Every style and script element carries the nonce.
			if strings.Count(r.body, "<style") != strings.Count(r.body, "<style nonce=") ||
				strings.Count(r.body, "<script") != strings.Count(r.body, "<script nonce=") {
				t.Error("a style or script element without the nonce")
			}
			for _, s := range []string{`<html lang="en">`, `name="viewport"`, "<!doctype html>"} {
				if !strings.Contains(r.body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
		})
	}
}

// inputRE matches one input element.
var inputRE = regexp.MustCompile(`<input id="([^"]+)"[^>]*>`)

func TestFormInputs(t *testing.T) {
	e := newEnv(t, nil, nil)
	pat, err := flow.ParseTemplate("Nome no cartão")
	if err != nil {
		t.Fatal(err)
	}
	fields := append(cardFields(),
		&flow.Field{Var: "holder_name", Type: flow.InputText, Label: flow.Text{Localized: map[string]*flow.Template{"pt-BR": pat}}},
		&flow.Field{Var: "birth", Type: flow.InputDate},
		&flow.Field{Var: "otp", Type: flow.InputOTP},
		&flow.Field{Var: "new_password", Type: flow.InputPassword},
		&flow.Field{Var: "password", Type: flow.InputPassword},
		&flow.Field{Var: "cpf", Type: flow.InputCPF},
	)
	r := e.get(e.issue("pt-BR", fields))
	inputs := map[string]string{}
	for _, m := range inputRE.FindAllStringSubmatch(r.body, -1) {
		inputs[m[1]] = m[0]
	}
	for _, tc := range []struct {
		id   string
		want []string
	}{
		{"f-card", []string{`autocomplete="cc-number"`, `inputmode="numeric"`, `type="text"`}},
		{"f-expiry", []string{`autocomplete="cc-exp"`, `inputmode="numeric"`}},
		{"f-cvv", []string{`autocomplete="cc-csc"`, `inputmode="numeric"`}},
		{"f-holder_name", []string{`autocomplete="cc-name"`}},
		{"f-birth", []string{`autocomplete="bday"`}},
		{"f-otp", []string{`autocomplete="one-time-code"`, `inputmode="numeric"`}},
		{"f-new_password", []string{`autocomplete="new-password"`, `type="password"`}},
		{"f-password", []string{`autocomplete="current-password"`, `type="password"`}},
		{"f-cpf", []string{`inputmode="numeric"`}},
	} {
		in, ok := inputs[tc.id]
		if !ok {
			t.Errorf("no input %s", tc.id)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(in, w) {
				t.Errorf("%s lacks %s: %s", tc.id, w, in)
			}
		}
		if !strings.Contains(r.body, `<label for="`+tc.id+`">`) {
			t.Errorf("no label bound to %s", tc.id)
		}
	}
	for _, s := range []string{`<html lang="pt-BR">`, "Formulário seguro", "Número do cartão", "Nome no cartão", "Enviar com segurança"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("pt-BR page lacks %q", s)
		}
	}
}

func TestLocalizedPages(t *testing.T) {
	for _, tc := range []struct {
		locale                  string
		lang, form, gone, label string
	}{
		{"en", "en", "Secure form", "This link is no longer valid", "Card number"},
		{"pt-BR", "pt-BR", "Formulário seguro", "Este link não é mais válido", "Número do cartão"},
		{"pt_br", "pt-BR", "Formulário seguro", "Este link não é mais válido", "Número do cartão"},
		{"es", "es", "Formulario seguro", "Este enlace ya no es válido", "Número de tarjeta"},
		{"fr", "en", "Secure form", "This link is no longer valid", "Card number"},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			e := newEnv(t, nil, nil)
			p := e.issue(tc.locale, cardFields())
			r := e.get(p)
			for _, s := range []string{`lang="` + tc.lang + `"`, tc.form, tc.label} {
				if !strings.Contains(r.body, s) {
					t.Errorf("form lacks %q", s)
				}
			}
			e.clock.Advance(time.Hour)
			r = e.get(p)
			if r.code != http.StatusGone || !strings.Contains(r.body, tc.gone) || !strings.Contains(r.body, `lang="`+tc.lang+`"`) {
				t.Errorf("gone page %d lacks %q", r.code, tc.gone)
			}
		})
	}
	t.Run("not found from Accept-Language", func(t *testing.T) {
		e := newEnv(t, nil, nil)
		req := httptest.NewRequest(http.MethodGet, "/s/nope", nil)
		req.Header.Set("Accept-Language", "pt-BR,pt;q=0.9,en;q=0.5")
		r := e.do(req)
		if r.code != http.StatusNotFound || !strings.Contains(r.body, "Link não encontrado") {
			t.Errorf("%d %s", r.code, r.body)
		}
	})
}

func TestSubmitAndReuse(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	csrf := e.csrf(p)
	r := e.post(p, cardForm(csrf, "4012 8888 8888 1881", validExpiry, validCVV))
	if r.code != http.StatusOK || !strings.Contains(r.body, "Received ✓") || !strings.Contains(r.body, "You can return to WhatsApp") {
		t.Fatalf("submit: %d\n%s", r.code, r.body)
	}
	mask, _ := flow.ApplyFilter(flow.InputCardNumber, flow.FilterMask, canaryCard)
	if !strings.Contains(r.body, mask) {
		t.Errorf("confirmation lacks the mask %q", mask)
	}
	subs := e.sink.submissions()
	if len(subs) != 1 {
		t.Fatalf("%d submissions", len(subs))
	}
	s := subs[0]
	if s.Session != testSession || s.Step != testStep || s.LinkID != linkIDOf(t, p) || len(s.Values) != 3 {
		t.Errorf("submission %+v", s)
	}
	if ids := e.sink.linkIDs(); len(ids) != 1 || ids[0] != s.LinkID {
		t.Errorf("Submitted context link ids %q, want [%s]", ids, s.LinkID)
	}
	for i, want := range []struct {
		v    string
		t    flow.InputType
		size int
	}{{"card", flow.InputCardNumber, 16}, {"expiry", flow.InputCardExpiry, 5}, {"cvv", flow.InputCVV, 3}} {
		if got := s.Values[i]; got.Var != want.v || got.Type != want.t || got.Secret.Len() != want.size || got.Masked == "" {
			t.Errorf("value %d: %s %s len %d mask %q", i, got.Var, got.Type, got.Secret.Len(), got.Masked)
		}
	}
	// Reuse: GET and POST are gone.
	if r := e.get(p); r.code != http.StatusGone {
		t.Errorf("GET after use: %d", r.code)
	}
	if r := e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV)); r.code != http.StatusGone {
		t.Errorf("POST after use: %d", r.code)
	}
	if n := len(e.sink.submissions()); n != 1 {
		t.Errorf("sink called %d times", n)
	}
}

func TestExpiry(t *testing.T) {
	t.Run("unopened", func(t *testing.T) {
		e := newEnv(t, nil, nil)
		p := e.issue("en", cardFields())
		e.clock.Advance(5*time.Minute - time.Millisecond)
		if r := e.get(p); r.code != http.StatusOK {
			t.Fatalf("before expiry: %d", r.code)
		}
		e2 := newEnv(t, nil, nil)
		p2 := e2.issue("en", cardFields())
		e2.clock.Advance(5 * time.Minute)
		if r := e2.get(p2); r.code != http.StatusGone {
			t.Errorf("unopened after 5m: %d", r.code)
		}
	})
	t.Run("opened", func(t *testing.T) {
		e := newEnv(t, nil, nil)
		p := e.issue("en", cardFields())
		e.clock.Advance(4 * time.Minute)
		csrf := e.csrf(p) // first opening at t0+4m: expires t0+19m
		e.clock.Advance(10 * time.Minute)
		if r := e.get(p); r.code != http.StatusOK {
			t.Fatalf("opened link at t0+14m: %d", r.code)
		}
		e.clock.Advance(5 * time.Minute)
		if r := e.get(p); r.code != http.StatusGone {
			t.Errorf("GET at t0+19m: %d", r.code)
		}
		if r := e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV)); r.code != http.StatusGone {
			t.Errorf("POST at t0+19m: %d", r.code)
		}
		if len(e.sink.submissions()) != 0 {
			t.Error("expired submission reached the sink")
		}
	})
	t.Run("configurable", func(t *testing.T) {
		e := newEnv(t, nil, func(c *securelink.Config) { c.UnopenedTTL, c.OpenedTTL = time.Minute, 2*time.Minute })
		p := e.issue("en", cardFields())
		e.csrf(p)
		e.clock.Advance(2 * time.Minute)
		if r := e.get(p); r.code != http.StatusGone {
			t.Errorf("after OpenedTTL: %d", r.code)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		e := newEnv(t, nil, nil)
		p := e.issue("en", cardFields())
		if err := e.svc.Revoke(context.Background(), testSession); err != nil {
			t.Fatal(err)
		}
		if r := e.get(p); r.code != http.StatusGone {
			t.Errorf("revoked: %d", r.code)
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		e := newEnv(t, nil, func(c *securelink.Config) { c.IPBurst, c.IPRate = 3, 0.001 })
		codes := []int{}
		for range 4 {
			codes = append(codes, e.get("/s/unknown").code)
		}
		if codes[2] != http.StatusNotFound || codes[3] != http.StatusTooManyRequests {
			t.Errorf("codes %v, want 3×404 then 429", codes)
		}
		// Another IP is not limited.
		req := httptest.NewRequest(http.MethodGet, "/s/unknown", nil)
		req.RemoteAddr = "198.51.100.7:1234"
		if r := e.do(req); r.code != http.StatusNotFound {
			t.Errorf("other IP: %d", r.code)
		}
		// Time refills the bucket.
		e.clock.Advance(time.Hour)
		if r := e.get("/s/unknown"); r.code != http.StatusNotFound {
			t.Errorf("after refill: %d", r.code)
		}
	})
	t.Run("per token", func(t *testing.T) {
		e := newEnv(t, nil, func(c *securelink.Config) { c.TokenBurst, c.TokenRate = 2, 0.001 })
		p := e.issue("en", cardFields())
		for i := range 3 {
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.RemoteAddr = "198.51.100." + string(rune('1'+i)) + ":1"
			r := e.do(req)
			want := http.StatusOK
			if i == 2 {
				want = http.StatusTooManyRequests
			}
			if r.code != want {
				t.Errorf("request %d from a new IP: %d, want %d", i, r.code, want)
			}
			if i == 2 && (r.hdr.Get("Retry-After") == "" || r.hdr.Get("Content-Security-Policy") == "") {
				t.Error("429 without Retry-After or CSP")
			}
		}
	})
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	csrf := e.csrf(p)
	other := newEnv(t, nil, func(c *securelink.Config) { c.CSRFKey = []byte("ffffffffffffffffffffffffffffffff") })
	otherCSRF := other.csrf(other.issue("en", cardFields()))
	p2 := e.issue("en", cardFields())
	csrf2 := e.csrf(p2)
	for _, tc := range []struct {
		name    string
		csrf    string
		headers map[string]string
		want    int
	}{
		{"missing", "", nil, http.StatusForbidden},
		{"wrong", strings.Repeat("A", len(csrf)), nil, http.StatusForbidden},
		{"other key", otherCSRF, nil, http.StatusForbidden},
		{"other link", csrf2, nil, http.StatusForbidden},
		{"cross origin", csrf, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"cross site", csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same site", csrf, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"null origin, no-referrer page", csrf, map[string]string{"Origin": "null"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(cardForm(tc.csrf, canaryCard, validExpiry, validCVV).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", testOrigin)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			r := e.do(req)
			if r.code != tc.want {
				t.Fatalf("status %d, want %d", r.code, tc.want)
			}
			if tc.want == http.StatusForbidden && len(e.sink.submissions()) != 0 {
				t.Error("forbidden submission reached the sink")
			}
		})
	}
	if strings.Contains(e.allBodies(), canaryCard) {
		t.Error("card number in a response")
	}
}

// TestCSRFKeyed checks that the form secret depends on the key: two
// services sharing a store, one link, different keys.
func TestCSRFKeyed(t *testing.T) {
	a := newEnv(t, nil, nil)
	p := a.issue("en", cardFields())
	for _, tc := range []struct {
		key  string
		want int
	}{
		{"ffffffffffffffffffffffffffffffff", http.StatusForbidden},
		{csrfKeyBytes, http.StatusOK},
	} {
		b := newEnv(t, a.store, func(c *securelink.Config) { c.CSRFKey = []byte(tc.key) })
		if r := a.post(p, cardForm(b.csrf(p), canaryCard, validExpiry, validCVV)); r.code != tc.want {
			t.Errorf("key %s: status %d, want %d", tc.key[:4], r.code, tc.want)
		}
	}
}

func TestInvalidInputNotEchoed(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	csrf := e.csrf(p)
	// A valid card with a bad CVV: the card must not come back.
	r := e.post(p, cardForm(csrf, canaryCard, validExpiry, "12x"))
	if r.code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.code)
	}
	for _, s := range []string{canaryCard, "4012 8888", "12x", validExpiry} {
		if strings.Contains(r.body, s) {
			t.Errorf("re-rendered page echoes %q", s)
		}
	}
	if !strings.Contains(r.body, `aria-describedby="f-cvv-error"`) || !strings.Contains(r.body, `id="f-cvv-error"`) ||
		!strings.Contains(r.body, "Enter the 3 or 4 digit security code.") {
		t.Errorf("error not linked to the CVV input:\n%s", r.body)
	}
	if strings.Contains(r.body, `aria-describedby="f-card-error"`) {
		t.Error("valid card marked invalid")
	}
	if len(e.sink.submissions()) != 0 {
		t.Error("invalid submission reached the sink")
	}
	// The re-rendered form still works.
	if r := e.post(p, cardForm(csrfRE.FindStringSubmatch(r.body)[1], canaryCard, validExpiry, validCVV)); r.code != http.StatusOK {
		t.Errorf("valid resubmission: %d", r.code)
	}
	if strings.Contains(e.logs.String(), canaryCard) {
		t.Error("card number logged")
	}
}

func TestAttemptsExhausted(t *testing.T) {
	e := newEnv(t, nil, func(c *securelink.Config) { c.MaxAttempts = 3 })
	p := e.issue("es", cardFields())
	csrf := e.csrf(p)
	for i, want := range []int{422, 422, 410, 410} {
		r := e.post(p, cardForm(csrf, "4111111111111112", validExpiry, validCVV))
		if r.code != want {
			t.Errorf("attempt %d: %d, want %d", i+1, r.code, want)
		}
	}
	if f := e.sink.failures(); len(f) != 1 || f[0] != testSession+"/"+testStep+"/"+securelink.ReasonTooManyAttempts {
		t.Errorf("Failed calls %q, want exactly one", f)
	}
	if ids := e.sink.linkIDs(); len(ids) != 1 || ids[0] != linkIDOf(t, p) {
		t.Errorf("Failed context link ids %q, want [%s]", ids, linkIDOf(t, p))
	}
	if r := e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV)); r.code != http.StatusGone || !strings.Contains(r.body, "Este enlace ya no es válido") {
		t.Errorf("valid submission after exhaustion: %d", r.code)
	}
	if len(e.sink.submissions()) != 0 {
		t.Error("spent link reached the sink")
	}
}

func TestSinkErrorKeepsLink(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("pt-BR", cardFields())
	csrf := e.csrf(p)
	e.sink.setErr(errors.New("vault unavailable"))
	r := e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV))
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, "Algo deu errado do nosso lado") || strings.Contains(r.body, canaryCard) {
		t.Fatalf("sink error: %d\n%s", r.code, r.body)
	}
	e.sink.setErr(nil)
	if r := e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV)); r.code != http.StatusOK {
		t.Errorf("retry after sink error: %d", r.code)
	}
}

func TestConcurrentSubmitConsumesOnce(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	csrf := e.csrf(p)
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = e.post(p, cardForm(csrf, canaryCard, validExpiry, validCVV)).code })
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusGone:
		default:
			t.Errorf("status %d", c)
		}
	}
	if ok != 1 {
		t.Errorf("%d submissions confirmed, want 1 (codes %v)", ok, codes)
	}
	subs := e.sink.submissions()
	for _, s := range subs {
		if s.LinkID != subs[0].LinkID {
			t.Error("LinkID differs between deliveries of one link")
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	r := e.do(httptest.NewRequest(http.MethodPut, p, nil))
	if r.code != http.StatusMethodNotAllowed || r.hdr.Get("Allow") == "" {
		t.Errorf("PUT: %d", r.code)
	}
}

func TestEmptySubmission(t *testing.T) {
	e := newEnv(t, nil, nil)
	p := e.issue("en", cardFields())
	csrf := e.csrf(p)
	r := e.post(p, url.Values{"csrf": {csrf}})
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.body, "This field is required.") {
		t.Errorf("empty submission: %d", r.code)
	}
}
