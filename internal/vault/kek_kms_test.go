package vault_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/kms/kmstest"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/vault/vaulttest"
)

const (
	kmsToken      = "hvs.CANARY-vault-token-0c1d"
	kmsCanaryCard = "4111111111111111"
)

// hcvaultKEK returns a KEK on f's transit key, parsed the way the gateway
// parses keys.kek.
func hcvaultKEK(t *testing.T, f *kmstest.Transit, token string) vault.KEK {
	t.Helper()
	k, err := vault.ParseKEK(secret.FromString(f.KeyURI()+"\n"),
		kms.WithToken(secret.FromString(token)), kms.WithRootCAs(f.CertPool()), kms.WithMaxRetries(0))
	must(t, err)
	return k
}

// assertNoSecrets fails if any of the texts holds the token or the card.
func assertNoSecrets(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, c := range []string{kmsToken, kmsCanaryCard} {
			if strings.Contains(s, c) {
				t.Fatalf("%s contains a secret (%.6s...): %s", where, c, s)
			}
		}
	}
}

func TestHCVaultKEKLifecycle(t *testing.T) {
	ctx := context.Background()
	f := kmstest.NewTransit(t, "transit", "secureflow", kmsToken)
	kek := hcvaultKEK(t, f, kmsToken)
	if kek.ID() != f.KeyURI() {
		t.Fatalf("KEK ID = %q, want the key URI %q", kek.ID(), f.KeyURI())
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clock := vaulttest.NewClock(vaulttest.T0)
	s := vaulttest.NewMemStore()

	// keys init
	st, err := vault.InitKeys(ctx, s, kek, "test:operator", vaulttest.T0)
	must(t, err)
	if st.KEKID != f.KeyURI() {
		t.Fatalf("status KEK = %q, want %q", st.KEKID, f.KeyURI())
	}
	stored, err := s.Keysets(ctx)
	must(t, err)
	for _, b := range [][]byte{stored.Values, stored.Fingerprints} {
		if !bytes.Contains(b, []byte("vault:v1:")) {
			t.Fatal("stored keyset is not encrypted by the transit key")
		}
	}
	if n := len(f.Requests()); n != 2 {
		t.Fatalf("init made %d transit requests, want 2 (one per keyset)", n)
	}

	// open, tokenize, rotate
	v, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek, Policy: vaulttest.NewPolicy(t), Now: clock.Now, Logger: log})
	must(t, err)
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(kmsCanaryCard), opts(vault.RetainPermanent, ""))
	must(t, err)
	_, err = v.Rotate(ctx, "test:operator")
	must(t, err)

	// A second process with its own client (a fresh KEK from the same URI)
	// opens the rotated keysets and reveals the value.
	v2, err := vault.Open(ctx, vault.Config{Store: s, KEK: hcvaultKEK(t, f, kmsToken), Policy: vaulttest.NewPolicy(t), Now: clock.Now, Logger: log})
	must(t, err)
	got, err := v2.Reveal(ctx, tok.ID, "test:payments", "authorize")
	must(t, err)
	if string(got.Reveal()) != kmsCanaryCard {
		t.Fatal("wrong value through the hcvault KEK")
	}
	status, err := v2.Status(ctx)
	must(t, err)
	if status.KEKID != f.KeyURI() {
		t.Fatalf("status KEK after rotation = %q", status.KEKID)
	}

	// A rotation of the transit key in Vault is invisible to the vault.
	f.Rotate(t)
	_, err = vault.Open(ctx, vault.Config{Store: s, KEK: kek})
	must(t, err)

	// keys change-kek: hcvault -> Tink keyset -> hcvault.
	kv, err := vault.NewKEKKeyset()
	must(t, err)
	local, err := vault.ParseKEK(kv)
	must(t, err)
	must(t, v2.ChangeKEK(ctx, local, "test:operator"))
	if _, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek}); !errors.Is(err, vault.ErrKEK) {
		t.Fatalf("hcvault KEK opens keysets moved to a local KEK: %v", err)
	}
	v3, err := vault.Open(ctx, vault.Config{Store: s, KEK: local, Policy: vaulttest.NewPolicy(t), Now: clock.Now})
	must(t, err)
	must(t, v3.ChangeKEK(ctx, kek, "test:operator"))
	v4, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek, Policy: vaulttest.NewPolicy(t), Now: clock.Now})
	must(t, err)
	if _, err := v4.Reveal(ctx, tok.ID, "test:payments", "authorize"); err != nil {
		t.Fatal(err)
	}
	stored, err = s.Keysets(ctx)
	must(t, err)
	if stored.KEKID != f.KeyURI() || !bytes.Contains(stored.Values, []byte("vault:v2:")) {
		t.Fatalf("after change-kek back: KEK %q, keyset not under transit key version 2", stored.KEKID)
	}

	// Nothing secret went to Vault's requests in a recognisable form, the
	// logs, or the stored keysets.
	assertNoSecrets(t, "logs", logs.String())
	assertNoSecrets(t, "stored keysets", string(stored.Values), string(stored.Fingerprints), stored.KEKID)
	for _, r := range f.Requests() {
		if r.Token != kmsToken {
			t.Fatalf("request %s without the token", r.Path)
		}
		if strings.Contains(r.Path, kmsToken) {
			t.Fatal("token in a request path")
		}
	}
}

