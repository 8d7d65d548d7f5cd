package whatsapp

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/secureflow/secureflow/internal/hubsig"
)

// FlowClient plays the WhatsApp client's side of a Flows data endpoint
// exchange, written from whatsapp.md §3.2–§3.6 (not from the gateway's
// server code): each request gets a fresh random AES-128 key and 16-byte
// IV, the key is wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256) under the
// business public key, the JSON payload is sealed with AES-128-GCM (tag
// appended), the body is signed with the app secret, and an encrypted
// answer is opened with the bit-inverted IV.
type FlowClient struct {
	// URL is the data endpoint (the Flow's endpoint_uri).
	URL string
	// PublicKey is the business public key registered with Meta
	// (whatsapp.md §3.1).
	PublicKey *rsa.PublicKey
	// AppSecret signs requests: X-Hub-Signature-256 (whatsapp.md §3.7).
	AppSecret []byte
	// HTTP performs the requests; nil means http.DefaultClient.
	HTTP *http.Client
}

// FlowRequest is a decrypted request payload (whatsapp.md §3.4).
type FlowRequest struct {
	// Version is "3.0" when empty.
	Version string `json:"version"`
	// Action is ping, INIT, BACK or data_exchange.
	Action string `json:"action"`
	// Screen is the screen the request comes from.
	Screen string `json:"screen,omitempty"`
	// Data is the screen's payload.
	Data map[string]any `json:"data,omitempty"`
	// FlowToken is the token of the Flow message.
	FlowToken string `json:"flow_token,omitempty"`
}

// FlowResponse is the endpoint's answer.
type FlowResponse struct {
	// Status is the HTTP status.
	Status int `json:"status"`
	// Encrypted tells whether Body was decrypted (200 and 427 answers are
	// encrypted; 421 and 432 are not, whatsapp.md §3.6).
	Encrypted bool `json:"encrypted"`
	// Body is the decrypted JSON, or the raw body when not encrypted.
	Body json.RawMessage `json:"body"`
	// Screen and Data are the next screen and its data (whatsapp.md §3.5),
	// when the answer has them.
	Screen string         `json:"screen,omitempty"`
	Data   map[string]any `json:"data,omitempty"`
	// ErrorMsg is the error_msg of a 427 answer.
	ErrorMsg string `json:"error_msg,omitempty"`
}

// Exchange sends one request and returns the answer. An error means no
// usable answer arrived (network failure, or a body that should have been
// encrypted and was not decryptable); HTTP error statuses are answers.
func (c *FlowClient) Exchange(ctx context.Context, req FlowRequest) (FlowResponse, error) {
	if req.Version == "" {
		req.Version = "3.0"
	}
	plain, err := json.Marshal(req)
	if err != nil {
		return FlowResponse{}, fmt.Errorf("flow client: encode: %w", err)
	}
	body, aeadKey, iv, err := c.encrypt(plain)
	if err != nil {
		return FlowResponse{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return FlowResponse{}, fmt.Errorf("flow client: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(hubsig.Header, hubsig.Sign(hubsig.Hex, c.AppSecret, body))
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return FlowResponse{}, fmt.Errorf("flow client: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return FlowResponse{}, fmt.Errorf("flow client: reading answer: %w", err)
	}
	out := FlowResponse{Status: resp.StatusCode, Body: raw}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != 427 {
		return out, nil
	}
	dec, err := decryptAnswer(aeadKey, iv, raw)
	if err != nil {
		if resp.StatusCode == 427 {
			// §3.6: a 427 "may" carry an encrypted error_msg.
			return out, nil
		}
		return out, err
	}
	out.Encrypted, out.Body = true, dec
	var shape struct {
		Screen   string         `json:"screen"`
		Data     map[string]any `json:"data"`
		ErrorMsg string         `json:"error_msg"`
	}
	if err := json.Unmarshal(dec, &shape); err != nil {
		return out, fmt.Errorf("flow client: answer is not a JSON object")
	}
	out.Screen, out.Data, out.ErrorMsg = shape.Screen, shape.Data, shape.ErrorMsg
	return out, nil
}

// encrypt builds the request body of whatsapp.md §3.2.
func (c *FlowClient) encrypt(plain []byte) (body []byte, aead cipher.AEAD, iv []byte, err error) {
	if c.PublicKey == nil {
		return nil, nil, nil, errors.New("flow client: no business public key")
	}
	key := make([]byte, 16) // §3.2: a 128-bit AES key
	iv = make([]byte, 16)   // §3.2: a 128-bit IV
	if _, err := rand.Read(key); err != nil {
		return nil, nil, nil, err
	}
	if _, err := rand.Read(iv); err != nil {
		return nil, nil, nil, err
	}
	// §3.3: RSA/ECB/OAEPWithSHA-256AndMGF1Padding, SHA-256 for MGF1, no label.
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, c.PublicKey, key, nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("flow client: wrap key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, nil, err
	}
	// §3.3: AES-GCM with the 16-byte IV as nonce, 16-byte tag appended.
	aead, err = cipher.NewGCMWithNonceSize(block, 16)
	if err != nil {
		return nil, nil, nil, err
	}
	ct := aead.Seal(nil, iv, plain, nil)
	body, err = json.Marshal(map[string]string{
		"encrypted_flow_data": base64.StdEncoding.EncodeToString(ct),
		"encrypted_aes_key":   base64.StdEncoding.EncodeToString(wrapped),
		"initial_vector":      base64.StdEncoding.EncodeToString(iv),
	})
	return body, aead, iv, err
}

// decryptAnswer opens a base64 answer with the inverted IV (§3.3 step 3).
func decryptAnswer(aead cipher.AEAD, iv, raw []byte) ([]byte, error) {
	ct, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
	if err != nil {
		return nil, fmt.Errorf("flow client: answer is not base64")
	}
	inv := make([]byte, len(iv))
	for i, b := range iv {
		inv[i] = b ^ 0xff
	}
	plain, err := aead.Open(nil, inv, ct, nil)
	if err != nil {
		return nil, fmt.Errorf("flow client: answer does not decrypt with the inverted IV")
	}
	return plain, nil
}
