package detect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// findings renders spans as "ENTITY:matched" for readable table tests.
func findings(text string, spans []Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, string(s.Entity)+":"+text[s.Start:s.End])
	}
	return out
}

func TestScan(t *testing.T) {
	s := MustNewScanner(DefaultRegistry())
	tests := []struct {
		text string
		want []string
	}{
		// Cards, in the shapes people paste, with the block that follows.
		{"my card is 4111 1111 1111 1111", []string{"CREDIT_CARD:4111 1111 1111 1111"}},
		{"cartão 4111111111111111 12/27 123", []string{"CREDIT_CARD:4111111111111111", "CARD_EXPIRY:12/27", "CVV:123"}},
		{"3782 822463 10005, 04/2029, 1234", []string{"CREDIT_CARD:3782 822463 10005", "CARD_EXPIRY:04/2029", "CVV:1234"}},
		{"CC4111111111111111", []string{"CREDIT_CARD:4111111111111111"}},
		{"4111111111111111 5555555555554444", []string{"CREDIT_CARD:4111111111111111", "CREDIT_CARD:5555555555554444"}},
		{"4111 1111 1111 1112", nil}, // Luhn
		{"1234 5678 9012 3456", nil},
		{"NF-e 4124 0312 3456 7800 0190 5500 1000 0012 3410 0000 1234", nil},   // long code
		{"boleto 23793.38128 60007.827136 95000.063305 9 84410000026035", nil}, // bank slip line
		// Brazilian documents.
		{"meu cpf é 123.456.789-09", []string{"BR_CPF:123.456.789-09"}},
		{"CPF 12345678909", []string{"BR_CPF:12345678909"}},
		{"cpf 123.456.789-08", nil},
		{"RG 12.345.678-9", nil},
		{"CNPJ 11.222.333/0001-81", []string{"BR_CNPJ:11.222.333/0001-81"}},
		{"novo CNPJ: 12.ABC.345/01DE-35.", []string{"BR_CNPJ:12.ABC.345/01DE-35"}},
		{"12ABC34501DE35", []string{"BR_CNPJ:12ABC34501DE35"}},
		// IBAN.
		{"IBAN: DE89 3704 0044 0532 0130 00.", []string{"IBAN_CODE:DE89 3704 0044 0532 0130 00"}},
		{"iban gb82west12345698765432", []string{"IBAN_CODE:gb82west12345698765432"}},
		{"LV80 bANK 0000 4351 9500 1", nil},
		// SSN.
		{"SSN 078-05-1123", []string{"US_SSN:078-05-1123"}},
		{"my social security number is 078051123", []string{"US_SSN:078051123"}},
		{"order 078051123", nil}, // nine bare digits need context
		{"666-12-3456", nil},
		// Contact data.
		{"write to joão.silva@example.com.br.", []string{"EMAIL_ADDRESS:joão.silva@example.com.br"}},
		{"@joao at twitter", nil},
		{"me liga (11) 98765-4321", []string{"PHONE_NUMBER:(11) 98765-4321"}},
		{"call +1 415 555 0132", []string{"PHONE_NUMBER:+1 415 555 0132"}},
		{"CEP 01310-100", nil},
		{"from 10.0.0.1 and 2001:db8::1", []string{"IP_ADDRESS:10.0.0.1", "IP_ADDRESS:2001:db8::1"}},
		{"version 1.2.3", nil},
		{"btc 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", []string{"CRYPTO:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"}},
		// Context-anchored secrets, three languages.
		{"cvv 123", []string{"CVV:123"}},
		{"CVV2: 123", []string{"CVV:123"}},
		{"código de segurança 123", []string{"CVV:123"}},
		{"codigo de seguranca: 4321", []string{"CVV:4321"}},
		{"el código de seguridad es 987", []string{"CVV:987"}},
		{"validade 12/27", []string{"CARD_EXPIRY:12/27"}},
		{"fecha de vencimiento 03/2030", []string{"CARD_EXPIRY:03/2030"}},
		{"exp 1227", []string{"CARD_EXPIRY:1227"}},
		{"o boleto vence 06/06", nil},
		{"my pin is 4821", []string{"PIN:4821"}},
		{"a senha do cartão é 9876", []string{"PIN:9876"}},
		{"my password is hunter2", []string{"PASSWORD:hunter2"}},
		{"minha senha é Abc@1234", []string{"PASSWORD:Abc@1234"}},
		{"mi contraseña es \"correcto caballo\"", []string{"PASSWORD:correcto caballo"}},
		{"password: sunshine", []string{"PASSWORD:sunshine"}},
		{"my password is wrong", nil},
		{"a senha é muito fraca", nil},
		{"esqueci minha senha", nil},
		{"password reset link", nil},
		{"senha123", nil},
		{"verification code 839201", []string{"OTP:839201"}},
		{"o código de verificação é 839 201", []string{"OTP:839 201"}},
		{"security code 123456", []string{"OTP:123456"}},
		{"código de rastreio BR123456789BR", nil},
		// Ordinary chat.
		{"Pedido #4839201, R$ 1.234,56, entrega 15/03/2024 às 14:30", nil},
		{"Protocolo 2024031512345678", nil},
		{"", nil},
	}
	for _, tc := range tests {
		got := findings(tc.text, s.Scan(tc.text))
		if !slices.Equal(got, tc.want) {
			t.Errorf("Scan(%q)\n got  %q\n want %q", tc.text, got, tc.want)
		}
	}
}

