package httpapi

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzStartRequest decodes arbitrary bodies through POST /v1/secure-sessions:
// never a panic or a 500, only the documented statuses, always a JSON
// answer, and Start only ever sees a request that passed validation.
func FuzzStartRequest(f *testing.F) {
	f.Add(startTakePayment)
	f.Add(`{"flow":"verify-identity","mode":"self_service","conversation":"5511988887777","locale":"pt-BR"}`)
	f.Add(`{"flow":"reset-password","conversation":"x","inputs":{"account_id":"acc-77"}}`)
	f.Add(`{"inputs":{"a":[1,{"b":null}]}}`)
	f.Add(`{"flow":"\u0000","conversation":"1"}`)
	f.Add(`{} {}`)
	f.Add(`nul`)
	seeds, _ := filepath.Glob(filepath.Join("testdata", "start-*.json"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	env := newEnv(f)
	allowed := map[int]bool{201: true, 400: true, 413: true, 422: true}
	f.Fuzz(func(t *testing.T, body string) {
		before := len(env.sessions.started)
		rec := env.do(t, call{method: "POST", path: "/v1/secure-sessions", body: body, key: env.all,
			header: map[string]string{"Content-Type": "application/json"}})
		if !allowed[rec.Code] {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		ct := rec.Header().Get("Content-Type")
		if !strings.HasPrefix(ct, "application/") || !strings.HasSuffix(ct, "json") {
			t.Fatalf("content type %q", ct)
		}
		if rec.Code == http.StatusCreated {
			r := env.sessions.started[len(env.sessions.started)-1]
			if !flowRE.MatchString(r.Flow) || !channelIDRE.MatchString(r.Conversation) {
				t.Fatalf("Start got an invalid request %+v", r)
			}
			for k, v := range r.Inputs {
				if !inputKeyRE.MatchString(k) || v == "" || v == nil {
					t.Fatalf("Start got input %q=%v", k, v)
				}
			}
		} else if len(env.sessions.started) != before {
			t.Fatal("Start called on a rejected request")
		}
	})
}
