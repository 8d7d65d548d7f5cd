package securelink

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/secret"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrNotFound is returned by a Store when no link has the hash.
	ErrNotFound = errors.New("securelink: link not found")
	// ErrUsed is returned by Store.Consume when the link was already
	// consumed.
	ErrUsed = errors.New("securelink: link already used")
	// ErrInvalidConfig is wrapped by New when the configuration is unusable.
	ErrInvalidConfig = errors.New("securelink: invalid configuration")
	// ErrInvalidRequest is wrapped by Issue when the request is unusable.
	ErrInvalidRequest = errors.New("securelink: invalid issue request")
)

// Defaults for Config fields left zero.
const (
	DefaultUnopenedTTL = 5 * time.Minute
	DefaultOpenedTTL   = 15 * time.Minute
	DefaultMaxAttempts = 5
	// DefaultIPRate and DefaultIPBurst limit requests per client IP.
	DefaultIPRate  = rate.Limit(1)
	DefaultIPBurst = 20
	// DefaultTokenRate and DefaultTokenBurst limit requests per link.
	DefaultTokenRate  = rate.Limit(0.5)
	DefaultTokenBurst = 10
)

// tokenBytes is the size of a link token: 256 bits.
const tokenBytes = 32

// Config configures a Service.
type Config struct {
	// BaseURL is the public base of the links, such as
	// https://pay.example.com; links are BaseURL + "/s/" + token. Its
	// origin is also the only Origin accepted on a submission.
	BaseURL string
	// UnopenedTTL is how long a link that was never opened lives
	// (default 5 minutes); OpenedTTL how long it lives after its first
	// opening (default 15 minutes).
	UnopenedTTL time.Duration
	OpenedTTL   time.Duration
	// MaxAttempts is how many invalid submissions spend a link (default 5).
	MaxAttempts int
	// CSRFKey is the 32-byte key from which each link's form secret is
	// derived with HMAC-SHA256 (New keeps a copy).
	CSRFKey []byte
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Logger receives one line per outcome; never a value or a token
	// (default: discard).
	Logger *slog.Logger
	// Metrics, when set, receives the service's counters.
	Metrics prometheus.Registerer
	// IPRate/IPBurst and TokenRate/TokenBurst are the rate limits per
	// client IP and per link (defaults DefaultIPRate and so on).
	IPRate     rate.Limit
	IPBurst    int
	TokenRate  rate.Limit
	TokenBurst int
	// ClientIP returns the client address a request is rate-limited by
	// (default: the host of RemoteAddr). Set it when the gateway runs
	// behind a proxy that sets a trusted header.
	ClientIP func(*http.Request) string
}

// Link is a stored secure link. It never holds the token, only its hash,
// and never a submitted value.
type Link struct {
	// Hash is SHA-256 of the token's 32 bytes.
	Hash []byte
	// Session and Step bind the link to one flow session and step.
	Session, Step string
	// Locale is the page's locale (en, pt-BR or es).
	Locale string
	// Fields are the values asked for.
	Fields []FieldSpec
	// CreatedAt is when the link was issued; ExpiresAt when it stops
	// working (moved to first opening + OpenedTTL when opened).
	CreatedAt, ExpiresAt time.Time
	// OpenedAt and UsedAt are zero until the link is first opened and
	// successfully submitted.
	OpenedAt, UsedAt time.Time
	// Attempts counts invalid submissions.
	Attempts int
}

