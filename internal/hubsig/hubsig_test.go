package hubsig_test

import (
	"errors"
	"testing"

	"github.com/secureflow/secureflow/internal/hubsig"
)

// The expected values were computed independently with
//
//	printf '%s' '{"a":"é"}' | openssl dgst -sha256 -hmac 'app-secret' [-binary | base64]
func TestKnownVectors(t *testing.T) {
	body := []byte(`{"a":"é"}`)
	key := []byte("app-secret")
	tests := []struct {
		enc  hubsig.Encoding
		want string
	}{
		{hubsig.Hex, "sha256=3f80bd109dda80e59ec4da4107eaa828a3d25293733aee20b1c779fb1395f6bb"},
		{hubsig.Base64, "sha256=P4C9EJ3agOWexNpBB+qoKKPSUpNzOu4gscd5+xOV9rs="},
	}
	for _, tt := range tests {
		if got := hubsig.Sign(tt.enc, key, body); got != tt.want {
			t.Errorf("Sign(%v) = %q, want %q", tt.enc, got, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account"}`)
	key := []byte("k1")
	old := []byte("k0")
	good := hubsig.Sign(hubsig.Hex, key, body)
	tests := []struct {
		name   string
		enc    hubsig.Encoding
		header string
		body   []byte
		keys   [][]byte
		want   error
	}{
		{"valid", hubsig.Hex, good, body, [][]byte{key}, nil},
		{"valid under rotated key", hubsig.Hex, good, body, [][]byte{old, key}, nil},
		{"base64 valid", hubsig.Base64, hubsig.Sign(hubsig.Base64, key, body), body, [][]byte{key}, nil},
		{"hex header given to base64 verifier", hubsig.Base64, good, body, [][]byte{key}, hubsig.ErrMalformed},
		{"missing", hubsig.Hex, "", body, [][]byte{key}, hubsig.ErrMissing},
		{"no prefix", hubsig.Hex, good[7:], body, [][]byte{key}, hubsig.ErrMalformed},
		{"truncated", hubsig.Hex, good[:70], body, [][]byte{key}, hubsig.ErrMalformed},
		{"body changed", hubsig.Hex, good, append([]byte(" "), body...), [][]byte{key}, hubsig.ErrMismatch},
		{"wrong key", hubsig.Hex, good, body, [][]byte{old}, hubsig.ErrMismatch},
		{"no key", hubsig.Hex, good, body, nil, hubsig.ErrNoKey},
		{"empty key only", hubsig.Hex, good, body, [][]byte{{}}, hubsig.ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := hubsig.Verify(tt.enc, tt.header, tt.body, tt.keys...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify() = %v, want %v", err, tt.want)
			}
		})
	}
}
