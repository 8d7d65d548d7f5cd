package kms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
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
	awsRegion      = "us-east-1"
	awsAccessKeyID = "AKIAIOSFODNN7EXAMPLE"
	// The secret access key and session token are canaries: no error may
	// contain them.
	awsSecretKey    = "CANARY/secret-access-key/wJalrXUtnFEMI/K7MDENG"
	awsSessionToken = "CANARY-session-token-IQoJb3JpZ2luX2VjEJr"
)

// awsEnv replaces the process's AWS configuration with only the given
// static credentials: no shared files, no instance metadata, no endpoint or
// region overrides. It uses t.Setenv, so callers cannot run in parallel.
func awsEnv(t *testing.T, kv ...string) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS", "AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// goodAWSEnv sets the credentials the fake accepts.
func goodAWSEnv(t *testing.T) {
	t.Helper()
	awsEnv(t, "AWS_ACCESS_KEY_ID", awsAccessKeyID, "AWS_SECRET_ACCESS_KEY", awsSecretKey, "AWS_SESSION_TOKEN", awsSessionToken)
}

// awsOpts points the client at f over TLS with f's CA and no retries.
func awsOpts(f *kmstest.AWSKMS, extra ...kms.Option) []kms.Option {
	return append([]kms.Option{kms.WithAWSEndpointForTesting(f.Server.URL), kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0)}, extra...)
}

