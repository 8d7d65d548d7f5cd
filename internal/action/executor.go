package action

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/secureflow/secureflow/internal/flow"
	"github.com/secureflow/secureflow/internal/retry"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
)

// MaxResponseSize bounds an upstream response body.
const MaxResponseSize = 1 << 20

// Revealer reveals a vault token for a principal and purpose; every reveal
// is audited by the vault. *vault.Vault satisfies it.
type Revealer interface {
	Reveal(ctx context.Context, token, principal, purpose string) (secret.Value, error)
}

// Tokenizer stores a secret and returns its token. *vault.Vault satisfies
// it.
type Tokenizer interface {
	Tokenize(ctx context.Context, kind vault.Kind, v secret.Value, opts vault.Options) (vault.Token, error)
}

// ExecutorConfig configures an [Executor].
type ExecutorConfig struct {
	// Catalog holds the actions. Required.
	Catalog *Catalog
	// Revealer reveals token inputs. Required to pass tokens.
	Revealer Revealer
	// Tokenizer tokenizes secret outputs. Required for actions with secret
	// outputs in their response mapping.
	Tokenizer Tokenizer
	// HTTPClient makes the upstream calls; nil uses a client over a clone
	// of http.DefaultTransport. Redirects are never followed (a redirect
	// would carry the secrets of the body to another host); actions with
	// mtls auth need its Transport to be nil or an *http.Transport.
	HTTPClient *http.Client
	// Logger receives one line per call (action, outcome, status,
	// attempts, duration), never values; nil discards.
	Logger *slog.Logger
	// Now is the clock for latencies; nil means time.Now.
	Now func() time.Time
	// Metrics registers the executor's metrics; nil registers nothing.
	Metrics prometheus.Registerer
	// Backoff spaces retries; zero means 200ms doubling up to 5s, with
	// full jitter.
	Backoff retry.Backoff
}

// Executor calls data actions. It is safe for concurrent use.
type Executor struct {
	revealer Revealer
	tok      Tokenizer
	log      *slog.Logger
	now      func() time.Time
	backoff  retry.Backoff
	actions  map[string]*runner
	calls    *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// runner is one action with its client and circuit breaker.
type runner struct {
	ep     *endpoint
	client *http.Client
	cb     *gobreaker.CircuitBreaker[*response]
}

type response struct {
	status     int
	retryAfter string
	body       []byte
}

// Call is one invocation of an action.
type Call struct {
	// Inputs are the action's inputs by name.
	Inputs map[string]Arg
	// IdempotencyKey is sent in the action's idempotency header; an
	// idempotent action without one gets a random key, the same for every
	// attempt.
	IdempotencyKey string
	// Principal is who calls (for example "flow:take-payment"): the vault
	// checks its reveals and records its tokenizations under it. Required.
	Principal string
	// Purpose is the reveal purpose the vault policy checks; empty means
	// the action's name.
	Purpose string
	// Session is the vault session secret outputs are tokenized into
	// (retention class session). Empty tokenizes them as ephemeral
	// (single reveal, short life).
	Session string
}

// Arg is one input: exactly one of Public, Token and Secret is set.
type Arg struct {
	// Public is a non-secret value (string, bool, integer or float).
	Public any
	// Token is a vault token, revealed for the call's principal and
	// purpose; the value goes only into the request body.
	Token string
	// Secret is a secret the caller already holds.
	Secret secret.Value
}

// Result is the outcome of a call.
type Result struct {
	// Outputs are the outputs the response mapping found, by name.
	Outputs map[string]Output
	// Status is the last HTTP status (0 if the upstream was not reached).
	Status int
	// Attempts is how many requests were sent.
	Attempts int
}

// Output is one output: Public for a public output, Token for a secret
// one (tokenized at once; the value never leaves the executor otherwise).
type Output struct {
	Public any
	Token  string
}

// New returns an Executor for cfg.
func New(cfg ExecutorConfig) (*Executor, error) {
	if cfg.Catalog == nil {
		return nil, errors.New("action: executor needs a catalog")
	}
	e := &Executor{
		revealer: cfg.Revealer, tok: cfg.Tokenizer, log: cfg.Logger, now: cfg.Now,
		backoff: cfg.Backoff, actions: map[string]*runner{},
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.backoff == (retry.Backoff{}) {
		e.backoff = retry.Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second}
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	for name, ep := range cfg.Catalog.actions {
		c := *base
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		if ep.cert != nil {
			var t *http.Transport
			switch bt := base.Transport.(type) {
			case nil:
				t = http.DefaultTransport.(*http.Transport).Clone()
			case *http.Transport:
				t = bt.Clone()
			default:
				return nil, fmt.Errorf("action %s: mtls needs an *http.Transport, not %T", name, bt)
			}
			t.TLSClientConfig = t.TLSClientConfig.Clone()
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = new(tls.Config)
			}
			t.TLSClientConfig.Certificates = []tls.Certificate{*ep.cert}
			if ep.roots != nil {
				t.TLSClientConfig.RootCAs = ep.roots
			}
			c.Transport = t
		}
		failures := ep.failures
		e.actions[name] = &runner{ep: ep, client: &c, cb: gobreaker.NewCircuitBreaker[*response](gobreaker.Settings{
			Name:        name,
			MaxRequests: 1,
			Timeout:     ep.openFor,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			// A canceled caller says nothing about the upstream.
			IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		})}
	}
	e.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "secureflow", Subsystem: "action", Name: "calls_total",
		Help: "Data action calls by action and outcome.",
	}, []string{"action", "outcome"})
	e.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "secureflow", Subsystem: "action", Name: "duration_seconds",
		Help: "Data action call latency, retries included, by action.", Buckets: prometheus.DefBuckets,
	}, []string{"action"})
	if cfg.Metrics != nil {
		var err error
		if e.calls, err = register(cfg.Metrics, e.calls); err != nil {
			return nil, err
		}
		if e.latency, err = register(cfg.Metrics, e.latency); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// register registers c, or returns the collector already registered.
func register[C prometheus.Collector](r prometheus.Registerer, c C) (C, error) {
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("action: register metrics: %w", err)
	}
	return c, nil
}

