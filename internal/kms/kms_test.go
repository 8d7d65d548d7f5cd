package kms_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/kms/kmstest"
	"github.com/secureflow/secureflow/internal/secret"
)

const (
	testToken   = "hvs.CANARY-token-7f3a9c"
	canaryPlain = "CANARY-plaintext-4111111111111111"
)

// open returns an AEAD for f's key over TLS with the fake's CA, no retries.
func open(t *testing.T, f *kmstest.Transit, extra ...kms.Option) *kms.AEAD {
	t.Helper()
	opts := append([]kms.Option{kms.WithToken(secret.FromString(testToken)), kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0)}, extra...)
	a, err := kms.Open(f.KeyURI(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// assertClean fails if err's text holds any of the secrets.
func assertClean(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error contains a secret (%.8s...): %v", s, err)
		}
	}
}

func TestRoundTripAndWireFormat(t *testing.T) {
	tests := []struct {
		name  string
		mount string
	}{
		{"default mount", "transit"},
		{"nested mount", "team/transit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kmstest.NewTransit(t, tc.mount, "secureflow", testToken)
			a := open(t, f)
			if a.ID() != f.KeyURI() {
				t.Fatalf("ID = %q, want the key URI %q", a.ID(), f.KeyURI())
			}
			ctx := context.Background()
			ad := []byte("secureflow data keyset v1")
			ct, err := a.EncryptWithContext(ctx, []byte(canaryPlain), ad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(ct, []byte("vault:v1:")) || bytes.Contains(ct, []byte(canaryPlain)) {
				t.Fatalf("ciphertext %q: want vault:v1:..., without the plaintext", ct)
			}
			pt, err := a.DecryptWithContext(ctx, ct, ad)
			if err != nil || string(pt) != canaryPlain {
				t.Fatalf("decrypt = %q, %v", pt, err)
			}
			// Associated data is authenticated: other AD must fail.
			if _, err := a.DecryptWithContext(ctx, ct, []byte("other")); err == nil {
				t.Fatal("decrypt with other associated data succeeded")
			}
			reqs := f.Requests()
			if len(reqs) != 3 {
				t.Fatalf("got %d requests, want 3", len(reqs))
			}
			wantPaths := []string{"/v1/" + tc.mount + "/encrypt/secureflow", "/v1/" + tc.mount + "/decrypt/secureflow"}
			for i, r := range reqs[:2] {
				if r.Path != wantPaths[i] || r.Token != testToken {
					t.Fatalf("request %d: %s token %q, want %s with the token", i, r.Path, r.Token, wantPaths[i])
				}
				if r.Body["associated_data"] != base64.StdEncoding.EncodeToString(ad) {
					t.Fatalf("request %d: associated_data = %v", i, r.Body["associated_data"])
				}
				if _, ok := r.Body["context"]; ok {
					t.Fatalf("request %d sends a key-derivation context", i)
				}
			}
			if reqs[0].Body["plaintext"] != base64.StdEncoding.EncodeToString([]byte(canaryPlain)) {
				t.Fatalf("encrypt plaintext field = %v", reqs[0].Body["plaintext"])
			}
		})
	}
}

func TestTinkAEADMethods(t *testing.T) {
	f := kmstest.NewTransit(t, "transit", "k", testToken)
	a := open(t, f)
	ct, err := a.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := a.Decrypt(ct, nil); err != nil || string(pt) != "x" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
}

