package waflows

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/securelink"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrNotFound is returned by a Store when no token has the hash.
	ErrNotFound = errors.New("waflows: flow token not found")
	// ErrUsed is returned by Store.Consume when the token was already
	// consumed.
	ErrUsed = errors.New("waflows: flow token already used")
	// ErrInvalidConfig is wrapped by New when the configuration is unusable.
	ErrInvalidConfig = errors.New("waflows: invalid configuration")
	// ErrInvalidRequest is wrapped by Issue when the request is unusable.
	ErrInvalidRequest = errors.New("waflows: invalid issue request")
	// ErrInvalidKey is wrapped by LoadPrivateKey when the key cannot be used.
	ErrInvalidKey = errors.New("waflows: invalid private key")
)

// Defaults for Config fields left zero.
const (
	// DefaultTokenTTL is how long a flow token lives: the customer may open
	// the Flow message a while after it was sent.
	DefaultTokenTTL = 30 * time.Minute
	// DefaultMaxAttempts is how many invalid submissions spend a token.
	DefaultMaxAttempts = 5
	// DefaultBudget bounds the work done for one request. Meta aims for
	// answers under 1 s (whatsapp.md §3.8); the budget covers a slow store
	// or sink, after which the client gets an error instead of waiting.
	DefaultBudget = 3 * time.Second
	// DefaultMaxBodyBytes caps a request body. Requests carry a few small
	// form fields; 64 KiB is generous.
	DefaultMaxBodyBytes = 64 << 10
)

// tokenBytes is the size of a flow token: 256 bits.
const tokenBytes = 32

// Config configures a Service.
type Config struct {
	// PrivateKey is the business private key whose public half is
	// registered with Meta (whatsapp.md §3.1). Required, at least 2048 bits.
	PrivateKey *rsa.PrivateKey
	// AppSecrets verify X-Hub-Signature-256 (whatsapp.md §3.7): the first is
	// current, the rest accepted during a rotation. At least one is required.
	AppSecrets []secret.Value
	// TokenTTL is how long a flow token lives (default DefaultTokenTTL).
	TokenTTL time.Duration
	// MaxAttempts is how many invalid submissions spend a token (default
	// DefaultMaxAttempts).
	MaxAttempts int
	// Budget bounds the handling of one request (default DefaultBudget).
	Budget time.Duration
	// MaxBodyBytes caps a request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Logger receives one line per outcome; never a value or a token
	// (default: discard).
	Logger *slog.Logger
	// Metrics, when set, receives the service's counters.
	Metrics prometheus.Registerer
}

// Grant is a stored flow token. It never holds the token, only its hash,
// and never a submitted value.
type Grant struct {
	// Hash is SHA-256 of the token's 32 bytes.
	Hash []byte
	// Session and Step bind the token to one flow session and step.
	Session, Step string
	// Locale is the Flow's locale (en, pt-BR or es).
	Locale string
	// Fields are the values asked for.
	Fields []securelink.FieldSpec
	// CreatedAt is when the token was issued, ExpiresAt when it stops
	// working, UsedAt when it was consumed (zero until then).
	CreatedAt, ExpiresAt, UsedAt time.Time
	// Attempts counts invalid submissions.
	Attempts int
}

// Store keeps flow tokens. Implementations: store/sqlite's WAFlowStore
// and, for tests, waflowstest.Store.
type Store interface {
	// Create stores a new token.
	Create(ctx context.Context, g Grant) error
	// ByHash returns the token with the hash, or an error wrapping
	// ErrNotFound.
	ByHash(ctx context.Context, hash []byte) (Grant, error)
	// CountAttempt adds one invalid submission and returns the new count
	// (ErrNotFound for an unknown hash).
	CountAttempt(ctx context.Context, hash []byte) (int, error)
	// Consume marks the token used at at, exactly once (a conditional
	// update): a second call returns an error wrapping ErrUsed.
	Consume(ctx context.Context, hash []byte, at time.Time) error
	// RevokeSession makes every unused token of the session unusable from
	// at (their ExpiresAt becomes at when later).
	RevokeSession(ctx context.Context, session string, at time.Time) error
}

// Submission is a valid submission of a Flow's form. It is the type
// package securelink gives its sink, so one sink adapter serves both.
type Submission = securelink.Submission

// Value is one submitted value (see securelink.Value).
type Value = securelink.Value

// Sink receives what Flows collect. Submitted may be called more than once
// for one token (concurrent submissions, or a store failure after the sink
// accepted the values), so it must be idempotent by Submission.LinkID.
// The method set is securelink.Sink's, but Failed must read the token id
// with this package's LinkIDFrom.
type Sink interface {
	// Submitted takes the values of a valid submission, typically into the
	// vault. An error makes the Flow ask the customer to try again; the
	// token is not consumed.
	Submitted(ctx context.Context, s Submission) error
	// Failed reports that a token was spent without a valid submission
	// (reason is ReasonTooManyAttempts), so that the flow can take its
	// failure path. LinkIDFrom(ctx) gives the token id.
	Failed(ctx context.Context, session, step, reason string) error
}

// Failure reasons given to Sink.Failed.
const (
	ReasonTooManyAttempts = "too_many_attempts"
)

// IssueRequest asks for a flow token.
type IssueRequest struct {
	Session, Step string
	// Locale is the Flow's locale: en, pt-BR or es (others fall back).
	Locale string
	Fields []*flow.Field
}

// Service issues flow tokens and serves the Flows data endpoint.
type Service struct {
	cfg     Config
	key     *rsa.PrivateKey
	appKeys [][]byte
	st      Store
	sink    Sink
	log     *slog.Logger
	metrics *metrics
}

