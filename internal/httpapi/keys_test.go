package httpapi

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestNewKey(t *testing.T) {
	plain, hash, err := NewKey("ops00001")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^sfk_ops00001_[A-Za-z0-9_-]{43}$`).MatchString(plain) {
		t.Errorf("key %q has the wrong format", plain)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(hash) {
		t.Errorf("hash %q has the wrong format", hash)
	}
	if strings.Contains(hash, plain[13:]) {
		t.Error("hash contains the secret")
	}
	id, h2, err := HashOf(plain)
	if err != nil || id != "ops00001" || h2 != hash {
		t.Errorf("HashOf = %q, %q, %v", id, h2, err)
	}
	other, _, _ := NewKey("ops00001")
	if other == plain {
		t.Error("two keys are equal")
	}
	random, _, err := NewKey("")
	if err != nil || validKeyID(random[4:12]) != nil {
		t.Errorf("random id key %q: %v", random, err)
	}
	if _, _, err := NewKey("UPPER123"); !errors.Is(err, ErrKeyConfig) {
		t.Errorf("bad id accepted: %v", err)
	}
	kr, err := ParseKeys([]KeyConfig{{ID: "ops00001", Hash: hash, Scopes: []Scope{ScopeSessionsRead}}})
	if err != nil {
		t.Fatal(err)
	}
	if id, scopes, ok := kr.authenticate(plain); !ok || id != "ops00001" || len(scopes) != 1 {
		t.Errorf("authenticate = %q %v %v", id, scopes, ok)
	}
	if _, _, ok := kr.authenticate(other); ok {
		t.Error("another key with the same id authenticated")
	}
	var nilRing *Keyring
	if _, _, ok := nilRing.authenticate(plain); ok {
		t.Error("nil keyring accepted a key")
	}
}

func TestParseKeys(t *testing.T) {
	_, good, _ := NewKey("abcd1234")
	tests := []struct {
		name    string
		keys    []KeyConfig
		wantErr string
	}{
		{"ok", []KeyConfig{{ID: "abcd1234", Hash: good, Scopes: Scopes()}}, ""},
		{"none", nil, ""},
		{"short id", []KeyConfig{{ID: "abc", Hash: good, Scopes: Scopes()}}, "8 characters"},
		{"id with underscore", []KeyConfig{{ID: "abc_1234", Hash: good, Scopes: Scopes()}}, "a-z and 0-9"},
		{"duplicate", []KeyConfig{{ID: "abcd1234", Hash: good, Scopes: Scopes()}, {ID: "abcd1234", Hash: good, Scopes: Scopes()}}, "duplicate"},
		{"no prefix", []KeyConfig{{ID: "abcd1234", Hash: strings.TrimPrefix(good, "sha256:"), Scopes: Scopes()}}, "sha256:"},
		{"upper hex", []KeyConfig{{ID: "abcd1234", Hash: strings.ToUpper(good), Scopes: Scopes()}}, "sha256:"},
		{"short hash", []KeyConfig{{ID: "abcd1234", Hash: good[:20], Scopes: Scopes()}}, "sha256:"},
		{"not hex", []KeyConfig{{ID: "abcd1234", Hash: "sha256:" + strings.Repeat("zz", 32), Scopes: Scopes()}}, "sha256:"},
		{"no scopes", []KeyConfig{{ID: "abcd1234", Hash: good}}, "no scopes"},
		{"unknown scope", []KeyConfig{{ID: "abcd1234", Hash: good, Scopes: []Scope{"sessions:*"}}}, "unknown scope"},
		{"every problem reported", []KeyConfig{{ID: "x", Hash: good, Scopes: Scopes()}, {ID: "abcd1234", Hash: good}}, "no scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kr, err := ParseKeys(tt.keys)
			if tt.wantErr == "" {
				if err != nil || kr == nil {
					t.Fatalf("ParseKeys: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrKeyConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q wrapping ErrKeyConfig", err, tt.wantErr)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	env := newEnv(t)
	_, allSecret, _ := splitKey(env.all)
	sameIDWrongSecret, _, _ := NewKey("allscope")
	unknownID, _, _ := NewKey("nobody00")
	tests := []struct {
		name       string
		auth       string
		wantStatus int
	}{
		{"no header", "", 401},
		{"basic scheme", "Basic " + env.all, 401},
		{"bearer, not an sfk key", "Bearer hello", 401},
		{"bearer, truncated", "Bearer " + env.all[:len(env.all)-1], 401},
		{"unknown id", "Bearer " + unknownID, 401},
		{"same id, wrong secret", "Bearer " + sameIDWrongSecret, 401},
		{"secret of one key with the id of another", "Bearer sfk_readonly_" + allSecret, 401},
		{"missing scope", "Bearer " + env.readOnly, 403},
		{"lowercase scheme", "bearer " + env.all, 201},
	}
	var unauthorized []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env.sessions.started = nil
			c := call{method: "POST", path: "/v1/secure-sessions", body: startTakePayment, header: map[string]string{"X-Request-Id": "same"}}
			if tt.auth != "" {
				c.header["Authorization"] = tt.auth
			}
			rec := env.do(t, c)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			switch tt.wantStatus {
			case 401:
				unauthorized = append(unauthorized, rec.Body.String()+rec.Header().Get("WWW-Authenticate"))
				if len(env.sessions.started) != 0 {
					t.Error("Start called without a valid key")
				}
			case 403:
				if p := decodeProblem(t, rec.Body.String()); p.Code != codeForbidden {
					t.Errorf("code = %q", p.Code)
				}
				if !strings.Contains(rec.Header().Get("WWW-Authenticate"), `scope="sessions:write"`) {
					t.Errorf("WWW-Authenticate = %q", rec.Header().Get("WWW-Authenticate"))
				}
			}
		})
	}
	for i := 1; i < len(unauthorized); i++ {
		if unauthorized[i] != unauthorized[0] {
			t.Errorf("401 responses differ, giving a hint:\n%s\n%s", unauthorized[0], unauthorized[i])
		}
	}
	if strings.Contains(env.logs.String(), allSecret) {
		t.Error("a key secret was logged")
	}
	// The principal of a read-only key is logged on its 403.
	if !strings.Contains(env.logs.String(), `"key_id":"readonly"`) {
		t.Error("key id not in the access log")
	}

	// Each route demands its own scope.
	for _, rt := range env.h.routes() {
		for _, held := range Scopes() {
			rk := mustKeyring(t, "onescope", held)
			e := &testEnv{h: New(Config{Sessions: &fakeSessions{}, Actions: &fakeActions{}, Keys: rk.ring})}
			method, path, _ := strings.Cut(rt.pattern, " ")
			path = strings.NewReplacer("{id}", "c-1", "{name}", "a").Replace(path)
			rec := e.do(t, call{method: method, path: path, key: rk.plain, body: bodyFor(method)})
			if forbidden := rec.Code == http.StatusForbidden; forbidden != (held != rt.scope) {
				t.Errorf("%s with scope %s: status %d", rt.pattern, held, rec.Code)
			}
		}
	}
}

func bodyFor(method string) string {
	if method == http.MethodGet {
		return ""
	}
	return `{}`
}

type ringAndKey struct {
	ring  *Keyring
	plain string
}

func mustKeyring(t *testing.T, id string, scopes ...Scope) ringAndKey {
	t.Helper()
	plain, hash, err := NewKey(id)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := ParseKeys([]KeyConfig{{ID: id, Hash: hash, Scopes: scopes}})
	if err != nil {
		t.Fatal(err)
	}
	return ringAndKey{kr, plain}
}
