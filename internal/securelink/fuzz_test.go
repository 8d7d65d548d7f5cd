package securelink_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/flow"
)

// longDigits matches card-like digit runs, which a page must never echo.
var longDigits = regexp.MustCompile(`\d{12,}`)

// FuzzSubmit posts arbitrary form bodies to a link. "{csrf}" in a body is
// replaced by the link's form secret, so that the fuzzer reaches
// validation. The handler must not panic, and a link may be consumed only
// by a body whose every field is valid by flow's validators.
func FuzzSubmit(f *testing.F) {
	for _, seed := range []string{
		"csrf={csrf}&f-card=4012888888881881&f-expiry=12%2F29&f-cvv=123",
		"csrf={csrf}&f-card=4012+8888+8888+1881&f-expiry=1229&f-cvv=1234",
		"csrf={csrf}&f-card=4012888888881882&f-expiry=12%2F29&f-cvv=123",
		"csrf={csrf}&f-card=4012888888881881&f-card=1&f-expiry=12%2F29&f-cvv=123",
		"csrf={csrf}&f-card=4012888888881881;f-expiry=12%2F29&f-cvv=123",
		"csrf={csrf}&f-card=%ff%fe&f-expiry=00%2F00&f-cvv=",
		"csrf=x&f-card=4012888888881881&f-expiry=12%2F29&f-cvv=123",
		"",
		"%",
		"csrf={csrf}&csrf=x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := newEnv(t, nil, nil)
		p := e.issue("en", cardFields())
		csrf := e.csrf(p)
		body = strings.ReplaceAll(body, "{csrf}", url.QueryEscape(csrf))
		req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := e.do(req)
		switch r.code {
		case http.StatusOK, http.StatusUnprocessableEntity, http.StatusForbidden, http.StatusBadRequest:
		default:
			t.Fatalf("status %d", r.code)
		}
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(p, "/s/"))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(raw)
		l, err := e.store.LinkByHash(context.Background(), h[:])
		if err != nil {
			t.Fatal(err)
		}
		consumed := !l.UsedAt.IsZero()
		if consumed != (r.code == http.StatusOK) {
			t.Fatalf("status %d but consumed=%v", r.code, consumed)
		}
		if consumed != (len(e.sink.submissions()) == 1) {
			t.Fatalf("consumed=%v but %d submissions", consumed, len(e.sink.submissions()))
		}
		if consumed {
			form, err := url.ParseQuery(body)
			if err != nil {
				t.Fatalf("consumed by a body that does not parse: %v", err)
			}
			for _, fd := range cardFields() {
				if _, err := fd.Validate(form.Get("f-"+fd.Var), t0); err != nil {
					t.Fatalf("consumed with invalid %s: %v", fd.Var, err)
				}
			}
			if form.Get("csrf") != csrf {
				t.Fatal("consumed without the form secret")
			}
		} else if r.code == http.StatusUnprocessableEntity && l.Attempts != 1 {
			t.Fatalf("invalid submission counted %d attempts", l.Attempts)
		}
		for _, d := range longDigits.FindAllString(body, -1) {
			if strings.Contains(r.body, d) {
				t.Fatalf("response echoes %q", d)
			}
		}
		_ = flow.FilterMask
	})
}
