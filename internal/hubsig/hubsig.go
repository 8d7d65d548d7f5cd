package hubsig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// Header is the HTTP header both platforms put the signature in.
const Header = "X-Hub-Signature-256"

const prefix = "sha256="

// Encoding selects how the HMAC digest is written after "sha256=".
type Encoding int

const (
	// Hex is lowercase hexadecimal, as WhatsApp sends it.
	Hex Encoding = iota + 1
	// Base64 is standard padded base64, as Genesys sends it.
	Base64
)

// Sentinel errors returned by Verify. Callers test them with errors.Is.
var (
	// ErrMissing means the request carried no signature header.
	ErrMissing = errors.New("signature header missing")
	// ErrMalformed means the header is not "sha256=" followed by a digest in
	// the expected encoding.
	ErrMalformed = errors.New("signature header malformed")
	// ErrMismatch means the digest does not match the body under any of the
	// given keys.
	ErrMismatch = errors.New("signature mismatch")
	// ErrNoKey means the verifier was given no key, which would otherwise
	// accept nothing silently; it is reported as a configuration error.
	ErrNoKey = errors.New("no signing key configured")
)

// Sign returns the header value for body under key in the given encoding.
func Sign(enc Encoding, key, body []byte) string {
	sum := mac(key, body)
	if enc == Base64 {
		return prefix + base64.StdEncoding.EncodeToString(sum)
	}
	return prefix + hex.EncodeToString(sum)
}

// Verify checks header against body. Several keys may be given so that a
// secret can be rotated without downtime (accept old or new for a while, as
// Meta's Flows endpoint guide recommends); the body verifies if any key
// matches.
func Verify(enc Encoding, header string, body []byte, keys ...[]byte) error {
	if len(keys) == 0 {
		return ErrNoKey
	}
	if header == "" {
		return ErrMissing
	}
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return ErrMalformed
	}
	got, err := decode(enc, header[len(prefix):])
	if err != nil || len(got) != sha256.Size {
		return ErrMalformed
	}
	ok := false
	for _, k := range keys {
		if len(k) == 0 {
			continue
		}
		// Evaluate every key so timing does not reveal which one matched.
		if hmac.Equal(got, mac(k, body)) {
			ok = true
		}
	}
	if !ok {
		return ErrMismatch
	}
	return nil
}

func decode(enc Encoding, s string) ([]byte, error) {
	switch enc {
	case Hex:
		// Meta documents lowercase hex; uppercase is accepted because it
		// carries the same digest and rejecting it buys nothing.
		return hex.DecodeString(s)
	case Base64:
		return base64.StdEncoding.DecodeString(s)
	default:
		return nil, ErrMalformed
	}
}

func mac(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(body)
	return h.Sum(nil)
}
