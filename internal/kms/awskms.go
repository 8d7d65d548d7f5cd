package kms

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	"github.com/tink-crypto/tink-go-awskms/v3/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/secureflow/secureflow/internal/secret"
)

// AWSKMSScheme starts the key URI of an AWS KMS key, in the form Tink's
// awskms integration expects: aws-kms://arn:PARTITION:kms:REGION:ACCOUNT:key/ID
// (or :alias/NAME).
const AWSKMSScheme = "aws-kms://"

// ErrNoCredentials is wrapped (with ErrKMS) when the AWS SDK's standard
// credential chain (environment, shared config and credentials files, web
// identity, container or instance role) yields no usable credentials.
var ErrNoCredentials = errors.New("no usable AWS credentials")

// awsARN is the key ARN syntax this package accepts (AWS KMS developer
// guide, "Key identifiers (KeyId)": a key ARN is
// arn:PARTITION:kms:REGION:ACCOUNT:key/KEY_ID, an alias ARN
// arn:PARTITION:kms:REGION:ACCOUNT:alias/NAME). It is stricter than Tink's
// own check, which only extracts the region, so that a typo fails at start
// with a clear message rather than as an AWS error on first use.
var awsARN = regexp.MustCompile(`^arn:(aws[a-z-]*):kms:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)$`)

// awsDeniedCodes are the AWS error codes (the JSON "__type") that mean the
// credentials were refused or lack permission: AWS KMS API reference,
// "Common Errors" (AccessDeniedException, IncompleteSignature,
// InvalidClientTokenId, MissingAuthenticationToken, ...) and the KMS-specific
// UnrecognizedClientException / InvalidSignatureException /
// ExpiredTokenException the JSON protocol answers for bad signatures.
var awsDeniedCodes = map[string]bool{
	"AccessDeniedException":       true,
	"UnrecognizedClientException": true,
	"InvalidSignatureException":   true,
	"IncompleteSignature":         true,
	"InvalidClientTokenId":        true,
	"MissingAuthenticationToken":  true,
	"ExpiredTokenException":       true,
	"SignatureDoesNotMatch":       true,
	"NotAuthorized":               true,
}

// awsBackend is the AWS KMS half of AEAD.
type awsBackend struct {
	uri     string
	a       tink.AEADWithContext
	timeout time.Duration
	creds   *recordingCredentials
}

// WithAWSEndpointForTesting sends AWS KMS requests to baseURL (for example
// an httptest server from kmstest.NewAWSKMS) instead of
// https://kms.REGION.amazonaws.com. It must be https:// unless
// WithPlainHTTPForTesting is also given. Only for tests.
func WithAWSEndpointForTesting(baseURL string) Option {
	return func(o *options) { o.awsEndpoint = baseURL }
}

// WithAWSRegionForTesting signs requests for region instead of the region
// in the key ARN. Only for tests (a real KMS refuses a request signed for
// another region).
func WithAWSRegionForTesting(region string) Option {
	return func(o *options) { o.awsRegion = region }
}

// openAWS is Open for an aws-kms:// URI. Credentials come from the AWS
// SDK's standard chain, which reads the process environment and shared
// files: unlike Vault's token, they are not passed in.
func openAWS(uri string, o options) (*AEAD, error) {
	keyID := uri[len(AWSKMSScheme):]
	m := awsARN.FindStringSubmatch(keyID)
	if m == nil {
		return nil, fmt.Errorf("%w: %s key URI must be %sarn:aws:kms:REGION:ACCOUNT:key/ID (or :alias/NAME)", ErrKMS, AWSKMSScheme, AWSKMSScheme)
	}
	if !o.token.IsZero() {
		return nil, fmt.Errorf("%w: a Vault token (keys.kms_token) was given for the AWS KMS key %s; AWS credentials come from the standard AWS chain", ErrKMS, uri)
	}
	region := m[2]
	if o.awsRegion != "" {
		region = o.awsRegion
	}
	if o.caFile != "" {
		pool, err := readCAFile(o.caFile)
		if err != nil {
			return nil, err
		}
		o.rootCAs = pool
	}
	if o.awsEndpoint != "" {
		u, err := url.Parse(o.awsEndpoint)
		if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && o.plainHTTP)) {
			return nil, fmt.Errorf("%w: AWS KMS test endpoint must be an https:// URL (http:// only with WithPlainHTTPForTesting)", ErrKMS)
		}
	}

	httpClient := &http.Client{
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.rootCAs},
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
		},
		// A 307/308 redirect would re-send the body, a keyset in clear,
		// to wherever it points: never follow one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	// LoadDefaultConfig reads only the environment and local files
	// (credentials are fetched lazily, on the first request), so it needs
	// no caller context.
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(region),
		config.WithHTTPClient(httpClient),
	)
	if err != nil {
		// Shared-config errors name a file or profile, not its contents.
		return nil, fmt.Errorf("%w: AWS configuration for %s: %w", ErrKMS, uri, err)
	}
	creds := &recordingCredentials{p: cfg.Credentials}
	cfg.Credentials = creds

	attempts := o.maxRetries + 1
	minWait := o.minWait
	client := awskmsapi.NewFromConfig(cfg, func(ko *awskmsapi.Options) {
		if o.awsEndpoint != "" {
			ko.BaseEndpoint = aws.String(o.awsEndpoint)
		}
		ko.RetryMaxAttempts = attempts
		ko.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = attempts
			// A KEK is used a few times per process: no client-side
			// retry budget to exhaust.
			so.RateLimiter = ratelimit.None
			if minWait > 0 {
				so.Backoff = fixedBackoff(minWait)
			}
		})
	})
	// Tink's default EncryptionContext name is "associatedData", holding
	// the associated data in hex (tink-go-awskms/v3 aws_kms_aead.go).
	a, err := awskms.NewAEADWithContext(context.Background(), keyID, awskms.WithKMS(client))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrKMS, uri, err)
	}
	return &AEAD{uri: uri, aws: &awsBackend{uri: uri, a: a, timeout: o.timeout, creds: creds}}, nil
}

