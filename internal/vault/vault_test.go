package vault_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureflow/secureflow/internal/secret"
	"github.com/secureflow/secureflow/internal/vault"
	"github.com/secureflow/secureflow/internal/vault/vaulttest"
)

func TestMemStoreConformance(t *testing.T) {
	vaulttest.Run(t, func(t *testing.T) vault.Store { return vaulttest.NewMemStore() })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newVault(t *testing.T) (*vault.Vault, *vaulttest.MemStore, *vaulttest.Clock) {
	t.Helper()
	s := vaulttest.NewMemStore()
	c := vaulttest.NewClock(vaulttest.T0)
	return vaulttest.NewVault(t, s, c), s, c
}

func opts(r vault.Retention, f vault.Format) vault.Options {
	return vault.Options{Principal: "test:unit", Retention: r, Format: f}
}

var opaqueRE = regexp.MustCompile(`^tok_[1-9A-HJ-NP-Za-km-z]{22}$`)

func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func luhn(d string) bool {
	sum := 0
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if (len(d)-1-i)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func cpfOK(d string) bool {
	if len(d) != 11 || strings.Count(d, d[:1]) == 11 {
		return false
	}
	for n := 9; n <= 10; n++ {
		sum := 0
		for i := 0; i < n; i++ {
			sum += int(d[i]-'0') * (n + 1 - i)
		}
		r := sum % 11
		c := 0
		if r >= 2 {
			c = 11 - r
		}
		if c != int(d[n]-'0') {
			return false
		}
	}
	return true
}

// shape replaces digits by 'd' so layouts can be compared.
func shape(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'd'
		}
		return r
	}, s)
}

