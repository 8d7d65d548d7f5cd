package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/secureflow/secureflow/internal/detect"
	"github.com/secureflow/secureflow/internal/redact"
	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
)

// entityKinds maps detected entities to the vault's kinds.
var entityKinds = map[detect.Entity]vault.Kind{
	detect.CreditCard: vault.KindCard, detect.CPF: vault.KindCPF, detect.CNPJ: vault.KindCNPJ,
	detect.IBAN: vault.KindIBAN, detect.SSN: vault.KindSSN, detect.Password: vault.KindPassword,
	detect.Email: vault.KindEmail, detect.Phone: vault.KindPhone, detect.PIN: vault.KindPIN,
	detect.OTP: vault.KindPIN, detect.CVV: vault.KindCVV, detect.CardExpiry: vault.KindExpiry,
}

// vaultTokenizer keeps values volunteered in chat in the vault for the
// detection policy's "tokenize" action: an opaque token, the configured
// retention, and for a card security code (sensitive authentication data)
// the ephemeral class, never longer.
type vaultTokenizer struct {
	v         *vault.Vault
	retention vault.Retention
}

var _ redact.Tokenizer = vaultTokenizer{}

// Tokenize implements redact.Tokenizer.
func (t vaultTokenizer) Tokenize(ctx context.Context, kind string, value secret.Value) (string, error) {
	k, ok := entityKinds[detect.Entity(strings.ToUpper(kind))]
	if !ok {
		return "", fmt.Errorf("no vault kind for %s", kind)
	}
	opts := vault.Options{Principal: "relay.detection", Retention: t.retention}
	if k == vault.KindCVV {
		opts.Retention = vault.RetainEphemeral
	}
	tok, err := t.v.Tokenize(ctx, k, value, opts)
	if err != nil {
		return "", err
	}
	return tok.ID, nil
}

// checkTokenizable reports entities a policy tokenizes that the vault has
// no kind for, so the mistake shows at start-up rather than as stalled
// messages.
func checkTokenizable(policies ...redact.Policy) error {
	var bad []string
	for _, p := range policies {
		for e, a := range p {
			if _, ok := entityKinds[e]; a == redact.Tokenize && !ok {
				bad = append(bad, string(e))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("detection: cannot tokenize %s (no vault kind); use mask", strings.Join(bad, ", "))
	}
	return nil
}
