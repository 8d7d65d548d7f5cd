package action

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/flow"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/bad")

func TestLoadCatalogExample(t *testing.T) {
	src, err := os.ReadFile("testdata/actions.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat := mustLoad(t, src)
	if got, want := strings.Join(cat.Names(), " "), "accounts.set_password identity.verify_cpf loyalty.points payments.charge"; got != want {
		t.Fatalf("Names() = %s, want %s", got, want)
	}
	// The specs are what flow.ParseCatalog makes of the same file.
	want, ds := flow.ParseCatalog("actions.yaml", src)
	if ds.HasErrors() {
		t.Fatal(ds)
	}
	specs := cat.Specs()
	if len(specs) != len(want) || !specs["payments.charge"].Inputs["card"].Secret ||
		specs["payments.charge"].Outputs["pan"].Kind != flow.InputCardNumber {
		t.Fatalf("Specs() = %+v", specs)
	}
	ep := cat.actions["payments.charge"]
	if ep.method != "POST" || ep.timeout != 2*time.Second || !ep.idempotent || ep.retries != 2 ||
		ep.idemHeader != "Idempotency-Key" || ep.auth != authBearer || ep.failures != 5 || ep.openFor != 30*time.Second ||
		len(ep.response) != 3 || len(ep.headers) != 2 {
		t.Fatalf("payments.charge parsed as %+v", ep)
	}
	cpf := cat.actions["identity.verify_cpf"]
	if cpf.method != "POST" || cpf.timeout != DefaultTimeout || cpf.idempotent || cpf.retries != 0 ||
		cpf.failures != DefaultCircuitFailures || cpf.openFor != DefaultCircuitOpenFor {
		t.Fatalf("defaults of identity.verify_cpf: %+v", cpf)
	}
	if lp := cat.actions["loyalty.points"]; lp.method != "GET" || lp.auth != authBasic || lp.username != "secureflow" || lp.body != nil {
		t.Fatalf("loyalty.points parsed as %+v", lp)
	}
}

// TestLoadCatalogErrors loads each testdata/bad/*.yaml and compares the
// error with its .golden file (go test -update rewrites them).
func TestLoadCatalogErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".yaml"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cat, err := LoadCatalog(filepath.Base(file), src, LoadOptions{AllowedHosts: testHosts, Resolve: testResolve})
			if err == nil {
				t.Fatalf("loaded %d actions, want an error", len(cat.Names()))
			}
			if !errors.Is(err, ErrInvalidCatalog) {
				t.Fatalf("error %v does not match ErrInvalidCatalog", err)
			}
			var ce *CatalogError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error is %T, want *CatalogError with problems", err)
			}
			for _, p := range ce.Problems {
				if p.Line == 0 || p.File != filepath.Base(file) {
					t.Errorf("problem without file and line: %+v", p)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
			// No credential value appears in an error, even a literal
			// pasted into the file.
			for _, v := range []string{"sk_live_abc123", "test-bearer-token", "hmac-key-0123456789"} {
				if strings.Contains(got, v) {
					t.Errorf("error quotes the credential %q", v)
				}
			}
		})
	}
}

func TestHostAllowed(t *testing.T) {
	allowed := []string{"api.example.com", "*.pay.example.org"}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"api.example.com", true},
		{"API.Example.com", true},
		{"api.example.com.", true},
		{"example.com", false},
		{"x.api.example.com", false},
		{"a.pay.example.org", true},
		{"a.b.pay.example.org", true},
		{"pay.example.org", false},
		{"evilpay.example.org", false},
		{"", false},
	} {
		if got := hostAllowed(tc.host, allowed); got != tc.want {
			t.Errorf("hostAllowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	if hostAllowed("api.example.com", nil) {
		t.Error("an empty allow-list allows a host")
	}
}

func TestResolveRef(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("file-secret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"SET": "env-secret", "EMPTY": ""}[k]
		return v, ok
	}
	for _, tc := range []struct {
		ref, want, wantErr string
	}{
		{ref: "env:SET", want: "env-secret"},
		{ref: "file:" + path, want: "file-secret"},
		{ref: "env:UNSET", wantErr: "environment variable UNSET is not set"},
		{ref: "env:EMPTY", wantErr: "environment variable EMPTY is not set"},
		{ref: "file:" + empty, wantErr: "file " + empty + " is empty"},
		{ref: "literal-secret", wantErr: "not a reference (want env:NAME or file:PATH)"},
	} {
		v, err := ResolveRef(tc.ref, env)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ResolveRef(%q) error = %v, want %q", tc.ref, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(v.Reveal()) != tc.want {
			t.Errorf("ResolveRef(%q) = %v, %v", tc.ref, v, err)
		}
	}
}

func FuzzLoadCatalog(f *testing.F) {
	for _, p := range []string{"testdata/actions.yaml", "testdata/bad/many.yaml", "testdata/bad/unknown_key.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cat, err := LoadCatalog("fuzz.yaml", src, LoadOptions{AllowedHosts: testHosts, Resolve: testResolve})
		if err != nil {
			if !errors.Is(err, ErrInvalidCatalog) {
				t.Fatalf("error %v does not match ErrInvalidCatalog", err)
			}
			return
		}
		// A loaded catalog can build requests for every action.
		for _, name := range cat.Names() {
			ep := cat.actions[name]
			if _, ok := cat.Specs()[name]; !ok {
				t.Fatalf("action %s has no spec", name)
			}
			e := &Executor{}
			if _, err := e.buildRequest(ep, map[string]any{}, nil, "k"); err != nil && !errors.Is(err, ErrInvalidCall) {
				t.Fatalf("buildRequest(%s): %v", name, err)
			}
		}
	})
}