// Outcomes, the values of the outcome label.
const (
	outcomeOK          = "ok"
	outcomeInvalidCall = "invalid_call"
	outcomeNotAllowed  = "not_allowed"
	outcomeTimeout     = "timeout"
	outcomeCircuitOpen = "circuit_open"
	outcomeUpstream    = "upstream_error"
	outcomeBadResponse = "bad_response"
	outcomeCanceled    = "canceled"
	outcomeError       = "error"
)

func outcomeOf(err error) string {
	switch {
	case err == nil:
		return outcomeOK
	case errors.Is(err, ErrInvalidCall):
		return outcomeInvalidCall
	case errors.Is(err, ErrNotAllowed):
		return outcomeNotAllowed
	case errors.Is(err, ErrTimeout):
		return outcomeTimeout
	case errors.Is(err, ErrCircuitOpen):
		return outcomeCircuitOpen
	case errors.Is(err, ErrUpstream):
		return outcomeUpstream
	case errors.Is(err, ErrBadResponse):
		return outcomeBadResponse
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return outcomeCanceled
	}
	return outcomeError
}

// Invoke calls action name. Token inputs are revealed through the
// Revealer, and every secret goes only into the request body; secret
// outputs are tokenized through the Tokenizer before Invoke returns. On an
// error the Result still tells the last status and the attempts made.
func (e *Executor) Invoke(ctx context.Context, name string, call Call) (Result, error) {
	r, ok := e.actions[name]
	if !ok {
		return Result{}, fmt.Errorf("action %q: %w", name, ErrUnknownAction)
	}
	start := e.now()
	res, err := e.invoke(ctx, r, call)
	outcome := outcomeOf(err)
	e.calls.WithLabelValues(name, outcome).Inc()
	d := e.now().Sub(start)
	e.latency.WithLabelValues(name).Observe(d.Seconds())
	attrs := []slog.Attr{
		slog.String("action", name), slog.String("outcome", outcome), slog.Int("status", res.Status),
		slog.Int("attempts", res.Attempts), slog.Duration("duration", d), slog.String("principal", call.Principal),
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	e.log.LogAttrs(ctx, level, "action call", attrs...)
	return res, err
}

func (e *Executor) invoke(ctx context.Context, r *runner, call Call) (Result, error) {
	ep := r.ep
	if call.Principal == "" {
		return Result{}, fmt.Errorf("action %s: no principal: %w", ep.name, ErrInvalidCall)
	}
	public, secrets, err := e.checkInputs(ep, call)
	if err != nil {
		return Result{}, err
	}
	// Do not consume single-use tokens for a call that cannot be made.
	if r.cb.State() == gobreaker.StateOpen {
		return Result{}, fmt.Errorf("action %s: %w", ep.name, ErrCircuitOpen)
	}
	purpose := call.Purpose
	if purpose == "" {
		purpose = ep.name
	}
	for in, a := range call.Inputs {
		if a.Token == "" {
			continue
		}
		if e.revealer == nil {
			return Result{}, fmt.Errorf("action %s: input %s: no revealer for tokens: %w", ep.name, in, ErrInvalidCall)
		}
		v, err := e.revealer.Reveal(ctx, a.Token, call.Principal, purpose)
		if err != nil {
			if errors.Is(err, vault.ErrDenied) {
				return Result{}, fmt.Errorf("action %s: input %s: %w: %w", ep.name, in, ErrNotAllowed, err)
			}
			return Result{}, fmt.Errorf("action %s: input %s: reveal: %w", ep.name, in, err)
		}
		secrets[in] = v
	}
	key := call.IdempotencyKey
	if key == "" && ep.idempotent {
		var b [16]byte
		_, _ = rand.Read(b[:])
		key = hex.EncodeToString(b[:])
	}
	req, err := e.buildRequest(ep, public, secrets, key)
	if err != nil {
		return Result{}, err
	}
	defer req.body.clear()

	res := Result{}
	var resp *response
	for attempt := 0; ; attempt++ {
		res.Attempts++
		resp, err = r.cb.Execute(func() (*response, error) { return e.send(ctx, r, req) })
		if resp != nil {
			res.Status = resp.status
		}
		if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
			res.Attempts--
			return res, fmt.Errorf("action %s: %w", ep.name, ErrCircuitOpen)
		}
		if ctx.Err() != nil {
			return res, fmt.Errorf("action %s: %w", ep.name, ctx.Err())
		}
		if err == nil || !retryable(err) || attempt >= ep.retries {
			break
		}
		var floor time.Duration
		if resp != nil {
			floor = min(retry.ParseAfter(resp.retryAfter, e.now()), 30*time.Second)
		}
		t := time.NewTimer(e.backoff.Delay(attempt, floor, nil))
		select {
		case <-ctx.Done():
			t.Stop()
			return res, fmt.Errorf("action %s: %w", ep.name, ctx.Err())
		case <-t.C:
		}
	}
	if err != nil {
		var se *statusError
		switch {
		case errors.Is(err, errAttemptTimeout):
			return res, fmt.Errorf("action %s: no answer within %s: %w", ep.name, ep.timeout, ErrTimeout)
		case errors.As(err, &se):
			return res, &UpstreamError{Action: ep.name, Status: se.status}
		default:
			return res, &UpstreamError{Action: ep.name, Err: err}
		}
	}
	if resp.status < 200 || resp.status > 299 {
		return res, &UpstreamError{Action: ep.name, Status: resp.status}
	}
	defer clear(resp.body)
	res.Outputs, err = e.outputs(ctx, ep, call, resp.body)
	return res, err
}

