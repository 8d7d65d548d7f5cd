package kms

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/secureflow/secureflow/internal/secret"
)

// HCVaultScheme starts the key URI of a HashiCorp Vault transit key, in the
// form Tink's hcvault integration expects.
const HCVaultScheme = "hcvault://"

var (
	// ErrKMS is wrapped by every error of this package: a malformed key
	// URI, a missing token, a KMS that cannot be reached or that refuses.
	ErrKMS = errors.New("kms")
	// ErrDenied is wrapped (with ErrKMS) when the KMS rejects the
	// credentials: a wrong, expired or under-privileged Vault token, or AWS
	// credentials that are refused or lack kms:Encrypt/kms:Decrypt.
	ErrDenied = errors.New("permission denied")
	// ErrNoToken is wrapped (with ErrKMS) when no Vault token was given
	// and VAULT_TOKEN is not in the environment given to WithEnviron.
	ErrNoToken = errors.New("no Vault token")
)

// Defaults for a Vault transit KEK. A KEK is used a few times per process
// lifetime (start, rotation), so patience is cheap and flapping is not.
const (
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 2
)

// IsKeyURI reports whether ref names a KMS key (it starts with a scheme this
// package serves, hcvault:// or aws-kms://) rather than holding key
// material.
func IsKeyURI(ref string) bool {
	return isHCVaultURI(ref) || isAWSURI(ref)
}

func isHCVaultURI(ref string) bool {
	return len(ref) >= len(HCVaultScheme) && strings.EqualFold(ref[:len(HCVaultScheme)], HCVaultScheme)
}

// Option configures Open.
type Option func(*options)

type options struct {
	token      secret.Value
	environ    []string
	plainHTTP  bool
	rootCAs    *x509.CertPool
	caFile     string
	timeout    time.Duration
	maxRetries int
	minWait    time.Duration
	namespace  string

	awsEndpoint string
	awsRegion   string
}

// WithToken sets the Vault token (configuration keys.kms_token). A zero
// value is ignored, so that the VAULT_TOKEN fallback applies.
func WithToken(token secret.Value) Option {
	return func(o *options) {
		if !token.IsZero() {
			o.token = token
		}
	}
}

// WithEnviron gives the environment (os.Environ's form) in which VAULT_TOKEN
// is looked up when no token is given. Without it there is no fallback.
func WithEnviron(environ []string) Option {
	return func(o *options) { o.environ = environ }
}

// WithPlainHTTPForTesting makes the client talk plain http:// to Vault:
// the token and every keyset travel unencrypted. Only for tests and local
// development against "vault server -dev".
func WithPlainHTTPForTesting() Option {
	return func(o *options) { o.plainHTTP = true }
}

// WithRootCAs sets the certificate authorities that the KMS's TLS
// certificate must chain to (a private CA); the default is the system's
// pool. For AWS it applies to every AWS call, credential services included.
func WithRootCAs(pool *x509.CertPool) Option {
	return func(o *options) { o.rootCAs = pool }
}

// WithCAFile adds the PEM certificates in path (configuration
// keys.kms_ca_file) as the only authorities the KMS's TLS certificate may
// chain to. Open fails if the file cannot be read or holds no certificate.
// An empty path is ignored.
func WithCAFile(path string) Option {
	return func(o *options) { o.caFile = path }
}

// WithTimeout bounds each request to the KMS, retries included (default
// DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithMaxRetries sets how often a request that failed with a 5xx status or
// a connection error (for AWS also throttling) is retried (default
// DefaultMaxRetries; 0 disables retries).
func WithMaxRetries(n int) Option {
	return func(o *options) { o.maxRetries = n }
}

// WithNamespace sends requests to a Vault Enterprise namespace
// (X-Vault-Namespace). By default no namespace is sent, whatever
// VAULT_NAMESPACE says.
func WithNamespace(ns string) Option {
	return func(o *options) { o.namespace = ns }
}

// WithRetryWaitForTesting sets the wait between retries (default one to
// one and a half seconds); tests use it so that retries do not cost seconds.
func WithRetryWaitForTesting(d time.Duration) Option {
	return func(o *options) { o.minWait = d }
}