func TestVaultKeyRotationKeepsOldCiphertexts(t *testing.T) {
	f := kmstest.NewTransit(t, "transit", "k", testToken)
	a := open(t, f)
	ctx := context.Background()
	old, err := a.EncryptWithContext(ctx, []byte("v1 data"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	f.Rotate(t)
	next, err := a.EncryptWithContext(ctx, []byte("v2 data"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(next, []byte("vault:v2:")) {
		t.Fatalf("after rotation ciphertext is %q, want vault:v2:", next)
	}
	if pt, err := a.DecryptWithContext(ctx, old, []byte("ad")); err != nil || string(pt) != "v1 data" {
		t.Fatalf("old ciphertext: %q, %v", pt, err)
	}
}

func TestErrorsDoNotLeak(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		setup   func(*kmstest.Transit)
		denied  bool
		wantMsg string
	}{
		{"wrong token", "hvs.CANARY-wrong-token-91b2", nil, true, "permission denied"},
		{"sealed", testToken, func(f *kmstest.Transit) { f.SetDown(true) }, false, "Vault is sealed"},
		{"proxy echoes the body", testToken, func(f *kmstest.Transit) { f.SetEchoErrors(true) }, false, "[message withheld]"},
		{"server gone", testToken, func(f *kmstest.Transit) { f.Server.Close() }, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := kmstest.NewTransit(t, "transit", "k", testToken)
			a, err := kms.Open(f.KeyURI(), kms.WithToken(secret.FromString(tc.token)), kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			ct, err := a.EncryptWithContext(context.Background(), []byte("ok"), nil)
			if err != nil && tc.token == testToken {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(f)
			}
			secrets := []string{tc.token, testToken, canaryPlain, base64.StdEncoding.EncodeToString([]byte(canaryPlain))}
			_, eerr := a.EncryptWithContext(context.Background(), []byte(canaryPlain), []byte("ad"))
			if ct == nil {
				ct = []byte("vault:v1:AAAA")
			}
			_, derr := a.DecryptWithContext(context.Background(), ct, nil)
			for _, err := range []error{eerr, derr} {
				if err == nil {
					t.Fatal("want an error")
				}
				if !errors.Is(err, kms.ErrKMS) {
					t.Fatalf("error does not wrap ErrKMS: %v", err)
				}
				if got := errors.Is(err, kms.ErrDenied); got != tc.denied {
					t.Fatalf("errors.Is(ErrDenied) = %v, want %v: %v", got, tc.denied, err)
				}
				if !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("error %q does not say %q", err, tc.wantMsg)
				}
				assertClean(t, err, secrets...)
			}
		})
	}
}

func TestContextIsHonoured(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	uri := "hcvault://" + strings.TrimPrefix(srv.URL, "https://") + "/transit/keys/k"
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	a, err := kms.Open(uri, kms.WithToken(secret.FromString(testToken)), kms.WithRootCAs(pool), kms.WithMaxRetries(0), kms.WithTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = a.EncryptWithContext(ctx, []byte(canaryPlain), nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("returned after %v, not at the context's deadline", d)
	}
	assertClean(t, err, testToken, canaryPlain)

	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := a.DecryptWithContext(done, []byte("vault:v1:AAAA"), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
}

func TestTokenSources(t *testing.T) {
	// The process environment is never read: a VAULT_TOKEN there is ignored.
	t.Setenv("VAULT_TOKEN", "hvs.CANARY-process-env-token")
	f := kmstest.NewTransit(t, "transit", "k", testToken)
	tests := []struct {
		name    string
		opts    []kms.Option
		wantErr error
	}{
		{"explicit token", []kms.Option{kms.WithToken(secret.FromString(testToken))}, nil},
		{"VAULT_TOKEN from the given environ", []kms.Option{kms.WithEnviron([]string{"A=b", "VAULT_TOKEN=" + testToken})}, nil},
		{"explicit token wins over environ", []kms.Option{kms.WithToken(secret.FromString(testToken)), kms.WithEnviron([]string{"VAULT_TOKEN=hvs.other"})}, nil},
		{"zero token falls back", []kms.Option{kms.WithToken(secret.Value{}), kms.WithEnviron([]string{"VAULT_TOKEN=" + testToken})}, nil},
		{"no token at all", nil, kms.ErrNoToken},
		{"empty VAULT_TOKEN", []kms.Option{kms.WithEnviron([]string{"VAULT_TOKEN="})}, kms.ErrNoToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]kms.Option{kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0)}, tc.opts...)
			a, err := kms.Open(f.KeyURI(), opts...)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err, kms.ErrKMS) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				assertClean(t, err, "hvs.CANARY-process-env-token")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
			for _, r := range f.Requests() {
				if r.Token != testToken {
					t.Fatalf("request sent token %q", r.Token)
				}
			}
		})
	}
}