// checkInputs validates the call's inputs against the catalog, returning
// the public values (coerced to their declared types) and the secrets the
// caller passed directly.
func (e *Executor) checkInputs(ep *endpoint, call Call) (map[string]any, map[string]secret.Value, error) {
	public := map[string]any{}
	secrets := map[string]secret.Value{}
	for in, a := range call.Inputs {
		p, ok := ep.spec.Inputs[in]
		if !ok {
			return nil, nil, fmt.Errorf("action %s: unknown input %s: %w", ep.name, in, ErrInvalidCall)
		}
		n := 0
		if a.Public != nil {
			n++
		}
		if a.Token != "" {
			n++
		}
		if !a.Secret.IsZero() {
			n++
		}
		switch {
		case n != 1:
			return nil, nil, fmt.Errorf("action %s: input %s: set exactly one of Public, Token and Secret: %w", ep.name, in, ErrInvalidCall)
		case p.Secret && a.Public != nil:
			return nil, nil, fmt.Errorf("action %s: secret input %s passed as a public value: %w", ep.name, in, ErrInvalidCall)
		case !p.Secret && a.Public == nil:
			return nil, nil, fmt.Errorf("action %s: public input %s passed as a secret: %w", ep.name, in, ErrInvalidCall)
		case a.Public != nil:
			v, err := coerce(typeOf(p), a.Public)
			if err != nil {
				return nil, nil, fmt.Errorf("action %s: input %s: %w: %w", ep.name, in, err, ErrInvalidCall)
			}
			public[in] = v
		case !a.Secret.IsZero():
			secrets[in] = a.Secret
		}
	}
	for in, p := range ep.spec.Inputs {
		if _, ok := call.Inputs[in]; p.Required && !ok {
			return nil, nil, fmt.Errorf("action %s: missing required input %s: %w", ep.name, in, ErrInvalidCall)
		}
	}
	return public, secrets, nil
}