func TestScanOverlapsResolved(t *testing.T) {
	// A 14-digit run that is both a valid CNPJ and a valid Maestro number:
	// the word "CNPJ" decides.
	text := "Nota para o CNPJ 57106329000159"
	got := findings(text, MustNewScanner(DefaultRegistry()).Scan(text))
	if want := []string{"BR_CNPJ:57106329000159"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWithEntities(t *testing.T) {
	s := MustNewScanner(DefaultRegistry(), WithEntities(CreditCard, CVV))
	text := "4111111111111111 123 cpf 123.456.789-09 a@b.com"
	got := findings(text, s.Scan(text))
	if want := []string{"CREDIT_CARD:4111111111111111", "CVV:123"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := NewScanner(DefaultRegistry(), WithEntities("NOPE")); err == nil {
		t.Error("unknown entity accepted")
	}
}

func TestWithMinScore(t *testing.T) {
	text := "078051123"
	if got := MustNewScanner(DefaultRegistry()).Scan(text); len(got) != 0 {
		t.Errorf("default threshold reported %v", got)
	}
	got := MustNewScanner(DefaultRegistry(), WithMinScore(0)).Scan(text)
	if len(got) != 1 || got[0].Entity != SSN || got[0].Score >= DefaultMinScore {
		t.Errorf("WithMinScore(0) = %v, want one weak SSN", got)
	}
	for _, bad := range []float64{-0.1, 1.1} {
		if _, err := NewScanner(DefaultRegistry(), WithMinScore(bad)); err == nil {
			t.Errorf("WithMinScore(%v) accepted", bad)
		}
	}
}

// orderDetector is a custom detector, as a caller would write one: order
// numbers "PED-" followed by six digits.
type orderDetector struct{}

func (orderDetector) Name() string       { return "order" }
func (orderDetector) Entities() []Entity { return []Entity{"ORDER_ID"} }
func (orderDetector) Triggers() []Trigger {
	return []Trigger{{Bytes: "P", Boundary: AfterNonWord, Lookahead: []string{"E", "D", "-"}}}
}
func (orderDetector) Detect(text string, at int, dst []Span) []Span {
	if !strings.HasPrefix(text[at:], "PED-") {
		return dst
	}
	end := digitRun(text, at+4)
	if end-at-4 != 6 {
		return dst
	}
	return append(dst, Span{"ORDER_ID", at, end, 1})
}

func TestRegistry(t *testing.T) {
	r := DefaultRegistry()
	if err := r.Register(orderDetector{}); err != nil {
		t.Fatal(err)
	}
	text := "pedido PED-123456 no cartão 4111111111111111"
	got := findings(text, MustNewScanner(r).Scan(text))
	if want := []string{"ORDER_ID:PED-123456", "CREDIT_CARD:4111111111111111"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if err := r.Register(orderDetector{}); !errors.Is(err, ErrDuplicateEntity) {
		t.Errorf("second registration: %v, want ErrDuplicateEntity", err)
	}
	if err := NewRegistry().Register(badDetector{}); !errors.Is(err, ErrInvalidDetector) {
		t.Errorf("detector without triggers: %v, want ErrInvalidDetector", err)
	}
	// The default registry lists each built-in entity once.
	es := DefaultRegistry().Entities()
	want := []Entity{CreditCard, CPF, SSN, CNPJ, IBAN, Phone, IPAddress, Email, Crypto, CVV, CardExpiry, PIN, Password, OTP}
	if !slices.Equal(es, want) {
		t.Errorf("Entities() = %v, want %v", es, want)
	}
}

type badDetector struct{ orderDetector }

func (badDetector) Triggers() []Trigger { return nil }

// A detector that breaks the contract cannot hand out bad spans.
type rogueDetector struct{ orderDetector }

func (rogueDetector) Detect(text string, at int, dst []Span) []Span {
	return append(dst,
		Span{"ORDER_ID", -1, 2, 1},
		Span{"ORDER_ID", at, len(text) + 1, 1},
		Span{"ORDER_ID", at + 1, at + 1, 1},
		Span{"ORDER_ID", at, at + 2, 2},
		Span{"ORDER_ID", 1, 2, 1}, // inside "é"
	)
}

func TestScanDropsContractViolations(t *testing.T) {
	r := NewRegistry()
	r.MustRegister(rogueDetector{})
	if got := MustNewScanner(r, WithMinScore(0)).Scan("éPED-123"); len(got) != 0 {
		t.Errorf("rogue spans leaked: %v", got)
	}
}

func TestScanConcurrent(t *testing.T) {
	s := MustNewScanner(DefaultRegistry())
	texts := []string{
		"cartão 4111111111111111 12/27 123",
		"minha senha é Abc@1234",
		"CNPJ 12.ABC.345/01DE-35 e CPF 123.456.789-09",
	}
	want := make([][]Span, len(texts))
	for i, text := range texts {
		want[i] = s.Scan(text)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(texts)
				if got := s.Scan(texts[i]); !slices.Equal(got, want[i]) {
					t.Errorf("concurrent Scan(%q) = %v, want %v", texts[i], got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestScanAllocations(t *testing.T) {
	s := MustNewScanner(DefaultRegistry())
	clean := "Boa tarde, meu pedido 4839201 de R$ 1.234,56 ainda não chegou, o protocolo é 2024031512345678"
	if n := testing.AllocsPerRun(100, func() { s.Scan(clean) }); n != 0 {
		t.Errorf("Scan of clean text allocates %v times", n)
	}
	secret := "cartão 4111111111111111 12/27 123"
	buf := make([]Span, 0, 8)
	if n := testing.AllocsPerRun(100, func() { buf = s.AppendScan(buf[:0], secret) }); n != 0 {
		t.Errorf("AppendScan into a large enough slice allocates %v times", n)
	}
}

func TestSpanString(t *testing.T) {
	// A Span holds no text: printing it cannot leak the value.
	sp := MustNewScanner(DefaultRegistry()).Scan("4111111111111111")[0]
	if s := fmt.Sprint(sp); strings.Contains(s, "4111") {
		t.Errorf("span prints the value: %s", s)
	}
}
