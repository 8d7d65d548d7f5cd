package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Scope is a permission an API key carries.
type Scope string

// The scopes a key can hold.
const (
	// ScopeSessionsWrite allows POST /v1/secure-sessions.
	ScopeSessionsWrite Scope = "sessions:write"
	// ScopeSessionsRead allows GET /v1/secure-sessions/{id}.
	ScopeSessionsRead Scope = "sessions:read"
	// ScopeEventsWrite allows POST /v1/conversations/{id}/events.
	ScopeEventsWrite Scope = "events:write"
	// ScopeActionsInvoke allows POST /v1/actions/{name}/invoke.
	ScopeActionsInvoke Scope = "actions:invoke"
)

// Scopes lists every scope, in documentation order.
func Scopes() []Scope {
	return []Scope{ScopeSessionsWrite, ScopeSessionsRead, ScopeEventsWrite, ScopeActionsInvoke}
}

// Key format: "sfk_" + 8-character id + "_" + base64url (no padding) of 32
// random bytes.
const (
	keyPrefix    = "sfk_"
	keyIDLen     = 8
	keySecretLen = 32
	hashPrefix   = "sha256:"
)

// ErrKeyConfig is wrapped by every error [ParseKeys] and [NewKey] return for
// a bad key id, hash or scope.
var ErrKeyConfig = errors.New("invalid API key configuration")

// KeyConfig is one API key as the gateway configuration lists it. It holds no
// secret: Hash is "sha256:" followed by the lowercase hex SHA-256 of the
// key's secret part (the 43 base64url characters after "sfk_<id>_").
type KeyConfig struct {
	// ID is the key's public 8-character id ([a-z0-9]); it is the principal.
	ID string `yaml:"id" json:"id"`
	// Hash is "sha256:<64 hex digits>".
	Hash string `yaml:"hash" json:"hash"`
	// Scopes lists what the key may do.
	Scopes []Scope `yaml:"scopes" json:"scopes"`
}

// Keyring holds the configured API keys and authenticates bearer tokens. The
// zero value and nil accept no key.
type Keyring struct {
	keys map[string]storedKey
}

type storedKey struct {
	digest []byte
	scopes []Scope
}

// ParseKeys validates the configured keys (id format, unique ids, hash
// format, known non-empty scopes) and builds a Keyring. Every problem is
// reported, each wrapping [ErrKeyConfig].
func ParseKeys(cfg []KeyConfig) (*Keyring, error) {
	kr := &Keyring{keys: make(map[string]storedKey, len(cfg))}
	var errs []error
	for i, k := range cfg {
		where := fmt.Sprintf("api key %d", i)
		if err := validKeyID(k.ID); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		where = fmt.Sprintf("api key %q", k.ID)
		if _, dup := kr.keys[k.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: %w: duplicate id", where, ErrKeyConfig))
			continue
		}
		digest, err := parseHash(k.Hash)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		if len(k.Scopes) == 0 {
			errs = append(errs, fmt.Errorf("%s: %w: no scopes", where, ErrKeyConfig))
			continue
		}
		bad := false
		for _, s := range k.Scopes {
			if !slices.Contains(Scopes(), s) {
				errs = append(errs, fmt.Errorf("%s: %w: unknown scope %q", where, ErrKeyConfig, s))
				bad = true
			}
		}
		if bad {
			continue
		}
		kr.keys[k.ID] = storedKey{digest: digest, scopes: slices.Clone(k.Scopes)}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return kr, nil
}

// NewKey mints an API key with the given id (or a random one when id is
// empty). It returns the plaintext key, to show once to the operator, and
// the hash to put in the configuration.
func NewKey(id string) (plaintext, hash string, err error) {
	if id == "" {
		if id, err = randomKeyID(); err != nil {
			return "", "", err
		}
	}
	if err := validKeyID(id); err != nil {
		return "", "", err
	}
	var b [keySecretLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("generate key secret: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	return keyPrefix + id + "_" + secret, hashSecret(secret), nil
}

// HashOf returns the configuration hash of a plaintext key, for a CLI that
// checks a key against the configuration.
func HashOf(plaintext string) (id, hash string, err error) {
	id, secret, ok := splitKey(plaintext)
	if !ok {
		return "", "", fmt.Errorf("%w: not an sfk_ key", ErrKeyConfig)
	}
	return id, hashSecret(secret), nil
}

// authenticate checks a bearer token. It returns the key id and scopes, or
// ok=false for a malformed token, an unknown id or a wrong secret alike.
func (kr *Keyring) authenticate(token string) (id string, scopes []Scope, ok bool) {
	id, secret, wellFormed := splitKey(token)
	if !wellFormed || kr == nil {
		return "", nil, false
	}
	sum := sha256.Sum256([]byte(secret))
	k, known := kr.keys[id]
	want := k.digest
	if !known {
		// Compare against a digest that cannot match, so that an unknown id
		// costs the same work as a wrong secret.
		want = make([]byte, sha256.Size)
	}
	match := subtle.ConstantTimeCompare(sum[:], want) == 1
	if !known || !match {
		return "", nil, false
	}
	return id, k.scopes, true
}

func splitKey(token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, keyPrefix)
	if !found || len(rest) < keyIDLen+2 || rest[keyIDLen] != '_' {
		return "", "", false
	}
	id, secret = rest[:keyIDLen], rest[keyIDLen+1:]
	if validKeyID(id) != nil || base64.RawURLEncoding.EncodedLen(keySecretLen) != len(secret) {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", false
	}
	return id, secret, true
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(sum[:])
}

func parseHash(h string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(h, hashPrefix)
	if !ok || len(hexPart) != 2*sha256.Size || strings.ToLower(hexPart) != hexPart {
		return nil, fmt.Errorf("%w: hash must be sha256:<64 lowercase hex digits>", ErrKeyConfig)
	}
	d, err := hex.DecodeString(hexPart)
	if err != nil {
		return nil, fmt.Errorf("%w: hash must be sha256:<64 lowercase hex digits>", ErrKeyConfig)
	}
	return d, nil
}

const keyIDAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func validKeyID(id string) error {
	if len(id) != keyIDLen {
		return fmt.Errorf("%w: key id must be %d characters", ErrKeyConfig, keyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !strings.ContainsRune(keyIDAlphabet, rune(id[i])) {
			return fmt.Errorf("%w: key id must use only a-z and 0-9", ErrKeyConfig)
		}
	}
	return nil
}

// randomKeyID draws an id from crypto/rand (base32, lowered: a-z2-7).
func randomKeyID() (string, error) {
	return strings.ToLower(rand.Text()[:keyIDLen]), nil
}

func hasScope(scopes []Scope, s Scope) bool { return slices.Contains(scopes, s) }