func typeOf(p flow.ActionParam) flow.Type {
	if p.Type == "" {
		return flow.TypeString
	}
	return p.Type
}

// coerce converts a public value to type t. Errors name the type, never
// the value.
func coerce(t flow.Type, v any) (any, error) {
	switch t {
	case flow.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case flow.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b, nil
			}
		}
	case flow.TypeInt:
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case int64:
			return x, nil
		case float64:
			if x == float64(int64(x)) {
				return int64(x), nil
			}
		case json.Number:
			if i, err := x.Int64(); err == nil {
				return i, nil
			}
		case string:
			if i, err := strconv.ParseInt(x, 10, 64); err == nil {
				return i, nil
			}
		}
	case flow.TypeDouble:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int:
			return float64(x), nil
		case int64:
			return float64(x), nil
		case json.Number:
			if f, err := x.Float64(); err == nil {
				return f, nil
			}
		case string:
			if f, err := strconv.ParseFloat(x, 64); err == nil {
				return f, nil
			}
		}
	}
	return nil, fmt.Errorf("not a %s", t)
}

// text is a public value as it appears in a URL or header.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// request is a built request, sent as is on every attempt.
type request struct {
	method  string
	url     string
	header  http.Header
	body    *sealedBody // holds revealed secrets: cleared after the call
	hasBody bool
	hmacKey secret.Value
	hmacHdr string
}

func (e *Executor) buildRequest(ep *endpoint, public map[string]any, secrets map[string]secret.Value, key string) (*request, error) {
	req := &request{method: ep.method, header: http.Header{}}
	var u strings.Builder
	inQuery := false
	for _, p := range ep.url {
		if p.ref == "" {
			u.WriteString(p.lit)
			inQuery = inQuery || strings.Contains(p.lit, "?")
			continue
		}
		s := text(public[p.ref])
		if inQuery {
			u.WriteString(url.QueryEscape(s))
		} else {
			u.WriteString(url.PathEscape(s))
		}
	}
	req.url = u.String()
	for _, h := range ep.headers {
		var b strings.Builder
		for _, p := range h.value {
			switch {
			case p.ref == "":
				b.WriteString(p.lit)
			case p.ref == idempotencyRef:
				b.WriteString(key)
			default:
				b.WriteString(text(public[p.ref]))
			}
		}
		req.header.Set(h.name, strings.Map(dropControl, b.String()))
	}
	if key != "" {
		req.header.Set(ep.idemHeader, strings.Map(dropControl, key))
	}
	switch ep.auth {
	case authBearer:
		tok := ep.credential.Reveal()
		req.header.Set("Authorization", "Bearer "+string(tok))
		clear(tok)
	case authBasic:
		pw := ep.credential.Reveal()
		req.header.Set("Authorization", "Basic "+basic(ep.username, pw))
		clear(pw)
	case authHMAC:
		req.hmacKey, req.hmacHdr = ep.credential, ep.hmacHeader
	}
	if ep.body != nil {
		req.hasBody = true
		req.header.Set("Content-Type", "application/json")
		var buf bytes.Buffer
		if err := e.writeBody(&buf, ep, ep.body, public, secrets, key); err != nil {
			clear(buf.Bytes())
			return nil, err
		}
		req.body = &sealedBody{b: buf.Bytes()}
	}
	return req, nil
}