// New returns a Service.
func New(cfg Config, st Store, sink Sink) (*Service, error) {
	if st == nil || sink == nil {
		return nil, fmt.Errorf("%w: nil store or sink", ErrInvalidConfig)
	}
	if cfg.PrivateKey == nil || cfg.PrivateKey.N.BitLen() < 2048 {
		// whatsapp.md §3.1: a 2048-bit RSA key pair.
		return nil, fmt.Errorf("%w: PrivateKey must be an RSA key of at least 2048 bits", ErrInvalidConfig)
	}
	var keys [][]byte
	for _, s := range cfg.AppSecrets {
		if !s.IsZero() {
			keys = append(keys, s.Reveal())
		}
	}
	if len(keys) == 0 {
		// whatsapp.md §4, §6.2: Meta's sample skips the check when the
		// secret is unset; here it is required.
		return nil, fmt.Errorf("%w: at least one app secret is required", ErrInvalidConfig)
	}
	cfg.AppSecrets = nil
	if cfg.TokenTTL < 0 || cfg.MaxAttempts < 0 || cfg.Budget < 0 || cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("%w: negative TokenTTL, MaxAttempts, Budget or MaxBodyBytes", ErrInvalidConfig)
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Budget == 0 {
		cfg.Budget = DefaultBudget
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	key := cfg.PrivateKey
	cfg.PrivateKey = nil
	return &Service{cfg: cfg, key: key, appKeys: keys, st: st, sink: sink, log: cfg.Logger, metrics: m}, nil
}

// Issue creates a flow token for the fields and returns it with its expiry.
// The returned string is the only copy of the token: put it in the Flow
// message's flow_token (whatsapp.md §2.5) and drop it; never log it.
func (s *Service) Issue(ctx context.Context, req IssueRequest) (string, time.Time, error) {
	if req.Session == "" || req.Step == "" || len(req.Fields) == 0 {
		return "", time.Time{}, fmt.Errorf("%w: session, step and at least one field are required", ErrInvalidRequest)
	}
	specs := make([]securelink.FieldSpec, 0, len(req.Fields))
	seen := map[string]bool{}
	for i, f := range req.Fields {
		if f == nil || f.Var == "" || !f.Type.Valid() || f.Type == flow.InputSecret {
			return "", time.Time{}, fmt.Errorf("%w: field %d has no var or a type that cannot be collected", ErrInvalidRequest, i)
		}
		if f.Type.LinkOnWhatsApp() {
			// whatsapp.md §0: card numbers, account and national id numbers
			// are not asked for on WhatsApp, Flows included; they go by
			// secure link.
			return "", time.Time{}, fmt.Errorf("%w: field %s has type %s, which WhatsApp policy keeps off Flows", ErrInvalidRequest, f.Var, f.Type)
		}
		if !validName(f.Var) {
			return "", time.Time{}, fmt.Errorf("%w: field var %q is not a Flow JSON component name", ErrInvalidRequest, f.Var)
		}
		if seen[f.Var] {
			return "", time.Time{}, fmt.Errorf("%w: field %s appears twice", ErrInvalidRequest, f.Var)
		}
		seen[f.Var] = true
		specs = append(specs, securelink.FieldSpecFrom(f))
	}
	var tok [tokenBytes]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("waflows: token: %w", err)
	}
	h := sha256.Sum256(tok[:])
	now := s.cfg.Now()
	g := Grant{
		Hash: h[:], Session: req.Session, Step: req.Step, Locale: normLocale(req.Locale),
		Fields: specs, CreatedAt: now, ExpiresAt: now.Add(s.cfg.TokenTTL),
	}
	if err := s.st.Create(ctx, g); err != nil {
		return "", time.Time{}, fmt.Errorf("waflows: issue: %w", err)
	}
	s.metrics.issued.Inc()
	s.log.InfoContext(ctx, "waflows: issued", "token_id", tokenID(g.Hash), "session", g.Session, "step", g.Step,
		"fields", len(specs), "expires_at", g.ExpiresAt)
	return base64.RawURLEncoding.EncodeToString(tok[:]), g.ExpiresAt, nil
}

// Revoke makes every unused flow token of the session unusable at once,
// for example when the session ends or the customer cancels.
func (s *Service) Revoke(ctx context.Context, session string) error {
	if err := s.st.RevokeSession(ctx, session, s.cfg.Now()); err != nil {
		return fmt.Errorf("waflows: revoke: %w", err)
	}
	s.log.InfoContext(ctx, "waflows: revoked session tokens", "session", session)
	return nil
}

// validName reports whether v can name a Flow JSON component and a data
// key: letters, digits and underscores, starting with a letter.
func validName(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	for i, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r == '_' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

// tokenIDKey is the context key of the token id given to a Sink.
type tokenIDKey struct{}

// LinkIDFrom returns the id of the flow token (see TokenID) a Sink call is
// about, from the context the Service passes to Submitted and Failed; ""
// for any other context.
func LinkIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(tokenIDKey{}).(string)
	return id
}

// TokenID returns the public id of a token hash: "wf" and the hex of its
// first 8 bytes. It is Submission.LinkID and what logs show.
func TokenID(hash []byte) string { return tokenID(hash) }

func tokenID(hash []byte) string {
	if len(hash) > 8 {
		hash = hash[:8]
	}
	return "wf" + hex.EncodeToString(hash)
}

// hashToken decodes a flow token and returns its hash.
func hashToken(tok string) ([]byte, bool) {
	if len(tok) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(b) != tokenBytes {
		return nil, false
	}
	h := sha256.Sum256(b)
	return h[:], true
}