func openAWS(t *testing.T, f *kmstest.AWSKMS, extra ...kms.Option) *kms.AEAD {
	t.Helper()
	a, err := kms.Open(f.KeyURI(), awsOpts(f, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var awsSecrets = []string{awsAccessKeyID, awsSecretKey, awsSessionToken, canaryPlain, base64.StdEncoding.EncodeToString([]byte(canaryPlain))}

func TestAWSRoundTripAndWireFormat(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	a := openAWS(t, f)
	if a.ID() != f.KeyURI() || !strings.HasPrefix(a.ID(), "aws-kms://arn:aws:kms:us-east-1:111122223333:key/") {
		t.Fatalf("ID = %q, want the key URI %q", a.ID(), f.KeyURI())
	}
	ctx := context.Background()
	ad := []byte("secureflow data keyset v1")
	ct, err := a.EncryptWithContext(ctx, []byte(canaryPlain), ad)
	if err != nil {
		t.Fatal(err)
	}
	if !kmstest.IsAWSBlob(ct) || bytes.Contains(ct, []byte(canaryPlain)) {
		t.Fatalf("ciphertext %q: want a KMS blob without the plaintext", ct)
	}
	pt, err := a.DecryptWithContext(ctx, ct, ad)
	if err != nil || string(pt) != canaryPlain {
		t.Fatalf("decrypt = %q, %v", pt, err)
	}
	// Associated data is authenticated by KMS: other AD, or none, fails.
	for _, other := range [][]byte{[]byte("other"), nil} {
		_, err := a.DecryptWithContext(ctx, ct, other)
		if !errors.Is(err, kms.ErrKMS) || errors.Is(err, kms.ErrDenied) || !strings.Contains(err.Error(), "InvalidCiphertextException") {
			t.Fatalf("decrypt with associated data %q: err = %v, want InvalidCiphertextException", other, err)
		}
		assertClean(t, err, awsSecrets...)
	}
	// Empty associated data round-trips too (Tink then sends no context).
	ct2, err := a.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := a.Decrypt(ct2, nil); err != nil || string(pt) != "x" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}

	reqs := f.Requests()
	wantTargets := []string{"TrentService.Encrypt", "TrentService.Decrypt", "TrentService.Decrypt", "TrentService.Decrypt", "TrentService.Encrypt", "TrentService.Decrypt"}
	if len(reqs) != len(wantTargets) {
		t.Fatalf("got %d requests, want %d", len(reqs), len(wantTargets))
	}
	for i, r := range reqs {
		if r.Target != wantTargets[i] || r.AccessKeyID != awsAccessKeyID || r.Region != awsRegion || r.Service != "kms" || !r.SignatureValid {
			t.Fatalf("request %d: %s by %q for %s/%s (signature valid: %v)", i, r.Target, r.AccessKeyID, r.Region, r.Service, r.SignatureValid)
		}
		if r.KeyID != f.KeyARN() {
			t.Fatalf("request %d: KeyId = %q, want the ARN", i, r.KeyID)
		}
		if bytes.Contains(r.Body, []byte(awsSecretKey)) {
			t.Fatalf("request %d body contains the secret access key", i)
		}
	}
	// Tink's awskms puts the associated data, in hex, under "associatedData".
	for _, i := range []int{0, 1} {
		if got := reqs[i].EncryptionContext; len(got) != 1 || got["associatedData"] != hex.EncodeToString(ad) {
			t.Fatalf("request %d: EncryptionContext = %v", i, got)
		}
	}
	if reqs[4].EncryptionContext != nil {
		t.Fatalf("empty associated data sent EncryptionContext %v", reqs[4].EncryptionContext)
	}
	if string(reqs[0].Plaintext) != canaryPlain {
		t.Fatalf("encrypt sent Plaintext %q", reqs[0].Plaintext)
	}
}

func TestAWSKeyRotationKeepsOldCiphertexts(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	a := openAWS(t, f)
	ctx := context.Background()
	old, err := a.EncryptWithContext(ctx, []byte("v1 data"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	f.Rotate(t)
	if _, err := a.EncryptWithContext(ctx, []byte("v2 data"), []byte("ad")); err != nil {
		t.Fatal(err)
	}
	if pt, err := a.DecryptWithContext(ctx, old, []byte("ad")); err != nil || string(pt) != "v1 data" {
		t.Fatalf("old ciphertext: %q, %v", pt, err)
	}
}

func TestAWSErrorsDoNotLeak(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		opts    []kms.Option
		setup   func(*kmstest.AWSKMS)
		denied  bool
		wantMsg string
	}{
		{name: "access denied", setup: func(f *kmstest.AWSKMS) { f.SetDenied(true) }, denied: true, wantMsg: "AccessDeniedException: User: arn:aws:iam::111122223333:user/secureflow is not authorized"},
		{name: "wrong secret key", env: []string{"AWS_SECRET_ACCESS_KEY", "CANARY-wrong-secret-key-00000000000000"}, denied: true, wantMsg: "InvalidSignatureException"},
		{name: "unknown access key", env: []string{"AWS_ACCESS_KEY_ID", "AKIACANARYUNKNOWN"}, denied: true, wantMsg: "UnrecognizedClientException"},
		{name: "signed for another region", opts: []kms.Option{kms.WithAWSRegionForTesting("eu-west-1")}, denied: true, wantMsg: "InvalidSignatureException"},
		{name: "outage", setup: func(f *kmstest.AWSKMS) { f.SetDown(true) }, wantMsg: "500 KMSInternalException"},
		{name: "proxy echoes the body", setup: func(f *kmstest.AWSKMS) { f.SetEchoErrors(true) }, wantMsg: "ValidationException: [message withheld]"},
		{name: "server gone", setup: func(f *kmstest.AWSKMS) { f.Server.Close() }, wantMsg: "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			goodAWSEnv(t)
			f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
			good, err := openAWS(t, f).EncryptWithContext(context.Background(), []byte("ok"), nil)
			if err != nil {
				t.Fatal(err)
			}
			awsEnv(t, append([]string{"AWS_ACCESS_KEY_ID", awsAccessKeyID, "AWS_SECRET_ACCESS_KEY", awsSecretKey, "AWS_SESSION_TOKEN", awsSessionToken}, tc.env...)...)
			a := openAWS(t, f, tc.opts...)
			if tc.setup != nil {
				tc.setup(f)
			}
			secrets := append([]string{"CANARY-wrong-secret-key"}, awsSecrets...)
			_, eerr := a.EncryptWithContext(context.Background(), []byte(canaryPlain), []byte("ad"))
			_, derr := a.DecryptWithContext(context.Background(), good, nil)
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
				if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), f.KeyURI()) {
					t.Fatalf("error %q does not say %q and name the key", err, tc.wantMsg)
				}
				assertClean(t, err, secrets...)
				t.Log(err)
			}
		})
	}
}