// Store keeps links. Implementations: store/sqlite's LinkStore and, for
// tests, linktest.Store.
type Store interface {
	// CreateLink stores a new link.
	CreateLink(ctx context.Context, l Link) error
	// LinkByHash returns the link with the hash, or an error wrapping
	// ErrNotFound.
	LinkByHash(ctx context.Context, hash []byte) (Link, error)
	// MarkOpened records the first opening: only when the link was never
	// opened does it set OpenedAt to at and ExpiresAt to expiresAt; later
	// calls change nothing. ErrNotFound for an unknown hash.
	MarkOpened(ctx context.Context, hash []byte, at, expiresAt time.Time) error
	// CountAttempt adds one invalid submission and returns the new count.
	CountAttempt(ctx context.Context, hash []byte) (attempts int, err error)
	// Consume marks the link used at at, exactly once (a conditional
	// update): a second call returns an error wrapping ErrUsed.
	Consume(ctx context.Context, hash []byte, at time.Time) error
	// RevokeSession makes every unused link of the session unusable from
	// at (their ExpiresAt becomes at when later).
	RevokeSession(ctx context.Context, session string, at time.Time) error
}

// Sink receives what secure links collect. Submitted may be called more
// than once for one link (two concurrent submissions, or a store failure
// after the sink accepted the values), so it must be idempotent by
// Submission.LinkID.
type Sink interface {
	// Submitted takes the values of a valid submission, typically into the
	// vault. An error makes the page ask the customer to try again; the
	// link is not consumed.
	Submitted(ctx context.Context, s Submission) error
	// Failed reports that a link was spent without a valid submission
	// (reason is a short machine-readable word such as
	// "too_many_attempts"), so that the flow can take its failure path.
	Failed(ctx context.Context, session, step, reason string) error
}

// Submission is a valid submission of a link's form.
type Submission struct {
	Session, Step string
	// LinkID is the hex of the first 8 bytes of the link's hash: the key
	// for deduplication and logs.
	LinkID string
	// Values are in the link's field order.
	Values []Value
}

// Value is one submitted value, in the normal form of flow.Field.Validate.
type Value struct {
	Var    string
	Type   flow.InputType
	Secret secret.Value
	// Masked is the value's mask (flow.FilterMask), safe to show.
	Masked string
}

// Failure reasons given to Sink.Failed.
const (
	ReasonTooManyAttempts = "too_many_attempts"
)

// IssueRequest asks for a link.
type IssueRequest struct {
	Session, Step string
	// Locale is the page's locale: en, pt-BR or es (others fall back).
	Locale string
	Fields []*flow.Field
}

// Service issues secure links and serves their pages.
type Service struct {
	cfg     Config
	origin  string // scheme://host of BaseURL
	csrfKey []byte
	st      Store
	sink    Sink
	log     *slog.Logger
	ipLim   *limiters
	tokLim  *limiters
	metrics *metrics
}