// sealedBody is a request body holding secrets. The transport may read a
// body after Do returns (http.RoundTripper), so reads and the final clear
// share a lock, and a read after the clear fails instead of sending zeros.
type sealedBody struct {
	mu      sync.Mutex
	b       []byte
	cleared bool
}

// errBodyCleared fails a read of a body already cleared.
var errBodyCleared = errors.New("request body cleared")

// clear zeroes the body; later reads fail.
func (s *sealedBody) clear() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.b)
	s.cleared = true
}

// sum returns the HMAC-SHA256 of the body under key.
func (s *sealedBody) sum(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	if s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		m.Write(s.b)
	}
	return m.Sum(nil)
}

func (s *sealedBody) reader() io.ReadCloser { return &bodyReader{s: s} }

type bodyReader struct {
	s   *sealedBody
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if r.s.cleared {
		return 0, errBodyCleared
	}
	if r.off >= len(r.s.b) {
		return 0, io.EOF
	}
	n := copy(p, r.s.b[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error { return nil }

func dropControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

func basic(user string, pw []byte) string {
	raw := make([]byte, 0, len(user)+1+len(pw))
	raw = append(append(append(raw, user...), ':'), pw...)
	defer clear(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

var (
	reJSONInt    = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	reJSONNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
)

// writeBody writes the JSON of n. A secret is revealed straight into buf
// and the revealed copy cleared.
func (e *Executor) writeBody(buf *bytes.Buffer, ep *endpoint, n *bodyNode, public map[string]any, secrets map[string]secret.Value, key string) error {
	switch n.kind {
	case bodyLiteral:
		buf.Write(n.lit)
	case bodyObject:
		buf.WriteByte('{')
		first := true
		for i, k := range n.keys {
			el := n.elems[i]
			if el.kind == bodyRef && !present(el.ref, public, secrets, key) {
				continue // an optional input not passed: leave the key out
			}
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeJSONString(buf, []byte(k))
			buf.WriteByte(':')
			if err := e.writeBody(buf, ep, el, public, secrets, key); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case bodyArray:
		buf.WriteByte('[')
		for i, el := range n.elems {
			if i > 0 {
				buf.WriteByte(',')
			}
			if el.kind == bodyRef && !present(el.ref, public, secrets, key) {
				buf.WriteString("null")
				continue
			}
			if err := e.writeBody(buf, ep, el, public, secrets, key); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case bodyString:
		var b strings.Builder
		for _, p := range n.parts {
			switch {
			case p.ref == "":
				b.WriteString(p.lit)
			case p.ref == idempotencyRef:
				b.WriteString(key)
			default:
				b.WriteString(text(public[p.ref]))
			}
		}
		writeJSONString(buf, []byte(b.String()))
	case bodyRef:
		if n.ref == idempotencyRef {
			writeJSONString(buf, []byte(key))
			return nil
		}
		if v, ok := public[n.ref]; ok {
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("action %s: input %s: %w", ep.name, n.ref, ErrInvalidCall)
			}
			buf.Write(b)
			return nil
		}
		s, ok := secrets[n.ref]
		if !ok {
			buf.WriteString("null")
			return nil
		}
		raw := s.Reveal()
		defer clear(raw)
		switch t := typeOf(ep.spec.Inputs[n.ref]); t {
		case flow.TypeString:
			writeJSONString(buf, raw)
		case flow.TypeInt, flow.TypeDouble, flow.TypeBool:
			ok := (t == flow.TypeInt && reJSONInt.Match(raw)) ||
				(t == flow.TypeDouble && reJSONNumber.Match(raw)) ||
				(t == flow.TypeBool && (bytes.Equal(raw, []byte("true")) || bytes.Equal(raw, []byte("false"))))
			if !ok {
				return fmt.Errorf("action %s: secret input %s is not a %s: %w", ep.name, n.ref, t, ErrInvalidCall)
			}
			buf.Write(raw)
		}
	}
	return nil
}

func present(ref string, public map[string]any, secrets map[string]secret.Value, key string) bool {
	if ref == idempotencyRef {
		return key != ""
	}
	if _, ok := public[ref]; ok {
		return true
	}
	_, ok := secrets[ref]
	return ok
}

// writeJSONString writes s as a JSON string without making an immutable
// copy of it (so that a secret can be cleared after use). Invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func writeJSONString(buf *bytes.Buffer, s []byte) {
	const hexDigits = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case c == '\n':
				buf.WriteString(`\n`)
			case c == '\r':
				buf.WriteString(`\r`)
			case c == '\t':
				buf.WriteString(`\t`)
			case c < 0x20, c == '<', c == '>', c == '&':
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xf])
			default:
				buf.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xf])
		default:
			buf.Write(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// errAttemptTimeout marks an attempt that ran out of the action's timeout.
var errAttemptTimeout = errors.New("attempt timed out")

// statusError is a retryable HTTP status (429 or 5xx): a failure for the
// circuit breaker.
type statusError struct{ status int }

func (e *statusError) Error() string { return "upstream status " + strconv.Itoa(e.status) }

func retryable(err error) bool {
	// Statuses the upstream may answer differently next time, network
	// errors and attempt timeouts; never a canceled caller.
	return !errors.Is(err, context.Canceled) && !errors.Is(err, ErrInvalidCall)
}

// send makes one attempt. It returns an error for a failure the circuit
// breaker counts: a network error, a timeout, 429 or 5xx.
func (e *Executor) send(ctx context.Context, r *runner, rq *request) (*response, error) {
	ep := r.ep
	actx, cancel := context.WithTimeout(ctx, ep.timeout)
	defer cancel()
	var body io.ReadCloser
	if rq.hasBody {
		body = rq.body.reader()
	}
	req, err := http.NewRequestWithContext(actx, rq.method, rq.url, body)
	if err != nil {
		// The URL holds public inputs only, but keep errors value-free.
		return nil, fmt.Errorf("build request: %w", ErrInvalidCall)
	}
	req.Header = rq.header.Clone()
	if rq.hasBody {
		req.ContentLength = int64(len(rq.body.b))
		// Reading the body again on an HTTP/2 retry of the transport.
		req.GetBody = func() (io.ReadCloser, error) { return rq.body.reader(), nil }
	}
	if !rq.hmacKey.IsZero() {
		// hex(HMAC-SHA256(secret, body)): the common webhook-signing
		// convention (GitHub, Stripe-style X-Signature headers).
		k := rq.hmacKey.Reveal()
		sum := rq.body.sum(k)
		clear(k)
		req.Header.Set(rq.hmacHdr, hex.EncodeToString(sum))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if actx.Err() != nil {
			return nil, errAttemptTimeout
		}
		return nil, transportError(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	out := &response{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: b}
	if err != nil {
		clear(b)
		out.body = nil
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		if actx.Err() != nil {
			return out, errAttemptTimeout
		}
		return out, transportError(err)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		clear(b)
		out.body = nil
		return out, &statusError{status: resp.StatusCode}
	}
	return out, nil
}

// transportError strips the *url.Error wrapper, whose message repeats the
// URL, keeping the cause (a net.OpError names addresses only).
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return err
	}
	return fmt.Errorf("transport: %w", err)
}

// kindOf maps a catalog output kind to the vault's.
func kindOf(k flow.InputType) vault.Kind { return vault.Kind(k.VaultKind()) }

// outputs extracts the mapped outputs from a 2xx JSON body, tokenizing the
// secret ones.
func (e *Executor) outputs(ctx context.Context, ep *endpoint, call Call, body []byte) (map[string]Output, error) {
	out := map[string]Output{}
	if len(ep.response) == 0 {
		return out, nil
	}
	if len(body) > MaxResponseSize {
		return nil, fmt.Errorf("action %s: response larger than %d bytes: %w", ep.name, MaxResponseSize, ErrBadResponse)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		// The decoder's message may quote the body: leave it out.
		return nil, fmt.Errorf("action %s: response is not JSON: %w", ep.name, ErrBadResponse)
	}
	for _, op := range ep.response {
		v, ok := walk(doc, op.path)
		if !ok || v == nil {
			continue
		}
		p := ep.spec.Outputs[op.output]
		if !p.Secret {
			pv, err := coerceOutput(typeOf(p), v)
			if err != nil {
				return nil, fmt.Errorf("action %s: output %s: %w: %w", ep.name, op.output, err, ErrBadResponse)
			}
			out[op.output] = Output{Public: pv}
			continue
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		case bool:
			s = strconv.FormatBool(x)
		default:
			return nil, fmt.Errorf("action %s: secret output %s is not a scalar: %w", ep.name, op.output, ErrBadResponse)
		}
		if s == "" {
			continue
		}
		if e.tok == nil {
			return nil, fmt.Errorf("action %s: output %s: no tokenizer for secret outputs", ep.name, op.output)
		}
		o := vault.Options{Principal: call.Principal, Retention: vault.RetainEphemeral}
		if call.Session != "" {
			o.Retention, o.Session = vault.RetainSession, call.Session
		}
		t, err := e.tok.Tokenize(ctx, kindOf(p.Kind), secret.FromString(s), o)
		if err != nil {
			return nil, fmt.Errorf("action %s: output %s: tokenize: %w", ep.name, op.output, err)
		}
		out[op.output] = Output{Token: t.ID}
	}
	return out, nil
}

// walk follows a dotted path through objects (and arrays, by index).
func walk(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// coerceOutput converts a JSON value to a public output of type t.
func coerceOutput(t flow.Type, v any) (any, error) {
	switch t {
	case flow.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case flow.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case flow.TypeInt, flow.TypeDouble:
		if n, ok := v.(json.Number); ok {
			return coerce(t, n)
		}
	}
	return nil, fmt.Errorf("not a %s", t)
}

// InvokeWithTokens serves a contact-centre data action (POST
// /v1/actions/{name}/invoke): secret inputs are vault tokens, public ones
// plain strings converted to their declared types. The purpose of the
// reveals is the action's name; secret outputs are tokenized as ephemeral
// values. The result holds public outputs and tokens for secret ones only:
// a flat object, as Architect wants data-action contracts flat
// (genesys.md §4.2). Genesys gives a data action 1 to 60 seconds
// (timeoutSeconds, genesys.md §4.3): keep the action's timeout times its
// attempts, plus backoff, below the data action's.
func (e *Executor) InvokeWithTokens(ctx context.Context, name string, inputs map[string]string, idempotencyKey, principal string) (map[string]any, error) {
	r, ok := e.actions[name]
	if !ok {
		return nil, fmt.Errorf("action %q: %w", name, ErrUnknownAction)
	}
	call := Call{Inputs: make(map[string]Arg, len(inputs)), IdempotencyKey: idempotencyKey, Principal: principal}
	for in, v := range inputs {
		p, ok := r.ep.spec.Inputs[in]
		switch {
		case !ok:
			return nil, fmt.Errorf("action %s: unknown input %s: %w", name, in, ErrInvalidCall)
		case p.Secret:
			if v == "" {
				return nil, fmt.Errorf("action %s: secret input %s: empty token: %w", name, in, ErrInvalidCall)
			}
			call.Inputs[in] = Arg{Token: v}
		default:
			call.Inputs[in] = Arg{Public: v}
		}
	}
	res, err := e.Invoke(ctx, name, call)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(res.Outputs))
	for k, o := range res.Outputs {
		if o.Token != "" {
			out[k] = o.Token
		} else {
			out[k] = o.Public
		}
	}
	return out, nil
}
