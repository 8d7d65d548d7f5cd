package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/waflows"
)

func runWAFlows(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newWhatsAppFlowsCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestWhatsAppFlowsKeygenSealed(t *testing.T) {
	kekJSON, err := vault.NewKEKKeyset()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("WAFLOWS_TEST_KEK", string(kekJSON.Reveal()))
	dir := filepath.Join(t.TempDir(), "keys")
	stdout, _, err := runWAFlows(t, "keygen", "--out", dir, "--kek", "env:WAFLOWS_TEST_KEK")
	if err != nil {
		t.Fatal(err)
	}
	privPath := filepath.Join(dir, waflowsPrivateKeyFile)
	st, err := os.Stat(privPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file: %v, mode %v", err, st.Mode())
	}
	priv, _ := os.ReadFile(privPath)
	if !bytes.Contains(priv, []byte("BEGIN "+waflows.SealedKeyBlock)) {
		t.Fatalf("private key is not sealed: %.60s", priv)
	}
	kek, err := vault.OpenKEK("env:WAFLOWS_TEST_KEK", os.Environ())
	if err != nil {
		t.Fatal(err)
	}
	key, err := waflows.LoadPrivateKey(context.Background(), priv, kek)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("key of %d bits", key.N.BitLen())
	}
	if _, err := waflows.LoadPrivateKey(context.Background(), priv, nil); err == nil {
		t.Error("the sealed key loaded without the KEK")
	}
	pubPEM, _ := os.ReadFile(filepath.Join(dir, waflowsPublicKeyFile))
	blk, _ := pem.Decode(pubPEM)
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil || !key.PublicKey.Equal(pub) {
		t.Errorf("public key file does not match the private key: %v", err)
	}
	if !strings.Contains(stdout, string(pubPEM)) || !strings.Contains(stdout, "/whatsapp_business_encryption") ||
		!strings.Contains(stdout, "business_public_key") {
		t.Errorf("output lacks the public key or the registration call:\n%s", stdout)
	}
	if strings.Contains(stdout, "PRIVATE KEY") {
		t.Error("output shows the private key")
	}
	// Never overwrites.
	if _, _, err := runWAFlows(t, "keygen", "--out", dir, "--kek", "env:WAFLOWS_TEST_KEK"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second keygen = %v, want a refusal", err)
	}
}

func TestWhatsAppFlowsKeygenPlaintextAndErrors(t *testing.T) {
	t.Setenv("SECUREFLOW_KEYS_KEK", "")
	dir := t.TempDir()
	_, stderr, err := runWAFlows(t, "keygen", "--out", dir, "--plaintext")
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := os.ReadFile(filepath.Join(dir, waflowsPrivateKeyFile))
	if _, err := waflows.LoadPrivateKey(context.Background(), priv, nil); err != nil {
		t.Errorf("plaintext key: %v", err)
	}
	if !strings.Contains(stderr, "NOT encrypted") {
		t.Errorf("no warning for a plaintext key: %q", stderr)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"keygen", "--plaintext"}, "--out"},
		{"no kek", []string{"keygen", "--out", t.TempDir()}, "no KEK"},
		{"both", []string{"keygen", "--out", t.TempDir(), "--plaintext", "--kek", "env:X"}, "exclude"},
		{"bad kek", []string{"keygen", "--out", t.TempDir(), "--kek", "env:WAFLOWS_UNSET_KEK_VAR"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runWAFlows(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