// New returns a Service. cfg.BaseURL must be an absolute http or https URL
// and cfg.CSRFKey 32 bytes.
func New(cfg Config, st Store, sink Sink) (*Service, error) {
	if st == nil || sink == nil {
		return nil, fmt.Errorf("%w: nil store or sink", ErrInvalidConfig)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: BaseURL must be an absolute http(s) URL without query", ErrInvalidConfig)
	}
	if len(cfg.CSRFKey) != 32 {
		return nil, fmt.Errorf("%w: CSRFKey must be 32 bytes", ErrInvalidConfig)
	}
	if cfg.UnopenedTTL < 0 || cfg.OpenedTTL < 0 || cfg.MaxAttempts < 0 {
		return nil, fmt.Errorf("%w: negative TTL or MaxAttempts", ErrInvalidConfig)
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	// The copy in Service.csrfKey is the only one kept.
	csrfKey := append([]byte(nil), cfg.CSRFKey...)
	cfg.CSRFKey = nil
	if cfg.UnopenedTTL == 0 {
		cfg.UnopenedTTL = DefaultUnopenedTTL
	}
	if cfg.OpenedTTL == 0 {
		cfg.OpenedTTL = DefaultOpenedTTL
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IPRate == 0 {
		cfg.IPRate = DefaultIPRate
	}
	if cfg.IPBurst == 0 {
		cfg.IPBurst = DefaultIPBurst
	}
	if cfg.TokenRate == 0 {
		cfg.TokenRate = DefaultTokenRate
	}
	if cfg.TokenBurst == 0 {
		cfg.TokenBurst = DefaultTokenBurst
	}
	if cfg.ClientIP == nil {
		cfg.ClientIP = remoteHost
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg:     cfg,
		origin:  u.Scheme + "://" + u.Host,
		csrfKey: csrfKey,
		st:      st,
		sink:    sink,
		log:     cfg.Logger,
		ipLim:   newLimiters(cfg.IPRate, cfg.IPBurst),
		tokLim:  newLimiters(cfg.TokenRate, cfg.TokenBurst),
		metrics: m,
	}, nil
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// Issue creates a link for the fields and returns its URL and expiry. The
// URL holds the only copy of the token: hand it to the customer and drop
// it; never log it.
func (s *Service) Issue(ctx context.Context, req IssueRequest) (string, time.Time, error) {
	if req.Session == "" || req.Step == "" || len(req.Fields) == 0 {
		return "", time.Time{}, fmt.Errorf("%w: session, step and at least one field are required", ErrInvalidRequest)
	}
	specs := make([]FieldSpec, 0, len(req.Fields))
	seen := map[string]bool{}
	for i, f := range req.Fields {
		if f == nil || f.Var == "" || !f.Type.Valid() || f.Type == flow.InputSecret {
			return "", time.Time{}, fmt.Errorf("%w: field %d has no var or a type that cannot be collected", ErrInvalidRequest, i)
		}
		if seen[f.Var] {
			return "", time.Time{}, fmt.Errorf("%w: field %s appears twice", ErrInvalidRequest, f.Var)
		}
		seen[f.Var] = true
		specs = append(specs, FieldSpecFrom(f))
	}
	var tok [tokenBytes]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return "", time.Time{}, fmt.Errorf("securelink: token: %w", err)
	}
	h := sha256.Sum256(tok[:])
	now := s.cfg.Now()
	l := Link{
		Hash:      h[:],
		Session:   req.Session,
		Step:      req.Step,
		Locale:    normLocale(req.Locale),
		Fields:    specs,
		CreatedAt: now,
		ExpiresAt: now.Add(s.cfg.UnopenedTTL),
	}
	if err := s.st.CreateLink(ctx, l); err != nil {
		return "", time.Time{}, fmt.Errorf("securelink: issue: %w", err)
	}
	s.metrics.issued.Inc()
	s.log.InfoContext(ctx, "securelink: issued", "link", linkID(l.Hash), "session", l.Session, "step", l.Step,
		"fields", len(specs), "expires_at", l.ExpiresAt)
	return s.cfg.BaseURL + "/s/" + base64.RawURLEncoding.EncodeToString(tok[:]), l.ExpiresAt, nil
}

// Revoke makes every unused link of the session unusable at once, for
// example when the session ends or the customer cancels.
func (s *Service) Revoke(ctx context.Context, session string) error {
	if err := s.st.RevokeSession(ctx, session, s.cfg.Now()); err != nil {
		return fmt.Errorf("securelink: revoke: %w", err)
	}
	s.log.InfoContext(ctx, "securelink: revoked session links", "session", session)
	return nil
}

// linkIDKey is the context key of the link id given to a Sink.
type linkIDKey struct{}

// LinkIDFrom returns the id of the link (see LinkID) a Sink call is about,
// from the context the Service passes to Submitted and Failed; "" for any
// other context. Failed has no link id parameter: a sink that deduplicates
// failures by link reads it here.
func LinkIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(linkIDKey{}).(string)
	return id
}

// LinkID returns the public id of a link hash: the hex of its first 8
// bytes.
func LinkID(hash []byte) string { return linkID(hash) }

func linkID(hash []byte) string {
	if len(hash) > 8 {
		hash = hash[:8]
	}
	return hex.EncodeToString(hash)
}

// hashToken decodes a token from a URL and returns its hash.
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

// csrfFor returns the form secret of a link: HMAC-SHA256 over a domain
// label and the link's hash, base64url.
func (s *Service) csrfFor(hash []byte) string {
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte("secureflow securelink csrf v1\x00"))
	m.Write(hash)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