// AEAD is a KMS key used as an authenticated cipher. It implements
// tink.AEAD and tink.AEADWithContext, and its ID is the key URI, so it is
// a vault.KEK and can protect a Tink keyset. It is safe for concurrent use.
type AEAD struct {
	uri   string
	a     tink.AEAD // hcvault://
	token secret.Value
	aws   *awsBackend // aws-kms://
}

var (
	_ tink.AEAD            = (*AEAD)(nil)
	_ tink.AEADWithContext = (*AEAD)(nil)
)

// Open returns the AEAD for a KMS key URI (see the package documentation
// for its form). It does not contact the KMS: a wrong token or an
// unreachable server shows on the first Encrypt or Decrypt.
func Open(uri string, opts ...Option) (*AEAD, error) {
	o := options{timeout: DefaultTimeout, maxRetries: DefaultMaxRetries}
	for _, opt := range opts {
		opt(&o)
	}
	if isAWSURI(uri) {
		return openAWS(uri, o)
	}
	if !isHCVaultURI(uri) {
		return nil, fmt.Errorf("%w: not a KMS key URI (want %sHOST[:PORT]/MOUNT/keys/NAME or %sarn:aws:kms:REGION:ACCOUNT:key/ID)", ErrKMS, HCVaultScheme, AWSKMSScheme)
	}
	u, err := parseHCVaultURI(uri)
	if err != nil {
		return nil, err
	}
	token := o.token
	if token.IsZero() {
		if v := lookup(o.environ, "VAULT_TOKEN"); v != "" {
			token = secret.FromString(v)
		}
	}
	if token.IsZero() {
		return nil, fmt.Errorf("%w: %w for %s: set keys.kms_token (or VAULT_TOKEN)", ErrKMS, ErrNoToken, uri)
	}

	if o.caFile != "" {
		pool, err := readCAFile(o.caFile)
		if err != nil {
			return nil, err
		}
		o.rootCAs = pool
	}
	scheme := "https"
	if o.plainHTTP {
		scheme = "http"
	}
	transport := &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.rootCAs},
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
	}
	cfg := &api.Config{
		Address: scheme + "://" + u.Host,
		HttpClient: &http.Client{
			Transport: transport,
			// Go's client forwards custom headers such as X-Vault-Token
			// on redirects, even to another host: never follow one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Timeout:          o.timeout,
		MaxRetries:       o.maxRetries,
		MinRetryWait:     o.minWait,
		MaxRetryWait:     o.minWait * 3 / 2,
		DisableRedirects: true,
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: vault client for %s: %w", ErrKMS, uri, err)
	}
	// api.NewClient reads VAULT_TOKEN, VAULT_NAMESPACE and VAULT_HEADERS
	// from the process environment; replace all three with what we were
	// given. X-Vault-Request is Vault's SSRF-protection header, which
	// NewClient sets and SetHeaders would otherwise drop.
	client.SetHeaders(http.Header{"X-Vault-Request": []string{"true"}})
	client.ClearNamespace()
	if o.namespace != "" {
		client.SetNamespace(o.namespace)
	}
	tb := token.Reveal()
	client.SetToken(string(tb))
	clear(tb)

	// Without WithLegacyContextParamater, Tink sends associated data as
	// transit's "associated_data" (authenticated by AEAD key types), not as
	// the key-derivation "context".
	kc, err := hcvault.NewClientWithAEADOptions(uri, client.Logical())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKMS, uri, err)
	}
	a, err := kc.GetAEAD(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKMS, uri, err)
	}
	return &AEAD{uri: uri, a: a, token: token}, nil
}

// parseHCVaultURI checks the parts of a key URI Tink does not: no user
// information (it would be a credential in a string that is shown as the
// KEK's ID), no query or fragment (Tink would silently ignore them), and a
// path of the form /MOUNT/keys/NAME. The URI is not quoted in errors, in
// case someone put a credential in it.
func parseHCVaultURI(uri string) (*url.URL, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("%w: malformed %s key URI", ErrKMS, HCVaultScheme)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("%w: a %s key URI must not contain user information; give the token in keys.kms_token", ErrKMS, HCVaultScheme)
	case u.Host == "":
		return nil, fmt.Errorf("%w: %s key URI has no host", ErrKMS, HCVaultScheme)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("%w: %s key URI must not have a query or fragment", ErrKMS, HCVaultScheme)
	}
	parts := strings.Split(u.EscapedPath(), "/")
	n := len(parts)
	if n < 4 || parts[0] != "" || parts[n-2] != "keys" || parts[n-1] == "" || slicesHasEmpty(parts[1:n-2]) {
		return nil, fmt.Errorf("%w: %s key URI path must be /MOUNT/keys/NAME", ErrKMS, HCVaultScheme)
	}
	return u, nil
}

