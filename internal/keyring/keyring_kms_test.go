package keyring_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/keyring"
	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/kms/kmstest"
	"github.com/secureflow/secureflow/internal/secret"
)

const kmsToken = "hvs.CANARY-keyring-token-5e6f"

func TestLoadOrCreateWithHCVaultKEK(t *testing.T) {
	f := kmstest.NewTransit(t, "transit", "secureflow", kmsToken)
	path := filepath.Join(t.TempDir(), "keyset.json")
	parse := func(t *testing.T, token string) (*keyring.Sealer, error) {
		t.Helper()
		kek, err := keyring.ParseKEK(secret.FromString(f.KeyURI()),
			kms.WithToken(secret.FromString(token)), kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		return keyring.LoadOrCreate(path, kek)
	}
	s1, err := parse(t, kmsToken)
	if err != nil {
		t.Fatal(err)
	}
	const canary = "CANARY card 4111111111111111"
	ct, err := s1.Seal([]byte(canary), []byte("inbox|whatsapp|wamid.1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), kmsToken) || !strings.Contains(string(raw), "encryptedKeyset") {
		t.Fatalf("keyset file is not an encrypted keyset without the token: %s", raw)
	}

	// Reopen with a fresh client: the data keyset decrypts through Vault.
	s2, err := parse(t, kmsToken)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := s2.Open(ct, []byte("inbox|whatsapp|wamid.1"))
	if err != nil || string(pt) != canary {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if n := len(f.Requests()); n != 2 {
		t.Fatalf("%d transit requests, want 2 (encrypt at creation, decrypt at reopen)", n)
	}

	// A wrong token fails, without the token or the value in the error.
	if _, err := parse(t, "hvs.CANARY-wrong-keyring"); err == nil {
		t.Fatal("a wrong Vault token opened the data keyset")
	} else if strings.Contains(err.Error(), "hvs.CANARY") || strings.Contains(err.Error(), canary) {
		t.Fatalf("error leaks a secret: %v", err)
	}
	// So does an outage.
	f.SetDown(true)
	if _, err := parse(t, kmsToken); err == nil {
		t.Fatal("opened the data keyset while Vault was sealed")
	} else if strings.Contains(err.Error(), kmsToken) {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestParseKEKHCVaultErrors(t *testing.T) {
	tests := []struct {
		name    string
		kek     string
		opts    []kms.Option
		wantErr error
	}{
		{"no token", "hcvault://vault.example/transit/keys/k", nil, kms.ErrNoToken},
		{"VAULT_TOKEN in the given environ", "hcvault://vault.example/transit/keys/k", []kms.Option{kms.WithEnviron([]string{"VAULT_TOKEN=" + kmsToken})}, nil},
		{"credentials in the URI", "hcvault://u:CANARY-pw@vault.example/transit/keys/k", []kms.Option{kms.WithToken(secret.FromString(kmsToken))}, kms.ErrKMS},
		{"bad path", "hcvault://vault.example/transit/k", []kms.Option{kms.WithToken(secret.FromString(kmsToken))}, kms.ErrKMS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keyring.ParseKEK(secret.FromString(tc.kek), tc.opts...)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}
