package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secureflow/secureflow/internal/secret"
)

// Defaults and limits of Config.
const (
	DefaultEphemeralMaxAge = 10 * time.Minute
	MaxEphemeralMaxAge     = time.Hour
	DefaultSessionMaxAge   = 24 * time.Hour
	MaxSessionMaxAge       = 30 * 24 * time.Hour
	DefaultCardTokenPrefix = "9"
)

// maxAttempts bounds the candidates tried for a format-preserving or
// deterministic token that collides with a live or retired one.
const maxAttempts = 16

// maxValueSize bounds a value: the vault holds secrets, not documents.
const maxValueSize = 4096

// System principals, recorded in the audit log for work nobody asked for.
const (
	PrincipalSweeper = "system:sweeper"
	PrincipalVault   = "system:vault"
)

// Config configures a Vault.
type Config struct {
	// Store persists records, keysets and the audit log. Required.
	Store Store
	// KEK encrypts the keysets. Required.
	KEK KEK
	// Policy says who may reveal what. Nil denies every reveal.
	Policy *Policy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives maintenance summaries (counts, key ids, tokens of
	// records that fail to authenticate), never values; nil discards.
	Logger *slog.Logger
	// EphemeralMaxAge caps the life of ephemeral values; default 10m, at
	// most 1h.
	EphemeralMaxAge time.Duration
	// SessionMaxAge caps the life of session values whose session never
	// ends; default 24h, at most 30 days.
	SessionMaxAge time.Duration
	// CardTokenPrefix starts every card token: 1 to 6 digits that no
	// payment scheme issues (default "9"; an acquirer may reserve a
	// private range).
	CardTokenPrefix string
	// CreateKeys lets Open generate the keysets when the store has none.
	// When false, Open returns ErrNoKeys instead ("secureflow keys init"
	// creates them).
	CreateKeys bool
}

// Vault tokenizes, reveals and erases values. It is safe for concurrent
// use; several Vaults (processes) may share one store.
type Vault struct {
	store        Store
	kek          KEK
	policy       *Policy
	now          func() time.Time
	log          *slog.Logger
	ephemeralMax time.Duration
	sessionMax   time.Duration
	cardPrefix   string

	keys     atomic.Pointer[keys]
	reloadMu sync.Mutex
}

// Open loads (or, with CreateKeys, creates) the keysets and returns a
// Vault. A wrong KEK fails here with ErrKEK.
func Open(ctx context.Context, cfg Config) (*Vault, error) {
	if cfg.Store == nil || cfg.KEK == nil {
		return nil, invalid("config: Store and KEK are required")
	}
	v := &Vault{
		store: cfg.Store, kek: cfg.KEK, policy: cfg.Policy, now: cfg.Now, log: cfg.Logger,
		ephemeralMax: cfg.EphemeralMaxAge, sessionMax: cfg.SessionMaxAge, cardPrefix: cfg.CardTokenPrefix,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.ephemeralMax == 0 {
		v.ephemeralMax = DefaultEphemeralMaxAge
	}
	if v.sessionMax == 0 {
		v.sessionMax = DefaultSessionMaxAge
	}
	if v.cardPrefix == "" {
		v.cardPrefix = DefaultCardTokenPrefix
	}
	if v.ephemeralMax < 0 || v.ephemeralMax > MaxEphemeralMaxAge {
		return nil, invalid("config: EphemeralMaxAge must be between 0 and %s", MaxEphemeralMaxAge)
	}
	if v.sessionMax < 0 || v.sessionMax > MaxSessionMaxAge {
		return nil, invalid("config: SessionMaxAge must be between 0 and %s", MaxSessionMaxAge)
	}
	if err := validCardTokenPrefix(v.cardPrefix); err != nil {
		return nil, err
	}
	if _, err := v.refresh(ctx); err != nil {
		if !errors.Is(err, ErrNoKeys) || !cfg.CreateKeys {
			return nil, err
		}
		if err := v.initKeys(ctx, PrincipalVault); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// InitKeys creates the keysets in st under kek, as "secureflow keys init"
// does, recording principal in the audit log. It returns ErrConflict if
// keysets already exist.
func InitKeys(ctx context.Context, st Store, kek KEK, principal string, now time.Time) (Status, error) {
	if err := validName(principal, 128); err != nil {
		return Status{}, invalid("principal: %v", err)
	}
	values, fps, err := freshKeysets()
	if err != nil {
		return Status{}, err
	}
	vb, fb, err := encryptKeysets(ctx, kek, values, fps)
	if err != nil {
		return Status{}, err
	}
	now = msTime(now)
	k, err := newKeys(values, fps, 1, kek.ID(), now)
	if err != nil {
		return Status{}, err
	}
	err = st.SaveKeysets(ctx, StoredKeysets{Generation: 1, KEKID: kek.ID(), Values: vb, Fingerprints: fb, UpdatedAt: now},
		AuditEntry{At: now, Action: ActionKeysInit, Outcome: OutcomeOK, Principal: principal, KeyID: k.valuesPrimary,
			Detail: fmt.Sprintf("values=%d fingerprints=%d kek=%s", k.valuesPrimary, k.prf.PrimaryID, kek.ID())})
	if err != nil {
		return Status{}, err
	}
	return k.status(KeyUsage{}), nil
}

func (v *Vault) initKeys(ctx context.Context, principal string) error {
	_, err := InitKeys(ctx, v.store, v.kek, principal, v.now())
	if err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	// Created here, or by another process at the same time: load.
	_, err = v.refresh(ctx)
	return err
}

// refresh loads the keysets from the store if they are newer than the
// snapshot in use.
func (v *Vault) refresh(ctx context.Context) (*keys, error) {
	v.reloadMu.Lock()
	defer v.reloadMu.Unlock()
	st, err := v.store.Keysets(ctx)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNoKeys
	}
	if err != nil {
		return nil, fmt.Errorf("vault: load keysets: %w", err)
	}
	if cur := v.keys.Load(); cur != nil && cur.generation >= st.Generation {
		return cur, nil
	}
	k, err := decryptKeysets(ctx, v.kek, st)
	if err != nil {
		return nil, err
	}
	v.keys.Store(k)
	return k, nil
}

// keysFor returns a snapshot that has the keys r was written with,
// reloading once if another process rotated since the snapshot was taken.
func (v *Vault) keysFor(ctx context.Context, r *Record) (*keys, error) {
	k := v.keys.Load()
	if k.valuesIDs[r.DEKKeyID] && k.prf.PRFs[r.FingerprintKeyID] != nil {
		return k, nil
	}
	return v.refresh(ctx)
}

// Options are the per-value choices of Tokenize.
type Options struct {
	// Principal is who tokenizes, for the audit log. Required.
	Principal string
	// Format is the token's format; zero means FormatOpaque.
	Format Format
	// Retention is how long the value may live. Required.
	Retention Retention
	// Session is the session a ClassSession value belongs to (required for
	// that class, refused for the others).
	Session string
	// TTL, when positive, shortens the value's life below its class limit.
	TTL time.Duration
	// Deterministic gives the same value the same token within Scope
	// (per kind and format), instead of a fresh random token each time.
	// Only for ClassDays and ClassPermanent. A second tokenization returns
	// the existing token, extending its life if it asks for longer. This
	// reveals equality of values within the scope to whoever sees tokens;
	// use it only where that is the point (a customer's card on file).
	Deterministic bool
	// Scope partitions deterministic tokens (a tenant, a merchant); the
	// same value gets unrelated tokens in different scopes. Required with
	// Deterministic, refused without.
	Scope string
}

// Token describes a tokenized value. Nothing in it is secret: it is what
// the rest of the gateway and the contact centre may see.
type Token struct {
	// ID is the token itself: what callers store and hand on.
	ID            string
	Kind          Kind
	Format        Format
	Retention     Retention
	Deterministic bool
	Scope         string
	Session       string
	CreatedAt     time.Time
	// ExpiresAt is when the value will be erased; zero for never.
	ExpiresAt time.Time
	// Fingerprint is the value's keyed fingerprint under the key the record
	// uses ("fp_<key id>_<base64url>"). Equal fingerprints mean equal
	// values (of the same kind); see Vault.Fingerprint for its caveats.
	Fingerprint string
}

// String returns the token.
func (t Token) String() string { return t.ID }

func tokenOf(r *Record) Token {
	return Token{
		ID: r.Token, Kind: r.Kind, Format: r.Format, Retention: r.Retention, Deterministic: r.Deterministic,
		Scope: r.Scope, Session: r.Session, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
		Fingerprint: formatFingerprint(r.FingerprintKeyID, r.Fingerprint),
	}
}

// Request is one value for TokenizeBatch.
type Request struct {
	Kind    Kind
	Value   secret.Value
	Options Options
}

// request is a validated Request.
type request struct {
	Request
	format Format
	lay    layout // for format-preserving tokens
}

func (v *Vault) validate(r Request) (request, error) {
	q := request{Request: r, format: r.Options.Format}
	if q.format == "" {
		q.format = FormatOpaque
	}
	o := r.Options
	if err := r.Kind.validate(); err != nil {
		return q, err
	}
	if err := q.format.validate(r.Kind); err != nil {
		return q, err
	}
	if err := validName(o.Principal, 128); err != nil {
		return q, invalid("principal: %v", err)
	}
	if err := o.Retention.validate(); err != nil {
		return q, err
	}
	if r.Value.IsZero() || r.Value.Len() > maxValueSize {
		return q, invalid("value must be 1 to %d bytes", maxValueSize)
	}
	if o.TTL < 0 {
		return q, invalid("ttl must not be negative")
	}
	if o.Retention.Class == ClassSession {
		if err := validName(o.Session, 256); err != nil {
			return q, invalid("session: %v", err)
		}
	} else if o.Session != "" {
		return q, invalid("session applies to the session retention class only")
	}
	if o.Deterministic {
		if o.Retention.Class != ClassDays && o.Retention.Class != ClassPermanent {
			return q, invalid("deterministic tokens need retention days:N or permanent")
		}
		if err := validName(o.Scope, 256); err != nil {
			return q, invalid("scope: %v", err)
		}
	} else if o.Scope != "" {
		return q, invalid("scope applies to deterministic tokens only")
	}
	if q.format != FormatOpaque {
		val := r.Value.Reveal()
		defer clear(val)
		var err error
		switch q.format {
		case FormatCard:
			q.lay, err = cardLayout(val)
			if err == nil && len(q.lay.digits)-len(v.cardPrefix)-5 < minCardRandomDigits {
				err = invalid("card too short for a format-preserving token with prefix of %d digits", len(v.cardPrefix))
			}
		case FormatCPF:
			q.lay, err = cpfLayout(val)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

// newToken draws a token for q: random from crypto/rand, or, for a
// deterministic request, from the PRF stream of (kind, scope, format,
// value, attempt).
func (v *Vault) newToken(k *keys, q *request, canon []byte, attempt int) (string, error) {
	var src io.Reader = rand.Reader
	if q.Options.Deterministic {
		src = k.tokenStream(q.Kind, q.Options.Scope, q.format, canon, attempt)
	}
	switch q.format {
	case FormatCard:
		d, err := cardTokenDigits(q.lay.digits, v.cardPrefix, src)
		if err != nil {
			return "", err
		}
		if bytes.Equal(d, q.lay.digits) {
			return "", nil // never hand out the value as its own token
		}
		return q.lay.render(d), nil
	case FormatCPF:
		d, err := cpfTokenDigits(src)
		if err != nil {
			return "", err
		}
		if bytes.Equal(d, q.lay.digits) {
			return "", nil
		}
		return q.lay.render(d), nil
	default:
		var b [16]byte
		if _, err := io.ReadFull(src, b[:]); err != nil {
			return "", fmt.Errorf("vault: token randomness: %w", err)
		}
		return opaqueToken(b), nil
	}
}

// build makes the sealed record for q under token tok.
func (v *Vault) build(k *keys, q *request, tok string, now time.Time, fp []byte) (Record, error) {
	o := q.Options
	r := Record{
		Token: tok, Kind: q.Kind, Format: q.format, Scope: o.Scope, Session: o.Session,
		Retention: o.Retention, ExpiresAt: o.Retention.expiry(now, o.TTL, v.ephemeralMax, v.sessionMax),
		Deterministic: o.Deterministic, CreatedAt: now,
		FingerprintKeyID: k.prf.PrimaryID, Fingerprint: fp,
	}
	val := q.Value.Reveal()
	defer clear(val)
	if err := k.seal(&r, val); err != nil {
		return Record{}, err
	}
	return r, nil
}

func tokenizeAudit(r *Record, principal string, outcome Outcome, detail string) AuditEntry {
	return AuditEntry{
		At: r.CreatedAt, Action: ActionTokenize, Outcome: outcome, Principal: principal,
		Token: r.Token, Kind: r.Kind, KeyID: r.DEKKeyID, Detail: detail,
	}
}

func describe(r *Record) string {
	s := fmt.Sprintf("format=%s retention=%s", r.Format, r.Retention)
	if r.Deterministic {
		s += " deterministic"
	}
	return s
}

// Tokenize stores value and returns its token. The value is encrypted
// under a fresh data key, the record and its audit entry are written in
// one transaction, and the value is never logged or put in an error. See
// Options for the choices, and the package documentation for the formats.
func (v *Vault) Tokenize(ctx context.Context, kind Kind, value secret.Value, opts Options) (Token, error) {
	ts, err := v.TokenizeBatch(ctx, []Request{{Kind: kind, Value: value, Options: opts}})
	if err != nil {
		return Token{}, err
	}
	return ts[0], nil
}

// TokenizeBatch tokenizes several values, writing the random-token ones in
// one transaction (one disk sync for the batch). Every request is checked
// before anything is written; an error names the request by index. On an
// I/O error some values may already be stored and audited: they expire by
// their class.
func (v *Vault) TokenizeBatch(ctx context.Context, reqs []Request) ([]Token, error) {
	qs := make([]request, len(reqs))
	for i, r := range reqs {
		q, err := v.validate(r)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		qs[i] = q
	}
	k := v.keys.Load()
	now := msTime(v.now())
	out := make([]Token, len(reqs))
	var batch []Insertion
	var idx []int
	fps := make([][]byte, len(qs))
	for i := range qs {
		q := &qs[i]
		val := q.Value.Reveal()
		canon := canonical(q.Kind, val)
		fp, err := k.fingerprint(k.prf.PrimaryID, q.Kind, canon)
		if err != nil {
			clear(val)
			clear(canon)
			return nil, err
		}
		fps[i] = fp
		if q.Options.Deterministic {
			t, err := v.tokenizeDeterministic(ctx, k, q, canon, now)
			clear(val)
			clear(canon)
			if err != nil {
				return nil, fmt.Errorf("request %d: %w", i, err)
			}
			out[i] = t
			continue
		}
		clear(val)
		clear(canon)
		r, err := v.fresh(k, q, nil, 0, now, fp)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		batch = append(batch, Insertion{Record: r, Audit: tokenizeAudit(&r, q.Options.Principal, OutcomeOK, describe(&r))})
		idx = append(idx, i)
	}
	if len(batch) == 0 {
		return out, nil
	}
	ok, err := v.store.Insert(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("vault: tokenize: %w", err)
	}
	for j, inserted := range ok {
		i := idx[j]
		if inserted {
			out[i] = tokenOf(&batch[j].Record)
			continue
		}
		// A format-preserving token collided with a live or retired one:
		// draw again, one at a time.
		t, err := v.tokenizeOne(ctx, k, &qs[i], now, fps[i])
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		out[i] = t
	}
	return out, nil
}

// fresh draws a token and seals a record, redrawing the rare random
// card or CPF token that equals its own value.
func (v *Vault) fresh(k *keys, q *request, canon []byte, attempt int, now time.Time, fp []byte) (Record, error) {
	for range maxAttempts {
		tok, err := v.newToken(k, q, canon, attempt)
		if err != nil {
			return Record{}, err
		}
		if tok == "" {
			if q.Options.Deterministic {
				return Record{}, nil // the caller moves to the next attempt
			}
			continue
		}
		return v.build(k, q, tok, now, fp)
	}
	return Record{}, fmt.Errorf("%w: no free token after %d attempts", ErrConflict, maxAttempts)
}

func (v *Vault) tokenizeOne(ctx context.Context, k *keys, q *request, now time.Time, fp []byte) (Token, error) {
	for range maxAttempts {
		r, err := v.fresh(k, q, nil, 0, now, fp)
		if err != nil {
			return Token{}, err
		}
		ok, err := v.store.Insert(ctx, []Insertion{{Record: r, Audit: tokenizeAudit(&r, q.Options.Principal, OutcomeOK, describe(&r))}})
		if err != nil {
			return Token{}, fmt.Errorf("vault: tokenize: %w", err)
		}
		if ok[0] {
			return tokenOf(&r), nil
		}
	}
	return Token{}, fmt.Errorf("%w: no free token after %d attempts", ErrConflict, maxAttempts)
}

// tokenizeDeterministic returns the existing token of the value in its
// scope, or creates it. The lookup computes the value's fingerprint under
// every fingerprint key, so a token made before a rotation is still found.
func (v *Vault) tokenizeDeterministic(ctx context.Context, k *keys, q *request, canon []byte, now time.Time) (Token, error) {
	var lookup []DeterministicKey
	for id := range k.prf.PRFs {
		fp, err := k.fingerprint(id, q.Kind, canon)
		if err != nil {
			return Token{}, err
		}
		lookup = append(lookup, DeterministicKey{Kind: q.Kind, Scope: q.Options.Scope, Format: q.format, FingerprintKeyID: id, Fingerprint: fp})
	}
	primaryFP, err := k.fingerprint(k.prf.PrimaryID, q.Kind, canon)
	if err != nil {
		return Token{}, err
	}
	attempt := 0
	for range 2 * maxAttempts {
		r, err := v.store.FindDeterministic(ctx, lookup)
		switch {
		case err == nil:
			if expired(&r, now) {
				if err := v.expire(ctx, &r, now); err != nil {
					return Token{}, err
				}
				continue
			}
			t, done, err := v.reuse(ctx, k, q, &r, now, primaryFP)
			if err != nil || done {
				return t, err
			}
			continue // lost a race with a re-wrap or another extension
		case !errors.Is(err, ErrNotFound):
			return Token{}, fmt.Errorf("vault: tokenize: %w", err)
		}
		if attempt >= maxAttempts {
			break
		}
		r, err = v.fresh(k, q, canon, attempt, now, primaryFP)
		attempt++
		if err != nil {
			return Token{}, err
		}
		if r.Token == "" {
			continue
		}
		ok, err := v.store.Insert(ctx, []Insertion{{Record: r, Audit: tokenizeAudit(&r, q.Options.Principal, OutcomeOK, describe(&r))}})
		if err != nil {
			return Token{}, fmt.Errorf("vault: tokenize: %w", err)
		}
		if ok[0] {
			return tokenOf(&r), nil
		}
		// Either the same value was inserted concurrently (found on the
		// next lookup) or the candidate token is taken (next attempt).
	}
	return Token{}, fmt.Errorf("%w: no free deterministic token after %d attempts", ErrConflict, maxAttempts)
}

// reuse returns an existing deterministic record's token, first extending
// its life if the request asks for longer. Extending re-seals the value
// (which the caller has just given) under the new expiry, because expiry is
// bound into the associated data.
func (v *Vault) reuse(ctx context.Context, k *keys, q *request, r *Record, now time.Time, primaryFP []byte) (Token, bool, error) {
	want := q.Options.Retention.expiry(now, q.Options.TTL, v.ephemeralMax, v.sessionMax)
	longer := !r.ExpiresAt.IsZero() && (want.IsZero() || want.After(r.ExpiresAt))
	if !longer {
		_, err := v.store.AppendAudit(ctx, AuditEntry{At: now, Action: ActionTokenize, Outcome: OutcomeExisting,
			Principal: q.Options.Principal, Token: r.Token, Kind: r.Kind, KeyID: r.DEKKeyID, Detail: describe(r)})
		if err != nil {
			return Token{}, false, fmt.Errorf("vault: tokenize: %w", err)
		}
		return tokenOf(r), true, nil
	}
	n := *r
	n.Retention, n.ExpiresAt = q.Options.Retention, want
	n.FingerprintKeyID, n.Fingerprint = k.prf.PrimaryID, primaryFP
	val := q.Value.Reveal()
	err := k.seal(&n, val)
	clear(val)
	if err != nil {
		return Token{}, false, err
	}
	e := AuditEntry{At: now, Action: ActionTokenize, Outcome: OutcomeExisting, Principal: q.Options.Principal,
		Token: n.Token, Kind: n.Kind, KeyID: n.DEKKeyID, Detail: describe(&n) + " extended"}
	ok, err := v.store.Update(ctx, []Update{{Record: n, ExpectWrappedDEK: r.WrappedDEK}}, &e)
	if err != nil {
		return Token{}, false, fmt.Errorf("vault: tokenize: %w", err)
	}
	if !ok[0] {
		return Token{}, false, nil
	}
	return tokenOf(&n), true, nil
}

func expired(r *Record, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now)
}

// expire erases an expired record found on access.
func (v *Vault) expire(ctx context.Context, r *Record, now time.Time) error {
	_, err := v.store.Delete(ctx, []Deletion{{Token: r.Token, Tombstone: r.Format != FormatOpaque,
		Audit: AuditEntry{At: now, Action: ActionExpire, Outcome: OutcomeOK, Principal: PrincipalVault, Token: r.Token, Kind: r.Kind, Detail: "expired on access"}}})
	if err != nil {
		return fmt.Errorf("vault: erase expired record: %w", err)
	}
	return nil
}

// Reveal returns the value behind token to principal for purpose.
//
// In order: the record must exist (ErrNotFound), the policy must allow
// principal to reveal its kind for purpose (ErrDenied), it must not have
// expired (ErrExpired, and it is erased), and it must authenticate
// (ErrIntegrity). Every outcome is appended to the audit log; a successful
// reveal returns the value only after its entry is durably written, so no
// value leaves without a trace. An ephemeral value is erased in the same
// transaction as its reveal entry: it can be revealed once, and of two
// concurrent reveals only one gets it. Keep the returned Value for retries
// of the operation that needed it; do not reveal again.
func (v *Vault) Reveal(ctx context.Context, token, principal, purpose string) (secret.Value, error) {
	now := msTime(v.now())
	audit := AuditEntry{At: now, Action: ActionReveal, Principal: principal, Purpose: purpose}
	if validName(principal, 128) != nil || validName(purpose, 128) != nil {
		audit.Principal, audit.Purpose = printable(principal), printable(purpose)
		audit.Outcome, audit.Detail = OutcomeInvalid, "principal and purpose are required printable text"
		return secret.Value{}, v.refuse(ctx, audit, invalid("principal and purpose are required"))
	}
	r, err := v.store.Get(ctx, token)
	if errors.Is(err, ErrNotFound) {
		audit.Outcome, audit.Detail = OutcomeNotFound, "probe="+v.keys.Load().probe(token)
		return secret.Value{}, v.refuse(ctx, audit, ErrNotFound)
	}
	if err != nil {
		return secret.Value{}, fmt.Errorf("vault: reveal: %w", err)
	}
	audit.Token, audit.Kind, audit.KeyID = r.Token, r.Kind, r.DEKKeyID
	if !v.policy.Allows(principal, r.Kind, purpose) {
		audit.Outcome = OutcomeDenied
		return secret.Value{}, v.refuse(ctx, audit, ErrDenied)
	}
	if expired(&r, now) {
		audit.Outcome = OutcomeExpired
		if err := v.refuse(ctx, audit, nil); err != nil {
			return secret.Value{}, err
		}
		if err := v.expire(ctx, &r, now); err != nil {
			return secret.Value{}, err
		}
		return secret.Value{}, ErrExpired
	}
	k, err := v.keysFor(ctx, &r)
	if err != nil {
		return secret.Value{}, err
	}
	pt, err := k.open(&r)
	if err != nil {
		audit.Outcome, audit.Detail = OutcomeError, "record does not authenticate"
		v.log.ErrorContext(ctx, "vault: record does not authenticate", "token", r.Token, "kind", string(r.Kind))
		return secret.Value{}, v.refuse(ctx, audit, ErrIntegrity)
	}
	defer clear(pt)
	audit.Outcome = OutcomeOK
	if r.Retention.Class == ClassEphemeral {
		audit.Detail = "consumed"
		ok, err := v.store.Delete(ctx, []Deletion{{Token: r.Token, Tombstone: r.Format != FormatOpaque, Audit: audit}})
		if err != nil {
			return secret.Value{}, fmt.Errorf("vault: reveal: %w", err)
		}
		if !ok[0] {
			return secret.Value{}, ErrNotFound // consumed by a concurrent reveal
		}
		return secret.New(pt), nil
	}
	if _, err := v.store.AppendAudit(ctx, audit); err != nil {
		return secret.Value{}, fmt.Errorf("vault: reveal: audit: %w", err)
	}
	return secret.New(pt), nil
}

// refuse audits a failed operation and returns result (or the audit
// error: an attempt that cannot be recorded is not let through silently).
func (v *Vault) refuse(ctx context.Context, e AuditEntry, result error) error {
	if _, err := v.store.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("vault: audit: %w", err)
	}
	return result
}

// printable keeps an invalid principal or purpose out of the audit log
// beyond a short, printable prefix.
func printable(s string) string {
	out := make([]rune, 0, 32)
	for _, r := range s {
		if len(out) == 32 {
			break
		}
		if validName(string(r), 4) == nil {
			out = append(out, r)
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}

// Describe returns a token's metadata without revealing anything; not
// audited. An expired record is reported as ErrExpired.
func (v *Vault) Describe(ctx context.Context, token string) (Token, error) {
	r, err := v.store.Get(ctx, token)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Token{}, ErrNotFound
		}
		return Token{}, fmt.Errorf("vault: describe: %w", err)
	}
	if expired(&r, msTime(v.now())) {
		return Token{}, ErrExpired
	}
	return tokenOf(&r), nil
}

// Delete erases token's record for principal, giving purpose (a reason
// such as "payment authorized" or "customer request") for the audit log.
// A format-preserving token is retired forever. Deleting an unknown token
// returns ErrNotFound (and is audited too). Delete is not checked against
// the policy: erasing discloses nothing, and every erasure is audited with
// its principal.
func (v *Vault) Delete(ctx context.Context, token, principal, purpose string) error {
	if err := validName(principal, 128); err != nil {
		return invalid("principal: %v", err)
	}
	if err := validName(purpose, 128); err != nil {
		return invalid("purpose: %v", err)
	}
	now := msTime(v.now())
	r, err := v.store.Get(ctx, token)
	audit := AuditEntry{At: now, Action: ActionDelete, Outcome: OutcomeOK, Principal: principal, Purpose: purpose}
	if errors.Is(err, ErrNotFound) {
		audit.Outcome, audit.Detail = OutcomeNotFound, "probe="+v.keys.Load().probe(token)
		return v.refuse(ctx, audit, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("vault: delete: %w", err)
	}
	audit.Token, audit.Kind, audit.KeyID = r.Token, r.Kind, r.DEKKeyID
	ok, err := v.store.Delete(ctx, []Deletion{{Token: r.Token, Tombstone: r.Format != FormatOpaque, Audit: audit}})
	if err != nil {
		return fmt.Errorf("vault: delete: %w", err)
	}
	if !ok[0] {
		return ErrNotFound
	}
	return nil
}

// EndSession erases every value of a session, as its secure flow ends, and
// returns how many there were.
func (v *Vault) EndSession(ctx context.Context, session, principal string) (int, error) {
	if err := validName(principal, 128); err != nil {
		return 0, invalid("principal: %v", err)
	}
	if err := validName(session, 256); err != nil {
		return 0, invalid("session: %v", err)
	}
	total := 0
	for {
		refs, err := v.store.SessionRecords(ctx, session, 500)
		if err != nil {
			return total, fmt.Errorf("vault: end session: %w", err)
		}
		if len(refs) == 0 {
			return total, nil
		}
		n, err := v.erase(ctx, refs, ActionDelete, principal, "session ended")
		total += n
		if err != nil {
			return total, err
		}
	}
}

func (v *Vault) erase(ctx context.Context, refs []RecordRef, action Action, principal, purpose string) (int, error) {
	now := msTime(v.now())
	dels := make([]Deletion, len(refs))
	for i, r := range refs {
		dels[i] = Deletion{Token: r.Token, Tombstone: r.Format != FormatOpaque,
			Audit: AuditEntry{At: now, Action: action, Outcome: OutcomeOK, Principal: principal, Purpose: purpose, Token: r.Token, Kind: r.Kind}}
	}
	ok, err := v.store.Delete(ctx, dels)
	if err != nil {
		return 0, fmt.Errorf("vault: erase: %w", err)
	}
	n := 0
	for _, d := range ok {
		if d {
			n++
		}
	}
	return n, nil
}

// Fingerprint returns kind's keyed fingerprint of value under the primary
// fingerprint key, in the form Token.Fingerprint has. It answers "is this
// the same card as before" without storing or revealing anything: compare
// it with a token's Fingerprint, or use Matches.
//
// A fingerprint is an equality oracle. Whoever can ask for fingerprints
// of chosen values and see stored ones can test guesses, and a card number
// whose last four are known has few enough candidates to enumerate. Give
// this method only to components that already hold values in clear (the
// detector, a flow collecting input), never to the contact centre or an
// API client. Fingerprints change with rotation: a re-wrap moves records
// to the new key, so compare within one key id or use Matches.
func (v *Vault) Fingerprint(ctx context.Context, kind Kind, value secret.Value) (string, error) {
	if err := kind.validate(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	k := v.keys.Load()
	val := value.Reveal()
	defer clear(val)
	fp, err := k.fingerprint(k.prf.PrimaryID, kind, canonical(kind, val))
	if err != nil {
		return "", err
	}
	return formatFingerprint(k.prf.PrimaryID, fp), nil
}

// Matches reports whether value is the value behind token, by fingerprint
// (constant-time comparison; nothing is decrypted). The equality-oracle
// caveat of Fingerprint applies.
func (v *Vault) Matches(ctx context.Context, token string, value secret.Value) (bool, error) {
	r, err := v.store.Get(ctx, token)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, ErrNotFound
		}
		return false, fmt.Errorf("vault: matches: %w", err)
	}
	if expired(&r, msTime(v.now())) {
		return false, ErrExpired
	}
	k, err := v.keysFor(ctx, &r)
	if err != nil {
		return false, err
	}
	val := value.Reveal()
	defer clear(val)
	fp, err := k.fingerprint(r.FingerprintKeyID, r.Kind, canonical(r.Kind, val))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(fp, r.Fingerprint) == 1, nil
}

// Same reports whether two tokens stand for the same value of the same
// kind, without revealing either.
func (v *Vault) Same(ctx context.Context, a, b string) (bool, error) {
	ra, err := v.store.Get(ctx, a)
	if err != nil {
		return false, notFoundOr(err, "same")
	}
	rb, err := v.store.Get(ctx, b)
	if err != nil {
		return false, notFoundOr(err, "same")
	}
	now := msTime(v.now())
	if expired(&ra, now) || expired(&rb, now) {
		return false, ErrExpired
	}
	if ra.Kind != rb.Kind {
		return false, nil
	}
	if ra.FingerprintKeyID == rb.FingerprintKeyID {
		return subtle.ConstantTimeCompare(ra.Fingerprint, rb.Fingerprint) == 1, nil
	}
	// Different fingerprint keys (a re-wrap is under way): recompute a's
	// fingerprint under b's key, which needs a's value, inside the vault.
	k, err := v.keysFor(ctx, &ra)
	if err != nil {
		return false, err
	}
	if k.prf.PRFs[rb.FingerprintKeyID] == nil {
		if k, err = v.refresh(ctx); err != nil {
			return false, err
		}
	}
	pt, err := k.open(&ra)
	if err != nil {
		return false, err
	}
	defer clear(pt)
	fp, err := k.fingerprint(rb.FingerprintKeyID, ra.Kind, canonical(ra.Kind, pt))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(fp, rb.Fingerprint) == 1, nil
}

func notFoundOr(err error, op string) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	return fmt.Errorf("vault: %s: %w", op, err)
}
