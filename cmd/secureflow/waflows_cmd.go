package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/waflows"
)

// File names written by "whatsapp-flows keygen".
const (
	waflowsPrivateKeyFile = "whatsapp-flows-private.pem"
	waflowsPublicKeyFile  = "whatsapp-flows-public.pem"
)

// newWhatsAppFlowsCmd returns "secureflow whatsapp-flows", the commands of
// the WhatsApp Flows data endpoint (package waflows).
func newWhatsAppFlowsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "whatsapp-flows", Short: "Manage the WhatsApp Flows data endpoint"}
	cmd.AddCommand(newWhatsAppFlowsKeygenCmd())
	return cmd
}

// newWhatsAppFlowsKeygenCmd returns "whatsapp-flows keygen".
//
// How the private key is protected: the brief's options were a
// passphrase-encrypted PKCS#8 (no maintained library for it is in go.mod:
// golang.org/x/crypto has no PKCS#8 encryption, and the legacy PEM
// encryption Meta's sample uses, whatsapp.md §4, is deprecated in Go as
// insecure), the gateway's own key-encryption key, or a plain file. This
// command seals the PKCS#8 DER with the gateway's KEK (--kek, the same
// reference keys.kek takes: a Tink AEAD keyset by file: or env:, or a KMS
// key), so nothing here is hand-rolled and the gateway opens the key with
// the KEK it already holds. --plaintext writes an unencrypted PKCS#8 file
// (mode 0600) instead, for set-ups whose secret store protects files.
func newWhatsAppFlowsKeygenCmd() *cobra.Command {
	var out, kekRef string
	var plaintext bool
	cmd := &cobra.Command{
		Use:   "keygen",
		Short: "Make the RSA-2048 key pair of the Flows endpoint and print how to register the public key",
		Long: `Makes the 2048-bit RSA key pair WhatsApp encrypts Flows requests to (whatsapp.md §3.1).
Writes ` + waflowsPrivateKeyFile + ` (mode 0600; sealed with the gateway's KEK unless --plaintext)
and ` + waflowsPublicKeyFile + ` into --out, never overwriting, and prints the public key
with the Graph API call that registers it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if out == "" {
				return errors.New("--out is required")
			}
			if kekRef == "" {
				kekRef = os.Getenv("SECUREFLOW_KEYS_KEK")
			}
			var kek vault.KEK
			switch {
			case plaintext && cmd.Flags().Changed("kek"):
				return errors.New("--plaintext and --kek exclude each other")
			case plaintext:
			case kekRef == "":
				return errors.New("no KEK: give --kek file:PATH or env:NAME (or set SECUREFLOW_KEYS_KEK), or --plaintext")
			default:
				k, err := vault.OpenKEK(kekRef, os.Environ())
				if err != nil {
					return err
				}
				kek = k
			}
			key, err := waflows.GenerateKey()
			if err != nil {
				return err
			}
			var sealer waflows.KEK
			if kek != nil {
				sealer = kek
			}
			priv, err := waflows.PrivateKeyPEM(ctx, key, sealer)
			if err != nil {
				return err
			}
			pub, err := waflows.PublicKeyPEM(key)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(out, 0o700); err != nil {
				return err
			}
			privPath, pubPath := filepath.Join(out, waflowsPrivateKeyFile), filepath.Join(out, waflowsPublicKeyFile)
			for _, p := range []string{privPath, pubPath} {
				if _, err := os.Stat(p); err == nil {
					return fmt.Errorf("%s exists: not overwriting a key (move it away first)", p)
				} else if !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			if err := writeNewFile(privPath, priv, 0o600); err != nil {
				return err
			}
			clear(priv)
			if err := writeNewFile(pubPath, pub, 0o644); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if kek == nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s is NOT encrypted; keep it mode 0600 in a protected place\n", privPath)
			}
			fmt.Fprintf(w, "Private key: %s (mode 0600)\nPublic key:  %s\n\n%s\n", privPath, pubPath, pub)
			// whatsapp.md §3.1: upload and sign the public key per business
			// phone number; GET on the same edge shows its signature status.
			fmt.Fprintf(w, `Register the public key for each business phone number (whatsapp.md §3.1):

  curl -X POST "https://graph.facebook.com/v24.0/$PHONE_NUMBER_ID/whatsapp_business_encryption" \
    -H "Authorization: Bearer $ACCESS_TOKEN" \
    --data-urlencode business_public_key@%s

  Expect {"success": true}; GET the same edge must show business_public_key_signature_status "VALID".
  Register again after re-registering the number or migrating it (whatsapp.md §3.1 step 2).
`, pubPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the key files into (created 0700 if missing)")
	cmd.Flags().StringVar(&kekRef, "kek", "", "key-encryption key sealing the private key: file:PATH or env:NAME (default $SECUREFLOW_KEYS_KEK)")
	cmd.Flags().BoolVar(&plaintext, "plaintext", false, "write the private key unencrypted (mode 0600)")
	return cmd
}

// writeNewFile writes data to a new file with mode perm, failing if it exists.
func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
