package kms_test

// The AWS KMS KEK through the vault and the keyring, the way the gateway
// parses keys.kek (vault.ParseKEK / vault.OpenKEK / keyring.ParseKEK). These
// live here rather than in internal/vault and internal/keyring so that the
// AWS support stays in one package; they mirror
// internal/vault/kek_kms_test.go and internal/keyring/keyring_kms_test.go.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/keyring"
	"github.com/secureflow/secureflow/internal/kms"
	"github.com/secureflow/secureflow/internal/kms/kmstest"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/vault/vaulttest"
)

const awsCanaryCard = "4111111111111111"

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// awsKEK returns a KEK on f's key, parsed as the gateway parses keys.kek.
func awsKEK(t *testing.T, f *kmstest.AWSKMS) vault.KEK {
	t.Helper()
	k, err := vault.ParseKEK(secret.FromString(f.KeyURI()+"\n"), awsOpts(f)...)
	must(t, err)
	return k
}

// assertNoAWSSecrets fails if any text holds a credential, the card or the
// canary plaintext.
func assertNoAWSSecrets(t *testing.T, where string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, c := range append([]string{awsCanaryCard}, awsSecrets...) {
			if strings.Contains(s, c) {
				t.Fatalf("%s contains a secret (%.6s...): %s", where, c, s)
			}
		}
	}
}

func TestAWSKEKVaultLifecycle(t *testing.T) {
	goodAWSEnv(t)
	ctx := context.Background()
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	kek := awsKEK(t, f)
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
	if n := len(f.Requests()); n != 2 {
		t.Fatalf("init made %d KMS requests, want 2 (one per keyset)", n)
	}
	for _, r := range f.Requests() {
		if r.Target != "TrentService.Encrypt" || len(r.EncryptionContext) != 1 {
			t.Fatalf("init request %s with context %v: want Encrypt bound to associated data", r.Target, r.EncryptionContext)
		}
	}

	// open, tokenize, rotate
	v, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek, Policy: vaulttest.NewPolicy(t), Now: clock.Now, Logger: log})
	must(t, err)
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString(awsCanaryCard), vault.Options{Principal: "test:unit", Retention: vault.RetainPermanent})
	must(t, err)
	_, err = v.Rotate(ctx, "test:operator")
	must(t, err)

	// A second process with its own client opens the rotated keysets.
	v2, err := vault.Open(ctx, vault.Config{Store: s, KEK: awsKEK(t, f), Policy: vaulttest.NewPolicy(t), Now: clock.Now, Logger: log})
	must(t, err)
	got, err := v2.Reveal(ctx, tok.ID, "test:payments", "authorize")
	must(t, err)
	if string(got.Reveal()) != awsCanaryCard {
		t.Fatal("wrong value through the AWS KMS KEK")
	}

	// Rotating the key in KMS is invisible to the vault.
	f.Rotate(t)
	_, err = vault.Open(ctx, vault.Config{Store: s, KEK: kek})
	must(t, err)

	// keys change-kek: AWS KMS -> Tink keyset -> AWS KMS.
	kv, err := vault.NewKEKKeyset()
	must(t, err)
	local, err := vault.ParseKEK(kv)
	must(t, err)
	must(t, v2.ChangeKEK(ctx, local, "test:operator"))
	if _, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek}); !errors.Is(err, vault.ErrKEK) {
		t.Fatalf("AWS KEK opens keysets moved to a local KEK: %v", err)
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
	if stored.KEKID != f.KeyURI() {
		t.Fatalf("after change-kek back: KEK %q", stored.KEKID)
	}

	// Nothing secret in the logs, the stored keysets, or what KMS saw.
	assertNoAWSSecrets(t, "logs", logs.String())
	assertNoAWSSecrets(t, "stored keysets", string(stored.Values), string(stored.Fingerprints), stored.KEKID)
	for i, r := range f.Requests() {
		if !r.SignatureValid || r.AccessKeyID != awsAccessKeyID {
			t.Fatalf("request %d not signed with the configured credentials", i)
		}
		if bytes.Contains(r.Body, []byte(awsCanaryCard)) {
			t.Fatalf("request %d carries the card", i)
		}
	}
}

