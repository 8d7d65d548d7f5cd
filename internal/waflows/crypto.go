package waflows

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// errUndecryptable is returned by decrypt for any request it cannot
// decrypt; it never says which step failed or quotes the input.
var errUndecryptable = errors.New("waflows: request cannot be decrypted")

// envelope is the HTTP request body (whatsapp.md §3.2).
type envelope struct {
	EncryptedFlowData string `json:"encrypted_flow_data"`
	EncryptedAESKey   string `json:"encrypted_aes_key"`
	InitialVector     string `json:"initial_vector"`
}

// sessionKey is what answering a request needs: the AES key and the IV of
// the request.
type sessionKey struct {
	aead cipher.AEAD
	iv   []byte
}

// aesKeyBytes and ivBytes are the sizes of whatsapp.md §3.2: a 128-bit AES
// key and a 128-bit IV.
const (
	aesKeyBytes = 16
	ivBytes     = 16
)

// decrypt opens a request (whatsapp.md §3.3 steps 1–2): RSA-OAEP with
// SHA-256 for the hash and MGF1 and an empty label unwraps the AES key,
// then AES-128-GCM with the 16-byte IV and the 16-byte tag appended to the
// ciphertext opens the payload.
func decrypt(priv *rsa.PrivateKey, env envelope) ([]byte, sessionKey, error) {
	wrapped, err1 := base64.StdEncoding.DecodeString(env.EncryptedAESKey)
	data, err2 := base64.StdEncoding.DecodeString(env.EncryptedFlowData)
	iv, err3 := base64.StdEncoding.DecodeString(env.InitialVector)
	if err1 != nil || err2 != nil || err3 != nil || len(iv) != ivBytes {
		return nil, sessionKey{}, errUndecryptable
	}
	key, err := rsa.DecryptOAEP(sha256.New(), rand.Reader, priv, wrapped, nil)
	if err != nil || len(key) != aesKeyBytes {
		return nil, sessionKey{}, errUndecryptable
	}
	aead, err := newGCM(key)
	clear(key)
	if err != nil {
		return nil, sessionKey{}, errUndecryptable
	}
	plain, err := aead.Open(nil, iv, data, nil)
	if err != nil {
		return nil, sessionKey{}, errUndecryptable
	}
	return plain, sessionKey{aead: aead, iv: iv}, nil
}

// newGCM returns AES-GCM with the 16-byte nonce Meta uses (whatsapp.md
// §3.3: Go needs cipher.NewGCMWithNonceSize(block, 16)).
func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithNonceSize(block, ivBytes)
}

// seal encrypts a response (whatsapp.md §3.3 step 3): JSON, AES-GCM with
// the request's key and the request IV with every bit inverted, empty AAD,
// tag appended, base64.
func (k sessionKey) seal(v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	inv := make([]byte, len(k.iv))
	for i, b := range k.iv {
		inv[i] = ^b
	}
	ct := k.aead.Seal(nil, inv, plain, nil)
	clear(plain)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(ct)))
	base64.StdEncoding.Encode(out, ct)
	return out, nil
}