func TestHCVaultKEKFailures(t *testing.T) {
	ctx := context.Background()
	f := kmstest.NewTransit(t, "transit", "secureflow", kmsToken)
	s := vaulttest.NewMemStore()
	_, err := vault.InitKeys(ctx, s, hcvaultKEK(t, f, kmsToken), "test:operator", vaulttest.T0)
	must(t, err)

	tests := []struct {
		name   string
		token  string
		down   bool
		closed bool
		cause  string
	}{
		{name: "wrong token", token: "hvs.CANARY-wrong-0001", cause: "403: permission denied"},
		{name: "vault sealed", token: kmsToken, down: true, cause: "503: Vault is sealed"},
		{name: "vault unreachable", token: kmsToken, closed: true, cause: "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := hcvaultKEK(t, f, tc.token)
			f.SetDown(tc.down)
			defer f.SetDown(false)
			if tc.closed {
				f.Server.Close()
			}
			_, oerr := vault.Open(ctx, vault.Config{Store: s, KEK: kek})
			_, ierr := vault.InitKeys(ctx, vaulttest.NewMemStore(), kek, "test:operator", vaulttest.T0)
			for _, err := range []error{oerr, ierr} {
				if !errors.Is(err, vault.ErrKEK) {
					t.Fatalf("err = %v, want ErrKEK", err)
				}
				assertNoSecrets(t, "error", err.Error())
				if strings.Contains(err.Error(), tc.token) {
					t.Fatalf("error contains the token: %v", err)
				}
			}
			// InitKeys encrypts: the KMS's answer reaches the operator (as
			// text: Tink's keyset writer does not wrap its AEAD's error).
			if !strings.Contains(ierr.Error(), tc.cause) {
				t.Fatalf("InitKeys err = %v, want it to say %q", ierr, tc.cause)
			}
			// The KEK itself: encrypting a canary fails cleanly.
			_, err := kek.EncryptWithContext(ctx, []byte(kmsCanaryCard), []byte("ad"))
			if err == nil {
				t.Fatal("encrypt succeeded")
			}
			assertNoSecrets(t, "KEK error", err.Error())
		})
	}
}

func TestOpenKEKHCVault(t *testing.T) {
	f := kmstest.NewTransit(t, "transit", "secureflow", kmsToken)
	dir := t.TempDir()
	uriFile := filepath.Join(dir, "kek.uri")
	must(t, os.WriteFile(uriFile, []byte(f.KeyURI()+"\n"), 0o600))
	ca := kms.WithRootCAs(f.CertPool())
	tests := []struct {
		name    string
		ref     string
		environ []string
		opts    []kms.Option
		wantErr error
	}{
		{"URI, VAULT_TOKEN", f.KeyURI(), []string{"VAULT_TOKEN=" + kmsToken}, nil, nil},
		{"URI, explicit token", f.KeyURI(), nil, []kms.Option{kms.WithToken(secret.FromString(kmsToken))}, nil},
		{"env holding the URI", "env:SF_KEK", []string{"SF_KEK=" + f.KeyURI(), "VAULT_TOKEN=" + kmsToken}, nil, nil},
		{"file holding the URI", "file:" + uriFile, []string{"VAULT_TOKEN=" + kmsToken}, nil, nil},
		{"URI without a token", f.KeyURI(), []string{"HOME=/root"}, nil, kms.ErrNoToken},
		{"URI with credentials", "hcvault://u:CANARY-pw@vault/transit/keys/k", []string{"VAULT_TOKEN=" + kmsToken}, nil, kms.ErrKMS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := vault.OpenKEK(tc.ref, tc.environ, append([]kms.Option{ca, kms.WithMaxRetries(0)}, tc.opts...)...)
			if tc.wantErr != nil {
				if !errors.Is(err, vault.ErrKEK) || !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want ErrKEK and %v", err, tc.wantErr)
				}
				assertNoSecrets(t, "error", err.Error())
				if strings.Contains(err.Error(), "CANARY-pw") {
					t.Fatalf("error quotes the URI's credentials: %v", err)
				}
				return
			}
			must(t, err)
			if k.ID() != f.KeyURI() {
				t.Fatalf("ID = %q", k.ID())
			}
			ct, err := k.EncryptWithContext(context.Background(), []byte("keyset"), []byte("ad"))
			must(t, err)
			pt, err := k.DecryptWithContext(context.Background(), ct, []byte("ad"))
			if err != nil || string(pt) != "keyset" {
				t.Fatalf("round trip: %q, %v", pt, err)
			}
		})
	}
}

func TestParseKEKKeysetIgnoresKMSOptions(t *testing.T) {
	kv, err := vault.NewKEKKeyset()
	must(t, err)
	k, err := vault.ParseKEK(kv, kms.WithToken(secret.FromString(kmsToken)))
	must(t, err)
	if !strings.HasPrefix(k.ID(), "tink-keyset:") {
		t.Fatalf("ID = %q", k.ID())
	}
}