func TestFormats(t *testing.T) {
	tests := []struct {
		name   string
		kind   vault.Kind
		format vault.Format
		value  string
		check  func(t *testing.T, value, tok string)
	}{
		{"opaque", vault.KindEmail, "", "someone@example.com", func(t *testing.T, _, tok string) {
			if !opaqueRE.MatchString(tok) {
				t.Fatalf("opaque token %q", tok)
			}
		}},
		{"card 16 bare", vault.KindCard, vault.FormatCard, "4111111111111111", checkCard},
		{"card 16 spaces", vault.KindCard, vault.FormatCard, "5555 5555 5555 4444", checkCard},
		{"card 15 amex dashes", vault.KindCard, vault.FormatCard, "3782-822463-10005", checkCard},
		{"card 12", vault.KindCard, vault.FormatCard, "411111111117", checkCard},
		{"card 19", vault.KindCard, vault.FormatCard, "6011000990139424009", checkCard},
		{"cpf bare", vault.KindCPF, vault.FormatCPF, "52998224725", checkCPF},
		{"cpf punctuated", vault.KindCPF, vault.FormatCPF, "529.982.247-25", checkCPF},
		{"cpf dash", vault.KindCPF, vault.FormatCPF, "529982247-25", checkCPF},
		{"card kind opaque format", vault.KindCard, vault.FormatOpaque, "4111111111111111", func(t *testing.T, _, tok string) {
			if !opaqueRE.MatchString(tok) {
				t.Fatalf("opaque token %q", tok)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _, _ := newVault(t)
			ctx := context.Background()
			seen := map[string]bool{}
			for range 50 {
				tok, err := v.Tokenize(ctx, tt.kind, secret.FromString(tt.value), opts(vault.RetainDays(1), tt.format))
				must(t, err)
				tt.check(t, tt.value, tok.ID)
				if seen[tok.ID] {
					t.Fatalf("token %s issued twice", tok.ID)
				}
				seen[tok.ID] = true
				p := "test:payments"
				if tt.kind == vault.KindCPF {
					p = "test:kyc"
				}
				if tt.kind == vault.KindEmail {
					continue
				}
				got, err := v.Reveal(ctx, tok.ID, p, "authorize")
				must(t, err)
				if string(got.Reveal()) != tt.value {
					t.Fatal("Reveal returned another value")
				}
			}
		})
	}
}

func checkCard(t *testing.T, value, tok string) {
	t.Helper()
	d := digitsOf(tok)
	if len(tok) != len(value) || shape(tok) != shape(value) || tok[len(tok)-4:] != value[len(value)-4:] ||
		!luhn(d) || d[0] != '9' || d == digitsOf(value) {
		t.Fatalf("card token %q for %q: want same layout, last four, Luhn-valid, prefix 9, not the value", tok, value)
	}
}

func checkCPF(t *testing.T, value, tok string) {
	t.Helper()
	if shape(tok) != shape(value) || !cpfOK(digitsOf(tok)) || digitsOf(tok) == digitsOf(value) {
		t.Fatalf("CPF token %q for %q: want same layout, valid check digits, not the value", tok, value)
	}
}

func TestTokenizeRejects(t *testing.T) {
	canary := "canary-6011000990139424"
	tests := []struct {
		name  string
		kind  vault.Kind
		value string
		opts  vault.Options
	}{
		{"card format bad luhn", vault.KindCard, "4111111111111112", opts(vault.RetainDays(1), vault.FormatCard)},
		{"card format letters", vault.KindCard, canary, opts(vault.RetainDays(1), vault.FormatCard)},
		{"card format too short", vault.KindCard, "41111111111", opts(vault.RetainDays(1), vault.FormatCard)},
		{"card format double separator", vault.KindCard, "4111  1111 1111 1111", opts(vault.RetainDays(1), vault.FormatCard)},
		{"card format on cvv", vault.KindCVV, "123", opts(vault.RetainEphemeral, vault.FormatCard)},
		{"cpf format bad check", vault.KindCPF, "529.982.247-24", opts(vault.RetainDays(1), vault.FormatCPF)},
		{"cpf format repeated", vault.KindCPF, "111.111.111-11", opts(vault.RetainDays(1), vault.FormatCPF)},
		{"unknown format", vault.KindCard, canary, opts(vault.RetainDays(1), "fpe")},
		{"bad kind", vault.Kind(canary), "x", opts(vault.RetainDays(1), "")},
		{"no retention", vault.KindCard, canary, vault.Options{Principal: "p"}},
		{"no principal", vault.KindCard, canary, vault.Options{Retention: vault.RetainPermanent}},
		{"empty value", vault.KindCard, "", opts(vault.RetainDays(1), "")},
		{"too large", vault.KindCard, strings.Repeat("x", 5000), opts(vault.RetainDays(1), "")},
		{"session without id", vault.KindCard, canary, opts(vault.RetainSession, "")},
		{"session id on days", vault.KindCard, canary, vault.Options{Principal: "p", Retention: vault.RetainDays(1), Session: "s"}},
		{"deterministic ephemeral", vault.KindCVV, canary, vault.Options{Principal: "p", Retention: vault.RetainEphemeral, Deterministic: true, Scope: "s"}},
		{"deterministic no scope", vault.KindCard, canary, vault.Options{Principal: "p", Retention: vault.RetainPermanent, Deterministic: true}},
		{"scope without deterministic", vault.KindCard, canary, vault.Options{Principal: "p", Retention: vault.RetainPermanent, Scope: "s"}},
		{"negative ttl", vault.KindCard, canary, vault.Options{Principal: "p", Retention: vault.RetainPermanent, TTL: -1}},
		{"days out of range", vault.KindCard, canary, opts(vault.RetainDays(0), "")},
		{"control char in principal", vault.KindCard, canary, vault.Options{Principal: "p\nforged", Retention: vault.RetainPermanent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, s, _ := newVault(t)
			_, err := v.Tokenize(context.Background(), tt.kind, secret.FromString(tt.value), tt.opts)
			if !errors.Is(err, vault.ErrInvalid) {
				t.Fatalf("Tokenize = %v, want ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "4111") {
				t.Fatalf("error quotes the value: %v", err)
			}
			if len(s.Records()) != 0 {
				t.Fatal("a refused request stored something")
			}
		})
	}
}

func TestParseRetention(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want vault.Retention
		ok   bool
	}{
		{"ephemeral", vault.RetainEphemeral, true},
		{"session", vault.RetainSession, true},
		{"permanent", vault.RetainPermanent, true},
		{"days:30", vault.RetainDays(30), true},
		{"days:36500", vault.RetainDays(36500), true},
		{"days:0", vault.Retention{}, false},
		{"days:36501", vault.Retention{}, false},
		{"days:x", vault.Retention{}, false},
		{"days", vault.Retention{}, false},
		{"forever", vault.Retention{}, false},
		{"", vault.Retention{}, false},
	} {
		got, err := vault.ParseRetention(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRetention(%q) = %v, %v", tt.in, got, err)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestPolicy(t *testing.T) {
	p, err := vault.NewPolicy(
		vault.Rule{Principal: "action:pay", Kinds: []vault.Kind{vault.KindCard, vault.KindCVV}, Purposes: []string{"authorize", "refund"}},
		vault.Rule{Principal: "operator:dpo", Kinds: []vault.Kind{"*"}, Purposes: []string{"subject-access-request"}},
		vault.Rule{Principal: "flow:kyc", Kinds: []vault.Kind{vault.KindCPF}, Purposes: []string{"*"}},
	)
	must(t, err)
	for _, tt := range []struct {
		principal string
		kind      vault.Kind
		purpose   string
		want      bool
	}{
		{"action:pay", vault.KindCard, "authorize", true},
		{"action:pay", vault.KindCVV, "refund", true},
		{"action:pay", vault.KindCPF, "authorize", false},
		{"action:pay", vault.KindCard, "marketing", false},
		{"action:pay", vault.KindCard, "", false},
		{"operator:dpo", vault.KindPassword, "subject-access-request", true},
		{"operator:dpo", vault.KindPassword, "curiosity", false},
		{"flow:kyc", vault.KindCPF, "anything", true},
		{"flow:kyc", vault.KindCard, "anything", false},
		{"", vault.KindCard, "authorize", false},
		{"nobody", vault.KindCard, "authorize", false},
	} {
		if got := p.Allows(tt.principal, tt.kind, tt.purpose); got != tt.want {
			t.Errorf("Allows(%q, %q, %q) = %v", tt.principal, tt.kind, tt.purpose, got)
		}
	}
	var nilPolicy *vault.Policy
	if nilPolicy.Allows("action:pay", vault.KindCard, "authorize") {
		t.Fatal("a nil policy allowed a reveal")
	}
	for _, bad := range []vault.Rule{
		{Principal: "", Kinds: []vault.Kind{"*"}, Purposes: []string{"*"}},
		{Principal: "p", Purposes: []string{"*"}},
		{Principal: "p", Kinds: []vault.Kind{"*"}},
		{Principal: "p", Kinds: []vault.Kind{"Card"}, Purposes: []string{"*"}},
	} {
		if _, err := vault.NewPolicy(bad); !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("NewPolicy(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestKEKSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kek.json")
	k1, err := vault.GenerateKEKFile(path)
	must(t, err)
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("KEK file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := vault.GenerateKEKFile(path); err == nil {
		t.Fatal("GenerateKEKFile replaced an existing KEK")
	}
	k2, err := vault.LoadKEKFile(path)
	must(t, err)
	ctx := context.Background()
	ct, err := k1.EncryptWithContext(ctx, []byte("keyset"), []byte("ad"))
	must(t, err)
	pt, err := k2.DecryptWithContext(ctx, ct, []byte("ad"))
	must(t, err)
	if string(pt) != "keyset" || k1.ID() != k2.ID() || !strings.HasPrefix(k1.ID(), "tink-keyset:") {
		t.Fatalf("reloaded KEK differs: %s vs %s", k1.ID(), k2.ID())
	}
	raw, err := os.ReadFile(path)
	must(t, err)
	for _, environ := range [][]string{
		{"OTHER=1", "SF_KEK=" + string(raw)},
		{"SF_KEK=" + base64.StdEncoding.EncodeToString(raw)},
	} {
		k3, err := vault.OpenKEK("env:SF_KEK", environ)
		must(t, err)
		if pt, err := k3.DecryptWithContext(ctx, ct, []byte("ad")); err != nil || string(pt) != "keyset" {
			t.Fatalf("environment KEK cannot decrypt: %v", err)
		}
	}
	if _, err := vault.OpenKEK("file:"+path, nil); err != nil {
		t.Fatal(err)
	}
	loose := filepath.Join(dir, "loose.json")
	must(t, os.WriteFile(loose, raw, 0o644))
	if _, err := vault.LoadKEKFile(loose); !errors.Is(err, vault.ErrKEK) {
		t.Fatalf("world-readable KEK file = %v, want ErrKEK", err)
	}
	for _, tt := range []struct {
		ref     string
		environ []string
	}{
		{"env:MISSING", nil},
		{"env:SF_KEK", []string{"SF_KEK=canary-not-a-keyset"}},
		{"file:" + filepath.Join(dir, "none.json"), nil},
		{"hcvault://vault/transit/keys/k", nil},
		{"", nil},
	} {
		_, err := vault.OpenKEK(tt.ref, tt.environ)
		if !errors.Is(err, vault.ErrKEK) {
			t.Errorf("OpenKEK(%q) = %v, want ErrKEK", tt.ref, err)
		}
		if err != nil && strings.Contains(err.Error(), "canary") {
			t.Errorf("KEK error quotes the variable's content: %v", err)
		}
	}
	if _, err := k1.DecryptWithContext(ctx, ct, []byte("other ad")); err == nil {
		t.Fatal("KEK decrypted with the wrong associated data")
	}
}

func TestWrongKEK(t *testing.T) {
	ctx := context.Background()
	s := vaulttest.NewMemStore()
	vaulttest.NewVault(t, s, vaulttest.NewClock(vaulttest.T0))
	other, err := vault.NewKEKKeyset()
	must(t, err)
	kek, err := vault.ParseKEK(other)
	must(t, err)
	_, err = vault.Open(ctx, vault.Config{Store: s, KEK: kek, CreateKeys: true})
	if !errors.Is(err, vault.ErrKEK) {
		t.Fatalf("Open with another KEK = %v, want ErrKEK", err)
	}
	if _, err := vault.Open(ctx, vault.Config{Store: vaulttest.NewMemStore(), KEK: kek}); !errors.Is(err, vault.ErrNoKeys) {
		t.Fatalf("Open of an empty store without CreateKeys = %v, want ErrNoKeys", err)
	}
}

func TestChangeKEK(t *testing.T) {
	ctx := context.Background()
	s := vaulttest.NewMemStore()
	kv, _ := vault.NewKEKKeyset()
	oldKEK, _ := vault.ParseKEK(kv)
	v, err := vault.Open(ctx, vault.Config{Store: s, KEK: oldKEK, Policy: vaulttest.NewPolicy(t), CreateKeys: true, Now: vaulttest.NewClock(vaulttest.T0).Now})
	must(t, err)
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainPermanent, ""))
	must(t, err)
	nv, _ := vault.NewKEKKeyset()
	newKEK, _ := vault.ParseKEK(nv)
	must(t, v.ChangeKEK(ctx, newKEK, "test:operator"))
	if _, err := vault.Open(ctx, vault.Config{Store: s, KEK: oldKEK}); !errors.Is(err, vault.ErrKEK) {
		t.Fatalf("old KEK still opens the keysets: %v", err)
	}
	v2, err := vault.Open(ctx, vault.Config{Store: s, KEK: newKEK, Policy: vaulttest.NewPolicy(t)})
	must(t, err)
	got, err := v2.Reveal(ctx, tok.ID, "test:payments", "authorize")
	must(t, err)
	if string(got.Reveal()) != "4111111111111111" {
		t.Fatal("wrong value after KEK change")
	}
	st, err := v2.Status(ctx)
	must(t, err)
	if st.KEKID != newKEK.ID() {
		t.Fatalf("status KEK = %s, want %s", st.KEKID, newKEK.ID())
	}
}

func TestAuditTamper(t *testing.T) {
	build := func(t *testing.T) *vaulttest.MemStore {
		v, s, _ := newVault(t)
		ctx := context.Background()
		for i := range 6 {
			tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1), ""))
			must(t, err)
			if i%2 == 0 {
				_, _ = v.Reveal(ctx, tok.ID, "test:payments", "authorize")
			}
		}
		return s // 1 init + 6 tokenize + 3 reveal = 10 entries
	}
	tests := []struct {
		name    string
		tamper  func([]vault.AuditEntry) []vault.AuditEntry
		wantSeq int64
	}{
		{"edit principal", func(es []vault.AuditEntry) []vault.AuditEntry { es[4].Principal = "someone-else"; return es }, 5},
		{"edit purpose", func(es []vault.AuditEntry) []vault.AuditEntry { es[2].Purpose = "other"; return es }, 3},
		{"edit time", func(es []vault.AuditEntry) []vault.AuditEntry { es[7].At = es[7].At.Add(time.Second); return es }, 8},
		{"remove middle", func(es []vault.AuditEntry) []vault.AuditEntry { return append(es[:3], es[4:]...) }, 4},
		{"remove first", func(es []vault.AuditEntry) []vault.AuditEntry { return es[1:] }, 1},
		{"swap two", func(es []vault.AuditEntry) []vault.AuditEntry {
			es[5], es[6] = es[6], es[5]
			return es
		}, 6},
		{"swap and renumber", func(es []vault.AuditEntry) []vault.AuditEntry {
			es[5], es[6] = es[6], es[5]
			es[5].Seq, es[6].Seq = 6, 7
			return es
		}, 6},
		{"remove and renumber", func(es []vault.AuditEntry) []vault.AuditEntry {
			es = append(es[:3], es[4:]...)
			for i := range es {
				es[i].Seq = int64(i + 1)
			}
			return es
		}, 4},
		{"edit and rehash", func(es []vault.AuditEntry) []vault.AuditEntry {
			// Recomputing the edited entry's hash breaks the next link.
			es[3].Principal = "x"
			es[3] = vault.ChainAuditEntry(es[2].Seq, es[2].Hash, es[3])
			return es
		}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := build(t)
			if _, err := vault.VerifyAudit(context.Background(), s); err != nil {
				t.Fatalf("untampered log fails: %v", err)
			}
			s.TamperAudit(tt.tamper)
			_, err := vault.VerifyAudit(context.Background(), s)
			var ae *vault.AuditError
			if !errors.As(err, &ae) || !errors.Is(err, vault.ErrAuditBroken) {
				t.Fatalf("VerifyAudit = %v, want an *AuditError", err)
			}
			if ae.Seq != tt.wantSeq {
				t.Fatalf("broken at %d (%s), want %d", ae.Seq, ae.Reason, tt.wantSeq)
			}
		})
	}
	t.Run("truncated tail needs an anchor", func(t *testing.T) {
		s := build(t)
		rep, err := vault.VerifyAudit(context.Background(), s)
		must(t, err)
		anchor, err := vault.ParseAnchor(rep.String())
		must(t, err)
		s.TamperAudit(func(es []vault.AuditEntry) []vault.AuditEntry { return es[:8] })
		if _, err := vault.VerifyAudit(context.Background(), s); err != nil {
			t.Fatalf("a clean cut is not detectable without an anchor, but got %v", err)
		}
		_, err = vault.VerifyAudit(context.Background(), s, anchor)
		var ae *vault.AuditError
		if !errors.As(err, &ae) || ae.Seq != 9 {
			t.Fatalf("VerifyAudit with anchor = %v, want broken at 9", err)
		}
	})
	t.Run("rewritten chain fails its anchor", func(t *testing.T) {
		s := build(t)
		rep, err := vault.VerifyAudit(context.Background(), s)
		must(t, err)
		anchor := vault.Anchor{Seq: rep.HeadSeq, Hash: rep.HeadHash}
		s.TamperAudit(func(es []vault.AuditEntry) []vault.AuditEntry {
			es[2].Principal = "forged"
			for i := 2; i < len(es); i++ {
				es[i] = vault.ChainAuditEntry(es[i-1].Seq, es[i-1].Hash, es[i])
			}
			return es
		})
		if _, err := vault.VerifyAudit(context.Background(), s); err != nil {
			t.Fatalf("a fully recomputed chain verifies on its own: %v", err)
		}
		_, err = vault.VerifyAudit(context.Background(), s, anchor)
		var ae *vault.AuditError
		if !errors.As(err, &ae) || ae.Seq != anchor.Seq {
			t.Fatalf("VerifyAudit with anchor = %v, want broken at %d", err, anchor.Seq)
		}
	})
	for _, bad := range []string{"", "3", "x:00", "3:zz", "0:" + strings.Repeat("00", 32), "3:" + strings.Repeat("00", 31)} {
		if _, err := vault.ParseAnchor(bad); err == nil {
			t.Errorf("ParseAnchor(%q) accepted", bad)
		}
	}
}