func slicesHasEmpty(s []string) bool {
	for _, p := range s {
		if p == "" {
			return true
		}
	}
	return false
}

func lookup(environ []string, name string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// ID returns the key URI. It is not secret.
func (k *AEAD) ID() string { return k.uri }

// String returns the key URI.
func (k *AEAD) String() string { return k.uri }

// Encrypt encrypts plaintext bound to associatedData under the KMS key,
// with no deadline but the client's timeout. Prefer EncryptWithContext.
func (k *AEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	return k.EncryptWithContext(context.Background(), plaintext, associatedData)
}

// Decrypt decrypts a ciphertext from Encrypt with the same associated
// data. Prefer DecryptWithContext.
func (k *AEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	return k.DecryptWithContext(context.Background(), ciphertext, associatedData)
}

// EncryptWithContext encrypts plaintext bound to associatedData under the
// KMS key. It returns when ctx is done even if the request is still in
// flight; that request ends at the client's timeout at the latest.
func (k *AEAD) EncryptWithContext(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if k.aws != nil {
		return k.aws.encrypt(ctx, plaintext, associatedData)
	}
	ct, err := k.call(ctx, func() ([]byte, error) { return k.a.Encrypt(plaintext, associatedData) })
	if err != nil {
		return nil, k.wrap("encrypt", err, plaintext)
	}
	return ct, nil
}

// DecryptWithContext decrypts a ciphertext from Encrypt with the same
// associated data; see EncryptWithContext for how ctx is honoured.
func (k *AEAD) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	if k.aws != nil {
		return k.aws.decrypt(ctx, ciphertext, associatedData)
	}
	pt, err := k.call(ctx, func() ([]byte, error) { return k.a.Decrypt(ciphertext, associatedData) })
	if err != nil {
		return nil, k.wrap("decrypt", err, ciphertext)
	}
	return pt, nil
}

// call runs f, a blocking call into Tink's hcvault AEAD. Tink's tink.AEAD
// has no context and the integration calls Vault's client without one, so
// the context is honoured here: the caller gets ctx's error as soon as ctx
// is done, and the abandoned request runs out at the client's timeout.
func (k *AEAD) call(ctx context.Context, f func() ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := f()
		ch <- result{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-ctx.Done():
		go func() { clear((<-ch).b) }()
		return nil, context.Cause(ctx)
	}
}

// wrap turns an error from Tink's hcvault AEAD or Vault's client into one
// that is safe to log. Vault's own error messages ("permission denied",
// "invalid ciphertext") are kept, because they are what an operator needs;
// a message is withheld if it is long or contains the token or the data
// sent (a proxy echoing the request body, say).
func (k *AEAD) wrap(op string, err error, sent []byte) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s with %s: %w", ErrKMS, op, k.uri, err)
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		// Transport errors (*url.Error: method, URL, cause) and Tink's
		// response-shape errors ("no ciphertext") carry no request data.
		return fmt.Errorf("%w: %s with %s: %w", ErrKMS, op, k.uri, err)
	}
	tok := k.token.Reveal()
	defer clear(tok)
	forbidden := [][]byte{tok, sent, []byte(base64.StdEncoding.EncodeToString(sent))}
	msgs := make([]string, 0, len(re.Errors))
	for _, m := range re.Errors {
		if len(m) > 200 || containsAny([]byte(m), forbidden) {
			m = "[message withheld]"
		}
		msgs = append(msgs, m)
	}
	detail := strings.Join(msgs, "; ")
	if detail == "" {
		detail = http.StatusText(re.StatusCode)
	}
	if re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: %w: %s with %s: Vault answered %d: %s", ErrKMS, ErrDenied, op, k.uri, re.StatusCode, detail)
	}
	return fmt.Errorf("%w: %s with %s: Vault answered %d: %s", ErrKMS, op, k.uri, re.StatusCode, detail)
}

func containsAny(s []byte, subs [][]byte) bool {
	for _, sub := range subs {
		if len(sub) >= 4 && bytes.Contains(s, sub) {
			return true
		}
	}
	return false
}