func TestAWSKEKVaultFailures(t *testing.T) {
	goodAWSEnv(t)
	ctx := context.Background()
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	s := vaulttest.NewMemStore()
	_, err := vault.InitKeys(ctx, s, awsKEK(t, f), "test:operator", vaulttest.T0)
	must(t, err)

	tests := []struct {
		name          string
		denied, down  bool
		closed        bool
		cause         string
		wantErrDenied bool
	}{
		{name: "access denied", denied: true, cause: "AccessDeniedException", wantErrDenied: true},
		{name: "outage", down: true, cause: "500 KMSInternalException"},
		{name: "unreachable", closed: true, cause: "connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kek := awsKEK(t, f)
			f.SetDenied(tc.denied)
			f.SetDown(tc.down)
			defer f.SetDenied(false)
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
				assertNoAWSSecrets(t, "error", err.Error())
			}
			if !strings.Contains(ierr.Error(), tc.cause) {
				t.Fatalf("InitKeys err = %v, want it to say %q", ierr, tc.cause)
			}
			_, err := kek.EncryptWithContext(ctx, []byte(awsCanaryCard), []byte("ad"))
			if err == nil || errors.Is(err, kms.ErrDenied) != tc.wantErrDenied {
				t.Fatalf("encrypt: err = %v, want ErrDenied %v", err, tc.wantErrDenied)
			}
			assertNoAWSSecrets(t, "KEK error", err.Error())
		})
	}
}

func TestAWSKEKOpenKEK(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	uriFile := filepath.Join(t.TempDir(), "kek.uri")
	must(t, os.WriteFile(uriFile, []byte(f.KeyURI()+"\n"), 0o600))
	tests := []struct {
		name    string
		ref     string
		environ []string
	}{
		{"URI", f.KeyURI(), nil},
		{"env holding the URI", "env:SF_KEK", []string{"SF_KEK=" + f.KeyURI()}},
		{"file holding the URI", "file:" + uriFile, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := vault.OpenKEK(tc.ref, tc.environ, awsOpts(f)...)
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

func TestAWSKEKKeyringLoadOrCreate(t *testing.T) {
	goodAWSEnv(t)
	f := kmstest.NewAWSKMS(t, awsRegion, awsAccessKeyID, awsSecretKey)
	path := filepath.Join(t.TempDir(), "keyset.json")
	load := func(t *testing.T) (*keyring.Sealer, error) {
		t.Helper()
		kek, err := keyring.ParseKEK(secret.FromString(f.KeyURI()), awsOpts(f)...)
		must(t, err)
		return keyring.LoadOrCreate(path, kek)
	}
	s1, err := load(t)
	must(t, err)
	const canary = "CANARY card " + awsCanaryCard
	ad := []byte("inbox|whatsapp|wamid.1")
	ct, err := s1.Seal([]byte(canary), ad)
	must(t, err)
	raw, err := os.ReadFile(path)
	must(t, err)
	if !strings.Contains(string(raw), "encryptedKeyset") {
		t.Fatalf("keyset file is not an encrypted keyset: %s", raw)
	}
	assertNoAWSSecrets(t, "keyset file", string(raw))

	// Reopen with a fresh client: the data keyset decrypts through KMS.
	s2, err := load(t)
	must(t, err)
	pt, err := s2.Open(ct, ad)
	if err != nil || string(pt) != canary {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || reqs[0].Target != "TrentService.Encrypt" || reqs[1].Target != "TrentService.Decrypt" {
		t.Fatalf("%d KMS requests, want Encrypt at creation and Decrypt at reopen", len(reqs))
	}

	// Denied and outage fail, without a secret in the error.
	for _, set := range []func(bool){f.SetDenied, f.SetDown} {
		set(true)
		if _, err := load(t); err == nil {
			t.Fatal("opened the data keyset while KMS refused")
		} else {
			assertNoAWSSecrets(t, "keyring error", err.Error())
		}
		set(false)
	}
}