// TestNoValueLeaves tokenizes canaries through every path and checks that
// no audit entry, log line or error contains one.
func TestNoValueLeaves(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	s := vaulttest.NewMemStore()
	kv, _ := vault.NewKEKKeyset()
	kek, _ := vault.ParseKEK(kv)
	clock := vaulttest.NewClock(vaulttest.T0)
	v, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek, Policy: vaulttest.NewPolicy(t), Now: clock.Now, CreateKeys: true,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	must(t, err)
	canaries := []string{"4000056655665556", "5200828282828210", "371449635398431", "52998224725", "canary-password-Zq81", "cvv-987-canary"}
	var errs []error
	var toks []string
	for i, c := range canaries {
		for _, f := range []vault.Format{"", vault.FormatCard, vault.FormatCPF} {
			kind := vault.KindCard
			if f == vault.FormatCPF {
				kind = vault.KindCPF
			}
			tok, err := v.Tokenize(ctx, kind, secret.FromString(c), opts(vault.RetainDays(1), f))
			errs = append(errs, err)
			if err == nil {
				toks = append(toks, tok.ID)
			}
		}
		o := opts(vault.RetainPermanent, "")
		o.Deterministic, o.Scope = true, "scope"
		tok, err := v.Tokenize(ctx, vault.KindPassword, secret.FromString(c), o)
		errs = append(errs, err)
		if err == nil {
			toks = append(toks, tok.ID)
		}
		// Passing a value where a token belongs.
		_, err = v.Reveal(ctx, c, "test:payments", "authorize")
		errs = append(errs, err)
		errs = append(errs, v.Delete(ctx, c, "test:unit", "mistake"))
		_, err = v.Matches(ctx, c, secret.FromString(c))
		errs = append(errs, err)
		if i%2 == 0 {
			_, err = v.Reveal(ctx, toks[len(toks)-1], "test:nobody", "curiosity")
			errs = append(errs, err)
		}
	}
	// Tamper with a record so that a reveal fails integrity and logs.
	var r vault.Record
	for _, rec := range s.Records() {
		if rec.Kind == vault.KindCard {
			r = rec
		}
	}
	r.Ciphertext[len(r.Ciphertext)-1] ^= 1
	s.PutRecord(r)
	_, err = v.Reveal(ctx, r.Token, "test:payments", "authorize")
	errs = append(errs, err)
	if !errors.Is(err, vault.ErrIntegrity) {
		t.Fatalf("tampered ciphertext = %v, want ErrIntegrity", err)
	}
	_, err = v.Rotate(ctx, "test:operator")
	must(t, err)
	res, err := v.Rewrap(ctx, "test:operator", 0)
	must(t, err)
	if res.Failed != 1 {
		t.Fatalf("Rewrap = %+v, want the tampered record to fail", res)
	}
	es, err := s.Audit(ctx, 0, 10000)
	must(t, err)
	var hay strings.Builder
	for _, e := range es {
		fmt.Fprintf(&hay, "%+v\n", e)
	}
	hay.WriteString(logs.String())
	for _, err := range errs {
		if err != nil {
			hay.WriteString(err.Error() + "\n")
		}
	}
	for _, c := range canaries {
		if strings.Contains(hay.String(), c) {
			t.Fatalf("canary %s leaked into audit, logs or errors", c)
		}
	}
	if !strings.Contains(logs.String(), "does not authenticate") {
		t.Fatal("integrity failure was not logged")
	}
	// The fingerprints are not in the audit log either.
	for _, rec := range s.Records() {
		if strings.Contains(hay.String(), string(rec.Fingerprint)) {
			t.Fatal("a fingerprint leaked into the audit log")
		}
	}
}

