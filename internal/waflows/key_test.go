package waflows_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/waflows"
)

func TestLoadPrivateKey(t *testing.T) {
	kek := newKEK(t)
	otherKEK := newKEK(t)
	key := loadKey(t, "business_key.pem")
	ctx := context.Background()
	sealed, err := waflows.PrivateKeyPEM(ctx, key, kek)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := waflows.PrivateKeyPEM(ctx, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sealed, []byte("BEGIN "+waflows.SealedKeyBlock)) || !bytes.Contains(plain, []byte("BEGIN PRIVATE KEY")) {
		t.Fatalf("PEM block types: %.40s / %.40s", sealed, plain)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name    string
		pem     []byte
		kek     bool
		wantErr string // "" = success
	}{
		{"sealed", sealed, true, ""},
		{"sealed without kek", sealed, false, "no KEK"},
		{"plain pkcs8", plain, false, ""},
		{"pkcs1", read("pkcs1_key.pem"), false, ""},
		{"legacy encrypted", read("legacy_key.pem"), false, "legacy"},
		{"small", read("small_key.pem"), false, "bits"},
		{"garbage", []byte("hello"), false, "no PEM"},
		{"public key", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), false, "unexpected PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := kek
			if !tt.kek {
				k = nil
			}
			got, err := waflows.LoadPrivateKey(ctx, tt.pem, k)
			if tt.wantErr == "" {
				if err != nil || got == nil {
					t.Fatalf("LoadPrivateKey = %v", err)
				}
				return
			}
			if !errors.Is(err, waflows.ErrInvalidKey) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want ErrInvalidKey containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("wrong kek", func(t *testing.T) {
		if _, err := waflows.LoadPrivateKey(ctx, sealed, otherKEK); !errors.Is(err, waflows.ErrInvalidKey) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("sealed round trip is the same key", func(t *testing.T) {
		got, err := waflows.LoadPrivateKey(ctx, sealed, kek)
		if err != nil || !got.Equal(key) {
			t.Errorf("round trip: %v", err)
		}
	})
	t.Run("public key PEM", func(t *testing.T) {
		p, err := waflows.PublicKeyPEM(key)
		if err != nil || !bytes.HasPrefix(p, []byte("-----BEGIN PUBLIC KEY-----\n")) {
			t.Errorf("PublicKeyPEM = %.40s, %v", p, err)
		}
	})
}

func newKEK(t *testing.T) waflows.KEK {
	t.Helper()
	v, err := vault.NewKEKKeyset()
	if err != nil {
		t.Fatal(err)
	}
	k, err := vault.ParseKEK(v)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
