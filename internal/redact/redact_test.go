package redact_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/secureflow/secureflow/internal/detect"
	"github.com/secureflow/secureflow/internal/redact"
	"github.com/secureflow/secureflow/internal/secret"
)

type fakeVault struct {
	got []string
	err error
}

func (f *fakeVault) Tokenize(_ context.Context, kind string, v secret.Value) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	f.got = append(f.got, kind+"="+string(v.Reveal()))
	return "tok_TEST" + kind[:2], nil
}

func TestRedact(t *testing.T) {
	scanner := detect.MustNewScanner(detect.DefaultRegistry())
	tests := []struct {
		name    string
		policy  redact.Policy
		vault   bool
		in      string
		want    string
		blocked bool
	}{
		{"clean text untouched", redact.DefaultCustomerPolicy(), false, "order 12345 arrives on 23/11, protocol 2026-998877", "order 12345 arrives on 23/11, protocol 2026-998877", false},
		{"card masked without vault", redact.DefaultCustomerPolicy(), false, "my card is 4111 1111 1111 1111 ok", "my card is [card ••••1111] ok", false},
		{"card tokenized with vault", redact.DefaultCustomerPolicy(), true, "my card is 4111 1111 1111 1111 ok", "my card is [card ••••1111 tok_TESTcr] ok", false},
		{"cvv masked never tokenized", redact.DefaultCustomerPolicy(), true, "cvv 123", "cvv [cvv]", false},
		{"email allowed", redact.DefaultCustomerPolicy(), false, "write to ana@example.com", "write to ana@example.com", false},
		{"password in portuguese", redact.DefaultCustomerPolicy(), false, "minha senha é Hunter2!x", "minha senha é [password]", false},
		{"drop", redact.Policy{detect.CPF: redact.Drop}, false, "cpf 529.982.247-25", "cpf [removed]", false},
		{"agent pasting a card is blocked", redact.DefaultAgentPolicy(), false, "the card on file is 4111-1111-1111-1111", "", true},
		{"unlisted entity is masked", redact.Policy{}, false, "cpf 529.982.247-25", "cpf [cpf •••.•••.•••-25]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tok redact.Tokenizer
			v := &fakeVault{}
			if tt.vault {
				tok = v
			}
			res, err := redact.New(scanner, tt.policy, tok).Redact(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Text != tt.want || res.Blocked != tt.blocked {
				t.Fatalf("Redact(%q) = %q blocked=%v, want %q blocked=%v", tt.in, res.Text, res.Blocked, tt.want, tt.blocked)
			}
			if tt.vault && strings.Contains(tt.want, "tok_") && (len(v.got) != 1 || v.got[0] != "credit_card=4111 1111 1111 1111") {
				t.Fatalf("vault got %q", v.got)
			}
		})
	}
}

func TestRedactVaultFailureIsAnError(t *testing.T) {
	r := redact.New(detect.MustNewScanner(detect.DefaultRegistry()), redact.DefaultCustomerPolicy(), &fakeVault{err: errors.New("vault down")})
	if _, err := r.Redact(context.Background(), "card 4111111111111111"); err == nil {
		t.Fatal("a vault failure let the text through")
	}
}

func TestOverride(t *testing.T) {
	p, err := redact.DefaultCustomerPolicy().Override(map[string]string{"credit_card": "mask", "EMAIL_ADDRESS": "drop"})
	if err != nil || p[detect.CreditCard] != redact.Mask || p[detect.Email] != redact.Drop {
		t.Fatalf("Override = %v, %v", p, err)
	}
	_, err = redact.DefaultCustomerPolicy().Override(map[string]string{"SHOE_SIZE": "mask", "BR_CPF": "shred"})
	if !errors.Is(err, redact.ErrUnknownEntity) || !errors.Is(err, redact.ErrUnknownAction) {
		t.Fatalf("bad overrides: %v", err)
	}
}