func TestEphemeralConcurrentReveal(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := context.Background()
	tok, err := v.Tokenize(ctx, vault.KindCVV, secret.FromString("123"), opts(vault.RetainEphemeral, ""))
	must(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			val, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize")
			if err == nil {
				mu.Lock()
				got++
				mu.Unlock()
				if string(val.Reveal()) != "123" {
					t.Error("wrong value")
				}
			} else if !errors.Is(err, vault.ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got != 1 {
		t.Fatalf("ephemeral value revealed %d times, want exactly 1", got)
	}
}

// collidingStore reports the first n inserts of each item as taken, as a
// store would when a drawn format-preserving token is already live.
type collidingStore struct {
	*vaulttest.MemStore
	mu    sync.Mutex
	n     int
	tried []string
}

func (c *collidingStore) Insert(ctx context.Context, items []vault.Insertion) ([]bool, error) {
	c.mu.Lock()
	if c.n > 0 {
		c.n--
		for _, it := range items {
			c.tried = append(c.tried, it.Record.Token)
		}
		c.mu.Unlock()
		return make([]bool, len(items)), nil
	}
	c.mu.Unlock()
	return c.MemStore.Insert(ctx, items)
}

func TestFormatPreservingCollisionRetries(t *testing.T) {
	ctx := context.Background()
	for _, f := range []vault.Format{vault.FormatCard, vault.FormatOpaque} {
		cs := &collidingStore{MemStore: vaulttest.NewMemStore(), n: 3}
		v := vaulttest.NewVault(t, cs, vaulttest.NewClock(vaulttest.T0))
		tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1), f))
		must(t, err)
		for _, tried := range cs.tried {
			if tried == tok.ID {
				t.Fatalf("%s: the vault returned a token the store refused", f)
			}
		}
		if len(cs.tried) != 3 {
			t.Fatalf("%s: %d refused attempts, want 3", f, len(cs.tried))
		}
		if _, err := cs.Get(ctx, tok.ID); err != nil {
			t.Fatalf("%s: returned token is not stored: %v", f, err)
		}
		cs.n = 1 << 30
		if _, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1), f)); !errors.Is(err, vault.ErrConflict) {
			t.Fatalf("%s: exhausted token space = %v, want ErrConflict", f, err)
		}
	}
}

