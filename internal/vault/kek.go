package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/secret"
)

// KEK is the key-encryption key: the root of the vault's key hierarchy. It
// encrypts and decrypts the two keysets (a few hundred bytes, once at start
// and at each rotation), never values.
//
// Implementations must be authenticated encryption (a tink.AEAD or a KMS
// behind one): Decrypt must fail unless the ciphertext was produced by
// Encrypt with the same associated data. They must be safe for concurrent
// use, honour ctx (a KMS call is a network call), and must not put key
// material or plaintext in their errors.
type KEK interface {
	tink.AEADWithContext
	// ID names the KEK for status output and diagnostics ("tink-keyset:
	// 123456", a KMS key URI). It is stored next to the keysets in clear,
	// so it must not be secret; it lets "keys status" say which KEK the
	// keysets are under, and a wrong-KEK error say which one was expected.
	ID() string
}

// aeadKEK adapts a tink.AEAD (a local keyset, or a KMS client's AEAD) to
// KEK. The context is not passed down because tink.AEAD has none; KMS
// clients that support AEADWithContext should implement KEK directly.
type aeadKEK struct {
	id string
	a  tink.AEAD
}

func (k aeadKEK) ID() string { return k.id }

func (k aeadKEK) EncryptWithContext(ctx context.Context, pt, ad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.a.Encrypt(pt, ad)
}

func (k aeadKEK) DecryptWithContext(ctx context.Context, ct, ad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return k.a.Decrypt(ct, ad)
}

// WrapAEAD turns any tink.AEAD into a KEK named id. This is how a KMS plugs
// in: Tink's KMS integrations (for example tink-go-hcvault's
// hcvault.NewClientWithAEADOptions(...).GetAEAD(uri), or tink-go-awskms)
// return a tink.AEAD whose key never leaves the KMS; pass it here with its
// key URI as id.
func WrapAEAD(id string, a tink.AEAD) KEK {
	return aeadKEK{id: id, a: a}
}

// ParseKEK reads a KEK from a Tink keyset in JSON (cleartext, as
// "secureflow keys init" writes it and as keyring.NewKEK makes it); JSON
// may also be given base64-encoded, which is easier to put in an
// environment variable. The keyset must be an AEAD keyset; its ID is
// "tink-keyset:" followed by the primary key id.
//
// keysetJSON may instead be a KMS key URI (hcvault://HOST[:PORT]/MOUNT/
// keys/NAME, see package kms): the KEK is then that HashiCorp Vault
// transit key, its ID is the URI, and opts carry the Vault token
// (kms.WithToken, kms.WithEnviron for the VAULT_TOKEN fallback) and
// transport settings. opts are ignored for a keyset. ParseKEK does not
// contact the KMS.
//
// The parser's own error is not wrapped: it could quote key material.
func ParseKEK(keysetJSON secret.Value, opts ...kms.Option) (KEK, error) {
	raw := bytes.TrimSpace(keysetJSON.Reveal())
	defer clear(raw)
	if kms.IsKeyURI(string(raw)) {
		k, err := kms.Open(string(raw), opts...)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKEK, err)
		}
		return k, nil
	}
	if len(raw) > 0 && raw[0] != '{' {
		dec, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil {
			return nil, fmt.Errorf("%w: not a Tink keyset in JSON or base64 JSON", ErrKEK)
		}
		defer clear(dec)
		raw = dec
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: not a Tink keyset in JSON", ErrKEK)
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("%w: the keyset is not an AEAD keyset", ErrKEK)
	}
	return WrapAEAD(fmt.Sprintf("tink-keyset:%d", h.KeysetInfo().GetPrimaryKeyId()), a), nil
}

// LoadKEKFile reads a KEK keyset (or a KMS key URI, see ParseKEK, which
// opts are passed to) from path. It refuses a file that group or others can
// read: a KEK readable by other accounts is not a secret.
func LoadKEKFile(path string, opts ...kms.Option) (KEK, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKEK, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is accessible to group or others (mode %v); chmod 600 it", ErrKEK, path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKEK, err)
	}
	defer clear(b)
	k, err := ParseKEK(secret.New(b), opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// KEKFromEnv reads a KEK keyset (or a KMS key URI, see ParseKEK, which opts
// are passed to) from the environment variable name, looked up in environ
// (os.Environ's form; passed in so that tests and the CLI do not read the
// process environment behind the caller's back).
func KEKFromEnv(environ []string, name string, opts ...kms.Option) (KEK, error) {
	prefix := name + "="
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, prefix); ok {
			if v == "" {
				break
			}
			k, err := ParseKEK(secret.FromString(v), opts...)
			if err != nil {
				return nil, fmt.Errorf("environment variable %s: %w", name, err)
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: environment variable %s is not set", ErrKEK, name)
}

// OpenKEK resolves a KEK reference: "file:PATH" or "env:NAME", the same
// references the configuration's keys.kek takes, or a KMS key URI
// ("hcvault://HOST[:PORT]/MOUNT/keys/NAME"), given directly or held in the
// file or variable. For a KMS key the Vault token is kms.WithToken from
// opts or else VAULT_TOKEN in environ; opts may also set transport options.
// Other KMSs plug in through [WrapAEAD].
func OpenKEK(ref string, environ []string, opts ...kms.Option) (KEK, error) {
	opts = append([]kms.Option{kms.WithEnviron(environ)}, opts...)
	switch {
	case strings.HasPrefix(ref, "file:"):
		return LoadKEKFile(strings.TrimPrefix(ref, "file:"), opts...)
	case strings.HasPrefix(ref, "env:"):
		return KEKFromEnv(environ, strings.TrimPrefix(ref, "env:"), opts...)
	case kms.IsKeyURI(ref):
		return ParseKEK(secret.FromString(ref), opts...)
	case ref == "":
		return nil, fmt.Errorf("%w: no KEK reference given (file:PATH, env:NAME or %sHOST/MOUNT/keys/NAME)", ErrKEK, kms.HCVaultScheme)
	default:
		scheme, _, _ := strings.Cut(ref, ":")
		return nil, fmt.Errorf("%w: unsupported KEK reference scheme %q (file:PATH, env:NAME or %sHOST/MOUNT/keys/NAME; other KMSs are wired through vault.WrapAEAD)", ErrKEK, scheme, kms.HCVaultScheme)
	}
}

// NewKEKKeyset generates a fresh KEK: a Tink AES-256-GCM keyset in JSON.
// Whoever stores it must protect it.
func NewKEKKeyset() (secret.Value, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return secret.Value{}, fmt.Errorf("%w: generate: %w", ErrKEK, err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return secret.Value{}, fmt.Errorf("%w: generate: %w", ErrKEK, err)
	}
	v := secret.New(buf.Bytes())
	clear(buf.Bytes())
	return v, nil
}

// GenerateKEKFile writes a fresh KEK keyset to path with mode 0600 and
// returns it. It never replaces an existing file (O_EXCL): overwriting a
// KEK would make every keyset encrypted under it unreadable. A partly
// written file is removed.
func GenerateKEKFile(path string) (KEK, error) {
	v, err := NewKEKKeyset()
	if err != nil {
		return nil, err
	}
	k, err := ParseKEK(v)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrKEK, path, err)
	}
	b := v.Reveal()
	defer clear(b)
	_, werr := f.Write(b)
	if werr == nil {
		_, werr = f.Write([]byte("\n"))
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("%w: write %s: %w", ErrKEK, path, err)
	}
	return k, nil
}