func TestAWSNoCredentials(t *testing.T) {
	tests := []struct {
		name string
		env  []string
	}{
		{"nothing at all", nil},
		{"access key without secret", []string{"AWS_ACCESS_KEY_ID", awsAccessKeyID}},
		{"unknown profile", []string{"AWS_PROFILE", "secureflow-missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			awsEnv(t, tc.env...)
			f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
			a, err := kms.Open(f.KeyURI(), awsOpts(f)...)
			if err == nil {
				_, err = a.EncryptWithContext(context.Background(), []byte(canaryPlain), nil)
			}
			if !errors.Is(err, kms.ErrKMS) {
				t.Fatalf("err = %v, want ErrKMS", err)
			}
			if a != nil && !errors.Is(err, kms.ErrNoCredentials) {
				t.Fatalf("err = %v, want ErrNoCredentials", err)
			}
			assertClean(t, err, awsSecrets...)
			t.Log(err)
			if n := len(f.Requests()); n != 0 {
				t.Fatalf("%d unsigned requests reached KMS", n)
			}
		})
	}
}

func TestAWSSharedCredentialsFile(t *testing.T) {
	awsEnv(t)
	path := filepath.Join(t.TempDir(), "credentials")
	ini := "[secureflow]\naws_access_key_id = " + awsAccessKeyID + "\naws_secret_access_key = " + awsSecretKey + "\n"
	if err := os.WriteFile(path, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", path)
	t.Setenv("AWS_PROFILE", "secureflow")
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	a := openAWS(t, f)
	ct, err := a.EncryptWithContext(context.Background(), []byte("x"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := a.DecryptWithContext(context.Background(), ct, []byte("ad")); err != nil || string(pt) != "x" {
		t.Fatalf("round trip = %q, %v", pt, err)
	}
}

func TestAWSContextIsHonoured(t *testing.T) {
	goodAWSEnv(t)
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	open := func(extra ...kms.Option) *kms.AEAD {
		a, err := kms.Open(f.KeyURI(), append([]kms.Option{kms.WithAWSEndpointForTesting(srv.URL), kms.WithRootCAs(srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs), kms.WithMaxRetries(0)}, extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}

	tests := []struct {
		name    string
		a       *kms.AEAD
		ctx     func() (context.Context, context.CancelFunc)
		wantErr error
	}{
		{"caller's deadline", open(kms.WithTimeout(time.Minute)), func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 100*time.Millisecond)
		}, context.DeadlineExceeded},
		{"client timeout", open(kms.WithTimeout(100 * time.Millisecond)), func() (context.Context, context.CancelFunc) {
			return context.Background(), func() {}
		}, context.DeadlineExceeded},
		{"cancelled before the call", open(), func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := tc.ctx()
			defer cancel()
			start := time.Now()
			_, err := tc.a.EncryptWithContext(ctx, []byte(canaryPlain), nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("returned after %v", d)
			}
			assertClean(t, err, awsSecrets...)
		})
	}
}

func TestAWSRetries(t *testing.T) {
	goodAWSEnv(t)
	tests := []struct {
		retries, want int
	}{{0, 1}, {2, 3}}
	for _, tc := range tests {
		f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
		f.SetDown(true)
		a := openAWS(t, f, kms.WithMaxRetries(tc.retries), kms.WithRetryWaitForTesting(time.Millisecond))
		if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err == nil {
			t.Fatal("want an error during an outage")
		}
		if n := len(f.Requests()); n != tc.want {
			t.Fatalf("MaxRetries(%d): %d requests, want %d", tc.retries, n, tc.want)
		}
	}
	// Access denied is not retried.
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	f.SetDenied(true)
	a := openAWS(t, f, kms.WithMaxRetries(2), kms.WithRetryWaitForTesting(time.Millisecond))
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); !errors.Is(err, kms.ErrDenied) {
		t.Fatalf("err = %v, want ErrDenied", err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Fatalf("denied request sent %d times", n)
	}
}

func TestAWSTLS(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	// The fake's certificate is not trusted without its CA.
	a, err := kms.Open(f.KeyURI(), kms.WithAWSEndpointForTesting(f.Server.URL), kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte(canaryPlain), nil); err == nil {
		t.Fatal("client accepted an untrusted certificate")
	} else {
		assertClean(t, err, awsSecrets...)
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests reached a server with an untrusted certificate", n)
	}
	// A plain-HTTP endpoint needs WithPlainHTTPForTesting.
	if _, err := kms.Open(f.KeyURI(), kms.WithAWSEndpointForTesting("http://127.0.0.1:1")); !errors.Is(err, kms.ErrKMS) {
		t.Fatalf("plain-HTTP endpoint: err = %v, want ErrKMS", err)
	}
	if _, err := kms.Open(f.KeyURI(), kms.WithAWSEndpointForTesting("http://127.0.0.1:1"), kms.WithPlainHTTPForTesting()); err != nil {
		t.Fatalf("plain-HTTP endpoint for testing: %v", err)
	}
	// keys.kms_ca_file works for AWS too.
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeCert(t, ca, f.Server.Certificate().Raw)
	a, err = kms.Open(f.KeyURI(), kms.WithAWSEndpointForTesting(f.Server.URL), kms.WithCAFile(ca), kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err != nil {
		t.Fatalf("TLS with the CA file: %v", err)
	}
	// AWS_CA_BUNDLE cannot apply to our HTTP client: Open fails loudly
	// rather than ignore it (docs/vault.md says to use keys.kms_ca_file).
	t.Setenv("AWS_CA_BUNDLE", ca)
	if _, err := kms.Open(f.KeyURI(), kms.WithAWSEndpointForTesting(f.Server.URL)); !errors.Is(err, kms.ErrKMS) {
		t.Fatalf("AWS_CA_BUNDLE: err = %v, want ErrKMS", err)
	}
}

func TestAWSRedirectNotFollowed(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	redirector := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, f.Server.URL+"/", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	pool := f.CertPool()
	pool.AddCert(redirector.Certificate())
	a, err := kms.Open(f.KeyURI(), kms.WithAWSEndpointForTesting(redirector.URL), kms.WithRootCAs(pool), kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte(canaryPlain), nil); err == nil {
		t.Fatal("encrypt through a redirect succeeded")
	} else {
		assertClean(t, err, awsSecrets...)
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("the plaintext followed a redirect (%d requests)", n)
	}
}

func TestAWSOpenRejectsBadURIs(t *testing.T) {
	goodAWSEnv(t)
	tests := []struct {
		uri string
		ok  bool
	}{
		{"aws-kms://arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"AWS-KMS://arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", true},
		{"aws-kms://arn:aws:kms:eu-west-1:111122223333:alias/secureflow-kek", true},
		{"aws-kms://arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/mrk-1234abcd", true},
		{"aws-kms://arn:aws-cn:kms:cn-north-1:111122223333:key/1234abcd", true},
		{"aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab", false},
		{"aws-kms://alias/secureflow", false},
		{"aws-kms://arn:aws:s3:us-east-1:111122223333:key/k", false},
		{"aws-kms://arn:aws:kms:useast1:111122223333:key/k", false},
		{"aws-kms://arn:aws:kms:us-east-1:1:key/k", false},
		{"aws-kms://arn:aws:kms:us-east-1:111122223333:key/", false},
		{"aws-kms://arn:aws:kms:us-east-1:111122223333:key/k?x=1", false},
		{"aws-kms://AKIAIOSFODNN7EXAMPLE:CANARY-pass@arn:aws:kms:us-east-1:111122223333:key/k", false},
		{"aws-kms://", false},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			a, err := kms.Open(tc.uri)
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
			assertClean(t, err, "CANARY-pass", awsSecretKey)
		})
	}
	// A Vault token is a configuration mistake for an AWS key.
	_, err := kms.Open(tests[0].uri, kms.WithToken(secret.FromString(testToken)))
	if !errors.Is(err, kms.ErrKMS) || !strings.Contains(err.Error(), "keys.kms_token") {
		t.Fatalf("AWS key with a Vault token: err = %v", err)
	}
	assertClean(t, err, testToken)
	// The Vault-only environment is ignored for AWS.
	if _, err := kms.Open(tests[0].uri, kms.WithEnviron([]string{"VAULT_TOKEN=" + testToken})); err != nil {
		t.Fatalf("AWS key with WithEnviron: %v", err)
	}
}

func writeCert(t *testing.T, path string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// AWS_ENDPOINT_URL_KMS (the SDK's service-specific endpoint variable, for
// VPC endpoints) is honoured, as docs/vault.md says.
func TestAWSEndpointFromEnvironment(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	t.Setenv("AWS_ENDPOINT_URL_KMS", f.Server.URL)
	a, err := kms.Open(f.KeyURI(), kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.EncryptWithContext(context.Background(), []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Requests()); n != 1 {
		t.Fatalf("%d requests reached the endpoint from AWS_ENDPOINT_URL_KMS", n)
	}
}