func TestDeterministicTokenAfterDelete(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := context.Background()
	o := opts(vault.RetainPermanent, vault.FormatCard)
	o.Deterministic, o.Scope = true, "m"
	a, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
	must(t, err)
	must(t, v.Delete(ctx, a.ID, "test:unit", "customer request"))
	b, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
	must(t, err)
	if a.ID == b.ID {
		t.Fatal("a deleted format-preserving token was issued again")
	}
	c, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
	must(t, err)
	if c.ID != b.ID {
		t.Fatal("deterministic token not stable")
	}
	// Opaque deterministic tokens are derived, hence stable even across
	// a delete (no tombstone: a 128-bit token is never drawn again).
	o.Format = vault.FormatOpaque
	d, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
	must(t, err)
	must(t, v.Delete(ctx, d.ID, "test:unit", "customer request"))
	e, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
	must(t, err)
	if d.ID != e.ID {
		t.Fatal("opaque deterministic token changed after delete")
	}
}

func TestDeterministicConcurrent(t *testing.T) {
	v, s, _ := newVault(t)
	ctx := context.Background()
	o := opts(vault.RetainPermanent, vault.FormatCard)
	o.Deterministic, o.Scope = true, "m"
	var wg sync.WaitGroup
	toks := make([]string, 16)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), o)
			if err != nil {
				t.Error(err)
				return
			}
			toks[i] = tok.ID
		}()
	}
	wg.Wait()
	for _, tk := range toks {
		if tk != toks[0] {
			t.Fatalf("concurrent deterministic tokenization gave %v", toks)
		}
	}
	if n := len(s.Records()); n != 1 {
		t.Fatalf("%d records for one value", n)
	}
}