func TestTLSByDefault(t *testing.T) {
	plain := kmstest.NewPlainTransit(t, "transit", "k", testToken)
	tok := kms.WithToken(secret.FromString(testToken))

	// Default: https, so a plain-HTTP server cannot be used.
	a, err := kms.Open(plain.KeyURI(), tok, kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err == nil {
		t.Fatal("default client talked to a plain-HTTP server")
	}
	if len(plain.Requests()) != 0 {
		t.Fatal("the plain-HTTP server received a request (with the token in clear)")
	}
	a, err = kms.Open(plain.KeyURI(), tok, kms.WithMaxRetries(0), kms.WithPlainHTTPForTesting())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}

	// TLS with an untrusted certificate fails.
	tlsFake := kmstest.NewTransit(t, "transit", "k", testToken)
	a, err = kms.Open(tlsFake.KeyURI(), tok, kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err == nil {
		t.Fatal("client accepted an untrusted certificate")
	}
}

func TestRetries(t *testing.T) {
	f := kmstest.NewTransit(t, "transit", "k", testToken)
	f.SetDown(true)
	a := open(t, f, kms.WithMaxRetries(2), kms.WithRetryWaitForTesting(time.Millisecond))
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err == nil {
		t.Fatal("want an error from a sealed Vault")
	}
	if n := len(f.Requests()); n != 3 {
		t.Fatalf("%d requests, want 1 + 2 retries", n)
	}
}

func TestOpenRejectsBadURIs(t *testing.T) {
	tok := kms.WithToken(secret.FromString(testToken))
	tests := []struct {
		uri string
		ok  bool
	}{
		{"hcvault://vault.example:8200/transit/keys/secureflow", true},
		{"HCVAULT://vault.example/transit/keys/secureflow", true},
		{"hcvault://vault.example/a/b/keys/k", true},
		{"hcvault://vault.example/transit/k", false},
		{"hcvault://vault.example/keys/k", false},
		{"hcvault://vault.example/transit/keys/", false},
		{"hcvault://vault.example//keys/k", false},
		{"hcvault:///transit/keys/k", false},
		{"hcvault://user:CANARY-pass@vault.example/transit/keys/k", false},
		{"hcvault://vault.example/transit/keys/k?x=1", false},
		{"hcvault://vault.example/transit/keys/k#f", false},
		{"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			a, err := kms.Open(tc.uri, tok)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if a.ID() != tc.uri {
					t.Fatalf("ID = %q", a.ID())
				}
				return
			}
			if !errors.Is(err, kms.ErrKMS) {
				t.Fatalf("err = %v, want ErrKMS", err)
			}
			assertClean(t, err, "CANARY-pass", testToken)
		})
	}
}

func TestIsKeyURI(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"hcvault://h/transit/keys/k", true},
		{"HCVault://h/transit/keys/k", true},
		{`{"primaryKeyId":1}`, false},
		{"hcvault:", false},
		{"aws-kms://arn:aws:kms:us-east-1:111122223333:key/k", true},
		{"AWS-KMS://arn:aws:kms:us-east-1:111122223333:alias/a", true},
		{"aws-kms:", false},
		{"gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", false},
		{"file:/etc/kek.json", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := kms.IsKeyURI(tc.in); got != tc.want {
			t.Errorf("IsKeyURI(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestCAFile(t *testing.T) {
	f := kmstest.NewTransit(t, "transit", "k", testToken)
	dir := t.TempDir()
	good := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := kms.WithToken(secret.FromString(testToken))
	a, err := kms.Open(f.KeyURI(), tok, kms.WithCAFile(good), kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err != nil {
		t.Fatalf("TLS with the CA file: %v", err)
	}
	for _, path := range []string{bad, filepath.Join(dir, "missing.pem")} {
		if _, err := kms.Open(f.KeyURI(), tok, kms.WithCAFile(path)); !errors.Is(err, kms.ErrKMS) {
			t.Errorf("CA file %s: err = %v, want ErrKMS", path, err)
		}
	}
}