func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: CA file: %w", ErrKMS, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: CA file %s holds no PEM certificate", ErrKMS, path)
	}
	return pool, nil
}

type fixedBackoff time.Duration

func (d fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(d), nil }

func (b *awsBackend) encrypt(ctx context.Context, plaintext, ad []byte) ([]byte, error) {
	return b.do(ctx, "encrypt", plaintext, func(ctx context.Context) ([]byte, error) {
		return b.a.EncryptWithContext(ctx, plaintext, ad)
	})
}

func (b *awsBackend) decrypt(ctx context.Context, ciphertext, ad []byte) ([]byte, error) {
	return b.do(ctx, "decrypt", ciphertext, func(ctx context.Context) ([]byte, error) {
		return b.a.DecryptWithContext(ctx, ciphertext, ad)
	})
}

// do runs f under the per-call timeout. The AWS SDK honours ctx itself, so
// no goroutine is needed, unlike the Vault client.
func (b *awsBackend) do(ctx context.Context, op string, sent []byte, f func(context.Context) ([]byte, error)) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cctx := ctx
	if b.timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	out, err := f(cctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s with %s: %w", ErrKMS, op, b.uri, context.Cause(ctx))
		}
		if cctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s with %s: no answer within %v: %w", ErrKMS, op, b.uri, b.timeout, context.DeadlineExceeded)
		}
		return nil, b.wrap(op, err, sent)
	}
	return out, nil
}

// wrap turns an AWS SDK error into one that is safe to log: AWS's error
// code and message (what an operator needs: "AccessDeniedException: User
// ... is not authorized to perform kms:Decrypt") are kept, but a message is
// withheld if it is long or contains the data sent or the credentials in
// use (a proxy echoing the request, a credential process printing its
// output).
func (b *awsBackend) wrap(op string, err error, sent []byte) error {
	forbidden := b.creds.secrets()
	defer func() {
		for _, f := range forbidden {
			clear(f)
		}
	}()
	forbidden = append(forbidden, sent, []byte(base64.StdEncoding.EncodeToString(sent)))
	clean := func(s string, limit int) string {
		if len(s) > limit || containsAny([]byte(s), forbidden) {
			return "[message withheld]"
		}
		return s
	}

	var ce *credentialsError
	if errors.As(err, &ce) {
		return fmt.Errorf("%w: %w: %s with %s: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role: %s",
			ErrKMS, ErrNoCredentials, op, b.uri, clean(ce.err.Error(), 500))
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		// Transport errors name the endpoint and the cause, no request data;
		// checked all the same.
		return fmt.Errorf("%w: %s with %s: %s", ErrKMS, op, b.uri, clean(err.Error(), 1000))
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	detail := ae.ErrorCode()
	if msg := ae.ErrorMessage(); msg != "" {
		detail += ": " + clean(msg, 300)
	}
	if awsDeniedCodes[ae.ErrorCode()] || status == http.StatusUnauthorized || status == http.StatusForbidden {
		return fmt.Errorf("%w: %w: %s with %s: AWS KMS answered %d %s", ErrKMS, ErrDenied, op, b.uri, status, detail)
	}
	return fmt.Errorf("%w: %s with %s: AWS KMS answered %d %s", ErrKMS, op, b.uri, status, detail)
}

// recordingCredentials wraps the SDK's credential chain: it marks its
// failures (so that "no credentials" can be told apart from a refusal) and
// remembers the secret parts of what it returned, so that wrap can check
// that no error text quotes them.
type recordingCredentials struct {
	p aws.CredentialsProvider

	mu      sync.Mutex
	akid    secret.Value
	secret  secret.Value
	session secret.Value
}

type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "AWS credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// Retrieve implements aws.CredentialsProvider.
func (r *recordingCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if r.p == nil {
		return aws.Credentials{}, &credentialsError{errors.New("no credential provider configured")}
	}
	c, err := r.p.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &credentialsError{err}
	}
	r.mu.Lock()
	r.akid = secret.FromString(c.AccessKeyID)
	r.secret = secret.FromString(c.SecretAccessKey)
	r.session = secret.FromString(c.SessionToken)
	r.mu.Unlock()
	return c, nil
}

// secrets returns copies of the last credentials handed to the SDK (the
// access key id too: not secret, but no error needs it); the caller clears
// them.
func (r *recordingCredentials) secrets() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return [][]byte{r.akid.Reveal(), r.secret.Reveal(), r.session.Reveal()}
}

// isAWSURI reports whether ref starts with aws-kms://, in any case.
func isAWSURI(ref string) bool {
	return len(ref) >= len(AWSKMSScheme) && strings.EqualFold(ref[:len(AWSKMSScheme)], AWSKMSScheme)
}