func TestFingerprints(t *testing.T) {
	v, _, _ := newVault(t)
	ctx := context.Background()
	a, err := v.Fingerprint(ctx, vault.KindCard, secret.FromString("4111 1111 1111 1111"))
	must(t, err)
	b, err := v.Fingerprint(ctx, vault.KindCard, secret.FromString("4111-1111-1111-1111"))
	must(t, err)
	c, err := v.Fingerprint(ctx, vault.KindPhone, secret.FromString("4111 1111 1111 1111"))
	must(t, err)
	d, err := v.Fingerprint(ctx, vault.KindCard, secret.FromString("5555555555554444"))
	must(t, err)
	if a != b || a == c || a == d || !regexp.MustCompile(`^fp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$`).MatchString(a) {
		t.Fatalf("fingerprints: %s %s %s %s", a, b, c, d)
	}
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1), ""))
	must(t, err)
	if tok.Fingerprint != a {
		t.Fatalf("token fingerprint %s != %s", tok.Fingerprint, a)
	}
	ok, err := v.Matches(ctx, tok.ID, secret.FromString("4111 1111 1111 1111"))
	must(t, err)
	no, err := v.Matches(ctx, tok.ID, secret.FromString("5555555555554444"))
	must(t, err)
	if !ok || no {
		t.Fatalf("Matches = %v, %v", ok, no)
	}
	// A vault with another key computes unrelated fingerprints.
	w, _, _ := newVault(t)
	e, err := w.Fingerprint(ctx, vault.KindCard, secret.FromString("4111111111111111"))
	must(t, err)
	if e[12:] == a[12:] {
		t.Fatal("fingerprints do not depend on the key")
	}
}

