package keyring_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/secureflow/secureflow/internal/keyring"
)

func newSealer(t *testing.T, dir string) *keyring.Sealer {
	t.Helper()
	kek, err := keyring.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	a, err := keyring.ParseKEK(kek)
	if err != nil {
		t.Fatal(err)
	}
	s, err := keyring.LoadOrCreate(filepath.Join(dir, "keyset.json"), a)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := newSealer(t, t.TempDir())
	pt := []byte("card 4111111111111111")
	ct, err := s.Seal(pt, []byte("inbox|whatsapp|wamid.1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, pt) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := s.Open(ct, []byte("inbox|whatsapp|wamid.1"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// A ciphertext moved to another row does not open.
	if _, err := s.Open(ct, []byte("inbox|whatsapp|wamid.2")); !errors.Is(err, keyring.ErrOpen) {
		t.Fatalf("Open with other AD = %v, want ErrOpen", err)
	}
	ct[len(ct)-1] ^= 1
	if _, err := s.Open(ct, []byte("inbox|whatsapp|wamid.1")); !errors.Is(err, keyring.ErrOpen) {
		t.Fatalf("Open tampered = %v, want ErrOpen", err)
	}
}

func TestKeysetPersistsEncrypted(t *testing.T) {
	dir := t.TempDir()
	kek, _ := keyring.NewKEK()
	a, _ := keyring.ParseKEK(kek)
	path := filepath.Join(dir, "keyset.json")
	s1, err := keyring.LoadOrCreate(path, a)
	if err != nil {
		t.Fatal(err)
	}
	ct, _ := s1.Seal([]byte("x"), nil)
	s2, err := keyring.LoadOrCreate(path, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Open(ct, nil); err != nil {
		t.Fatalf("reloaded keyset cannot open: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyset mode = %v, want 0600", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte("encryptedKeyset")) {
		t.Fatalf("keyset file is not an encrypted keyset: %.80s", raw)
	}
	other, _ := keyring.NewKEK()
	oa, _ := keyring.ParseKEK(other)
	if _, err := keyring.LoadOrCreate(path, oa); err == nil {
		t.Fatal("keyset opened under the wrong KEK")
	}
}

func TestParseKEKRejectsGarbage(t *testing.T) {
	if _, err := keyring.ParseKEK(secretOf("not json")); err == nil {
		t.Fatal("garbage KEK accepted")
	}
}
