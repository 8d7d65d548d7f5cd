package waflows

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/tink"
)

// PEM block types of the business private key.
const (
	// SealedKeyBlock holds a PKCS#8 DER private key encrypted with the
	// gateway's key-encryption key (a Tink AEAD, package keyring), with
	// sealedKeyAD as associated data.
	SealedKeyBlock = "SECUREFLOW SEALED PRIVATE KEY"
	pkcs8Block     = "PRIVATE KEY"
	pkcs1Block     = "RSA PRIVATE KEY"
	publicKeyBlock = "PUBLIC KEY"
)

// KEK seals and opens the business private key. It is the gateway's
// key-encryption key: vault.OpenKEK returns one (a Tink keyset by file:
// or env: reference, or a KMS key), and any tink.AEADWithContext works.
type KEK = tink.AEADWithContext

// sealedKeyAD binds a sealed key to its purpose: a ciphertext sealed for
// anything else under the same KEK does not open as a Flows key.
var sealedKeyAD = []byte("secureflow whatsapp-flows business private key v1")

// KeyBits is the size of generated keys (whatsapp.md §3.1: 2048-bit RSA).
const KeyBits = 2048

// GenerateKey returns a new 2048-bit RSA key pair.
func GenerateKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return nil, fmt.Errorf("waflows: generate key: %w", err)
	}
	return k, nil
}

// PublicKeyPEM returns the public key as a SubjectPublicKeyInfo PEM
// ("BEGIN PUBLIC KEY"), the form Meta's business_public_key takes
// (whatsapp.md §3.1).
func PublicKeyPEM(k *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("waflows: public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: publicKeyBlock, Bytes: der}), nil
}

// PrivateKeyPEM returns the private key as PEM: PKCS#8 sealed with kek
// (block SealedKeyBlock) when kek is not nil, plain PKCS#8 ("BEGIN
// PRIVATE KEY") otherwise. The caller writes it with mode 0600.
func PrivateKeyPEM(ctx context.Context, k *rsa.PrivateKey, kek KEK) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("waflows: private key: %w", err)
	}
	defer clear(der)
	if kek == nil {
		return pem.EncodeToMemory(&pem.Block{Type: pkcs8Block, Bytes: der}), nil
	}
	ct, err := kek.EncryptWithContext(ctx, der, sealedKeyAD)
	if err != nil {
		return nil, fmt.Errorf("waflows: seal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: SealedKeyBlock, Bytes: ct}), nil
}

// LoadPrivateKey parses the business private key from PEM: a block
// SealedKeyBlock opened with kek, or an unencrypted PKCS#8 or PKCS#1 RSA
// key (kek may then be nil). Legacy passphrase-encrypted PEM (Proc-Type /
// DEK-Info, what Meta's keyGenerator.js and "openssl genrsa -des3" write,
// whatsapp.md §4, §6.7) is refused: Go deprecates that format as insecure;
// convert it with "openssl pkcs8 -topk8 -nocrypt" and keep the file 0600,
// or re-seal it with "secureflow whatsapp-flows keygen". Errors never quote
// key material.
func LoadPrivateKey(ctx context.Context, pemBytes []byte, kek KEK) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrInvalidKey)
	}
	if _, ok := block.Headers["DEK-Info"]; ok {
		return nil, fmt.Errorf("%w: legacy passphrase-encrypted PEM is not supported; convert it to PKCS#8", ErrInvalidKey)
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case SealedKeyBlock:
		if kek == nil {
			return nil, fmt.Errorf("%w: the key is sealed and no KEK was given", ErrInvalidKey)
		}
		der, oerr := kek.DecryptWithContext(ctx, block.Bytes, sealedKeyAD)
		if oerr != nil {
			return nil, fmt.Errorf("%w: the KEK does not open the sealed key", ErrInvalidKey)
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
		clear(der)
	case pkcs8Block:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case pkcs1Block:
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: unexpected PEM block %q", ErrInvalidKey, block.Type)
	}
	clear(block.Bytes)
	if err != nil {
		// The parser's error describes structure, not content, but is not
		// wrapped to be safe.
		return nil, fmt.Errorf("%w: not a parsable private key", ErrInvalidKey)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: not an RSA key", ErrInvalidKey)
	}
	if rk.N.BitLen() < KeyBits {
		return nil, fmt.Errorf("%w: RSA key of %d bits, want at least %d", ErrInvalidKey, rk.N.BitLen(), KeyBits)
	}
	return rk, nil
}