func TestTokenizeBatch(t *testing.T) {
	v, s, _ := newVault(t)
	ctx := context.Background()
	var reqs []vault.Request
	for i := range 100 {
		f := vault.FormatOpaque
		if i%3 == 0 {
			f = vault.FormatCard
		}
		o := opts(vault.RetainDays(1), f)
		if i%10 == 0 {
			o.Deterministic, o.Scope = true, "s"
		}
		reqs = append(reqs, vault.Request{Kind: vault.KindCard, Value: secret.FromString(fmt.Sprintf("4111111111%06d", i)), Options: o})
	}
	// Make every card Luhn-valid by choosing the value accordingly.
	for i := range reqs {
		d := fmt.Sprintf("4111111111%05d", i)
		for c := '0'; c <= '9'; c++ {
			if luhn(d + string(c)) {
				reqs[i].Value = secret.FromString(d + string(c))
				break
			}
		}
	}
	bad := append([]vault.Request(nil), reqs...)
	bad = append(bad, vault.Request{Kind: vault.KindCard, Value: secret.FromString("nope"), Options: opts(vault.RetainDays(1), vault.FormatCard)})
	if _, err := v.TokenizeBatch(ctx, bad); !errors.Is(err, vault.ErrInvalid) || !strings.Contains(err.Error(), "request 100") {
		t.Fatalf("batch with an invalid request = %v", err)
	}
	if len(s.Records()) != 0 {
		t.Fatal("a refused batch stored something")
	}
	toks, err := v.TokenizeBatch(ctx, reqs)
	must(t, err)
	for i, tok := range toks {
		got, err := v.Reveal(ctx, tok.ID, "test:payments", "authorize")
		must(t, err)
		if !bytes.Equal(got.Reveal(), reqs[i].Value.Reveal()) {
			t.Fatalf("token %d reveals another value", i)
		}
	}
}

