package keyring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/secret"
)

// ErrOpen is returned when a ciphertext does not authenticate: wrong key,
// wrong associated data, or tampering. It deliberately carries no detail.
var ErrOpen = errors.New("keyring: ciphertext does not authenticate")

// keysetAD binds the encrypted data keyset to its purpose, so a keyset file
// from another application encrypted under the same KEK is rejected.
var keysetAD = []byte("secureflow data keyset v1")

// Sealer encrypts and authenticates small payloads. It is safe for
// concurrent use.
type Sealer struct {
	a tink.AEAD
}

// Seal encrypts plaintext bound to ad.
func (s *Sealer) Seal(plaintext, ad []byte) ([]byte, error) {
	ct, err := s.a.Encrypt(plaintext, ad)
	if err != nil {
		return nil, fmt.Errorf("keyring: seal: %w", err)
	}
	return ct, nil
}

// Open decrypts ciphertext sealed with the same ad, or returns ErrOpen.
func (s *Sealer) Open(ciphertext, ad []byte) ([]byte, error) {
	pt, err := s.a.Decrypt(ciphertext, ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// NewKEK generates a fresh key-encryption key: a Tink AES-256-GCM keyset in
// JSON. Whoever stores it must protect it (file mode 0600, a secret store).
func NewKEK() (secret.Value, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return secret.Value{}, fmt.Errorf("keyring: new KEK: %w", err)
	}
	var buf bytes.Buffer
	if err := insecurecleartextkeyset.Write(h, keyset.NewJSONWriter(&buf)); err != nil {
		return secret.Value{}, fmt.Errorf("keyring: new KEK: %w", err)
	}
	return secret.New(buf.Bytes()), nil
}

// ParseKEK turns a KEK into an AEAD. The KEK is a Tink AEAD keyset in JSON,
// or a KMS key URI (hcvault://HOST[:PORT]/MOUNT/keys/NAME, see package kms):
// the AEAD is then that HashiCorp Vault transit key, and opts carry the
// Vault token (kms.WithToken, kms.WithEnviron for the VAULT_TOKEN fallback)
// and transport settings. opts are ignored for a keyset. ParseKEK does not
// contact the KMS.
func ParseKEK(kek secret.Value, opts ...kms.Option) (tink.AEAD, error) {
	raw := kek.Reveal()
	defer clear(raw)
	if uri := bytes.TrimSpace(raw); kms.IsKeyURI(string(uri)) {
		a, err := kms.Open(string(uri), opts...)
		if err != nil {
			return nil, fmt.Errorf("keyring: KEK: %w", err)
		}
		return a, nil
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(bytes.NewReader(raw)))
	if err != nil {
		// The parser's error could quote key material; it is not wrapped.
		return nil, errors.New("keyring: the KEK is not a Tink keyset in JSON")
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyring: KEK is not an AEAD keyset: %w", err)
	}
	return a, nil
}

// LoadOrCreate opens the data keyset at path, encrypted under kek, creating
// it (mode 0600, atomically) when it does not exist.
func LoadOrCreate(path string, kek tink.AEAD) (*Sealer, error) {
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		h, err := keyset.ReadWithAssociatedData(keyset.NewJSONReader(f), kek, keysetAD)
		if err != nil {
			return nil, fmt.Errorf("keyring: read data keyset %s (wrong KEK?): %w", path, err)
		}
		return newSealer(h)
	case errors.Is(err, os.ErrNotExist):
		h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
		if err != nil {
			return nil, fmt.Errorf("keyring: new data keyset: %w", err)
		}
		var buf bytes.Buffer
		if err := h.WriteWithAssociatedData(keyset.NewJSONWriter(&buf), kek, keysetAD); err != nil {
			return nil, fmt.Errorf("keyring: encrypt data keyset: %w", err)
		}
		if err := writeFileAtomic(path, buf.Bytes()); err != nil {
			return nil, err
		}
		return newSealer(h)
	default:
		return nil, fmt.Errorf("keyring: %w", err)
	}
}

func newSealer(h *keyset.Handle) (*Sealer, error) {
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyring: data keyset is not an AEAD keyset: %w", err)
	}
	return &Sealer{a: a}, nil
}

// writeFileAtomic writes data to path with mode 0600 via a temporary file
// and a rename, so a crash never leaves a half-written keyset; it refuses to
// replace an existing file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".keyset-*")
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keyring: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("keyring: create %s: %w", path, err)
	}
	return nil
}