func TestOtherProcessRotation(t *testing.T) {
	ctx := context.Background()
	s := vaulttest.NewMemStore()
	kv, _ := vault.NewKEKKeyset()
	kek, _ := vault.ParseKEK(kv)
	clock := vaulttest.NewClock(vaulttest.T0)
	open := func() *vault.Vault {
		v, err := vault.Open(ctx, vault.Config{Store: s, KEK: kek, Policy: vaulttest.NewPolicy(t), Now: clock.Now, CreateKeys: true})
		must(t, err)
		return v
	}
	a, b := open(), open()
	_, err := a.Rotate(ctx, "test:operator")
	must(t, err)
	tok, err := a.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1), ""))
	must(t, err)
	got, err := b.Reveal(ctx, tok.ID, "test:payments", "authorize")
	must(t, err)
	if string(got.Reveal()) != "4111111111111111" {
		t.Fatal("wrong value")
	}
	// b rotates concurrently-ish from a stale snapshot: it retries on the
	// generation conflict instead of overwriting a's rotation.
	st, err := b.Rotate(ctx, "test:operator")
	must(t, err)
	if st.Generation != 3 || len(st.Keys) != 6 {
		t.Fatalf("after two rotations: %+v", st)
	}
}

func TestRunMaintenance(t *testing.T) {
	v, s, clock := newVault(t)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := v.Tokenize(ctx, vault.KindCVV, secret.FromString("123"), opts(vault.RetainEphemeral, ""))
	must(t, err)
	_, err = v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainPermanent, ""))
	must(t, err)
	_, err = v.Rotate(ctx, "test:operator")
	must(t, err)
	clock.Advance(time.Hour)
	done := make(chan error)
	go func() { done <- v.Run(ctx, vault.RunOptions{Interval: time.Millisecond}) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := v.Status(ctx)
		must(t, err)
		if st.Stale() == 0 && len(s.Records()) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("maintenance did not sweep and rewrap: %+v, %d records", st, len(s.Records()))
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
}

func TestRevealInvalidArgumentsAudited(t *testing.T) {
	v, s, _ := newVault(t)
	ctx := context.Background()
	tok, err := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111111111111111"), opts(vault.RetainDays(1), ""))
	must(t, err)
	if _, err := v.Reveal(ctx, tok.ID, "test:payments", ""); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("Reveal without purpose = %v", err)
	}
	es, err := s.Audit(ctx, 0, 100)
	must(t, err)
	last := es[len(es)-1]
	if last.Action != vault.ActionReveal || last.Outcome != vault.OutcomeInvalid {
		t.Fatalf("last entry = %+v", last)
	}
}

func Example() {
	ctx := context.Background()
	kekJSON, _ := vault.NewKEKKeyset() // in production: vault.OpenKEK("file:/etc/secureflow/kek.json", os.Environ())
	kek, _ := vault.ParseKEK(kekJSON)
	policy, _ := vault.NewPolicy(vault.Rule{Principal: "action:payment-gateway", Kinds: []vault.Kind{vault.KindCard}, Purposes: []string{"authorize"}})
	v, _ := vault.Open(ctx, vault.Config{Store: vaulttest.NewMemStore(), KEK: kek, Policy: policy, CreateKeys: true})

	tok, _ := v.Tokenize(ctx, vault.KindCard, secret.FromString("4111 1111 1111 1111"), vault.Options{
		Principal: "flow:take-payment", Format: vault.FormatCard, Retention: vault.RetainDays(30),
	})
	fmt.Println(len(tok.ID), tok.ID[:1], tok.ID[len(tok.ID)-4:]) // same length, reserved prefix, last four kept

	_, err := v.Reveal(ctx, tok.ID, "agent:alice", "curiosity")
	fmt.Println(err)
	pan, _ := v.Reveal(ctx, tok.ID, "action:payment-gateway", "authorize")
	fmt.Println(pan) // a secret.Value never prints
	// Output:
	// 19 9 1111
	// vault: reveal denied by policy
	// [REDACTED]
}
